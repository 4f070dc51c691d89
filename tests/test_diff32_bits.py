"""BT BTS BTR BTC BSF BSR SETcc against Unicorn in 32-bit protected mode."""
import pytest
from hypothesis import given, strategies as st

import oracle
import oracle32
from test_diff_bits import _bsf_fixup

CASES = oracle32.table_cases("bits", options=lambda t: {"forms": ("reg", "mem16", "mem32")})


def _bt_fixup(case, s):
    ops = case.insn.operands
    if ops[0].type == oracle.X.X86_OP_MEM and ops[1].type == oracle.X.X86_OP_REG:
        # A register bit offset reaches +-256 MiB from the address: keep it
        # within +-4 KiB (0..4 KiB from a 16-bit address, which has no room
        # below it in a flat segment) and the address inside the window.
        idx, size, _ = case.reg_operand(1)
        v = s.reg(idx, 2)
        if case.insn.addr_size == 4:
            s.set_reg(idx, v - 0x10000 if v & 0x8000 else v, size)
            oracle.fit_addr32(case, s, oracle32.HIGH_LO + 0x1100, oracle32.HIGH_HI - 0x1100)
        else:
            s.set_reg(idx, v & 0x7FFF, size)
            lin = s.lin(case.segment(), oracle.ea(case, s)) + ((v & 0x7FFF) >> 3)
            oracle._assume(not oracle32.CODE_HOLE[0] - 8 < lin < oracle32.CODE_HOLE[1], "data on the code")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(15)
@given(state=oracle32.states(), dice=st.integers(0, 3))
def test_bits32(case, state, dice):
    if case.name in ("bsf", "bsr"):
        oracle.check(case, state, _bsf_fixup(dice == 0))
    elif case.name.startswith("bt"):
        oracle.check(case, state, _bt_fixup)
    else:
        oracle.check(case, state)
