"""The real-mode differential cases (tests/test_diff_*.py, with their
fixups) run in virtual-8086 mode against Unicorn (tests/oracle86.py): IOPL
0 or 3, so CLI STI PUSHF POPF INT n IRET either run or trap to the monitor
(#GP(0)), IN/OUT/INS/OUTS pass or fail the TSS's I/O bitmap, and every
case ends with the ring-0 frame of an exception from the mode, compared
too.  A few examples per case: the real-mode tests cover the instructions'
values; this covers the mode."""
import pytest
from hypothesis import given, strategies as st

import oracle
import oracle86
import test_diff_alu as alu
import test_diff_bits as bits
import test_diff_flags as flags
import test_diff_flow as flow
import test_diff_io as io
import test_diff_move as move
import test_diff_muldiv as muldiv
import test_diff_stack as stack
import test_diff_string as string


def _cases(module, every=1):
    return oracle86.cases(module.CASES[::every], keep=_within_64k)


def _within_64k(case):
    """Not near branches to a 32-bit target beyond FFFFh: QEMU takes them;
    the SDM (and jitemu) make them #GP(0), checked in test_v86_mode.py."""
    ops = case.insn.operands
    return not (case.insn.group(oracle.capstone.CS_GRP_JUMP) or case.name == "call") or not ops or \
        ops[0].type != oracle.X.X86_OP_IMM or ops[0].imm <= 0xFFFF


ARITH = _cases(alu, 4) + _cases(bits, 4) + _cases(muldiv, 3)
MOVE = _cases(move, 2) + _cases(flags)
STACK = _cases(stack, 2)
FLOW = _cases(flow, 2)
IO = _cases(io) + _cases(string, 2)
CASES = ARITH + MOVE + STACK + FLOW + IO
TIER_EVERY = 6  # test_tier_oracle's regions run every 6th: the tiers' lifting of the mode, not each instruction again


@pytest.mark.parametrize("case", ARITH, ids=lambda c: c.id)
@oracle.settings(3)
@given(state=oracle.states())
def test_v86_arithmetic(case, state):
    fix = bits._bsf_fixup(False) if case.name in ("bsf", "bsr") else \
        bits._bt_fixup if case.name.startswith("bt") else \
        muldiv._no_overflow if case.name in ("div", "idiv") else None
    oracle.check(case, state, fix)


@pytest.mark.parametrize("case", MOVE, ids=lambda c: c.id)
@oracle.settings(3)
@given(state=oracle.states())
def test_v86_move_and_flags(case, state):
    oracle.check(case, state, move._fixup if case.name in _MOVE else None)


@pytest.mark.parametrize("case", STACK, ids=lambda c: c.id)
@oracle.settings(4)
@given(state=oracle.states())
def test_v86_stack(case, state):
    def fix(c, s):
        got = stack._fixup(c, s)
        if c.name == "pushfd":
            # Unicorn bug: its PUSHFD in virtual-8086 mode (IOPL 3) stores
            # VM in the image; the SDM clears VM and RF there (and QEMU's
            # own helper does).  jitemu's byte is checked by hand in
            # tests/test_v86_mode.py.
            return {"mem": [(oracle.stack_lin(s, -4) + 2, 1)]}
        return got
    oracle.check(case, state, fix)


@pytest.mark.parametrize("case", FLOW, ids=lambda c: c.id)
@oracle.settings(4)
@given(state=oracle.states(), cx=st.sampled_from([None, 0, 1, 0x10000]))
def test_v86_flow(case, state, cx):
    if cx is not None:
        state.regs[1] = (state.regs[1] & 0xFFFF0000) | cx if cx < 0x10000 else cx
    oracle.check(case, state, flow._fixup)


@pytest.mark.parametrize("case", IO, ids=lambda c: c.id)
@oracle.settings(4)
@given(state=oracle.states(), dice=st.integers(0, 3))
def test_v86_io_and_strings(case, state, dice):
    oracle.check(case, state, string._fixup(dice) if case.name in _STRING else None)


_MOVE = {c.name for c in move.CASES}
_STRING = {c.name for c in string.CASES}
