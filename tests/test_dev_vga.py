"""The standard VGA's registers and memory (jitemu/devices/vga.py,
vgamem.py, dispi.py) on a bare machine with no BIOS: what a guest's port
and memory accesses do, as the VGA references describe the sequencer,
graphics controller, attribute controller, DAC and CRTC, and as QEMU's
Bochs DISPI interface does."""
import pytest
from hypothesis import given, settings, strategies as st

from jitemu.devices.i440fx import I440FX
from jitemu.devices.vga import VGA, text_screen
from jitemu.machine import Machine

ROM = b"\x55\xaa\x04" + bytes(range(253)) * 8  # 2027 bytes: a 4 KiB ROM BAR, the least jitemu decodes


class Rig:
    def __init__(self, rom=None):
        self.m = Machine(memory_mb=2)
        self.host = I440FX()
        self.vga = VGA(self.host, rom=rom)
        self.m.attach(self.host)
        self.m.attach(self.vga)

    def out(self, port, value, size=1):
        self.m.ports.write(port, value, size)

    def inp(self, port, size=1):
        return self.m.ports.read(port, size)

    def seq(self, i, v):
        self.out(0x3C4, i)
        self.out(0x3C5, v)

    def gc(self, i, v):
        self.out(0x3CE, i)
        self.out(0x3CF, v)

    def planar(self):
        """Mode 12h's memory setup: A0000 64 KiB, four planes."""
        self.seq(2, 0x0F)
        self.seq(4, 0x06)
        for i, v in ((0, 0), (1, 0), (3, 0), (4, 0), (5, 0x00), (6, 0x05), (7, 0x0F), (8, 0xFF)):
            self.gc(i, v)

    def text(self):
        """Mode 3's: B8000 32 KiB, odd/even over planes 0 and 1."""
        self.out(0x3C2, 0x67)
        self.seq(2, 0x03)
        self.seq(4, 0x02)
        for i, v in ((0, 0), (1, 0), (3, 0), (4, 0), (5, 0x10), (6, 0x0E), (7, 0), (8, 0xFF)):
            self.gc(i, v)
        # 80 columns, 16-line characters, 400 lines, 80 characters a row, word mode
        for i, v in ((0x11, 0), (1, 0x4F), (7, 0x1F), (9, 0x4F), (0x12, 0x8F), (0x13, 0x28), (0x17, 0xA3)):
            self.out(0x3D4, i)
            self.out(0x3D5, v)

    def chain4(self):
        """Mode 13h's: A0000 64 KiB, chain-4."""
        self.seq(2, 0x0F)
        self.seq(4, 0x0E)
        for i, v in ((1, 0), (3, 0), (5, 0x40), (6, 0x05), (8, 0xFF)):
            self.gc(i, v)

    def planes(self, addr):
        self.vga.sync()
        return list(self.vga.vram[4 * addr:4 * addr + 4])

    def dispi(self, index, value=None):
        self.out(0x1CE, index, 2)
        if value is None:
            return self.inp(0x1CF, 2)
        self.out(0x1CF, value, 2)


@pytest.fixture
def rig():
    return Rig()


# -- the graphics controller and sequencer -------------------------------------
def test_the_map_mask_chooses_the_planes_a_write_reaches(rig):
    rig.planar()
    rig.seq(2, 0b0101)
    rig.m.write_phys(0xA0000 + 10, b"\xab")
    assert rig.planes(10) == [0xAB, 0, 0xAB, 0]
    rig.gc(4, 2)
    assert rig.m.read_phys(0xA000A, 1) == b"\xab"  # read map select
    rig.gc(4, 1)
    assert rig.m.read_phys(0xA000A, 1) == b"\x00"


def test_write_mode_0_set_reset_rotate_logic_and_bit_mask(rig):
    rig.planar()
    rig.gc(0, 0b0011)  # set/reset value
    rig.gc(1, 0b0001)  # ...enabled for plane 0 only
    rig.m.write_phys(0xA0000, b"\x81")
    assert rig.planes(0) == [0xFF, 0x81, 0x81, 0x81]
    rig.gc(1, 0)
    rig.gc(3, 1)  # rotate right by 1
    rig.m.write_phys(0xA0001, b"\x81")
    assert rig.planes(1) == [0xC0] * 4
    rig.m.read_phys(0xA0000, 1)  # latches: FF 81 81 81
    rig.gc(3, 0x18)  # XOR with the latches
    rig.m.write_phys(0xA0002, b"\x0f")
    assert rig.planes(2) == [0xF0, 0x8E, 0x8E, 0x8E]
    rig.gc(3, 0x08)  # AND
    rig.m.write_phys(0xA0002, b"\x0f")
    assert rig.planes(2) == [0x0F, 0x01, 0x01, 0x01]
    rig.gc(3, 0x10)  # OR, and the bit mask keeps the latches' low nibble
    rig.gc(8, 0xF0)
    rig.m.write_phys(0xA0002, b"\x30")
    assert rig.planes(2) == [0xFF, 0xB1, 0xB1, 0xB1]


def test_write_mode_1_copies_the_latches(rig):
    rig.planar()
    rig.vga.vram[0:4] = bytes([1, 2, 3, 4])
    rig.gc(5, 0x01)
    rig.m.read_phys(0xA0000, 1)
    rig.m.write_phys(0xA0007, b"\xee")  # the value does not matter
    assert rig.planes(7) == [1, 2, 3, 4]


def test_write_mode_2_spreads_the_colour_over_the_planes(rig):
    rig.planar()
    rig.gc(5, 0x02)
    rig.gc(8, 0x3C)
    rig.m.read_phys(0xA0000, 1)  # latches all zero
    rig.m.write_phys(0xA0000, b"\x0a")  # colour 1010
    assert rig.planes(0) == [0x00, 0x3C, 0x00, 0x3C]


def test_write_mode_3_masks_set_reset_with_the_rotated_data(rig):
    rig.planar()
    rig.gc(5, 0x03)
    rig.gc(0, 0b0110)
    rig.gc(8, 0xF0)
    rig.gc(3, 4)  # rotate by 4
    rig.vga.vram[0:4] = bytes([0x55] * 4)
    rig.m.read_phys(0xA0000, 1)
    rig.m.write_phys(0xA0000, b"\x3c")  # rotated: C3; AND F0: C0
    assert rig.planes(0) == [0x15, 0xD5, 0xD5, 0x15]


def test_read_mode_1_compares_colours(rig):
    rig.planar()
    rig.vga.vram[0:4] = bytes([0b1100, 0b1010, 0b0000, 0b1111])
    rig.gc(5, 0x08)
    rig.gc(2, 0b1001)  # colour 9
    rig.gc(7, 0x0F)
    assert rig.m.read_phys(0xA0000, 1)[0] == 0b0100  # only pixel 5 (bit 2) has colour 9
    rig.gc(7, 0b0001)  # only plane 0 matters
    assert rig.m.read_phys(0xA0000, 1)[0] == 0b1100


def test_odd_even_text_goes_to_planes_0_and_1_and_the_font_to_plane_2(rig):
    rig.text()
    assert rig.vga._fast[0] == "text"  # host memory stands in for the window
    rig.m.write_phys(0xB8000, b"H\x1fi\x2e")
    assert rig.planes(0)[:2] == [ord("H"), 0x1F] and rig.planes(2)[:2] == [ord("i"), 0x2E]
    assert text_screen(rig.m)[0] == "Hi"
    # the BIOS's font load: plane 2 alone, planar, at A0000
    rig.seq(2, 0x04)
    rig.seq(4, 0x06)
    rig.gc(4, 0x02)
    rig.gc(5, 0x00)
    rig.gc(6, 0x04)
    assert rig.vga._fast is None
    rig.m.write_phys(0xA0000 + 0x41 * 32, b"\x18\x3c")
    assert rig.planes(0x41 * 32)[2] == 0x18 and rig.planes(0x41 * 32 + 1)[2] == 0x3C
    assert rig.planes(0)[:2] == [ord("H"), 0x1F]  # the text stayed
    assert rig.m.read_phys(0xA0000 + 0x41 * 32, 2) == b"\x18\x3c"
    rig.text()
    assert rig.m.read_phys(0xB8000, 4) == b"H\x1fi\x2e"


def test_odd_even_writes_also_reach_planes_2_and_3_when_the_map_mask_says_so(rig):
    rig.text()
    rig.seq(2, 0x0F)  # (not the host-mapped case: the planar path)
    assert rig.vga._fast is None
    rig.m.write_phys(0xB8000, b"ab")
    assert rig.planes(0) == [ord("a"), ord("b"), ord("a"), ord("b")]


def test_chain_4_puts_byte_n_in_plane_n_mod_4(rig):
    rig.chain4()
    assert rig.vga._fast[0] == "chain4"
    rig.m.write_phys(0xA0000 + 0x1234, b"\x07\x08")
    assert rig.vga.vram[0x1234:0x1236] == b"\x07\x08"
    assert rig.planes(0x48D) == [0x07, 0x08, 0, 0]


def reference_rig():
    """A VGA whose window always takes the planar path."""
    r = Rig()
    r.vga._fast_key = lambda: None
    r.vga._remap()
    return r


ACCESS = st.lists(st.tuples(st.booleans(), st.integers(0, 0x7FFF), st.integers(0, 255)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(mode=st.sampled_from(["text", "chain4"]), accesses=ACCESS)
def test_the_host_mapped_windows_behave_as_the_planar_path(mode, accesses):
    fast, slow = FAST_PAIR
    for r in (fast, slow):
        r.vga.vram[0:0x40000] = bytes(0x40000)
        getattr(r, mode)()
    assert fast.vga._fast is not None and slow.vga._fast is None
    base = fast.vga.window()[0]
    for is_write, off, value in accesses:
        if is_write:
            for r in (fast, slow):
                r.m.write_phys(base + off, bytes([value]))
        else:
            assert fast.m.read_phys(base + off, 1) == slow.m.read_phys(base + off, 1)
    fast.planar()  # leaving the mode folds the shadow back
    assert fast.vga.vram[0:0x40000] == slow.vga.vram[0:0x40000]


FAST_PAIR = (Rig(), reference_rig())


# -- DAC, attribute controller, CRTC, status --------------------------------------
def test_dac_indices_advance_after_three_components(rig):
    rig.out(0x3C8, 5)
    assert rig.inp(0x3C7) == 0  # write mode
    for v in (1, 2, 3, 0x3F, 0xFF, 6):
        rig.out(0x3C9, v)
    assert rig.inp(0x3C8) == 7
    assert rig.vga.dac[15:21] == bytes([1, 2, 3, 0x3F, 0x3F, 6])  # 6 bits
    rig.out(0x3C7, 5)
    assert rig.inp(0x3C7) == 3  # read mode
    assert [rig.inp(0x3C9) for _ in range(6)] == [1, 2, 3, 0x3F, 0x3F, 6]
    rig.out(0x3C8, 255)
    for v in (9, 9, 9):
        rig.out(0x3C9, v)
    assert rig.inp(0x3C8) == 0  # wraps
    rig.out(0x3C6, 0x0F)
    assert rig.inp(0x3C6) == 0x0F


def test_the_attribute_flip_flop_alternates_and_input_status_resets_it(rig):
    rig.out(0x3C2, 0x01)  # colour: status at 3DA
    rig.inp(0x3DA)
    rig.out(0x3C0, 0x01)
    rig.out(0x3C0, 0x3F)
    assert rig.vga.ar[1] == 0x3F
    rig.out(0x3C0, 0x22)  # index 2, palette address source set
    assert rig.inp(0x3C0) == 0x22
    rig.out(0x3C0, 0x15)
    assert rig.vga.ar[2] == 0x15 and rig.inp(0x3C1) == 0x15
    rig.out(0x3C0, 0x03)  # an index: the flip-flop is back
    rig.inp(0x3DA)
    rig.out(0x3C0, 0x04)  # after the reset: an index, not data for 3
    rig.out(0x3C0, 0x2A)
    assert rig.vga.ar[3] == 0 and rig.vga.ar[4] == 0x2A


def test_input_status_1_shows_blanking_and_retrace_coming_and_going(rig):
    rig.out(0x3C2, 0x01)
    reads = [rig.inp(0x3DA) for _ in range(8)]
    assert {r & 0x08 for r in reads} == {0, 0x08} and {r & 0x01 for r in reads} == {0, 1}
    assert all(r & 1 for r in reads if r & 0x08)  # retrace only while blanked
    assert rig.inp(0x3BA) == 0xFF  # the mono block is off in colour mode


def test_misc_output_moves_the_crtc_and_cr11_protects_cr0_to_cr7(rig):
    rig.out(0x3C2, 0x00)  # mono: 3B4/3B5
    rig.out(0x3B4, 0x0C)
    rig.out(0x3B5, 0x12)
    assert rig.vga.crtc[0x0C] == 0x12 and rig.inp(0x3CC) == 0x00
    assert rig.inp(0x3D5) == 0xFF
    rig.out(0x3C2, 0x01)
    rig.out(0x3D4, 0x11)
    rig.out(0x3D5, 0x80)
    rig.out(0x3D4, 0x01)
    rig.out(0x3D5, 0x4F)
    assert rig.vga.crtc[1] == 0  # protected
    rig.out(0x3D4, 0x07)
    rig.out(0x3D5, 0xFF)
    assert rig.vga.crtc[7] == 0x10  # but for the line compare bit
    rig.out(0x3D4, 0x13)
    rig.out(0x3D5, 0x28)
    assert rig.inp(0x3D5) == 0x28
    rig.out(0x3C4, 0x0F02, 2)  # index and data in one OUT
    assert rig.vga.seq[2] == 0x0F


# -- DISPI ---------------------------------------------------------------------------
def test_dispi_id_capabilities_and_memory(rig):
    assert rig.dispi(0) == 0xB0C5
    rig.dispi(0, 0xB0C0)
    assert rig.dispi(0) == 0xB0C0
    rig.dispi(0, 0x1234)
    assert rig.dispi(0) == 0xB0C0
    assert rig.dispi(0xA) == 256  # 16 MiB in 64 KiB units
    rig.dispi(4, 0x02)  # GETCAPS
    assert (rig.dispi(1), rig.dispi(2), rig.dispi(3)) == (16000, 12000, 32)


def test_dispi_enable_sets_the_virtual_size_and_clears_vram_unless_told(rig):
    rig.vga.vram[100] = 7
    rig.dispi(1, 640)
    rig.dispi(2, 480)
    rig.dispi(3, 32)
    rig.dispi(4, 0x41)  # enabled, LFB
    assert rig.dispi(6) == 640 and rig.dispi(7) == (16 << 20) // (640 * 4)
    assert rig.vga.vram[100] == 0
    rig.dispi(1, 800)  # ignored while enabled
    assert rig.dispi(1) == 640
    rig.dispi(4, 0)
    rig.vga.vram[100] = 7
    rig.dispi(4, 0xC1)  # no clearing
    assert rig.vga.vram[100] == 7
    rig.dispi(8, 10)
    rig.dispi(9, 2)
    assert rig.vga.dispi.start == 2 * 640 * 4 + 10 * 4


def test_dispi_banks_move_the_chain_4_window(rig):
    rig.dispi(3, 8)
    rig.dispi(4, 0x01)  # banked
    rig.chain4()
    rig.dispi(5, 3)
    assert rig.vga._fast == ("chain4", 0xA0000, 0x10000, 3 << 16)
    rig.m.write_phys(0xA0005, b"\x99")
    assert rig.vga.vram[(3 << 16) + 5] == 0x99
    rig.dispi(5, 0)
    assert rig.m.read_phys(0xA0005, 1) == b"\x00"


# -- PCI ------------------------------------------------------------------------------
def test_pci_identity_and_bars():
    r = Rig(rom=ROM)
    bus = r.host.bus
    assert bus.find(0x1234, 0x1111)[:2] == (2, 0)
    cfg = r.vga
    assert cfg.get(0x0A, 2) == 0x0300
    cfg.config_write(0x10, 0xFFFFFFFF, 4)
    assert cfg.get(0x10, 4) == 0xFF000008  # 16 MiB, prefetchable memory
    cfg.config_write(0x30, 0xFFFFFFFE, 4)
    assert cfg.get(0x30, 4) == 0xFFFFF000  # 4 KiB ROM
    cfg.config_write(0x10, 0xE0000000, 4)
    cfg.config_write(0x30, 0xE1000001, 4)
    assert r.m.read_phys(0xE1000000, 3) == b"\xff" * 3  # memory decoding is off
    cfg.config_write(0x04, 0x0002, 2)
    assert r.m.read_phys(0xE1000000, 3) == ROM[:3]
    r.m.write_phys(0xE0000100, b"xyz")
    assert r.vga.vram[0x100:0x103] == b"xyz"
    cfg.config_write(0x30, 0xE1000000, 4)  # ROM disabled
    assert r.m.read_phys(0xE1000000, 3) == b"\xff" * 3
    r.m.reset()
    assert r.m.read_phys(0xE0000100, 3) == b"\xff" * 3  # BARs back to 0, unmapped


# -- snapshots ----------------------------------------------------------------------
def test_a_snapshot_holds_the_registers_and_vram(rig):
    rig.text()
    rig.m.write_phys(0xB8000, b"A\x07B\x07")
    rig.out(0x3C8, 1)
    rig.out(0x3C9, 0x2A)
    snap = rig.m.snapshot()
    rig.m.write_phys(0xB8000, b"Z\x07Z\x07")
    rig.planar()
    rig.out(0x3C9, 0x11)
    rig.m.restore(snap)
    assert rig.vga._fast[0] == "text"
    assert rig.m.read_phys(0xB8000, 4) == b"A\x07B\x07"
    assert rig.vga.dac[3] == 0x2A and rig.vga.dac_sub == 1
    other = Rig()
    other.m.restore(snap)
    assert text_screen(other.m)[0] == "AB"


def test_the_text_screen_is_drawn_with_the_guests_font_palette_and_cursor(rig):
    from jitemu.devices import vgadraw
    rig.text()
    rig.seq(1, 0x01)  # 8-dot characters
    rig.vga.ar[0x10] = 0x0C  # blink, line graphics
    for i in range(16):
        rig.vga.ar[i] = i
    rig.out(0x3C8, 4)
    for v in (63, 0, 0, 63, 0, 63):  # DAC 4: red, DAC 5: magenta
        rig.out(0x3C9, v)
    rig.seq(2, 0x04)  # the font: plane 2, char 0x41 row 3 = 0x81
    rig.seq(4, 0x06)
    rig.gc(4, 2)
    rig.gc(5, 0)
    rig.gc(6, 0x04)
    rig.m.write_phys(0xA0000 + 0x41 * 32 + 3, b"\x81")
    rig.text()
    rig.m.write_phys(0xB8000 + 2 * 81, b"A\xd4")  # row 1, column 1: red on magenta, blinking
    for i, v in ((0x0A, 14), (0x0B, 15), (0x0E, 0), (0x0F, 81)):  # a cursor on that cell
        rig.out(0x3D4, i)
        rig.out(0x3D5, v)
    w, h, rows = vgadraw.render(rig.vga)
    assert (w, h) == (640, 400)
    red, magenta = b"\xff\x00\x00", b"\xff\x00\xff"
    cell = [rows[16 + gy][3 * 8:3 * 16] for gy in range(16)]
    assert cell[3] == red + magenta * 6 + red
    assert cell[0] == magenta * 8  # blink enabled: bit 7 is no bright background
    assert cell[14] == cell[15] == red * 8  # the cursor
