"""MOV (incl. moffs and segment registers) MOVZX MOVSX LEA XCHG XLAT
CBW CWDE CWD CDQ BSWAP CMOVcc against Unicorn."""
import pytest
from hypothesis import given

import oracle
from encode import Encoding


def _options(t):
    if t == "8C /r":
        return {"restrict_reg": range(6)}          # ES CS SS DS FS GS
    if t == "8E /r":
        return {"restrict_reg": (0, 2, 3, 4, 5)}   # MOV CS, r/m is #UD
    if t == "8D /r":
        return {"forms": ("mem16", "mem16", "mem32", "mem32")}
    if "moffs" in t or "+r" in t:
        return {"n_plain": 3}
    if t.startswith("0F 4"):  # CMOVcc: 16 conditions, one lifter (the 0x67 forms are the ALU's)
        return {"forms": ("reg", "mem16")}
    return None


CASES = oracle.table_cases("move", options=_options, extra=[
    Encoding(bytes.fromhex("67D7"), "D7", addr32=True),
    Encoding(bytes.fromhex("2667D7"), "D7", addr32=True),
    Encoding(bytes.fromhex("64D7"), "D7"),
])


def _fixup(case, s):
    if case.name == "xlatb" and case.insn.addr_size == 4:
        s.regs[3] &= 0xFFFF   # EBX + AL inside the window


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(40)
@given(state=oracle.states())
def test_move(case, state):
    oracle.check(case, state, _fixup)
