"""PCI configuration mechanism #1, the i440FX host bridge, and PAM routing
of 0xC0000-0xFFFFF between ROM/PCI and shadow RAM."""
import pytest

from jitemu.devices.i440fx import I440FX, pam_regions
from jitemu.devices.piix3 import PIIX3, PIIX3IDE, PIIX4PM
from jitemu.machine import Machine


def bios():
    rom = bytearray(b"\x11" * 0x40000)  # 256 KiB
    rom[-0x20000:-0x10000] = b"\xEE" * 0x10000  # what appears at 0xE0000
    rom[-0x10000:] = b"\xFF" * 0x10000
    rom[-16:-11] = bytes.fromhex("ea5be000f0")
    return bytes(rom)


def setup():
    m = Machine(memory_mb=16)
    m.load_firmware(bios())
    host = m.attach(I440FX())
    piix = m.attach(PIIX3(host))
    m.attach(PIIX3IDE(host))
    m.attach(PIIX4PM(host))
    return m, host, piix


def cfg_read(m, bdf, off, size):
    m.ports.write(0xCF8, 0x80000000 | bdf << 8 | (off & 0xFC), 4)
    return m.ports.read(0xCFC + (off & 3), size)


def cfg_write(m, bdf, off, value, size):
    m.ports.write(0xCF8, 0x80000000 | bdf << 8 | (off & 0xFC), 4)
    m.ports.write(0xCFC + (off & 3), value, size)


def test_config_space_ids_and_access_sizes():
    m, host, piix = setup()
    assert cfg_read(m, 0, 0, 4) == 0x12378086
    assert cfg_read(m, 0, 2, 2) == 0x1237
    assert cfg_read(m, 0, 0x0B, 1) == 0x06
    assert cfg_read(m, 0, 0x2C, 4) == 0x11001AF4  # QEMU's subsystem: SeaBIOS checks it
    assert cfg_read(m, 0x08, 0, 4) == 0x70008086  # 00:01.0
    assert cfg_read(m, 0x08, 0x0E, 1) & 0x80  # multi-function
    assert cfg_read(m, 0x09, 0, 4) == 0x70108086  # 00:01.1
    assert cfg_read(m, 0x0B, 0, 4) == 0x71138086  # 00:01.3
    assert cfg_read(m, 0x10, 0, 4) == 0xFFFFFFFF  # nothing at 00:02.0
    m.ports.write(0xCF8, 0x00000000, 4)  # enable bit clear
    assert m.ports.read(0xCFC, 4) == 0xFFFFFFFF
    m.ports.write(0xCF8, 0x80000000, 4)
    assert m.ports.read(0xCF8, 4) == 0x80000000


def test_read_only_fields_and_writable_registers():
    m, host, piix = setup()
    cfg_write(m, 0, 0, 0xFFFFFFFF, 4)
    assert cfg_read(m, 0, 0, 4) == 0x12378086
    cfg_write(m, 0, 0x72, 0xFF, 1)
    assert cfg_read(m, 0, 0x72, 1) == 0x7A  # SMRAM base bits fixed at 010
    cfg_write(m, 0x08, 0x60, 0x0B0A0B0A, 4)  # PIRQ routing
    assert cfg_read(m, 0x08, 0x60, 4) == 0x0B0A0B0A


def test_bar_sizing():
    m, host, piix = setup()
    cfg_write(m, 0x09, 0x20, 0xFFFFFFFF, 4)
    assert cfg_read(m, 0x09, 0x20, 4) == 0xFFFFFFF1  # 16 bytes of I/O
    cfg_write(m, 0x09, 0x20, 0xC000, 4)
    assert cfg_read(m, 0x09, 0x20, 4) == 0xC001


@pytest.mark.parametrize("attr", [0, 1, 2, 3])
def test_pam_combinations_for_the_f_segment(attr):
    m, host, piix = setup()
    rom = m.read_phys(0xF0000, 4)
    assert rom == b"\xFF" * 4
    m.write_phys(0xF0000, b"RAM!")  # shadow RAM disabled: goes nowhere (ROM)
    assert m.read_phys(0xF0000, 4) == rom
    cfg_write(m, 0, 0x59, attr << 4, 1)
    m.write_phys(0xF0000, b"\xAB")
    got = m.read_phys(0xF0000, 1)
    # RAM below 1 MiB sees the write only when writes go to RAM
    cfg_write(m, 0, 0x59, 0x30, 1)
    ram = m.read_phys(0xF0000, 1)
    if attr & 1:  # reads from RAM
        assert got == ram
    else:  # reads from ROM
        assert got == b"\xFF"
    assert (ram == b"\xAB") == bool(attr & 2)
    assert m.read_phys(0xFFFF0000, 1) == b"\xFF"  # the top-of-4G copy never changes


def test_pam_16k_segments_and_option_rom_area():
    m, host, piix = setup()
    assert m.read_phys(0xE4000, 2) == b"\xEE\xEE"  # isa-bios: the image's last 128 KiB
    assert m.read_phys(0xC8000, 2) == b"\0\0"  # empty option-ROM area
    host.load_option_rom(0x8000, b"\x55\xAA")
    assert m.read_phys(0xC8000, 2) == b"\x55\xAA"
    # 0x5B high nibble is 0xCC000-0xCFFFF: make it RAM read/write
    cfg_write(m, 0, 0x5B, 0x30, 1)
    m.write_phys(0xCC000, b"xy")
    assert m.read_phys(0xCC000, 2) == b"xy"
    assert m.read_phys(0xC8000, 2) == b"\x55\xAA"  # the other half is still ROM
    assert host.pam_attr(0xCC000) == 3 and host.pam_attr(0xC8000) == 0
    # SeaBIOS's style: dword writes at 0x58/0x5C covering all PAM registers
    cfg_write(m, 0, 0x58, 0x33333000, 4)
    cfg_write(m, 0, 0x5C, 0x33333333, 4)
    assert all(host.pam_attr(s) == 3 for s, _, _, _ in pam_regions())
    m.write_phys(0xE4000, b"sh")
    assert m.read_phys(0xE4000, 2) == b"sh"


def test_reset_brings_the_rom_back_and_keeps_shadow_ram_separate():
    m, host, piix = setup()
    cfg_write(m, 0, 0x59, 0x30, 1)
    m.write_phys(0xFFFF0, b"\x90\x90")
    assert m.read_phys(0xFFFF0, 2) == b"\x90\x90"
    m.reset()
    assert cfg_read(m, 0, 0x59, 1) == 0
    assert m.read_phys(0xFFFF0, 5) == bytes.fromhex("ea5be000f0")
    cfg_write(m, 0, 0x59, 0x10, 1)  # read-enable only: the shadow copy is still there
    assert m.read_phys(0xFFFF0, 2) == b"\x90\x90"
