"""ADD OR ADC SBB AND SUB XOR CMP TEST INC DEC NEG NOT against Unicorn in
32-bit protected mode (flat segments; 0x66 and 0x67 select 16 bits)."""
import pytest
from hypothesis import given

import oracle
import oracle32

CASES = oracle32.table_cases("alu", options=lambda t: {"forms": ("reg", "mem16", "mem32")})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(15)
@given(state=oracle32.states())
def test_alu32(case, state):
    oracle.check(case, state)
