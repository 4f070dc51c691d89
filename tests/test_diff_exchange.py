"""CMPXCHG (LOCK and not) XADD CMPXCHG8B against Unicorn: register and
memory destinations, the comparison equal about half the time."""
import pytest
from hypothesis import given, strategies as st

import oracle
from encode import Encoding


def _options(t):
    if t == "0F C7 /1":
        return {"forms": ("mem16", "mem16", "mem32")}    # m64 only
    return {"forms": ("reg", "mem16", "mem32")}


# LOCK with a memory destination (with a register one it is #UD).
LOCKED = [Encoding(bytes.fromhex(h), t, op32=op32, addr32=a32, form=f) for h, t, op32, a32, f in (
    ("F00FB10F", "0F B1 /r", False, False, "mem16"),
    ("F0660FB14C02", "0F B1 /r", True, False, "mem16"),
    ("F00FB00E3412", "0F B0 /r", False, False, "mem16"),
    ("F0670FB10C98", "0F B1 /r", False, True, "mem32"),
    ("F0660FC107", "0F C1 /r", True, False, "mem16"),
    ("F00FC70F", "0F C7 /1", False, False, "mem16"),
    ("F0670FC70C24", "0F C7 /1", False, True, "mem32"),
)]

CASES = oracle.table_cases("exchange", options=_options, extra=LOCKED)


def equal_fixup(equal):
    """With `equal`, the destination (memory, or the register) is made to
    hold what it is compared with (the accumulator, or EDX:EAX): the
    registers stay as drawn, so an address made from them stays put."""
    def fix(case, s):
        if not equal or case.name == "xadd":
            return
        if case.name == "cmpxchg8b":
            oracle.set_operand(case, s, 0, s.reg(2) << 32 | s.reg(0))
        else:
            size = case.insn.operands[0].size
            oracle.set_operand(case, s, 0, s.reg(0, size))
    return fix


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(20)
@given(state=oracle.states(), equal=st.booleans())
def test_exchange(case, state, equal):
    oracle.check(case, state, equal_fixup(equal))
