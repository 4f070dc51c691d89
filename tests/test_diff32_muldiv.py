"""MUL IMUL DIV IDIV against Unicorn in 32-bit protected mode; #DE goes
through the IDT (a 32-bit interrupt gate)."""
import pytest
from hypothesis import given, strategies as st

import oracle
import oracle32
from test_diff_muldiv import _no_overflow

CASES = oracle32.table_cases("muldiv", options=lambda t: {"forms": ("reg", "mem16", "mem32")})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(20)
@given(state=oracle32.states(), dice=st.integers(0, 7))
def test_muldiv32(case, state, dice):
    fix = _no_overflow if case.name in ("div", "idiv") and dice else None
    oracle.check(case, state, fix)
