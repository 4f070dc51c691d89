"""MUL IMUL (1, 2 and 3 operands) DIV IDIV against Unicorn.

Random dividends almost always overflow the quotient, so most examples
reduce the dividend to one that divides; the rest (and division by zero)
raise #DE, which both machines deliver through IVT entry 0 (the oracle's
interrupt hook for Unicorn).  tests/test_edge_cases.py checks #DE by hand.
"""
import pytest
from hypothesis import given, strategies as st

import oracle

CASES = oracle.table_cases("muldiv", options=lambda t: {"forms": ("reg", "reg", "mem16", "mem32")})

HALVES = {1: ((0, 1, 0), (0, 1, 8)), 2: ((0, 2, 0), (2, 2, 0)), 4: ((0, 4, 0), (2, 4, 0))}


def _no_overflow(case, s):
    size = case.insn.operands[0].size
    (li, ls, lsh), (hi, hs, hsh) = HALVES[size]
    d = oracle.operand_value(case, s, 0)
    if case.name == "div":
        if d:
            s.set_reg(hi, s.reg(hi, hs, hsh) % d, hs, hsh)
    else:
        low = s.reg(li, ls, lsh)
        s.set_reg(hi, -1 if low >> (8 * size - 1) else 0, hs, hsh)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(50)
@given(state=oracle.states(), dice=st.integers(0, 7))
def test_muldiv(case, state, dice):
    fix = _no_overflow if case.name in ("div", "idiv") and dice else None
    oracle.check(case, state, fix)
