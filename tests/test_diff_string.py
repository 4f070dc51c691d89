"""MOVS CMPS STOS LODS SCAS INS OUTS, with REP / REPE / REPNE, 0x66, 0x67,
segment overrides and DF both ways, against Unicorn.  CX stays small."""
import pytest
from hypothesis import given, strategies as st

import oracle
from encode import Encoding, rng_for

SOURCE_OPS = (0xA4, 0xA5, 0xA6, 0xA7, 0xAC, 0xAD, 0x6E, 0x6F)  # read DS:SI (overridable)


def _encodings():
    out = []
    for t in oracle.templates("string"):
        op = int(t, 16)
        rng = rng_for("string", t)
        combos = [(rep, op32, False, None) for rep in (None, 0xF3, 0xF2) for op32 in (False, True)]
        for _ in range(3):
            seg = rng.choice((0x26, 0x2E, 0x36, 0x64, 0x65)) if op in SOURCE_OPS else None
            combos.append((rng.choice((None, 0xF3, 0xF2)), rng.random() < 0.5, True, seg))
        for rep, op32, addr32, seg in combos:
            pfx = bytes(p for p in (seg, rep, 0x66 if op32 else None, 0x67 if addr32 else None) if p)
            out.append(Encoding(pfx + bytes([op]), t, op32, addr32))
    return out


CASES = oracle.cases(_encodings())


def _fixup(dice):
    def fix(case, s):
        if case.insn.addr_size == 4:
            s.regs[1] &= 0xF
            s.regs[6] = 0x100 + s.regs[6] % 0xFD00
            s.regs[7] = 0x100 + s.regs[7] % 0xFD00
        else:
            s.regs[1] &= 0xFFFF000F
        am = 0xFFFF if case.insn.addr_size == 2 else 0xFFFFFFFF
        si, di = s.regs[6] & am, s.regs[7] & am
        if dice == 1 and case.name[:4] == "cmps":
            # Equal strings, so REPE runs to the end of the count.
            src = oracle._SEG_PREFIX.get(case.insn.prefix[1], "ds")
            step = -1 if s.eflags & oracle.DF else 1
            for k in range(64):
                d = oracle.peek(s, s.lin(src, (si + step * k) & am), 1)
                s.plant(s.lin("es", (di + step * k) & am), d)
        elif dice == 1 and case.name[:4] == "scas":
            size = {"b": 1, "w": 2, "d": 4}[case.name[-1]]
            step = -size if s.eflags & oracle.DF else size
            for k in range(16):
                s.plant(s.lin("es", (di + step * k) & am), s.reg(0, size).to_bytes(size, "little"))
    return fix


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(60)
@given(state=oracle.states(), dice=st.integers(0, 2))
def test_string(case, state, dice):
    oracle.check(case, state, _fixup(dice))
