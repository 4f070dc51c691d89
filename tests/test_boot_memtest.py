"""SeaBIOS boots SYSLINUX from a hard disk, SYSLINUX loads Debian's
memtest86+ 6 (Linux boot protocol), and memtest runs on the serial console
as on QEMU's `-M pc`: it prints its header and starts testing (here), and
finishes its first pass with no errors (a campaign: the pass includes two
80-second bit-fade waits, 160 billion guest instructions on jitemu's
one-nanosecond-per-instruction clock; 128 s of CPU here, 16 minutes on a
2-core machine shared with ten other jobs, where QEMU took 5 minutes of
real time).  The disk is built here (tests/memtestdisk.py)."""
import os
import re

import pytest

from jitemu.pc import build_pc
from memtestdisk import FIRST_PASS, HEADER, StopAt, make_disk, missing

SEABIOS = "/usr/share/seabios/bios.bin"


def need_packages():
    why = missing()
    if why:
        pytest.fail(why)
    if not os.path.exists(SEABIOS):
        pytest.fail("Debian's seabios package is needed (apt-get install seabios); .ci/run installs it")


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    need_packages()
    path = tmp_path_factory.mktemp("memtest") / "memtest.img"
    make_disk(path)
    return path


def boot(disk, marker, memory_mb, limit):
    serial = StopAt(marker)
    pc = build_pc(bios=SEABIOS, disk=str(disk), snapshot=True, memory_mb=memory_mb, serial=serial,
                  debugcon=open(os.devnull, "w"), fixed_time="2024-01-01T00:00:00")
    serial.machine = pc.machine
    why = pc.run(max_instructions=limit)
    return pc, serial, why


def status(text, field):
    """The last value memtest drew in a status field ('Pass', 'Errors', ...)."""
    found = re.findall(r"%s: +(\S+)" % field, text)
    return found[-1] if found else None


def test_syslinux_loads_memtest_which_starts_testing_on_the_serial_console(disk):
    pc, serial, why = boot(disk, "[Address test, walking ones", 16, 6_000_000_000)
    text = serial.text
    assert why == "stop", text[-2000:]
    assert "SYSLINUX 6.04" in text and "Loading memtest.bin... ok" in text
    assert HEADER in text
    assert "Memory  :   16MB" in text  # what SeaBIOS's e820 map told it
    assert "CPU: 1 Cores 1 Threads" in text
    assert status(text, "Status") == "Testing"
    assert status(text, "Errors") == "0"


@pytest.mark.campaign
def test_memtest_finishes_its_first_pass_with_no_errors(disk):
    pc, serial, why = boot(disk, FIRST_PASS, 16, 400_000_000_000)
    assert why == "stop", serial.text[-2000:]
    pc.run(max_instructions=10_000_000)  # the rest of the status line
    text = serial.text
    assert status(text, "Pass") == "1" and status(text, "Errors") == "0"
    assert "Pass     " in text.split(FIRST_PASS)[0][-300:]  # the Status field said so just before
