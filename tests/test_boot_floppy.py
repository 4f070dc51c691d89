"""Debian's SeaBIOS boots a 1.44M floppy on jitemu's PC, through the
floppy controller and DMA, as QEMU's does: the boot sector (assembled
here) reads its second sector with INT 13h, writes it to the last sector of
head 1's first track, reads that back and prints it on the debug console,
then ends the run through the debug-exit port."""
import io
import os
import subprocess
import sys

import pytest

from jitemu.pc import build_pc
from romutil import assemble

SEABIOS = "/usr/share/seabios/bios.bin"
MARKER = "FLOPPY-SECTOR-2-OK"
COPY_LBA = 35  # C0 H1 R18 on a 1.44M floppy

BOOT = r"""
bits 16
org 0x7C00
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    sti
    mov [drive], dl
    mov ax, 0x0201              ; read C0 H0 R2 to 0:8000
    mov cx, 0x0002
    xor dh, dh
    mov bx, 0x8000
    int 0x13
    jc fail
    mov ax, 0x0301              ; write it to C0 H1 R18
    mov cx, 0x0012
    mov dh, 1
    mov dl, [drive]
    int 0x13
    jc fail
    mov ax, 0x0201              ; and read that back to 0:9000
    mov cx, 0x0012
    mov dh, 1
    mov dl, [drive]
    mov bx, 0x9000
    int 0x13
    jc fail
    mov si, 0x9000
    jmp print
%%include "bootexit.inc"
drive: db 0
    times 510 - ($ - $$) db 0
    dw 0xAA55
    db "%s", 10, 0
    times SIZE - ($ - $$) db 0
""" % MARKER


def floppy_of(size):
    return assemble("%define SIZE " + str(size) + "\n" + BOOT)


def need_seabios():
    if not os.path.exists(SEABIOS):
        pytest.fail("Debian's seabios package is needed (apt-get install seabios); .ci/run installs it")


@pytest.fixture(scope="module")
def floppy():
    return floppy_of(1474560)


@pytest.mark.parametrize("size,spt", [(1474560, 18), (2949120, 36)])
def test_seabios_boots_the_floppy_and_int13_reads_and_writes_it(size, spt):
    need_seabios()
    log = io.StringIO()
    pc = build_pc(bios=SEABIOS, floppy=floppy_of(size), debugcon=log, fixed_time="2024-01-01T00:00:00")
    why = pc.run(max_instructions=200_000_000)
    text = log.getvalue()
    assert "Booting from Floppy..." in text
    assert text.rstrip().endswith(MARKER)
    assert why == "exit" and pc.exit_status == 1
    assert pc.floppy.read(spt + 17).startswith(MARKER.encode())  # C0 H1 R18


def test_a_floppy_without_the_boot_signature_is_not_booted(floppy):
    """QEMU's CMOS asks SeaBIOS to check a floppy's 0x55AA (-no-fd-bootchk
    would not); with nothing else to boot SeaBIOS then says so and waits."""
    need_seabios()
    log = io.StringIO()
    image = bytearray(floppy)
    image[510:512] = b"\0\0"
    pc = build_pc(bios=SEABIOS, floppy=bytes(image), debugcon=log, fixed_time="2024-01-01T00:00:00")
    pc.run(max_instructions=100_000_000)
    text = log.getvalue()
    assert "Booting from Floppy..." in text and "Boot failed: not a bootable disk" in text
    assert MARKER not in text


def test_the_disk_boots_before_the_floppy_as_in_qemus_default_order(floppy):
    """QEMU's default boot order is "cad": SeaBIOS tries the hard disk first."""
    need_seabios()
    disk = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "firmware", "images", "disk", "bootok.img")
    log = io.StringIO()
    pc = build_pc(bios=SEABIOS, disk=disk, snapshot=True, floppy=floppy, debugcon=log,
                  fixed_time="2024-01-01T00:00:00")
    assert pc.run(max_instructions=200_000_000) == "exit"
    assert "Booting from Hard Disk..." in log.getvalue() and log.getvalue().rstrip().endswith("BOOT-SECTOR-OK")


def jitemu(*args):
    return subprocess.run([sys.executable, "-m", "jitemu.cli", "boot", "--quiet", "--no-cache",
                           "--debugcon", "stdio"] + list(args), capture_output=True, text=True, timeout=300)


def test_the_cli_boots_a_floppy_and_snapshot_leaves_the_file_alone(floppy, tmp_path):
    need_seabios()
    path = tmp_path / "boot.img"
    path.write_bytes(floppy)
    p = jitemu("--floppy", str(path), "--snapshot")
    assert p.returncode == 1, p.stderr
    assert p.stdout.rstrip().endswith(MARKER)
    assert path.read_bytes() == floppy
    p = jitemu("--floppy", str(path))
    assert p.returncode == 1 and p.stdout.rstrip().endswith(MARKER)
    assert path.read_bytes()[COPY_LBA * 512:].startswith(MARKER.encode())  # written in place


@pytest.mark.parametrize("make,needle", [
    (lambda p: None, "floppy image not found"),
    (lambda p: p.write_bytes(bytes(1000)), "floppy image is 1000 bytes; expected one of 1474560 (1.44M)"),
    (lambda p: p.mkdir(), "floppy image is a directory"),
])
def test_a_missing_or_wrongly_sized_floppy_is_a_one_line_error(tmp_path, make, needle):
    need_seabios()
    path = tmp_path / "f.img"
    make(path)
    p = jitemu("--floppy", str(path))
    assert p.returncode == 2
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jitemu: error:") and needle in lines[0]
