"""Every instruction of the ISA table has a 32-bit protected-mode
differential test, except the ones Unicorn cannot judge (as in
tests/test_diff_coverage.py)."""
import importlib
import pathlib

from jitemu.isa.table import TABLE
from test_diff_coverage import FAMILIES_NOT_COMPARED

NOT_COMPARED = {"hlt": "ends every differential case",
                "ud2": "Unicorn stops at #UD instead of delivering it: tests/test_p6_system.py"}


def test_every_table_row_is_compared_in_pm32():
    covered = set()
    for path in sorted(pathlib.Path(__file__).parent.glob("test_diff32_*.py")):
        if path.stem == "test_diff32_coverage":
            continue
        covered |= {c.name for c in importlib.import_module(path.stem).CASES}
    missing = {name for name, row in TABLE.items()
               if row.family not in FAMILIES_NOT_COMPARED and name not in NOT_COMPARED} - covered
    assert not missing, "no 32-bit differential test for: %s" % " ".join(sorted(missing))
