"""SHL SHR SAR ROL ROR RCL RCR SHLD SHRD against Unicorn in 32-bit
protected mode (flags masked as in tests/test_diff_shift.py)."""
import pytest
from hypothesis import given

import oracle
import oracle32
from test_diff_shift import _defined, _fixup

CASES = oracle32.table_cases("shift", keep=_defined,
                             options=lambda t: {"forms": ("reg", "mem16", "mem32"), "shift_counts": True})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(15)
@given(state=oracle32.states())
def test_shift32(case, state):
    oracle.check(case, state, _fixup)
