"""CMPXCHG (LOCK and not) XADD CMPXCHG8B against Unicorn in 32-bit
protected mode (tests/test_diff_exchange.py)."""
import pytest
from hypothesis import given, strategies as st

import oracle
import oracle32
from encode import Encoding
from test_diff_exchange import _options, equal_fixup

LOCKED = [Encoding(bytes.fromhex(h), t, op32=op32, addr32=a32, form=f, code32=True) for h, t, op32, a32, f in (
    ("F00FB10F", "0F B1 /r", True, True, "mem32"),
    ("F0660FB14C3302", "0F B1 /r", False, True, "mem32"),
    ("F00FB04E12", "0F B0 /r", True, True, "mem32"),
    ("F0670FB10F", "0F B1 /r", True, False, "mem16"),
    ("F00FC10C9E", "0F C1 /r", True, True, "mem32"),
    ("F00FC70E", "0F C7 /1", True, True, "mem32"),
    ("F00FC74C2404", "0F C7 /1", True, True, "mem32"),
)]

CASES = oracle32.table_cases("exchange", options=_options, extra=LOCKED)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(20)
@given(state=oracle32.states(), equal=st.booleans())
def test_exchange32(case, state, equal):
    oracle.check(case, state, equal_fixup(equal))
