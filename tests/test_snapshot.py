"""Snapshots: a machine restored from a snapshot (through its file format)
continues exactly as the original did -- the same console output byte for
byte, the same instruction count, the same final registers, devices and
RAM -- at many points of a SeaBIOS boot and of our firmware; files that are
foreign, truncated, corrupt or of another machine are refused in one line."""
import hashlib
import os
import random
import re
import subprocess
import sys

import pytest

from jitemu.devices.debugcon import DebugConsole
from jitemu.devices.debugexit import DebugExit
from jitemu.machine import Machine
from jitemu.pc import build_pc
from jitemu.snapshot import SnapshotError, from_bytes, load, to_bytes
from romutil import assemble
from test_boot_cdrom import eltorito_iso  # noqa: F401 - a fixture

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, "firmware", "images")
SRC = os.path.join(ROOT, "firmware", "src")
SEABIOS = "/usr/share/seabios/bios.bin"
BOOTOK = os.path.join(IMAGES, "disk", "bootok.img")
TIME = "2024-01-01T00:00:00"


class Bare:
    """`jitemu run`'s machine: RAM, the ROM, the debug console and exit."""

    def __init__(self, image):
        self.machine = Machine()
        self.machine.load_firmware(image)
        self.con = self.machine.attach(DebugConsole())
        self.machine.attach(DebugExit())

    @property
    def output(self):
        return bytes(self.con.data)


class PC:
    def __init__(self, bios, disk=None, **kw):
        self.pc = build_pc(bios=bios, disk=disk, snapshot=disk is not None, fixed_time=TIME, **kw)
        self.machine = self.pc.machine

    @property
    def output(self):
        return bytes(self.pc.debugcon.data)


def final_state(box):
    """Everything a run leaves: how it ended is checked by the caller."""
    m = box.machine
    snap = m.snapshot()
    return {"icount": m.icount, "regs": m.regs.snapshot(), "cpu": snap.meta["cpu"],
            "devices": snap.meta["devices"], "timers": snap.meta["timers"],
            "ram": hashlib.sha256(m.read_phys(0, m.ram_size)).hexdigest()}


def check_points(make, points, budget):
    """Snapshot at each point, restore into a new machine from the file's
    bytes, run on: the rest of the run equals the original's."""
    ref = make()
    why = ref.machine.run(budget)
    end, out = final_state(ref), ref.output
    assert end["icount"] > max(points)
    for n in points:
        a = make()
        assert a.machine.run(n) == "limit" and a.machine.icount == n
        while True:
            try:
                data = to_bytes(a.machine.snapshot())
                break
            except SnapshotError as e:  # a device in mid-command: a few instructions later
                assert "no snapshot at instruction" in str(e)
                a.machine.run(100)
                n = a.machine.icount
        cut = len(a.output)
        b = make()
        b.machine.restore(from_bytes(data))
        assert b.machine.icount == n
        assert b.machine.run(budget - n) == why, n
        assert b.output == out[cut:], n
        assert final_state(b) == end, n
        # Taking the snapshot did not change the original's run either.
        assert a.machine.run(budget - n) == why and a.output == out and final_state(a) == end, n


def test_seabios_boot_restored_at_many_points_continues_byte_for_byte():
    points = [1, 1000, 123_457, 1_540_050, 3_560_000, 5_000_000, 7_600_000]
    check_points(lambda: PC(SEABIOS, BOOTOK), points, 20_000_000)


@pytest.mark.campaign
def test_seabios_boot_restored_at_60_random_points():
    rng = random.Random(7)
    points = sorted(rng.randrange(1, 7_688_000) for _ in range(60))
    check_points(lambda: PC(SEABIOS, BOOTOK), points, 20_000_000)


def spread(length, count, seed):
    """`count` points over [1, length): evenly spaced, each moved by a
    seeded random amount (so they fall on every kind of instruction)."""
    rng = random.Random(seed)
    step = max(1, length // count)
    return sorted({min(length - 1, 1 + k * step + rng.randrange(step)) for k in range(count)})


@pytest.mark.parametrize("name", ["selftest", "rings", "paging", "exceptions", "pmode"])
def test_our_firmware_restored_at_points_spread_over_its_run(name):
    image = open(os.path.join(IMAGES, name + ".bin"), "rb").read()
    ref = Bare(image)
    assert ref.machine.run(10_000_000) == "halt"
    check_points(lambda: Bare(image), spread(ref.machine.icount, 16, 1), 10_000_000)


def test_virtual_8086_monitor_restored_at_points_spread_over_its_run():
    # Virtual-8086 mode is EFLAGS.VM and segment caches, CPU state the
    # snapshot holds: every point in the 8086 program or the monitor goes on.
    image = open(os.path.join(IMAGES, "v86.bin"), "rb").read()
    ref = Bare(image)
    assert ref.machine.run(10_000_000) == "exit"
    check_points(lambda: Bare(image), spread(ref.machine.icount, 12, 2), 10_000_000)


@pytest.mark.campaign
@pytest.mark.parametrize("name", ["selftest", "rings", "paging", "exceptions", "pmode"])
def test_our_firmware_restored_at_every_31st_instruction(name):
    image = open(os.path.join(IMAGES, name + ".bin"), "rb").read()
    ref = Bare(image)
    assert ref.machine.run(10_000_000) == "halt"
    check_points(lambda: Bare(image), list(range(1, ref.machine.icount, 31)), 10_000_000)


def test_resetbug_restored_inside_its_timer_wait_and_its_interrupts():
    # PIT channel 0 and IRQ0 through the PICs: snapshots while a timer is
    # pending, right at and around a tick.
    image = open(os.path.join(IMAGES, "resetbug.bin"), "rb").read()
    points = [900_000, 1_050_001, 1_160_003, 1_300_000, 1_440_000]
    check_points(lambda: PC(image), points, 3_000_000)


def test_seabios_floppy_boot_restored_around_its_int13_reads_and_writes():
    # The FDC, the 8237s and the floppy image the guest writes to.
    from test_boot_floppy import floppy_of
    image = floppy_of(1474560)
    ref = PC(SEABIOS, floppy=image)
    assert ref.machine.run(200_000_000) == "exit"
    length = ref.machine.icount
    points = spread(length, 6, 3) + [length - 300_000, length - 60_000, length - 2_000]
    check_points(lambda: PC(SEABIOS, floppy=image), sorted(points), 200_000_000)


def test_seabios_cd_boot_restored_at_points_spread_over_it(eltorito_iso):
    ref = PC(SEABIOS, cdrom=str(eltorito_iso))
    assert ref.machine.run(200_000_000) == "exit"
    check_points(lambda: PC(SEABIOS, cdrom=str(eltorito_iso)), spread(ref.machine.icount, 8, 4), 200_000_000)


def test_reboot_torture_restored_between_and_around_its_resets():
    # firmware/src/reboot.asm, 20 reboots: PAM shadowing, CMOS NVRAM
    # counters, 0xCF9 resets; snapshots land in every phase of a boot.
    src = open(os.path.join(SRC, "reboot.asm")).read()
    image = assemble("%define REBOOTS 20\n" + src)
    ref = PC(image)
    assert ref.machine.run(10_000_000) == "exit"
    check_points(lambda: PC(image), spread(ref.machine.icount, 12, 2), 10_000_000)


def test_a_snapshot_taken_during_a_run_equals_one_taken_after_stopping_there():
    taken = []
    a = PC(SEABIOS, BOOTOK)
    a.machine.at_icount(2_000_000, lambda: taken.append(a.machine.snapshot()))
    assert a.machine.run(3_000_000) == "limit"
    b = PC(SEABIOS, BOOTOK)
    b.machine.run(2_000_000)
    assert taken[0].meta == b.machine.snapshot().meta
    assert taken[0].pages == b.machine.snapshot().pages


def test_restoring_an_earlier_snapshot_into_the_same_machine_goes_back_in_time():
    # SeaBIOS has copied code into RAM and run it by then: translations of
    # the later code must not survive the restore.
    box = PC(SEABIOS, BOOTOK)
    box.machine.run(1_000_000)
    snap = box.machine.snapshot()
    cut = len(box.output)
    box.machine.run(20_000_000)
    first = box.output[cut:], final_state(box)
    box.pc.debugcon.data.clear()
    box.machine.restore(snap)
    box.machine.run(20_000_000 - 1_000_000)
    assert (box.output, final_state(box)) == first


def test_a_snapshot_file_round_trips(tmp_path):
    box = PC(SEABIOS, BOOTOK)
    box.machine.run(500_000)
    snap = box.machine.snapshot()
    path = str(tmp_path / "s.snap")
    snap.save(path)
    again = load(path)
    assert again.meta == snap.meta and again.pages == snap.pages and again.icount == 500_000


def test_running_machine_cannot_be_snapshotted_from_another_thread():
    box = PC(SEABIOS, BOOTOK)
    box.machine.start()
    try:
        with pytest.raises(RuntimeError, match="running"):
            box.machine.snapshot()
    finally:
        box.machine.halt_vcpu()


# -- bad files ------------------------------------------------------------------
@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    box = PC(SEABIOS, BOOTOK)
    box.machine.run(300_000)
    path = str(tmp_path_factory.mktemp("snap") / "good.snap")
    box.machine.snapshot().save(path)
    return path


def _variant(tmp_path, good, how):
    data = bytearray(open(good, "rb").read())
    if how == "truncated":
        data = data[:len(data) // 2]
    elif how == "corrupt":
        data[len(data) // 3] ^= 0x40
    elif how == "foreign":
        data = bytearray(open(os.path.join(IMAGES, "selftest.bin"), "rb").read())
    elif how == "empty":
        data = bytearray()
    elif how == "version":
        data[16] = 99
    elif how == "trailing":
        data += b"\0"
    path = str(tmp_path / (how + ".snap"))
    open(path, "wb").write(bytes(data))
    return path


@pytest.mark.parametrize("how,message", [
    ("truncated", "is truncated"), ("corrupt", "is corrupt"), ("foreign", "is not a jitemu snapshot"),
    ("empty", "is not a jitemu snapshot"), ("version", "is a version 99 snapshot"),
    ("trailing", "is corrupt")])
def test_bad_snapshot_files_are_refused_in_one_line(tmp_path, good_file, how, message):
    path = _variant(tmp_path, good_file, how)
    with pytest.raises(SnapshotError, match=message):
        load(path)
    r = subprocess.run([sys.executable, "-m", "jitemu.cli", "boot", "--disk", BOOTOK, "--snapshot",
                        "--restore", path], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("jitemu: error: ") and message in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_a_snapshot_of_another_machine_is_refused(good_file):
    snap = load(good_file)
    with pytest.raises(SnapshotError, match="its firmware image differs"):
        PC(os.path.join(IMAGES, "resetbug.bin"), BOOTOK).machine.restore(snap)
    with pytest.raises(SnapshotError, match="its RAM size differs"):
        build_pc(bios=SEABIOS, disk=BOOTOK, snapshot=True, memory_mb=32).machine.restore(snap)
    with pytest.raises(SnapshotError, match="its device list differs"):
        m = Machine()
        m.load_firmware(open(SEABIOS, "rb").read())
        m.restore(snap)
    # (the same machine with its disk written in place, not in memory)
    with pytest.raises(SnapshotError, match="--snapshot"):
        build_pc(bios=SEABIOS, disk=open(BOOTOK, "rb").read(), fixed_time=TIME).machine.restore(snap)


def test_cli_restore_continues_a_saved_boot(tmp_path):
    path = str(tmp_path / "boot.snap")
    full, rest = str(tmp_path / "full.txt"), str(tmp_path / "rest.txt")
    cmd = [sys.executable, "-m", "jitemu.cli", "boot", "--disk", BOOTOK, "--snapshot", "--fixed-time", TIME]
    a = subprocess.run(cmd + ["--debugcon", full, "--save-at", "3000000", path], capture_output=True,
                       text=True, timeout=300)
    b = subprocess.run(cmd + ["--debugcon", rest, "--restore", path], capture_output=True, text=True, timeout=300)
    assert a.returncode == b.returncode == 1  # the boot sector's debug exit
    whole, tail = open(full, "rb").read(), open(rest, "rb").read()
    assert tail and whole.endswith(tail) and tail.rstrip().endswith(b"BOOT-SECTOR-OK")
    counts = [re.search(r"exit after (\d+) instructions", r.stderr).group(1) for r in (a, b)]
    assert counts[0] == counts[1]  # the restored run ends at the same instruction


@pytest.mark.parametrize("args,message", [
    (["--save-at", "x", "f"], "--save-at: not a number"),
    (["--save-at", "-1", "f"], "--save-at: must be between 0"),
    (["--save-at", "5", "/nonexistent-dir/f"], "--save-at: no such directory"),
    (["--restore", "/nonexistent.snap"], "snapshot not found"),
    (["--restore", "/"], "snapshot is a directory")])
def test_cli_snapshot_options_bad_input(args, message):
    r = subprocess.run([sys.executable, "-m", "jitemu.cli", "run", os.path.join(IMAGES, "selftest.bin")] + args,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1, r.stderr
