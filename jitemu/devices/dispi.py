"""The Bochs VBE "DISPI" interface of QEMU's standard VGA: an index port
(0x1CE) and a data port (0x1CF), 16-bit registers:

    0 ID (B0C0-B0C5 accepted)   5 BANK (64 KiB window into VRAM)
    1 XRES   2 YRES   3 BPP      6 VIRT_WIDTH   7 VIRT_HEIGHT (read only)
    4 ENABLE                     8 X_OFFSET     9 Y_OFFSET
                                 A VIDEO_MEMORY_64K (read only)
ENABLE bits: 01 enabled, 02 GETCAPS (XRES/YRES/BPP then read the
maxima), 20 8-bit DAC, 40 linear framebuffer, 80 don't clear VRAM.
XRES, YRES and BPP are taken only while disabled; enabling sets the
virtual width to XRES and offsets to 0, and clears VRAM unless asked not
to.  SeaVGABIOS's bochsvga.c uses exactly these."""

ID, XRES, YRES, BPP, ENABLE, BANK, VIRT_WIDTH, VIRT_HEIGHT, X_OFFSET, Y_OFFSET, VIDEO_MEMORY_64K = range(11)
ID0, ID5 = 0xB0C0, 0xB0C5
ENABLED, GETCAPS, DAC_8BIT, LFB_ENABLED, NOCLEARMEM = 0x01, 0x02, 0x20, 0x40, 0x80
MAX_XRES, MAX_YRES, MAX_BPP = 16000, 12000, 32
BPPS = (4, 8, 15, 16, 24, 32)


def bytes_per_pixel(bpp):
    return (bpp + 7) // 8


class Dispi:
    def __init__(self, vram_size, on_change):
        self.vram_size = vram_size
        self.on_change = on_change  # (cleared VRAM?) after ENABLE, BANK or offsets change
        self.reset()

    def reset(self):
        self.index = 0
        self.regs = [0] * 11
        self.regs[ID] = ID5
        self.regs[BPP] = 8
        self.regs[XRES], self.regs[YRES] = 640, 480

    @property
    def enabled(self):
        return bool(self.regs[ENABLE] & ENABLED)

    @property
    def line_bytes(self):
        bpp = self.regs[BPP]
        w = self.regs[VIRT_WIDTH]
        return w // 2 if bpp == 4 else w * bytes_per_pixel(bpp)

    @property
    def start(self):
        """The VRAM offset of the displayed top left pixel."""
        bpp = self.regs[BPP]
        x = self.regs[X_OFFSET] // 2 if bpp == 4 else self.regs[X_OFFSET] * bytes_per_pixel(bpp)
        return self.regs[Y_OFFSET] * self.line_bytes + x

    def read(self, port, size):
        if port == 0x1CE:
            return self.index
        i = self.index
        if i > VIDEO_MEMORY_64K:
            return 0
        if self.regs[ENABLE] & GETCAPS and i in (XRES, YRES, BPP):
            return {XRES: MAX_XRES, YRES: MAX_YRES, BPP: MAX_BPP}[i]
        if i == VIDEO_MEMORY_64K:
            return self.vram_size >> 16
        return self.regs[i]

    def write(self, port, value, size):
        if port == 0x1CE:
            self.index = value & 0xFFFF
            return
        i, v, r = self.index, value & 0xFFFF, self.regs
        if i == ID:
            if ID0 <= v <= ID5:
                r[ID] = v
        elif i in (XRES, YRES, BPP):
            if r[ENABLE] & ENABLED:
                return
            if i == BPP:
                v = 8 if v == 0 else v
                if v not in BPPS:
                    return
            elif i == XRES and v > MAX_XRES or i == YRES and v > MAX_YRES:
                return
            r[i] = v
        elif i == ENABLE:
            was = r[ENABLE] & ENABLED
            r[ENABLE] = v & (ENABLED | GETCAPS | DAC_8BIT | LFB_ENABLED | NOCLEARMEM)
            clear = False
            if v & ENABLED and not was:
                r[VIRT_WIDTH] = r[XRES]
                r[X_OFFSET] = r[Y_OFFSET] = 0
                self._virt_height()
                clear = not v & NOCLEARMEM
            self.on_change(clear)
        elif i == BANK:
            r[BANK] = v & ((self.vram_size >> 16) - 1)
            self.on_change(False)
        elif i == VIRT_WIDTH:
            r[VIRT_WIDTH] = v
            self._virt_height()
            self.on_change(False)
        elif i in (X_OFFSET, Y_OFFSET):
            r[i] = v
            self.on_change(False)

    def _virt_height(self):
        lb = self.line_bytes
        self.regs[VIRT_HEIGHT] = min(0xFFFF, self.vram_size // lb) if lb else 0

    def snapshot(self):
        return {"index": self.index, "regs": list(self.regs)}

    def restore(self, state):
        self.index = state["index"]
        self.regs = list(state["regs"])
