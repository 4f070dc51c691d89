"""ADD OR ADC SBB AND SUB XOR CMP TEST INC DEC NEG NOT against Unicorn."""
import pytest
from hypothesis import given

import oracle

CASES = oracle.table_cases("alu", options=lambda t: {"forms": ("reg", "mem16", "mem32")})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(40)
@given(state=oracle.states())
def test_alu(case, state):
    oracle.check(case, state)
