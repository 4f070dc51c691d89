"""SeaBIOS with QEMU's standard VGA and Debian's SeaVGABIOS (vgabios-
stdvga.bin) as its PCI expansion ROM: SeaBIOS runs the VGA BIOS at
C000:0003, which sets text mode 3; SeaBIOS's messages are then on the
screen, drawn in the font SeaVGABIOS loaded into plane 2.  A boot sector
(firmware/src/disk/vgamodes.asm) sets modes 13h, 12h, 4 and 6 and a VBE
mode with a linear framebuffer through INT 10h and draws; the screenshots show
what it drew.  An option ROM of ours given with --option-rom runs."""
import io
import os
import struct
import subprocess
import sys
import zlib

import pytest

from jitemu.devices import vgadraw
from jitemu.devices.vga import text_screen
from jitemu.pc import VGA_BIOS, build_pc
from jitemu.tools.screen import screenshot_png

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEABIOS = "/usr/share/seabios/bios.bin"
BOOTOK = os.path.join(ROOT, "firmware", "images", "disk", "bootok.img")
VGAMODES = os.path.join(ROOT, "firmware", "images", "disk", "vgamodes.img")
MARKER_ROM = os.path.join(ROOT, "firmware", "images", "optionrom", "marker.bin")
JITEMU = [sys.executable, "-m", "jitemu.cli"]
GREY, BLACK = (0xAA, 0xAA, 0xAA), (0, 0, 0)


def need_seabios():
    for f in (SEABIOS, VGA_BIOS):
        if not os.path.exists(f):
            pytest.fail("Debian's seabios package is needed (apt-get install seabios): %s" % f)


def pc_with_vga(disk):
    need_seabios()
    log = io.StringIO()
    pc = build_pc(bios=SEABIOS, disk=disk, memory_mb=16, debugcon=log, fixed_time="2024-01-01T00:00:00",
                  vga="std", snapshot=True)
    return pc, log


def decode_rgb_png(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks[kind] = chunks.get(kind, b"") + data[pos + 8:pos + 8 + n]
        pos += 12 + n
    w, h, depth, ctype = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, ctype) == (8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    return w, h, [raw[y * (3 * w + 1) + 1:(y + 1) * (3 * w + 1)] for y in range(h)]


def pixel(rows, x, y):
    return tuple(rows[y][3 * x:3 * x + 3])


@pytest.fixture(scope="module")
def booted():
    pc, log = pc_with_vga(BOOTOK)
    why = pc.run(max_instructions=100_000_000)
    return pc, why, log.getvalue()


def test_seabios_runs_seavgabios_from_the_rom_bar_and_boots(booted):
    pc, why, log = booted
    assert "PCI: init bdf=00:02.0 id=1234:1111" in log
    assert "Running option rom at c000:0003" in log
    assert "Start SeaVGABIOS" in log and "VBE DISPI: lfb_addr=" in log
    assert "Turning on vga text mode console" in log
    assert log.rstrip().endswith("BOOT-SECTOR-OK")
    assert why == "exit" and pc.exit_status == 1


def test_seabios_messages_are_on_the_text_screen(booted):
    pc, _, _ = booted
    lines = text_screen(pc.machine)
    assert lines[0].startswith("SeaBIOS (version 1.16")
    assert "Booting from Hard Disk..." in lines
    assert pc.machine.read_phys(0xB8000, 6) == b"S\x07e\x07a\x07"  # the guest's view of the window


def test_the_screenshot_draws_the_text_in_the_guests_font(booted):
    pc, _, _ = booted
    w, h, rows = decode_rgb_png(screenshot_png(pc.machine))
    assert (w, h) == (720, 400)  # 80x25 cells of 9x16
    vram = pc.vga.vram
    for col, ch in enumerate("SeaBIOS"):
        glyph = [vram[4 * (ord(ch) * 32 + gy) + 2] for gy in range(16)]
        assert sum(bin(g).count("1") for g in glyph) > 10  # SeaVGABIOS loaded a font
        for gy, bits in enumerate(glyph):
            want = [GREY if bits & (0x80 >> x) else BLACK for x in range(8)] + [BLACK]
            assert [pixel(rows, 9 * col + x, gy) for x in range(9)] == want, (ch, gy)


def test_the_vga_bios_needs_no_new_stencils():
    # SeaVGABIOS's instruction forms are in jitemu/jit/forms.txt: a boot
    # with the VGA compiles no stencil at run time, which keeps it about as
    # fast as one without (a process of its own: the stencil library is
    # shared by a process's machines)
    need_seabios()
    p = subprocess.run(JITEMU + ["boot", "--disk", BOOTOK, "--snapshot", "--no-cache", "--debugcon", "none",
                                 "--fixed-time", "2024-01-01T00:00:00"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "(0 new stencils)" in p.stderr, p.stderr


@pytest.fixture(scope="module")
def modes():
    """The vgamodes boot sector's five stops: (pc, screenshots, a snapshot
    at the first)."""
    pc, log = pc_with_vga(VGAMODES)
    shots = []
    for status in (3, 5, 7, 9, 1):
        why = pc.run(max_instructions=100_000_000)
        assert why == "exit" and pc.exit_status == status, log.getvalue()[-600:]
        shots.append(decode_rgb_png(screenshot_png(pc.machine)))
        if status == 3:
            snap = pc.machine.snapshot()
    return pc, shots, snap


def test_mode_13h_shows_the_dac_colours_the_guest_set(modes):
    _, shots, _ = modes
    w, h, rows = shots[0]
    assert (w, h) == (320, 200)
    assert {pixel(rows, x, y) for y in (0, 50, 99) for x in (0, 160, 319)} == {(0xFF, 0, 0)}
    assert {pixel(rows, x, y) for y in (100, 150, 199) for x in (0, 160, 319)} == {(0, 0xFF, 0)}


def test_mode_12h_write_mode_2_colours_the_masked_pixels(modes):
    _, shots, _ = modes
    w, h, rows = shots[1]
    assert (w, h) == (640, 480)
    # colour 12 through the attribute palette and the DAC: EGA's light red
    assert [pixel(rows, x, 0) for x in range(8)] == [(0xFF, 0x55, 0x55)] * 4 + [BLACK] * 4
    assert pixel(rows, 639 - 3, 0) == BLACK and pixel(rows, 632, 0) == (0xFF, 0x55, 0x55)
    assert set(rows[1]) == {0}


def test_mode_4_has_two_bits_a_pixel_and_cga_row_banks(modes):
    _, shots, _ = modes
    w, h, rows = shots[2]
    assert (w, h) == (320, 200)
    # the BIOS's palette for mode 4: CGA palette 1, high intensity
    c = [BLACK, (0x55, 0xFF, 0xFF), (0xFF, 0x55, 0xFF), (0xFF, 0xFF, 0xFF)]
    assert [pixel(rows, x, 0) for x in range(5)] == [c[0], c[1], c[2], c[3], c[0]]
    assert [pixel(rows, x, 1) for x in range(5)] == [c[3], c[2], c[1], c[0], c[0]]


def test_mode_6_has_one_bit_a_pixel_and_cga_row_banks(modes):
    _, shots, _ = modes
    w, h, rows = shots[3]
    assert (w, h) == (640, 200)
    black, white = BLACK, (0xFF, 0xFF, 0xFF)
    assert [pixel(rows, x, 0) for x in range(8)] == [white if b == "1" else black for b in "10100101"]
    assert [pixel(rows, x, 1) for x in range(8)] == [white if b == "1" else black for b in "00001111"]


def test_a_vbe_mode_with_the_linear_framebuffer(modes):
    pc, shots, _ = modes
    w, h, rows = shots[4]
    assert (w, h) == (320, 200)
    assert pc.vga.dispi.regs[3] == 32 and pc.vga.dispi.enabled
    assert {pixel(rows, x, y) for y in (0, 99) for x in (0, 319)} == {(0x12, 0x34, 0x56)}
    assert {pixel(rows, x, y) for y in (100, 199) for x in (0, 319)} == {(0xAB, 0xCD, 0xEF)}


def test_a_snapshot_in_mode_13h_restores_the_picture(modes):
    _, shots, snap = modes
    pc, _ = pc_with_vga(VGAMODES)
    pc.machine.restore(snap)
    assert vgadraw.render(pc.vga)[2] == shots[0][2]
    assert pc.run(max_instructions=100_000_000) == "exit" and pc.exit_status == 5  # and it goes on
    w, h, rows = decode_rgb_png(screenshot_png(pc.machine))
    assert rows == shots[1][2]


def test_the_command_runs_an_option_rom_of_ours(tmp_path):
    need_seabios()
    p = subprocess.run(JITEMU + ["boot", "--disk", BOOTOK, "--snapshot", "--option-rom", MARKER_ROM, "--quiet",
                                 "--fixed-time", "2024-01-01T00:00:00"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, p.stderr
    out = p.stdout
    assert "OPTION-ROM-INIT-OK" in out and "Start SeaVGABIOS" in out
    assert out.index("Scan for option roms") < out.index("OPTION-ROM-INIT-OK") < out.index("BOOT-SECTOR-OK")


def test_without_vga_seabios_finds_none():
    need_seabios()
    p = subprocess.run(JITEMU + ["boot", "--disk", BOOTOK, "--snapshot", "--vga", "none", "--quiet",
                                 "--fixed-time", "2024-01-01T00:00:00"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "PCI: No VGA devices found" in p.stdout and "SeaVGABIOS" not in p.stdout


def test_the_command_shows_the_vga_text_screen_and_saves_its_picture(tmp_path):
    need_seabios()
    png = tmp_path / "shot.png"
    p = subprocess.run(JITEMU + ["boot", "--disk", BOOTOK, "--snapshot", "--debugcon", "none", "--fixed-time",
                                 "2024-01-01T00:00:00", "--screen=always", "--screenshot", str(png)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, p.stderr
    last = p.stdout.split("jitemu: VGA text screen")[-1].splitlines()
    assert last[1].startswith("SeaBIOS (version") and last[2].rstrip() == "Booting from Hard Disk..."
    w, h, rows = decode_rgb_png(png.read_bytes())
    assert (w, h) == (720, 400) and any(GREY == pixel(rows, x, 10) for x in range(720))
