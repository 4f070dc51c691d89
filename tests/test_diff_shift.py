"""SHL SHR SAR ROL ROR RCL RCR SHLD SHRD against Unicorn, counts by one,
by CL and by immediate.  OF is compared only for a count of 1 and nothing
changes for a count of 0 (oracle.flag_mask)."""
import pytest
from hypothesis import given

import oracle


def _defined(case):
    # 16-bit SHLD/SHRD by more than 16 is undefined (SDM): not compared.
    ops = case.insn.operands
    if case.name in ("shld", "shrd") and ops[0].size == 2 and ops[2].type == oracle.X.X86_OP_IMM:
        return ops[2].imm & 31 <= 16
    return True


CASES = oracle.table_cases("shift", keep=_defined,
                           options=lambda t: {"forms": ("reg", "reg", "mem16", "mem32"), "shift_counts": True})


def _fixup(case, s):
    ops = case.insn.operands
    if case.name in ("shld", "shrd") and ops[0].size == 2 and ops[2].type == oracle.X.X86_OP_REG:
        if s.reg(1, 1) & 31 > 16:
            s.regs[1] ^= 0x10


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(50)
@given(state=oracle.states())
def test_shift(case, state):
    oracle.check(case, state, _fixup)
