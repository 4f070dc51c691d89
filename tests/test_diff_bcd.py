"""DAA DAS AAA AAS AAM AAD against Unicorn (AAM 0 raises #DE)."""
import pytest
from hypothesis import given

import oracle
from encode import Encoding

CASES = oracle.table_cases("bcd", options=lambda t: {"n_plain": 4}, extra=[
    Encoding(bytes.fromhex("D400"), "D4 ib"), Encoding(bytes.fromhex("D40A"), "D4 ib"),
    Encoding(bytes.fromhex("D50A"), "D5 ib"), Encoding(bytes.fromhex("D510"), "D5 ib"),
])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(120)
@given(state=oracle.states())
def test_bcd(case, state):
    oracle.check(case, state)
