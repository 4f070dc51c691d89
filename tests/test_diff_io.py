"""IN OUT (immediate port and DX, byte word dword) against Unicorn; port
reads answer the same deterministic values in both, writes are compared."""
import pytest
from hypothesis import given

import oracle

CASES = oracle.table_cases("system", names="in out", options=lambda t: {"n_plain": 2})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(20)
@given(state=oracle.states())
def test_io(case, state):
    oracle.check(case, state)
