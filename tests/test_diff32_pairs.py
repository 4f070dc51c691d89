"""Flag producer then flag consumer in one block, against Unicorn in
32-bit protected mode (the pairs of tests/test_diff_pairs.py, whose 0x66
forms are 16-bit here)."""
import pytest
from hypothesis import given

import oracle
import oracle32
from encode import Encoding
from test_diff_pairs import _pairs

CASES = oracle32.cases(Encoding(bytes.fromhex(p + c), "pair", code32=True) for p, c in _pairs()[:80])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.code.hex().upper())
@oracle.settings(8)
@given(state=oracle32.states())
def test_pair32(case, state):
    def fix(c, s):
        s.regs[1] &= 7   # small ECX for CMPSB/LOOPcc
        s.regs[6] = oracle32.HIGH_LO + s.regs[6] % 0x40000
        s.regs[7] = oracle32.HIGH_LO + s.regs[7] % 0x40000
    oracle.check(case, state, fix)
