"""DAA DAS AAA AAS AAM AAD against Unicorn in 32-bit protected mode (AAM 0
raises #DE through the IDT)."""
import pytest
from hypothesis import given

import oracle
import oracle32
from encode import Encoding

CASES = oracle32.table_cases("bcd", options=lambda t: {"n_plain": 2}, extra=[
    Encoding(bytes.fromhex("D400"), "D4 ib", code32=True), Encoding(bytes.fromhex("D40A"), "D4 ib", code32=True),
    Encoding(bytes.fromhex("D510"), "D5 ib", code32=True),
])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(40)
@given(state=oracle32.states())
def test_bcd32(case, state):
    oracle.check(case, state)
