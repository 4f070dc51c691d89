"""Disk images are opened, not loaded: a 1 GiB sparse image boots in little
memory; the guest's writes reach the file, or with --snapshot stay in a
copy-on-write overlay in memory; a bad or read-only image gets a one-line
error."""
import contextlib
import os
import shutil
import subprocess
import sys

import pytest
from romutil import rom_with

from jitemu.devices.ata import ATAChannel, Disk
from jitemu.machine import Machine
from jitemu.pc import build_pc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOTOK = os.path.join(ROOT, "firmware", "images", "disk", "bootok.img")
SEABIOS = "/usr/share/seabios/bios.bin"
JITEMU = [sys.executable, "-m", "jitemu.cli"]
OK = b"OK" * 256


def select_lba1(cmd):
    """mov dx,0x1F6; mov al,0xE0; out dx,al (master, LBA); count 1 at 0x1F2;
    LBA 1 at 0x1F3-0x1F5 (inc dx between); command `cmd` at 0x1F7."""
    return (bytes.fromhex("baf601b0e0ee" "baf201b001ee" "42ee" "4230c0ee" "42ee" "4242b0")
            + bytes([cmd]) + b"\xee")


# The guest writes "OK" over sector 1, reads it back and prints Y if every
# word came back (N if not) on the debug console, then exits with status 1.
WRITE_THEN_READ = rom_with(
    select_lba1(0x30)                            # WRITE SECTORS
    + bytes.fromhex("baf001b90001b84f4b"         # mov dx,0x1F0; mov cx,256; mov ax,'OK'
                    "efe2fd")                    # out dx,ax; loop
    + select_lba1(0x20) + b"\xec"                # READ SECTORS; in al,dx (status)
    + bytes.fromhex("baf001b9000131db"           # mov dx,0x1F0; mov cx,256; xor bx,bx
                    "ed3d4f4b740143e2f7"         # in ax,dx; cmp ax,'OK'; je +1; inc bx; loop
                    "ba0204b05985db7402b04eee"   # mov dx,0x402; al = bx ? 'N' : 'Y'; out dx,al
                    "ba010530c0eef4"))           # mov dx,0x501; xor al,al; out dx,al; hlt


def boot(*args):
    return subprocess.run(JITEMU + ["boot", "--debugcon", "stdio", "--no-cache", "--quiet"] + list(args),
                          capture_output=True, text=True, timeout=120)


def assert_one_line_error(p, needle):
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jitemu: error:") and needle in lines[0], p.stderr


@contextlib.contextmanager
def read_only(path):
    """A file this process cannot open for writing: mode 0444, and, for
    root (whom modes do not stop), the immutable attribute."""
    os.chmod(path, 0o444)
    immutable = os.geteuid() == 0
    if immutable:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        os.chmod(path, 0o644)


def test_a_1_gib_sparse_image_boots_in_little_memory(tmp_path):
    if not os.path.exists(SEABIOS):
        pytest.fail("Debian's seabios package is needed (apt-get install seabios); .ci/run installs it")
    big = tmp_path / "big.img"
    shutil.copyfile(BOOTOK, big)
    os.truncate(big, 1 << 30)
    out = tmp_path / "out.txt"
    # Linux counts the address space a child had before exec (a vfork
    # shares this big test process's) in its peak: a small launcher starts
    # the emulator and reports that process's own peak.
    launcher = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]).returncode; "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r, file=sys.stderr)")
    with open(out, "w") as f:
        p = subprocess.run([sys.executable, "-c", launcher] + JITEMU + [
            "boot", "--bios", SEABIOS, "--disk", str(big), "--debugcon", "stdio", "--quiet"],
            stdout=f, stderr=subprocess.PIPE, text=True, env=dict(os.environ, JITEMU_CACHE_DIR=str(tmp_path)))
    peak_kib, status = (int(x) for x in p.stderr.split()[-2:])
    assert "BOOT-SECTOR-OK" in out.read_text()
    assert status == 1
    assert peak_kib < 400 * 1024, "peak RSS %d MB" % (peak_kib // 1024)


def test_guest_writes_reach_the_image_file(tmp_path):
    (tmp_path / "bios.bin").write_bytes(WRITE_THEN_READ)
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(64 * 512))
    p = boot("--bios", str(tmp_path / "bios.bin"), "--disk", str(disk))
    assert (p.stdout, p.returncode) == ("Y", 1), p.stderr
    data = disk.read_bytes()
    assert data == bytes(512) + OK + bytes(62 * 512)


def test_with_snapshot_the_guest_reads_its_writes_and_the_file_is_untouched(tmp_path):
    (tmp_path / "bios.bin").write_bytes(WRITE_THEN_READ)
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(64 * 512))
    p = boot("--bios", str(tmp_path / "bios.bin"), "--disk", str(disk), "--snapshot")
    assert (p.stdout, p.returncode) == ("Y", 1), p.stderr
    assert disk.read_bytes() == bytes(64 * 512)


def test_a_read_only_image_needs_snapshot(tmp_path):
    (tmp_path / "bios.bin").write_bytes(WRITE_THEN_READ)
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(64 * 512))
    with read_only(disk):
        assert_one_line_error(boot("--bios", str(tmp_path / "bios.bin"), "--disk", str(disk)), "--snapshot")
        p = boot("--bios", str(tmp_path / "bios.bin"), "--disk", str(disk), "--snapshot")
        assert (p.stdout, p.returncode) == ("Y", 1), p.stderr
    assert disk.read_bytes() == bytes(64 * 512)


def test_an_image_that_is_not_whole_sectors_is_refused(tmp_path):
    (tmp_path / "bios.bin").write_bytes(WRITE_THEN_READ)
    odd, empty = tmp_path / "odd.img", tmp_path / "empty.img"
    odd.write_bytes(bytes(1000))
    empty.write_bytes(b"")
    assert_one_line_error(boot("--bios", str(tmp_path / "bios.bin"), "--disk", str(odd)), "1000 bytes")
    assert_one_line_error(boot("--bios", str(tmp_path / "bios.bin"), "--disk", str(empty)), "0 bytes")


def test_snapshot_reads_see_the_overlay_over_the_file(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(b"".join(bytes([i]) * 512 for i in range(8)))
    disk = Disk(str(path), snapshot=True)
    disk.write(2, b"\xaa" * 512)
    disk.write(4, b"\xbb" * 1024)  # sectors 4 and 5
    assert disk.read(1, 6) == b"\x01" * 512 + b"\xaa" * 512 + b"\x03" * 512 + b"\xbb" * 1024 + b"\x06" * 512
    assert sorted(disk.overlay) == [2, 4, 5]
    disk.close()
    assert path.read_bytes() == b"".join(bytes([i]) * 512 for i in range(8))


def test_build_pc_takes_a_path_with_snapshot_and_bytes(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(64 * 512))
    pc = build_pc(bios=rom_with(b"\xf4"), disk=str(path), snapshot=True)
    pc.disk.write(1, OK)
    assert pc.disk.read(1, 1) == OK and path.read_bytes() == bytes(64 * 512)
    pc = build_pc(bios=rom_with(b"\xf4"), disk=bytes(64 * 512))
    pc.disk.write(1, OK)
    assert pc.disk.read(1, 1) == OK and pc.disk.file is None


def pio_write_sector(m, lba, data):
    for port, value in ((0x1F6, 0xE0), (0x1F2, 1), (0x1F3, lba), (0x1F4, 0), (0x1F5, 0), (0x1F7, 0x30)):
        m.ports.write(port, value, 1)
    for i in range(0, 512, 2):
        m.ports.write(0x1F0, int.from_bytes(data[i:i + 2], "little"), 2)


def test_pio_writes_through_the_device_go_to_the_overlay_or_the_file(tmp_path):
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(64 * 512))
    m = Machine(memory_mb=1)
    ch = m.attach(ATAChannel(master=Disk(str(path), snapshot=True)))
    pio_write_sector(m, 7, OK)
    assert ch.drives[0].disk.read(7, 1) == OK and path.read_bytes() == bytes(64 * 512)

    m = Machine(memory_mb=1)
    ch = m.attach(ATAChannel(master=Disk(str(path))))
    pio_write_sector(m, 7, OK)
    assert ch.drives[0].disk.read(7, 1) == OK and path.read_bytes() == bytes(7 * 512) + OK + bytes(56 * 512)
