"""The other tiers against Unicorn.  Every differential test
(tests/test_diff_*.py, tests/test_diff32_*.py) runs its cases on the
baseline tier (stencils), which runs cold code; here they run again on
the LLVM tier, which takes the blocks the baseline tier cannot (and whose
code the persistent cache keeps), and compiled straight into regions (the
hot tier: registers and flags in SSA, side exits to first-tier code for
accesses the TLB cannot serve), which is how hot loops run them."""
import dataclasses
import importlib
import os

import pytest
from hypothesis import given

import oracle

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = sorted(f[:-3] for f in os.listdir(HERE)
                 if f.startswith(("test_diff_", "test_diff32_")) and f.endswith(".py")
                 and f[:-3] not in ("test_diff_coverage", "test_diff32_coverage"))
EXAMPLES = 4  # per case (the first tier's tests run 10-40)

def _collect(tier):
    out = []
    modes = {}
    for name in MODULES:
        mod = importlib.import_module(name)
        for attr in dir(mod):
            fn = getattr(mod, attr)
            if not attr.startswith("test_") or not hasattr(fn, "hypothesis"):
                continue
            marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "parametrize" and m.args[0] == "case"]
            if not marks:
                continue
            # (a module may ask for every n-th of its cases: TIER_EVERY)
            for case in marks[0].args[1][::getattr(mod, "TIER_EVERY", 1)]:
                mode = modes.setdefault(type(case.mode), oracle.tier_mode(case.mode, tier))
                out.append(pytest.param(fn, dataclasses.replace(case, mode=mode), id="%s-%s" % (attr, case.id)))
    return out


def _run(test, case):
    inner = test.hypothesis.inner_test
    run = given(**test.hypothesis._given_kwargs)(lambda **drawn: inner(case=case, **drawn))
    oracle.settings(EXAMPLES)(run)()


@pytest.mark.parametrize("test,case", _collect("region"))
def test_region(test, case):
    _run(test, case)


# The LLVM tier now runs only what the baseline tier refuses: its rerun is
# one of the campaigns .ci/run runs after the README's test command.
@pytest.mark.campaign
@pytest.mark.parametrize("test,case", _collect("llvm"))
def test_llvm_tier(test, case):
    _run(test, case)
