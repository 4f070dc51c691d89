"""IN OUT against Unicorn in 32-bit protected mode (CPL 0 = IOPL: no I/O
permission bitmap is consulted)."""
import pytest
from hypothesis import given

import oracle
import oracle32

CASES = oracle32.table_cases("system", names="in out", options=lambda t: {"n_plain": 2})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(10)
@given(state=oracle32.states())
def test_io32(case, state):
    oracle.check(case, state)
