"""LAHF SAHF CLC STC CMC CLD STD CLI STI NOP against Unicorn in 32-bit
protected mode (CLI and STI at CPL 0 = IOPL)."""
import pytest
from hypothesis import given

import oracle
import oracle32

CASES = oracle32.table_cases("flags", options=lambda t: {"word": False} if t == "F3 90" else None)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(10)
@given(state=oracle32.states())
def test_flags32(case, state):
    oracle.check(case, state)
