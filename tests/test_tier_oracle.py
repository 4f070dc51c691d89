"""The region compiler (the hot tier) against Unicorn.  Every differential
test of the first tier (tests/test_diff_*.py, tests/test_diff32_*.py) runs
again, its cases compiled straight into regions: registers and flags in
SSA, side exits to first-tier code for accesses the TLB cannot serve.  The
first tier runs cold code; this is how hot loops run the same instructions."""
import dataclasses
import importlib
import os

import pytest
from hypothesis import given

import oracle
import oracle32

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = sorted(f[:-3] for f in os.listdir(HERE)
                 if f.startswith(("test_diff_", "test_diff32_")) and f.endswith(".py")
                 and f[:-3] not in ("test_diff_coverage", "test_diff32_coverage"))
EXAMPLES = 4  # per case (the first tier's tests run 10-40)

_machines = {}


def _region_mode(mode):
    """The same mode, on a jitemu machine that compiles every block as a region."""
    base = type(mode)
    jitemu_cls = oracle32.Jitemu if mode.code32 else oracle.Jitemu
    unicorn_cls = oracle32.Unicorn if mode.code32 else oracle.Unicorn

    def make():
        j = jitemu_cls()
        j.m.translator.regions_first = True
        return j

    cache = _machines.setdefault(base, {})
    region = type("Region" + base.__name__, (base,), {
        "machines": lambda self: oracle.shared_machines(cache, make, unicorn_cls)})
    return region()


def _collect():
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
            for case in marks[0].args[1]:
                mode = modes.setdefault(type(case.mode), _region_mode(case.mode))
                out.append(pytest.param(fn, dataclasses.replace(case, mode=mode), id="%s-%s" % (attr, case.id)))
    return out


@pytest.mark.parametrize("test,case", _collect())
def test_region(test, case):
    inner = test.hypothesis.inner_test
    run = given(**test.hypothesis._given_kwargs)(lambda **drawn: inner(case=case, **drawn))
    oracle.settings(EXAMPLES)(run)()
