"""The ISA DMA controllers: two Intel 8237s as on a PC/AT.

    DMA1 (8-bit, channels 0-3)   00-0F
    DMA2 (16-bit, channels 4-7)  C0-DF (every other port)
    page registers               81-83, 87 (DMA1), 89-8B, 8F (DMA2)
    high page registers          481-483, 487, 489-48B, 48F

Port 0x80 stays with devices/post.py (the POST code): QEMU's DMA does not
claim it either.  Each controller has, per channel, base and current
address and count (written and read low byte then high byte through the
flip-flop, which 0x0C/0xD8 clears), a mode (0x0B), a mask bit (0x0A single,
0x0E clear all, 0x0F write all; master clear 0x0D masks all), a command
register (bit 2 disables the controller), and a status register whose
terminal-count bits clear when read.  DMA2's channel 4 is the cascade.

A device asks for a transfer with hold_dreq(channel, run): `run(channel)`
is called at once if the channel is unmasked and its controller enabled,
otherwise when the guest unmasks it; the device moves its data with the
channel's write_memory/read_memory (which stop at terminal count) and
calls release_dreq when done.  Transfers complete instantly.
"""

from .state import apply, capture

PAGE_PORTS = {0x87: 0, 0x83: 1, 0x81: 2, 0x82: 3, 0x8F: 4, 0x8B: 5, 0x89: 6, 0x8A: 7}


class Channel:
    def __init__(self, number):
        self.number = number
        self.wide = number >= 4  # DMA2 moves 16-bit words: address and count count words
        self.reset()

    def reset(self):
        self.base_addr = self.base_count = 0
        self.addr = self.count = 0
        self.mode = 0
        self.page = self.high_page = 0
        self.masked = True
        self.dreq = None  # the device's run(channel), while it requests

    # -- for devices --------------------------------------------------------
    @property
    def transfer_type(self):
        """'verify', 'write' (device to memory), 'read' (memory to device)."""
        return ("verify", "write", "read", "illegal")[(self.mode >> 2) & 3]

    @property
    def remaining(self):
        """Bytes left before terminal count."""
        return (self.count + 1) << self.wide

    def _phys(self):
        if self.wide:
            return (self.high_page << 24) | ((self.page & 0xFE) << 16) | ((self.addr << 1) & 0x1FFFF)
        return (self.high_page << 24) | (self.page << 16) | self.addr

    def _advance(self, nbytes):
        units = nbytes >> self.wide
        step = -units if self.mode & 0x20 else units
        self.addr = (self.addr + step) & 0xFFFF
        left = self.count + 1 - units
        if left <= 0:
            self.controller.status |= 1 << (self.number & 3)
            if self.mode & 0x10:  # autoinitialize
                self.addr, self.count = self.base_addr, self.base_count
            else:
                self.count = 0xFFFF
        else:
            self.count = left - 1

    def write_memory(self, data):
        """Device to memory, up to terminal count; the number of bytes taken."""
        n = min(len(data), self.remaining)
        m = self.controller.machine
        if self.mode & 0x20:  # address decrement: unit by unit, downwards
            unit = 1 << self.wide
            for i in range(0, n, unit):
                m.write_phys(self._phys(), data[i:i + unit])
                self._advance(unit)
            return n
        done = 0
        while done < n:
            # Within one 64 KiB (128 KiB) block the address wraps, the page does not.
            chunk = min(n - done, ((0x10000 - self.addr) << self.wide))
            m.write_phys(self._phys(), data[done:done + chunk])
            self._advance(chunk)
            done += chunk
        return n

    def read_memory(self, n):
        """Memory to device, up to terminal count."""
        n = min(n, self.remaining)
        m = self.controller.machine
        out = bytearray()
        while len(out) < n:
            chunk = n - len(out)
            if not self.mode & 0x20:
                chunk = min(chunk, (0x10000 - self.addr) << self.wide)
            else:
                chunk = 1 << self.wide
            out += m.read_phys(self._phys(), chunk)
            self._advance(chunk)
        return bytes(out[:n])


class Controller:
    def __init__(self, first):
        self.channels = [Channel(first + i) for i in range(4)]
        for ch in self.channels:
            ch.controller = self
        self.machine = None
        self.reset()

    def reset(self):
        for ch in self.channels:
            ch.reset()
        self.command = 0
        self.status = 0
        self.flipflop = 0
        self.temp = 0

    @property
    def enabled(self):
        return not self.command & 0x04

    def _byte(self, value):
        """Low byte, then high byte, of a 16-bit register, by the flip-flop."""
        shift = 8 * self.flipflop
        self.flipflop ^= 1
        return (value >> shift) & 0xFF

    def read(self, reg):
        if reg < 8:
            ch = self.channels[reg >> 1]
            return self._byte(ch.count if reg & 1 else ch.addr)
        if reg == 8:
            v = self.status | sum(1 << i for i, ch in enumerate(self.channels) if ch.dreq) << 4
            self.status = 0  # terminal-count bits clear on read
            return v
        if reg == 0xD:
            return self.temp
        if reg == 0xF:
            return 0xF0 | sum(1 << i for i, ch in enumerate(self.channels) if ch.masked)
        return 0xFF

    def write(self, reg, v):
        if reg < 8:
            ch = self.channels[reg >> 1]
            high = self.flipflop
            self.flipflop ^= 1
            if reg & 1:
                ch.base_count = (ch.base_count & 0xFF) | v << 8 if high else (ch.base_count & 0xFF00) | v
                ch.count = ch.base_count
            else:
                ch.base_addr = (ch.base_addr & 0xFF) | v << 8 if high else (ch.base_addr & 0xFF00) | v
                ch.addr = ch.base_addr
            return
        if reg == 8:
            self.command = v
        elif reg == 9:  # software request: nothing on our bus serves one
            pass
        elif reg == 0xA:
            self.channels[v & 3].masked = bool(v & 4)
        elif reg == 0xB:
            self.channels[v & 3].mode = v
        elif reg == 0xC:
            self.flipflop = 0
        elif reg == 0xD:  # master clear
            self.command = self.status = self.flipflop = self.temp = 0
            for ch in self.channels:
                ch.masked = True
        elif reg == 0xE:
            for ch in self.channels:
                ch.masked = False
        elif reg == 0xF:
            for i, ch in enumerate(self.channels):
                ch.masked = bool(v >> i & 1)
        self.run_pending()

    def run_pending(self):
        if not self.enabled:
            return
        for ch in self.channels:
            if ch.dreq is not None and not ch.masked:
                ch.dreq(ch)


class DMA:
    """Both controllers; channel(n) for n in 0-7."""

    def __init__(self):
        self.dma1, self.dma2 = Controller(0), Controller(4)

    def channel(self, n):
        return (self.dma1 if n < 4 else self.dma2).channels[n & 3]

    def attach(self, machine):
        self.dma1.machine = self.dma2.machine = machine
        ports = machine.ports
        ports.register(range(0x00, 0x10), read=lambda p, s: self.dma1.read(p),
                       write=lambda p, v, s: self.dma1.write(p, v & 0xFF))
        ports.register(range(0xC0, 0xE0, 2), read=lambda p, s: self.dma2.read((p - 0xC0) >> 1),
                       write=lambda p, v, s: self.dma2.write((p - 0xC0) >> 1, v & 0xFF))
        ports.register(list(PAGE_PORTS), read=self._read_page, write=self._write_page)
        ports.register([0x400 + p for p in PAGE_PORTS], read=self._read_page, write=self._write_page)

    def reset(self):
        self.dma1.reset()
        self.dma2.reset()

    # -- snapshots (jitemu/snapshot.py) -------------------------------------------
    CONTROLLER = ("command", "status", "flipflop", "temp")
    CHANNEL = ("base_addr", "base_count", "addr", "count", "mode", "page", "high_page", "masked")

    def snapshot(self):
        out = []
        for c in (self.dma1, self.dma2):
            if any(ch.dreq is not None for ch in c.channels):
                # (a device's request is a continuation of its command)
                raise ValueError("a DMA request is pending (the guest has not unmasked its channel)")
            st = capture(c, self.CONTROLLER)
            st["channels"] = [capture(ch, self.CHANNEL) for ch in c.channels]
            out.append(st)
        return {"controllers": out}

    def restore(self, state):
        for c, st in zip((self.dma1, self.dma2), state["controllers"]):
            apply(c, st, self.CONTROLLER)
            for ch, cs in zip(c.channels, st["channels"]):
                apply(ch, cs, self.CHANNEL)
                ch.dreq = None

    def _read_page(self, port, size):
        ch = self.channel(PAGE_PORTS[port & 0xFF])
        return ch.high_page if port & 0x400 else ch.page

    def _write_page(self, port, value, size):
        ch = self.channel(PAGE_PORTS[port & 0xFF])
        if port & 0x400:
            ch.high_page = value & 0xFF
        else:
            ch.page = value & 0xFF

    # -- for devices ------------------------------------------------------------
    def hold_dreq(self, n, run):
        ch = self.channel(n)
        ch.dreq = run
        ch.controller.run_pending()

    def release_dreq(self, n):
        self.channel(n).dreq = None
