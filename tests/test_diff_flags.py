"""LAHF SAHF CLC STC CMC CLD STD CLI STI NOP against Unicorn."""
import pytest
from hypothesis import given

import oracle

CASES = oracle.table_cases("flags")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(25)
@given(state=oracle.states())
def test_flags(case, state):
    oracle.check(case, state)
