"""MOV (incl. moffs and segment registers) MOVZX MOVSX LEA XCHG XLAT CBW
CWDE CWD CDQ BSWAP CMOVcc LDS LES LFS LGS LSS against Unicorn in 32-bit
protected mode.  Segment loads take selectors of the oracle's GDT: good ones, null
ones, and ones that fault (#GP, #NP, #SS); the selectors, the GDT's
accessed bits and jitemu's hidden caches are compared."""
import pytest
from hypothesis import given, strategies as st

import oracle
import oracle32
from encode import Encoding

SREG_LOADS = ("lds", "les", "lfs", "lgs", "lss")


def _options(t):
    if t == "8C /r":
        return {"restrict_reg": range(6)}          # ES CS SS DS FS GS
    if t == "8E /r":
        return {"restrict_reg": (0, 2, 3, 4, 5)}   # MOV CS, r/m is #UD
    if t == "8D /r":
        return {"forms": ("mem16", "mem32", "mem32")}
    if "moffs" in t or "+r" in t:
        return {"n_plain": 3}
    if t.startswith("0F 4"):  # CMOVcc: 16 conditions, one lifter
        return {"forms": ("reg", "mem32")}
    if t.startswith("0F B") or t.startswith("C"):
        return {"forms": ("mem16", "mem32")}
    return {"forms": ("reg", "mem16", "mem32")}


CASES = oracle32.table_cases("move", options=_options, extra=[
    Encoding(bytes.fromhex("67D7"), "D7", code32=True),
    Encoding(bytes.fromhex("2667D7"), "D7", code32=True),
    Encoding(bytes.fromhex("64D7"), "D7", addr32=True, code32=True),
])


def _fixup(sel):
    def fix(case, s):
        if case.name == "xlatb":
            if case.insn.addr_size == 4:
                s.regs[3] = oracle32.HIGH_LO + s.regs[3] % 0x40000
            elif s.lin(oracle._SEG_PREFIX.get(case.insn.prefix[1], "ds"), s.reg(3, 2)) < 0x300:
                s.regs[3] |= 0x300
        ops = case.insn.operands
        if case.name == "mov" and ops[0].type == oracle.X.X86_OP_REG and ops[0].reg in SREGS:
            oracle.set_operand(case, s, 1, sel)
        elif case.name in SREG_LOADS:
            w = 2 if ops[0].size == 2 else 4
            lin = s.lin(case.segment(), oracle.ea(case, s, ops[1]))
            s.plant(lin + w, sel.to_bytes(2, "little"))
    return fix


SREGS = {getattr(oracle.X, "X86_REG_" + n) for n in ("ES", "CS", "SS", "DS", "FS", "GS")}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(20)
@given(state=oracle32.states(), sel=st.sampled_from(oracle32.DATA_SELECTORS))
def test_move32(case, state, sel):
    oracle.check(case, state, _fixup(sel))
