"""The VGA text screen: Debian's SeaBIOS boots a disk whose boot sector
writes to the text buffer at 0xB8000; the screen jitemu renders (terminal
text and PNG) is what the guest wrote.

(SeaBIOS itself leaves the buffer alone here: with no VGA (build_pc's
default, the command's --vga none), as QEMU -nodefaults, its "vga text
mode console" goes through an INT 10h nobody implements, so only the boot
sector's text is on the screen.  tests/test_vga_boot.py has the screen of
a VGA.)"""
import io
import os
import struct
import subprocess
import sys
import zlib

import pytest

from jitemu.devices.vga import text_screen
from jitemu.pc import build_pc
from jitemu.tools.font import font
from jitemu.tools.screen import PALETTE, Screen, framed, screen_lines, screenshot_png

SEABIOS = "/usr/share/seabios/bios.bin"
JITEMU = [sys.executable, "-m", "jitemu.cli"]
MSG1 = "JITEMU SCREEN TEST: hello from the boot sector"
MSG2 = "row 2: 0123456789 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ jumpy qg"
ATTR = 0x1E  # yellow on blue


def boot_sector(msg1, msg2, attr=ATTR):
    """Writes msg1 at row 0 and msg2 at row 2 of the text buffer with
    `attr`, then ends the run through port 0x501 (exit status 1)."""
    code = bytearray()
    code += bytes.fromhex("31c0 8ed8 b800b8 8ec0")      # xor ax,ax; mov ds,ax; mov ax,0xb800; mov es,ax
    code += b"\xbe\x00\x00" + bytes.fromhex("31ff")     # mov si,msg1; xor di,di
    code += bytes.fromhex("e81100")                     # call print
    code += b"\xbe\x00\x00" + bytes.fromhex("bf4001")   # mov si,msg2; mov di,320 (row 2)
    code += bytes.fromhex("e80800")                     # call print
    code += bytes.fromhex("ba0105 b000 ee fa f4")       # mov dx,0x501; mov al,0; out dx,al; cli; hlt
    assert len(code) == 0x22
    # print: lodsb; test al,al; jz done; mov ah,attr; stosw; jmp print; done: ret
    code += bytes.fromhex("ac 84c0 7405 b4") + bytes([attr]) + bytes.fromhex("ab ebf6 c3")
    m1 = 0x7C00 + len(code)
    code += msg1.encode() + b"\0"
    m2 = 0x7C00 + len(code)
    code += msg2.encode() + b"\0"
    code[0x0A:0x0C] = m1.to_bytes(2, "little")
    code[0x12:0x14] = m2.to_bytes(2, "little")
    return bytes(code).ljust(510, b"\0") + b"\x55\xaa"


def expected_lines():
    lines = [""] * 25
    lines[0], lines[2] = MSG1, MSG2
    return [ln.ljust(80) for ln in lines]


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    if not os.path.exists(SEABIOS):
        pytest.fail("Debian's seabios package is needed (apt-get install seabios); .ci/run installs it")
    f = tmp_path_factory.mktemp("screen") / "screen.img"
    f.write_bytes(boot_sector(MSG1, MSG2).ljust(1 << 20, b"\0"))
    return f


@pytest.fixture(scope="module")
def booted(disk):
    pc = build_pc(bios=SEABIOS, disk=disk.read_bytes(), memory_mb=16, debugcon=io.StringIO(),
                  fixed_time="2024-01-01T00:00:00")
    why = pc.run(max_instructions=100_000_000)
    assert why == "exit" and pc.exit_status == 1, pc.console[-500:]
    return pc


def decode_png(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks.setdefault(kind, b"")
        chunks[kind] += body
        pos += 12 + n
    w, h, depth, ctype, _, _, _ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, ctype) == (8, 3) and b"IEND" in chunks
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == h * (w + 1)
    rows = [raw[y * (w + 1):(y + 1) * (w + 1)] for y in range(h)]
    assert all(r[0] == 0 for r in rows)  # filter type 0
    palette = [tuple(chunks[b"PLTE"][i:i + 3]) for i in range(0, len(chunks[b"PLTE"]), 3)]
    return w, h, [r[1:] for r in rows], palette


def cell(rows, cx, cy):
    return [rows[cy * 16 + y][cx * 8:(cx + 1) * 8] for y in range(16)]


def test_the_screen_is_what_the_guest_wrote(booted):
    m = booted.machine
    assert screen_lines(m) == expected_lines()
    raw = m.read_phys(0xB8000, 4000)
    assert raw[0:2 * len(MSG1):2].decode() == MSG1 and set(raw[1:2 * len(MSG1):2]) == {ATTR}
    assert text_screen(m)[0] == MSG1  # the devices' view, stripped


def test_the_screenshot_is_640x400_and_shows_the_text(booted):
    w, h, rows, palette = decode_png(screenshot_png(booted.machine))
    assert (w, h) == (640, 400)
    assert palette == PALETTE
    glyphs = font()
    for cy, text in ((0, MSG1), (2, MSG2)):
        for cx, ch in enumerate(text):
            px = cell(rows, cx, cy)
            want = [bytes(14 if bits & (0x80 >> x) else 1 for x in range(8)) for bits in glyphs[ord(ch)]]
            assert px == want, (cx, cy, ch)
            assert (ch == " ") == all(set(r) == {1} for r in px)
    # cells nobody wrote are black; the text rows' tails too
    assert all(set(r) == {0} for r in rows[16:32])
    assert set(rows[0][8 * len(MSG1):]) == {0}
    assert sum(r.count(14) for r in rows) > 1000  # not blank


def test_the_command_draws_the_screen_and_saves_a_screenshot(disk, tmp_path):
    png = tmp_path / "shot.png"
    p = subprocess.run(JITEMU + ["boot", "--disk", str(disk), "--vga", "none", "--debugcon", "none", "--fixed-time",
                                 "2024-01-01T00:00:00", "--screen=always", "--screenshot", str(png)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, p.stderr  # the boot sector's exit
    top = framed([]).splitlines()[0]
    assert top.startswith("---") and "jitemu: VGA text screen" in top and len(top) == 80
    frames = p.stdout.split(top + "\n")
    assert len(frames) >= 2 and frames[0] == ""
    last = frames[-1].splitlines()
    assert last[:25] == expected_lines()
    assert last[25] == "-" * 80
    w, h, rows, _ = decode_png(png.read_bytes())
    assert (w, h) == (640, 400) and any(14 in r for r in rows)


def test_screenshot_into_a_missing_directory_is_a_one_line_error(tmp_path):
    p = subprocess.run(JITEMU + ["boot", "--screenshot", str(tmp_path / "no" / "x.png")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stderr.startswith("jitemu: error: --screenshot: no such directory")


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


class FakeMachine:
    def __init__(self):
        self.mem = bytearray(4000)

    def read_phys(self, addr, n):
        return bytes(self.mem[addr - 0xB8000:addr - 0xB8000 + n])

    def put(self, row, text):
        for i, ch in enumerate(text):
            self.mem[2 * (row * 80 + i)] = ord(ch)
            self.mem[2 * (row * 80 + i) + 1] = 7


def test_terminal_redraws_in_place_only_on_change_at_most_every_100_ms():
    m, out, now = FakeMachine(), FakeTTY(), [0.0]
    s = Screen(m, out=out, clock=lambda: now[0])
    assert s.enabled and s.tty
    m.put(0, "one")
    assert s.tick()
    assert out.getvalue().startswith("\x1b[H\x1b[2J---") and "\none " in out.getvalue()
    now[0] = 0.05
    m.put(1, "two")
    assert not s.tick()          # too soon
    now[0] = 0.2
    assert s.tick()              # changed: redrawn from the top
    assert out.getvalue().count("\x1b[H") == 2 and "\ntwo " in out.getvalue()
    now[0] = 0.5
    assert not s.tick()          # unchanged
    m.put(2, "three")
    s.finish()
    assert "\nthree " in out.getvalue() and s.frames == 3
    assert framed(["x"]).splitlines()[1] == "x" + " " * 79
    assert not Screen(m, out=io.StringIO()).tick()  # auto, not a terminal
