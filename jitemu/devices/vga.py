"""QEMU's standard VGA (`-vga std`): PCI 1234:1111, class 0300, at 00:02.0.

    BAR0   the linear framebuffer: all of VRAM (16 MiB), prefetchable
    ROM    the expansion ROM BAR holding the VGA BIOS (SeaVGABIOS), which
           SeaBIOS maps, copies to 0xC0000 and runs
    ports  3B0-3DF the VGA registers, 1CE/1CF the Bochs DISPI (dispi.py)
    memory 0xA0000-0xBFFFF, as the graphics controller's memory map selects

(QEMU's BAR2, the same registers as MMIO, is left out: SeaVGABIOS's
stdvga and bochsvga code use the ports only.)

The VGA registers: miscellaneous output (3C2 write, 3CC read; bit 0 puts
the CRTC and input status 1 at 3Dx, else 3Bx), sequencer (3C4/3C5),
CRTC (3x4/3x5; CR11 bit 7 write-protects CR0-CR7 but CR7 bit 4), graphics
controller (3CE/3CF), attribute controller (3C0 index/data through a
flip-flop that reading input status 1 resets, 3C1 data read), DAC (3C6
mask, 3C7 read index / state, 3C8 write index, 3C9 data: three components
per entry, then the index moves on) and input status 1 (3xA), whose
display-enable and vertical-retrace bits step through a blanking cycle on
each read, so that a BIOS waiting for either edge sees it.

Memory: the legacy window is the machine's MMIO region (vgamem.py decodes
planar accesses), except where a mode lets host memory stand in for it,
which costs translated code nothing per access: chain-4 modes (and DISPI
banked modes) map VRAM at the bank straight into the window, and the
odd/even text modes map a shadow of the window that holds what planes 0
and 1 hold there, folded back into the planes whenever the mode changes or
someone reads VRAM (sync()).  The framebuffer BAR is VRAM itself.  (In a
text mode the framebuffer shows the planes as of the last sync.)"""
import hashlib

from .._runtime import ffi
from . import dispi as D
from . import vgamem
from .i440fx import PCIDevice

TEXT_BASE = 0xB8000
WINDOW_BASE, WINDOW_SIZE = 0xA0000, 0x20000
WINDOWS = {0: (0xA0000, 0x20000), 1: (0xA0000, 0x10000), 2: (0xB0000, 0x8000), 3: (0xB8000, 0x8000)}
VRAM_SIZE = 16 << 20
PAGE = 4096
ZERO_PAGE = bytes(PAGE)
CHUNK = 0x10000
ZERO_CHUNK = bytes(CHUNK)


def _pow2(n):
    p = 4096  # (a ROM BAR may be 2 KiB; 4 KiB keeps it in whole pages)
    while p < n:
        p <<= 1
    return p


class VGA(PCIDevice):
    def __init__(self, host, rom=None, vram_size=VRAM_SIZE, slot=2):
        super().__init__(0x1234, 0x1111, 0x030000, revision=0x02, name="vga")
        self.vram_size = vram_size
        self.add_bar(0, vram_size, io=False)
        self.config[0x10] = 0x08  # prefetchable
        self.rom = bytes(rom) if rom else b""
        self.rom_size = _pow2(len(self.rom)) if self.rom else 0
        self._rom_buf = ffi.new("uint8_t[]", max(self.rom_size, 1))
        if self.rom:
            ffi.memmove(self._rom_buf, self.rom, len(self.rom))
            self.set_wmask(0x30, (~(self.rom_size - 1) & 0xFFFFF800) | 1, 4)
        self.vram = bytearray(vram_size)
        self._vram_ptr = ffi.from_buffer("uint8_t[]", self.vram)
        self.shadow = bytearray(0x10000)
        self._shadow_ptr = ffi.from_buffer("uint8_t[]", self.shadow)
        self.dispi = D.Dispi(vram_size, self._dispi_changed)
        self.machine = None
        self._fast = None  # the window's host mapping: None, ("chain4", ...) or ("text", ...)
        self._lfb_at = self._rom_at = None
        host.bus.add(self, slot, 0)
        self._reset_regs()

    # -- machine ------------------------------------------------------------
    def attach(self, machine):
        self.machine = machine
        machine.ports.register(range(0x3B0, 0x3E0), read=self._port_read, write=self._port_write)
        machine.ports.register((0x1CE, 0x1CF), read=self.dispi.read, write=self.dispi.write)
        machine.map_mmio(WINDOW_BASE, WINDOW_SIZE, self._mem_read, self._mem_write, name="vga-window")
        self._remap()

    def _reset_regs(self):
        self.misc = 0
        self.feature = 0
        self.seq = bytearray(8)
        self.seq_index = 0
        self.gc = bytearray(16)
        self.gc_index = 0
        self.crtc = bytearray(64)
        self.crtc_index = 0
        self.ar = bytearray(32)
        self.ar_index = 0
        self.ar_flip = 0  # 0: the next 3C0 write is an index
        self.dac = bytearray(768)
        self.dac_mask = 0xFF
        self.dac_read = self.dac_write = self.dac_sub = 0
        self.dac_state = 0  # 3C7 reads: 0 after a write index, 3 after a read index
        self.latch = bytearray(4)
        self.retrace = 0
        self.dispi.reset()

    def reset(self):
        super().reset()
        self.sync()
        self._reset_regs()
        self._remap()
        self._update_bars()

    # -- PCI ----------------------------------------------------------------
    def config_written(self, off, size):
        if off < 0x06 and off + size > 0x04 or off < 0x14 and off + size > 0x10 or off < 0x34 and off + size > 0x30:
            self._update_bars()

    def _free(self, addr, size):
        """Whether [addr, addr+size) lies in the PCI hole: above RAM and
        below the firmware image, where nothing else is mapped."""
        m = self.machine
        top = min([r[1] for r in m.memory_map if r[0] == "rom"] + [1 << 32])
        return addr >= max(m.ram_size, 1 << 20) and addr + size <= top

    def _update_bars(self):
        m = self.machine
        if m is None:
            return
        mem_on = self.config[0x04] & 2
        lfb = self.bar_address(0) if mem_on else 0
        lfb = lfb if lfb and self._free(lfb, self.vram_size) else None
        rb = self.get(0x30, 4)
        rom = rb & 0xFFFFF800 if self.rom and mem_on and rb & 1 else 0
        rom = rom if rom and self._free(rom, self.rom_size) else None
        if lfb == self._lfb_at and rom == self._rom_at:
            return
        for at, size in ((self._lfb_at, self.vram_size), (self._rom_at, self.rom_size)):
            if at is not None:
                m.map_pages(at, size, None, None)
        if lfb is not None:
            m.map_pages(lfb, self.vram_size, self._vram_ptr, self._vram_ptr)
        if rom is not None:
            m.map_pages(rom, self.rom_size, self._rom_buf, None)
        self._lfb_at, self._rom_at = lfb, rom

    # -- ports --------------------------------------------------------------
    def _port_read(self, port, size):
        v = 0
        for i in range(size):
            v |= self._read_byte(port + i) << (8 * i)
        return v

    def _port_write(self, port, value, size):
        for i in range(size):
            self._write_byte(port + i, (value >> (8 * i)) & 0xFF)

    def _wrong_block(self, port):
        """A CRTC/status port of the block misc bit 0 does not select."""
        colour = self.misc & 1
        return (0x3B0 <= port <= 0x3BF and colour) or (0x3D0 <= port <= 0x3DF and not colour)

    # Registers a port reads as they are, and register files read through
    # their index (register file, index, index bits).
    _PLAIN = {0x3C0: "ar_index", 0x3C4: "seq_index", 0x3C6: "dac_mask", 0x3C7: "dac_state",
              0x3C8: "dac_write", 0x3CA: "feature", 0x3CC: "misc", 0x3CE: "gc_index",
              0x3B4: "crtc_index", 0x3D4: "crtc_index"}
    _INDEXED = {0x3C1: ("ar", "ar_index", 0x1F), 0x3C5: ("seq", "seq_index", 7), 0x3CF: ("gc", "gc_index", 0xF),
                0x3B5: ("crtc", "crtc_index", 0x3F), 0x3D5: ("crtc", "crtc_index", 0x3F)}

    def _read_byte(self, port):
        if self._wrong_block(port):
            return 0xFF
        name = self._PLAIN.get(port)
        if name is not None:
            return getattr(self, name)
        indexed = self._INDEXED.get(port)
        if indexed is not None:
            regs, index, mask = indexed
            return getattr(self, regs)[getattr(self, index) & mask]
        if port in (0x3BA, 0x3DA):
            return self._input_status1()
        if port == 0x3C2:
            return 0x10  # input status 0: switch sense (a colour monitor)
        if port == 0x3C9:
            v = self.dac[self.dac_read * 3 + self.dac_sub]
            self.dac_sub += 1
            if self.dac_sub == 3:
                self.dac_sub = 0
                self.dac_read = (self.dac_read + 1) & 0xFF
            return v
        return 0xFF

    def _input_status1(self):
        """Bit 0 display disabled (blanking), bit 3 vertical retrace: each
        read steps a 4-phase cycle, retrace in the last."""
        self.ar_flip = 0
        self.retrace = (self.retrace + 1) & 3
        return (0x01 if self.retrace & 1 else 0) | (0x08 if self.retrace == 3 else 0)

    def _write_byte(self, port, v):
        if self._wrong_block(port):
            return
        if port in (0x3B4, 0x3D4):
            self.crtc_index = v & 0x3F
        elif port in (0x3B5, 0x3D5):
            i = self.crtc_index
            if self.crtc[0x11] & 0x80 and i <= 7:
                if i != 7:
                    return
                v = (self.crtc[7] & ~0x10) | (v & 0x10)  # only the line compare bit 8
            self.crtc[i] = v
        elif port in (0x3BA, 0x3DA):
            self.feature = v
        elif port == 0x3C0:
            if self.ar_flip == 0:
                self.ar_index = v & 0x3F
            else:
                self.ar[self.ar_index & 0x1F] = v
            self.ar_flip ^= 1
        elif port == 0x3C2:
            self.misc = v
        elif port == 0x3C4:
            self.seq_index = v & 7
        elif port == 0x3C5:
            self.seq[self.seq_index] = v
            if self.seq_index in (2, 4):
                self._remap()
        elif port == 0x3C6:
            self.dac_mask = v
        elif port == 0x3C7:
            self.dac_read, self.dac_sub, self.dac_state = v, 0, 3
        elif port == 0x3C8:
            self.dac_write, self.dac_sub, self.dac_state = v, 0, 0
        elif port == 0x3C9:
            self.dac[self.dac_write * 3 + self.dac_sub] = v if self.dac_8bit else v & 0x3F
            self.dac_sub += 1
            if self.dac_sub == 3:
                self.dac_sub = 0
                self.dac_write = (self.dac_write + 1) & 0xFF
        elif port == 0x3CE:
            self.gc_index = v & 0xF
        elif port == 0x3CF:
            self.gc[self.gc_index] = v
            if self.gc_index in (1, 3, 4, 5, 6, 8):
                self._remap()

    @property
    def dac_8bit(self):
        return bool(self.dispi.regs[D.ENABLE] & D.DAC_8BIT)

    # -- the legacy window ------------------------------------------------------
    @property
    def bank_offset(self):
        return self.dispi.regs[D.BANK] << 16 if self.dispi.enabled else 0

    def window(self):
        """(guest base, size) the graphics controller's memory map selects."""
        return WINDOWS[(self.gc[6] >> 2) & 3]

    def _mem_read(self, addr, size):
        base, wsize = self.window()
        v = 0
        for i in range(size):
            off = addr + i - base
            b = vgamem.read(self, off) if 0 <= off < wsize else 0xFF
            v |= b << (8 * i)
        return v

    def _mem_write(self, addr, value, size):
        base, wsize = self.window()
        for i in range(size):
            off = addr + i - base
            if 0 <= off < wsize:
                vgamem.write(self, off, (value >> (8 * i)) & 0xFF)

    def _fast_key(self):
        """The host mapping the current mode allows for the window, if any."""
        base, size = self.window()
        seq2, seq4, gc = self.seq[2] & 0xF, self.seq[4], self.gc
        if seq4 & 0x08:
            off = self.bank_offset
            if seq2 == 0xF and off + size <= self.vram_size:
                return ("chain4", base, size, off)
            return None
        text = (size <= 0x10000 and not seq4 & 0x04 and gc[5] & 0x10 and not gc[5] & 0x0B
                and not gc[1] & 3 and not gc[3] & 0x1F and gc[8] == 0xFF and seq2 == 3 and not gc[4] & 2)
        return ("text", base, size) if text else None

    def _fold(self):
        """The shadow's bytes back into planes 0 and 1."""
        size = self._fast[2]
        self.vram[0:4 * size:8] = self.shadow[0:size:2]
        self.vram[1:4 * size:8] = self.shadow[1:size:2]

    def _unfold(self):
        size = self._fast[2]
        self.shadow[0:size:2] = self.vram[0:4 * size:8]
        self.shadow[1:size:2] = self.vram[1:4 * size:8]

    def sync(self):
        """Make VRAM current (the text shadow holds planes 0/1 of the window)."""
        if self._fast is not None and self._fast[0] == "text":
            self._fold()

    def _remap(self, fold=True):
        key = self._fast_key()
        if key == self._fast or self.machine is None:
            return
        m = self.machine
        if self._fast is not None:
            if fold:
                self.sync()
            m.map_pages(self._fast[1], self._fast[2], None, None)  # back to the MMIO path
        self._fast = key
        if key is None:
            return
        if key[0] == "chain4":
            ptr = self._vram_ptr + key[3]
        else:
            self._unfold()
            ptr = self._shadow_ptr
        m.map_pages(key[1], key[2], ptr, ptr)

    def _dispi_changed(self, clear):
        if clear:
            self.vram[:] = bytes(self.vram_size)
            if self._fast is not None and self._fast[0] == "text":
                self._unfold()
        self._remap()

    # -- state for the screen ---------------------------------------------------
    def is_text_mode(self):
        return not self.dispi.enabled and not self.gc[6] & 1

    def text_geometry(self):
        """(columns, rows, char height, start address, row stride in
        characters) of a text mode, from the CRTC."""
        cr = self.crtc
        cols = cr[1] + 1
        char_h = (cr[9] & 0x1F) + 1
        vde = cr[0x12] | ((cr[7] & 0x02) << 7) | ((cr[7] & 0x40) << 3)
        rows = max(1, (vde + 1) // char_h)
        start = cr[0x0C] << 8 | cr[0x0D]
        stride = cr[0x13] * 2 or cols
        return cols, rows, char_h, start, stride

    def text_cells(self, cols=None, rows=None):
        """[(char, attribute)] per row, as the CRTC shows them."""
        self.sync()
        c, r, _, start, stride = self.text_geometry()
        cols = cols or c
        rows = rows or r
        word = 2 if not self.crtc[0x17] & 0x40 else 1
        if self.crtc[0x14] & 0x40:
            word = 4
        v = self.vram
        out = []
        for y in range(rows):
            line = []
            for x in range(cols):
                a = (((start + y * stride + x) * word) & 0xFFFF) * 4
                line.append((v[a], v[a + 1]))
            out.append(line)
        return out

    # -- snapshots -----------------------------------------------------------
    def snapshot(self):
        self.sync()
        v = self.vram
        pages = []  # the non-zero pages (bytearray == bytes compares with memcmp)
        for c in range(0, self.vram_size, CHUNK):
            if v[c:c + CHUNK] != ZERO_CHUNK:
                pages += [[a // PAGE, bytes(v[a:a + PAGE])] for a in range(c, c + CHUNK, PAGE)
                          if v[a:a + PAGE] != ZERO_PAGE]
        return {"config": bytes(self.config), "misc": self.misc, "feature": self.feature,
                "seq": bytes(self.seq), "seq_index": self.seq_index, "gc": bytes(self.gc),
                "gc_index": self.gc_index, "crtc": bytes(self.crtc), "crtc_index": self.crtc_index,
                "ar": bytes(self.ar), "ar_index": self.ar_index, "ar_flip": self.ar_flip,
                "dac": bytes(self.dac), "dac_mask": self.dac_mask, "dac_read": self.dac_read,
                "dac_write": self.dac_write, "dac_sub": self.dac_sub, "dac_state": self.dac_state,
                "latch": bytes(self.latch), "retrace": self.retrace, "dispi": self.dispi.snapshot(),
                "rom": hashlib.sha256(self.rom).hexdigest(), "vram": pages}

    def restore(self, state):
        if state["rom"] != hashlib.sha256(self.rom).hexdigest():
            raise ValueError("another VGA BIOS")
        self.config[:] = state["config"]
        for name in ("misc", "feature", "seq_index", "gc_index", "crtc_index", "ar_index", "ar_flip",
                     "dac_mask", "dac_read", "dac_write", "dac_sub", "dac_state", "retrace"):
            setattr(self, name, state[name])
        for name in ("seq", "gc", "crtc", "ar", "dac", "latch"):
            getattr(self, name)[:] = state[name]
        self.dispi.restore(state["dispi"])
        self.vram[:] = bytes(self.vram_size)
        for i, data in state["vram"]:
            self.vram[i * PAGE:(i + 1) * PAGE] = data
        if self._fast is not None and self.machine is not None:
            self.machine.map_pages(self._fast[1], self._fast[2], None, None)
        self._fast = None  # (the shadow's old contents are not the snapshot's)
        self._remap()
        self._update_bars()


def find_vga(machine):
    return next((d for d in getattr(machine, "devices", ()) if isinstance(d, VGA)), None)


def text_screen(machine, cols=80, rows=25, base=TEXT_BASE, strip=True):
    """The text screen as `rows` strings of `cols` characters (code page
    437): a VGA's text mode as its CRTC shows it (a graphics mode says
    so on its first line), else (no VGA) the colour text buffer at `base`."""
    vga = find_vga(machine)
    if vga is not None and vga.is_text_mode():
        cells = vga.text_cells(cols, rows)
        lines = [bytes(ch or 0x20 for ch, _ in row).decode("cp437") for row in cells]
    elif vga is not None:
        lines = ["(a graphics mode: see the screenshot)"[:cols]] + [""] * (rows - 1)
    else:
        raw = machine.read_phys(base, cols * rows * 2)
        chars = bytes(b if b else 0x20 for b in raw[0::2])
        text = chars.decode("cp437")
        lines = [text[r * cols:(r + 1) * cols] for r in range(rows)]
    return [ln.rstrip() for ln in lines] if strip else lines
