"""Floppy disk controller: an Intel 82077AA in PC/AT mode at 0x3F0, IRQ 6,
DMA channel 2, with up to two drives.

    3F0/3F1  status A/B (read)          3F4  main status (read) / data-rate select (write)
    3F2      digital output (DOR)       3F5  data FIFO: command, result bytes
    3F3      tape drive register        3F7  digital input (read) / config control (write)

Commands: SPECIFY, SENSE DRIVE STATUS, RECALIBRATE, SENSE INTERRUPT STATUS,
SEEK, READ DATA, WRITE DATA, READ ID, FORMAT TRACK, VERSION (0x90),
CONFIGURE, DUMPREG, PERPENDICULAR MODE, LOCK, PART ID; anything else is
invalid (one result byte, 0x80).  Data moves by DMA only (the non-DMA mode
of SPECIFY is not implemented) and every command completes at once: a
command that ends with an interrupt raises IRQ 6 as its result phase starts
(READ/WRITE/READ ID/FORMAT) or as it ends (RECALIBRATE, SEEK, which SENSE
INTERRUPT STATUS then reports).  The interrupt is pending until the result
bytes are read or SENSE INTERRUPT STATUS is issued.  Leaving reset (DOR bit
2, or DSR bit 7) raises it too, and then four SENSE INTERRUPT STATUS report
ST0 0xC0-0xC3 as on the real part (a new interrupt cancels that).

Like QEMU, the data rate (DSR/CCR bits 0-1) must match the medium's or
READ DATA and READ ID fail with a missing address mark, which is how
SeaBIOS senses the medium.  The disk-change bit (DIR bit 7) is set when a
medium is inserted and cleared by a seek.

Images are raw, their geometry known by size (FORMATS); they are
devices.ata.Disk objects, so a path is read on demand and written in place,
or into memory with snapshot=True.
"""
from .ata import Disk
from .isa import IRQLine
from .state import apply, capture

SECTOR = 512

# image size: (cylinders, heads, sectors per track, data rate, CMOS drive type).
# Rates are the DSR/CCR codes (0 500 kbit/s, 1 300, 2 250, 3 1000); the
# drive types are those QEMU gives the drive each medium selects (its
# 1.44M drive also takes 720K media, its 1.2M drive 360K ones).
FORMATS = {
    1474560: (80, 2, 18, 0, 4),
    737280: (80, 2, 9, 2, 4),
    1228800: (80, 2, 15, 0, 2),
    368640: (40, 2, 9, 1, 2),
    2949120: (80, 2, 36, 3, 5),
}

ST0_ABNTERM, ST0_INVCMD, ST0_SEEK, ST0_NOTREADY, ST0_RDYCHG = 0x40, 0x80, 0x20, 0x08, 0xC0
ST1_MA, ST1_NW, ST1_ND = 0x01, 0x02, 0x04
MSR_RQM, MSR_DIO, MSR_CB = 0x80, 0x40, 0x10


def floppy_format(size):
    """The geometry of an image of `size` bytes, or None."""
    return FORMATS.get(size)


class Floppy:
    """A floppy medium: a Disk plus the geometry its size gives."""

    def __init__(self, image, snapshot=False, readonly=False):
        self.disk = image if isinstance(image, Disk) else Disk(image, snapshot=snapshot, readonly=readonly)
        fmt = FORMATS.get(self.disk.size)
        if fmt is None:
            self.disk.close()
            raise ValueError("floppy image is %d bytes; expected one of %s" % (
                self.disk.size, ", ".join("%d (%s)" % (s, n) for s, n in SIZE_NAMES.items())))
        self.cylinders, self.heads, self.spt, self.rate, self.cmos_type = fmt

    @property
    def readonly(self):
        return self.disk.readonly

    def read(self, lba):
        return self.disk.read(lba, 1)

    def write(self, lba, data):
        self.disk.write(lba, data)


SIZE_NAMES = {1474560: "1.44M", 737280: "720K", 1228800: "1.2M", 368640: "360K", 2949120: "2.88M"}


class Drive:
    def __init__(self, medium):
        self.medium = medium
        self.track = 0
        self.head = 0
        self.sect = 1
        self.changed = medium is not None  # DIR bit 7 until the first seek


# command byte (masked) -> (name, total length in bytes)
def _decode(cmd):
    if cmd == 0x10:
        return "version", 1
    if cmd & 0x7F == 0x14:
        return "lock", 1
    if cmd == 0x18:
        return "part_id", 1
    low = cmd & 0x1F
    table = {0x03: ("specify", 3), 0x04: ("sense_drive", 2), 0x07: ("recalibrate", 2),
             0x08: ("sense_interrupt", 1), 0x0F: ("seek", 3), 0x06: ("read", 9), 0x05: ("write", 9),
             0x0A: ("read_id", 2), 0x0D: ("format", 6), 0x13: ("configure", 4), 0x0E: ("dumpreg", 1),
             0x12: ("perpendicular", 2)}
    if low in table and (low in (0x06, 0x05, 0x0A, 0x0D) or cmd & 0xE0 == 0):
        return table[low]
    return "invalid", 1


class FDC:
    def __init__(self, drives=(None, None), dma=None, base=0x3F0, irq=6, dma_channel=2):
        media = [d if d is None or isinstance(d, Floppy) else Floppy(d) for d in drives]
        self.drives = [Drive(m) for m in (list(media) + [None, None, None, None])[:4]]
        self.dma = dma
        self.base = base
        self.irq = IRQLine(irq)
        self.dma_channel = dma_channel
        self.machine = None
        self.lock = 0
        self.config, self.pretrk = 0x60, 0
        self._power_on()

    def _power_on(self):
        self.dor = 0x0C  # out of reset, DMA and interrupt gate on
        self.tdr = 0
        self.rate = 0
        self.timer0 = self.timer1 = 0
        self.perp = 0
        self.eot = 0
        self.intpend = False
        self._soft_reset(raise_irq=False)

    def _soft_reset(self, raise_irq):
        """The reset of DOR bit 2 / DSR bit 7."""
        self._lower_irq()
        self.cmd = bytearray()
        self.executing = False
        if self.dma is not None:
            self.dma.release_dreq(self.dma_channel)
        self.result = b""
        self.rpos = 0
        self.status0 = 0
        self.reset_sensei = 0
        if not self.lock:
            self.config, self.pretrk = 0x60, 0  # implied seek, FIFO off; LOCK keeps them
        for d in self.drives:
            d.head, d.sect = 0, 1
        if raise_irq:
            self.status0 = ST0_RDYCHG
            self._raise_irq()
            self.reset_sensei = 4

    def attach(self, machine):
        self.machine = machine
        self.irq.machine = machine
        b = self.base
        machine.ports.register([b + i for i in (0, 1, 2, 3, 4, 5, 7)], read=self._read, write=self._write)

    def reset(self):
        self.lock = 0
        self._power_on()

    # -- snapshots (jitemu/snapshot.py) -------------------------------------------
    STATE = ("dor", "tdr", "rate", "timer0", "timer1", "perp", "eot", "intpend", "executing", "result", "rpos",
             "status0", "reset_sensei", "lock", "config", "pretrk")
    DRIVE = ("track", "head", "sect", "changed")

    def snapshot(self):
        if self.executing:
            raise ValueError("a floppy transfer waits for its DMA channel")
        st = capture(self, self.STATE)
        st.update(cmd=bytes(self.cmd), irq=self.irq.level,
                  drives=[dict(capture(d, self.DRIVE), medium=None if d.medium is None else d.medium.disk.snapshot())
                          for d in self.drives])
        return st

    def restore(self, state):
        if [d.medium is None for d in self.drives] != [d["medium"] is None for d in state["drives"]]:
            raise ValueError("the floppy drives differ from the snapshot's")
        apply(self, state, self.STATE)
        self.cmd = bytearray(state["cmd"])
        self.irq.level = state["irq"]
        for d, ds in zip(self.drives, state["drives"]):
            apply(d, ds, self.DRIVE)
            if d.medium is not None:
                d.medium.disk.restore(ds["medium"])

    # -- interrupt --------------------------------------------------------------
    def _raise_irq(self):
        # Edge for the PIC only when not already pending (QEMU's rule); a new
        # interrupt ends the four reset-time sense reports.
        if not self.intpend:
            self.intpend = True
            self.irq.set(1)
        self.reset_sensei = 0

    def _lower_irq(self):
        self.intpend = False
        self.irq.set(0)

    # -- registers --------------------------------------------------------------
    @property
    def msr(self):
        if self.result:
            return MSR_RQM | MSR_DIO | MSR_CB
        if self.executing:  # waiting for the DMA channel
            return MSR_CB
        if self.cmd:
            return MSR_RQM | MSR_CB
        return MSR_RQM

    @property
    def cur(self):
        return self.dor & 3

    def _read(self, port, size):
        r = port - self.base
        if r == 0:
            return 0x80 if self.intpend else 0x00
        if r == 1:
            return 0xC0 | (self.dor >> 4 & 3) << 0 | (self.dor & 1) << 5
        if r == 2:
            return self.dor
        if r == 3:
            return self.tdr
        if r == 4:
            return self.msr
        if r == 5:
            return self._read_fifo()
        d = self.drives[self.cur]
        return 0x80 if d.changed else 0x00  # DIR

    def _write(self, port, value, size):
        r, v = port - self.base, value & 0xFF
        if r == 2:
            was_reset = not self.dor & 4
            self.dor = v
            if was_reset and v & 4:
                self._soft_reset(raise_irq=True)
        elif r == 3:
            self.tdr = v & 3
        elif r == 4:  # DSR
            self.rate = v & 3
            if v & 0x80:
                self._soft_reset(raise_irq=True)
        elif r == 5:
            self._write_fifo(v)
        elif r == 7:  # CCR
            self.rate = v & 3

    # -- command and result phases ------------------------------------------------
    def _read_fifo(self):
        if not self.result:
            return 0
        v = self.result[self.rpos]
        self.rpos += 1
        if self.rpos >= len(self.result):
            self.result, self.rpos = b"", 0
            self._lower_irq()
        return v

    def _write_fifo(self, v):
        if self.result or self.executing or not self.dor & 4:
            return  # in the result phase (or in reset) the FIFO takes nothing
        self.cmd.append(v)
        name, length = _decode(self.cmd[0])
        if len(self.cmd) < length:
            return
        cmd, self.cmd = bytes(self.cmd), bytearray()
        getattr(self, "_cmd_" + name)(cmd)

    def _to_result(self, data):
        self.result, self.rpos = bytes(data), 0

    def _select(self, b):
        """Drive select bits of a command's second byte."""
        self.dor = (self.dor & ~3) | (b & 3)
        return self.drives[b & 3]

    # -- commands -----------------------------------------------------------------
    def _cmd_invalid(self, cmd):
        self._to_result([ST0_INVCMD])

    def _cmd_version(self, cmd):
        self._to_result([0x90])

    def _cmd_part_id(self, cmd):
        self._to_result([0x41])

    def _cmd_lock(self, cmd):
        self.lock = cmd[0] >> 7
        self._to_result([self.lock << 4])

    def _cmd_specify(self, cmd):
        self.timer0, self.timer1 = cmd[1], cmd[2]

    def _cmd_configure(self, cmd):
        self.config, self.pretrk = cmd[2], cmd[3]

    def _cmd_perpendicular(self, cmd):
        if cmd[1] & 0x80:  # OW: the drive bits are written
            self.perp = cmd[1] & 0x3F
        else:
            self.perp = (self.perp & 0x3C) | (cmd[1] & 3)

    def _cmd_dumpreg(self, cmd):
        self._to_result([d.track for d in self.drives] +
                        [self.timer0, self.timer1, self.eot, self.lock << 7 | self.perp, self.config,
                         self.pretrk])

    def _cmd_sense_drive(self, cmd):
        d = self._select(cmd[1])
        d.head = cmd[1] >> 2 & 1
        m = d.medium
        st3 = 0x28 | (d.track == 0) << 4 | d.head << 2 | self.cur  # ready, two-sided
        if m is not None and m.readonly:
            st3 |= 0x40
        self._to_result([st3])

    def _cmd_sense_interrupt(self, cmd):
        if self.reset_sensei:
            n = 4 - self.reset_sensei
            self.reset_sensei -= 1
            self._to_result([ST0_RDYCHG | n, self.drives[n].track])
        elif not self.intpend:
            self._to_result([ST0_INVCMD])
            return
        else:
            self._to_result([(self.status0 & ~7) | self.cur, self.drives[self.cur].track])
        self._lower_irq()
        self.status0 = ST0_RDYCHG

    def _seek(self, d, track):
        d.track = track
        if d.medium is not None:
            d.changed = False

    def _cmd_recalibrate(self, cmd):
        d = self._select(cmd[1])
        d.head = 0
        self._seek(d, 0)
        self.status0 = ST0_SEEK | self.cur
        self._raise_irq()

    def _cmd_seek(self, cmd):
        d = self._select(cmd[1])
        d.head = cmd[1] >> 2 & 1
        self._seek(d, cmd[2])
        self.status0 = ST0_SEEK | d.head << 2 | self.cur
        self._raise_irq()

    def _finish(self, st0, st1, st2, c, h, r, n):
        self.executing = False
        self._to_result([st0, st1, st2, c & 0xFF, h & 0xFF, r & 0xFF, n & 0xFF])
        self._raise_irq()

    def _check_medium(self, d, head):
        """ST0/ST1 of a failure to find the medium, or None."""
        st0 = ST0_ABNTERM | head << 2 | self.cur
        if d.medium is None:
            return st0 | ST0_NOTREADY, ST1_MA
        if self.rate != d.medium.rate:  # wrong data rate: no address mark found
            return st0, ST1_MA
        return None

    def _cmd_read_id(self, cmd):
        d = self._select(cmd[1])
        head = cmd[1] >> 2 & 1
        bad = self._check_medium(d, head)
        if bad:
            self._finish(bad[0], bad[1], 0, d.track, head, d.sect, 2)
            return
        d.head = head
        self._finish(head << 2 | self.cur, 0, 0, d.track, head, d.sect, 2)

    def _cmd_read(self, cmd):
        self._transfer(cmd, write=False)

    def _cmd_write(self, cmd):
        self._transfer(cmd, write=True)

    def _transfer(self, cmd, write):
        d = self._select(cmd[1])
        head = cmd[1] >> 2 & 1
        c, h, r, n, eot = cmd[2], cmd[3], cmd[4], cmd[5], cmd[6]
        self.eot = eot
        bad = self._check_medium(d, head)
        m = d.medium
        if bad is None and (c >= m.cylinders or h >= m.heads or r == 0 or r > m.spt or n != 2):
            bad = ST0_ABNTERM | head << 2 | self.cur, ST1_ND
        if bad is None and write and m.readonly:
            bad = ST0_ABNTERM | head << 2 | self.cur, ST1_NW
        if bad:
            self._finish(bad[0], bad[1], 0, c, h, r, n)
            return
        self._seek(d, c)
        mt = cmd[0] & 0x80
        state = {"c": c, "h": h, "r": r}

        def run(ch):
            self.dma.release_dreq(self.dma_channel)
            budget = ch.remaining
            done = 0
            while True:
                lba = (state["c"] * m.heads + state["h"]) * m.spt + state["r"] - 1
                if write:
                    m.write(lba, ch.read_memory(SECTOR).ljust(SECTOR, b"\0"))
                elif ch.transfer_type == "verify":
                    ch._advance(min(SECTOR, ch.remaining))
                else:
                    ch.write_memory(m.read(lba))
                done += SECTOR
                # The next sector: past the last one (EOT) the other head if
                # multi-track, else the next cylinder, and the command ends.
                more = True
                if state["r"] >= eot or state["r"] >= m.spt:
                    state["r"] = 1
                    if mt and state["h"] == 0 and m.heads == 2:
                        state["h"] = 1
                    else:
                        state["h"] = 0 if mt else state["h"]
                        state["c"] += 1
                        more = False
                else:
                    state["r"] += 1
                if done >= budget or not more or state["c"] >= m.cylinders:
                    break
            d.head, d.sect = state["h"], state["r"]
            self._finish(head << 2 | self.cur, 0, 0, state["c"], state["h"], state["r"], n)

        self.executing = True
        self.dma.hold_dreq(self.dma_channel, run)

    def _cmd_format(self, cmd):
        d = self._select(cmd[1])
        head = cmd[1] >> 2 & 1
        n, sc, fill = cmd[2], cmd[3], cmd[5]
        bad = self._check_medium(d, head)
        if bad is None and d.medium.readonly:
            bad = ST0_ABNTERM | head << 2 | self.cur, ST1_NW
        if bad:
            self._finish(bad[0], bad[1], 0, d.track, head, 1, n)
            return
        m = d.medium

        def run(ch):
            self.dma.release_dreq(self.dma_channel)
            ids = ch.read_memory(4 * sc)
            for i in range(0, len(ids) - 3, 4):
                c, h, r = ids[i], ids[i + 1], ids[i + 2]
                if c < m.cylinders and h < m.heads and 1 <= r <= m.spt:
                    m.write((c * m.heads + h) * m.spt + r - 1, bytes([fill]) * SECTOR)
            self._finish(head << 2 | self.cur, 0, 0, d.track, head, 1, n)

        self.executing = True
        self.dma.hold_dreq(self.dma_channel, run)
