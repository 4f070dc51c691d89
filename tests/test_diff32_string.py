"""MOVS CMPS STOS LODS SCAS INS OUTS with REP / REPE / REPNE, 0x66, 0x67,
segment overrides (FS and GS have non-zero bases) and DF both ways,
against Unicorn in 32-bit protected mode.  ECX stays small."""
import pytest
from hypothesis import given, strategies as st

import oracle
import oracle32
from encode import Encoding, rng_for
from test_diff_string import SOURCE_OPS, _fixup as _fixup16


def _encodings():
    out = []
    for t in oracle.templates("string"):
        op = int(t, 16)
        rng = rng_for("string32", t)
        combos = [(rep, op16, False, None) for rep in (None, 0xF3, 0xF2) for op16 in (False, True)]
        for _ in range(3):
            seg = rng.choice((0x26, 0x2E, 0x36, 0x64, 0x65)) if op in SOURCE_OPS else None
            combos.append((rng.choice((None, 0xF3, 0xF2)), rng.random() < 0.5, True, seg))
        for rep, op16, addr16, seg in combos:
            pfx = bytes(p for p in (seg, rep, 0x66 if op16 else None, 0x67 if addr16 else None) if p)
            out.append(Encoding(pfx + bytes([op]), t, not op16, not addr16, code32=True))
    return out


CASES = oracle32.cases(_encodings())


def _fixup(dice):
    inner = _fixup16(dice)

    def fix(case, s):
        if case.insn.addr_size == 4:
            s.regs[1] &= 0xF
            s.regs[6] = oracle32.HIGH_LO + 0x100 + s.regs[6] % 0x40000
            s.regs[7] = oracle32.HIGH_LO + 0x100 + s.regs[7] % 0x40000
        else:
            # 16-bit SI and DI in the low window, off the code (which a
            # 15-step run from 0x300 up or down cannot reach).
            s.regs[1] &= 0xFFFF000F
            for r in (6, 7):
                s.regs[r] = (s.regs[r] & 0xFFFF0000) | (0x300 + s.regs[r] % 0xFC00)
        return inner(case, s)
    return fix


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(25)
@given(state=oracle32.states(), dice=st.integers(0, 2))
def test_string32(case, state, dice):
    oracle.check(case, state, _fixup(dice))
