"""Our firmware images, run end to end under jitemu from the reset vector:
the debug-console text must equal the oracle's (Unicorn's) recorded output."""
import os

import pytest

from jitemu.devices.debugcon import DebugConsole
from jitemu.machine import Machine

IMAGES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware", "images")
NAMES = sorted(f[:-4] for f in os.listdir(IMAGES) if f.endswith(".bin"))


def run_image(name):
    m = Machine()
    m.load_firmware(open(os.path.join(IMAGES, name + ".bin"), "rb").read())
    con = m.attach(DebugConsole())
    assert m.run() == "halt"
    return m, con.text


@pytest.mark.parametrize("name", NAMES)
def test_image_prints_its_expected_output(name):
    m, text = run_image(name)
    with open(os.path.join(IMAGES, name + ".expected"), newline="") as f:
        assert text == f.read()
    assert m.s.eflags & 0x200 == 0  # every image ends with CLI; HLT


def test_selftest_reports_no_failures():
    _, text = run_image("selftest")
    assert "FAIL" not in text
    assert text.rstrip().endswith(", 0 failed")
