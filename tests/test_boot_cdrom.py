"""Debian's SeaBIOS boots CDs from jitemu's ATAPI drive, as QEMU's does
(El Torito, no emulation): a tiny boot image of ours, put on an ISO by
xorriso, which reads the CD sector after itself with INT 13h extensions;
and GRUB from grub-mkrescue, whose grub.cfg prints a line on the serial
port and powers off.  The ISOs are made here, with Debian's xorriso,
grub-pc-bin and mtools (.ci/run installs them)."""
import io
import os
import shutil
import subprocess
import sys

import pytest

from jitemu.pc import build_pc
from romutil import assemble

SEABIOS = "/usr/share/seabios/bios.bin"
MARKER = "CD-SECTOR-2-OK"
GRUB_MARKER = "GRUB-CDROM-OK"

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
    mov ax, 0x4B01              ; El Torito status: where the boot image is
    mov si, spec
    int 0x13
    jc fail
    mov eax, [spec + 4]         ; its first CD sector
    inc eax
    mov [dap + 8], eax
    mov si, dap
    mov ah, 0x42                ; read the next CD sector (2048 bytes)
    mov dl, [drive]
    int 0x13
    jc fail
    mov si, 0x8000
    jmp print
%%include "bootexit.inc"
drive: db 0
align 4
dap: db 0x10, 0
    dw 1
    dw 0x8000, 0
    dq 0
spec: times 0x13 db 0
    times 2048 - ($ - $$) db 0
    db "%s", 10, 0
    times 4096 - ($ - $$) db 0
""" % MARKER

GRUB_CFG = """serial --unit=0 --speed=115200
terminal_output serial
echo %s
halt
""" % GRUB_MARKER


def need(tool, package):
    if not shutil.which(tool):
        pytest.fail("Debian's %s package is needed for %s (apt-get install %s); .ci/run installs it"
                    % (package, tool, package))


def need_seabios():
    if not os.path.exists(SEABIOS):
        pytest.fail("Debian's seabios package is needed (apt-get install seabios); .ci/run installs it")


@pytest.fixture(scope="module")
def eltorito_iso(tmp_path_factory):
    need("xorriso", "xorriso")
    d = tmp_path_factory.mktemp("eltorito")
    (d / "root").mkdir()
    (d / "root" / "boot.bin").write_bytes(assemble(BOOT))
    iso = d / "boot.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-o", str(iso), "-b", "boot.bin", "-no-emul-boot",
                    "-boot-load-size", "4", str(d / "root")], check=True, capture_output=True)
    return iso


def test_seabios_boots_a_no_emulation_el_torito_image(eltorito_iso):
    need_seabios()
    log = io.StringIO()
    pc = build_pc(bios=SEABIOS, cdrom=str(eltorito_iso), debugcon=log, fixed_time="2024-01-01T00:00:00")
    why = pc.run(max_instructions=200_000_000)
    text = log.getvalue()
    assert "DVD/CD [ata1-0: JITEMU DVD-ROM ATAPI-4 DVD/CD]" in text
    assert "Booting from DVD/CD..." in text
    assert text.rstrip().endswith(MARKER)
    assert why == "exit" and pc.exit_status == 1


def jitemu(*args):
    return subprocess.run([sys.executable, "-m", "jitemu.cli", "boot", "--quiet", "--no-cache"] + list(args),
                          capture_output=True, text=True, timeout=600)


def test_the_cli_boots_a_cd(eltorito_iso):
    need_seabios()
    p = jitemu("--cdrom", str(eltorito_iso), "--debugcon", "stdio")
    assert p.returncode == 1, p.stderr
    assert p.stdout.rstrip().endswith(MARKER)


def test_the_disk_boots_before_the_cd_as_in_qemus_default_order(eltorito_iso):
    need_seabios()
    disk = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "firmware", "images", "disk", "bootok.img")
    p = jitemu("--cdrom", str(eltorito_iso), "--disk", disk, "--snapshot", "--debugcon", "stdio")
    assert p.returncode == 1 and p.stdout.rstrip().endswith("BOOT-SECTOR-OK")


@pytest.mark.parametrize("make,needle", [
    (lambda p: None, "CD image not found"),
    (lambda p: p.write_bytes(bytes(1000)), "CD image is 1000 bytes; expected a non-empty whole number of 2048"),
    (lambda p: p.write_bytes(b""), "CD image is 0 bytes"),
])
def test_a_missing_or_wrongly_sized_cd_image_is_a_one_line_error(tmp_path, make, needle):
    need_seabios()
    path = tmp_path / "cd.iso"
    make(path)
    p = jitemu("--cdrom", str(path))
    assert p.returncode == 2
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jitemu: error:") and needle in lines[0]


# A minute here (GRUB times itself against the PIT through port 0x61, a
# Python port read each time): a campaign, run by .ci/run after the
# README's test command.
@pytest.mark.campaign
def test_grub_from_grub_mkrescue_boots_and_prints_on_the_serial_port(tmp_path):
    need_seabios()
    need("grub-mkrescue", "grub-common")
    need("xorriso", "xorriso")
    need("mformat", "mtools")
    if not os.path.isdir("/usr/lib/grub/i386-pc"):
        pytest.fail("Debian's grub-pc-bin package is needed (apt-get install grub-pc-bin); .ci/run installs it")
    (tmp_path / "root" / "boot" / "grub").mkdir(parents=True)
    (tmp_path / "root" / "boot" / "grub" / "grub.cfg").write_text(GRUB_CFG)
    iso = tmp_path / "grub.iso"
    subprocess.run(["grub-mkrescue", "-o", str(iso), str(tmp_path / "root")], check=True, capture_output=True)
    serial = io.StringIO()
    pc = build_pc(bios=SEABIOS, cdrom=str(iso), memory_mb=64, serial=serial, debugcon=io.StringIO(),
                  fixed_time="2024-01-01T00:00:00")
    why = pc.run(max_instructions=1_000_000_000)
    assert GRUB_MARKER in serial.getvalue()
    assert why == "exit"  # GRUB's halt: ACPI power-off
