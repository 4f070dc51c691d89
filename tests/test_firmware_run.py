"""Our firmware images, run end to end under jitemu from the reset vector:
the debug-console text must equal the oracle's (Unicorn's) recorded output."""
import os

import pytest

from jitemu.devices.debugcon import DebugConsole
from jitemu.machine import Machine
from jitemu.pc import build_pc

FIRMWARE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware")
IMAGES = os.path.join(FIRMWARE, "images")
NAMES = sorted(f[:-4] for f in os.listdir(IMAGES) if f.endswith(".bin"))


def needs_pc(name):
    """Sources that say "; machine: pc" run on the PC (PAM, CMOS, 0xCF9...)."""
    with open(os.path.join(FIRMWARE, "src", name + ".asm")) as f:
        return "; machine: pc" in f.read()


def run_image(name):
    image = open(os.path.join(IMAGES, name + ".bin"), "rb").read()
    if needs_pc(name):
        pc = build_pc(bios=image)
        assert pc.run() == "exit"
        return pc.machine, pc.console
    m = Machine()
    m.load_firmware(image)
    con = m.attach(DebugConsole())
    assert m.run() == "halt"
    return m, con.text


@pytest.mark.parametrize("name", NAMES)
def test_image_prints_its_expected_output(name):
    m, text = run_image(name)
    with open(os.path.join(IMAGES, name + ".expected"), newline="") as f:
        assert text == f.read()
    assert m.s.eflags & 0x200 == 0  # every image ends with CLI; HLT (or CLI; OUT 0x501)


@pytest.mark.parametrize("name", ["selftest", "p6", "fpu"])
def test_self_checking_images_report_no_failures(name):
    _, text = run_image(name)
    assert "FAIL" not in text
    assert text.rstrip().endswith(", 0 failed")
