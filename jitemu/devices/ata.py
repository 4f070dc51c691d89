"""IDE/ATA channel with PIO hard disks (primary: 0x1F0-0x1F7 and 0x3F6,
IRQ14; the secondary at 0x170/0x376, IRQ15, is the same class).

Commands: IDENTIFY DEVICE (0xEC), READ/WRITE SECTORS (0x20/0x21,
0x30/0x31), READ/WRITE MULTIPLE (0xC4/0xC5) with SET MULTIPLE MODE (0xC6),
the LBA48 forms (0x24, 0x34, 0x29, 0x39, 0x42, 0x27, 0xEA), READ VERIFY
(0x40/0x41), SET FEATURES (0xEF), INITIALIZE DEVICE PARAMETERS (0x91, the
logical CHS geometry), RECALIBRATE (0x1x), SEEK (0x70), FLUSH CACHE (0xE7),
CHECK POWER MODE (0xE5), idle/standby (0xE0-0xE3), EXECUTE DEVICE
DIAGNOSTIC (0x90).  Others abort (ERR with ABRT).  Addresses are CHS (with
the logical geometry) or LBA28/LBA48 (device register bit 6; HOB registers
for LBA48).  Transfers complete at once (BSY is never seen except during a
software reset): a PIO-in command raises DRQ and the interrupt for each
block; a write raises DRQ without interrupt, and the interrupt after each
block is written.  The interrupt is pending until the status register (not
alternate status) is read or a command is written, and reaches the IRQ line
unless nIEN (device control bit 1) is set.  SRST (bit 2) resets both
devices to the ATA signature.

A channel with no device floats: every register reads 0xFF.  With only a
master, a selected absent slave reads 0.  Disks are backed by a bytes-like
image (kept in memory; `disk.image`) or a path, read sector by sector as the
guest asks and written in place; with snapshot=True writes go to an overlay
in memory instead and the file is never modified (QEMU's -snapshot).

A packet device (devices.atapi.ATAPIDrive, the CD-ROM) may stand in for a
disk: it takes the commands written to it and moves its data through this
channel's data port (on_block is its next step after each block).
"""
import os

from .isa import IRQLine
from .state import apply, capture

BSY, DRDY, DF, DSC, DRQ, ERR = 0x80, 0x40, 0x20, 0x10, 0x08, 0x01
ABRT, IDNF = 0x04, 0x10
SECTOR = 512
MAX_MULT = 16


class Disk:
    """A raw disk image and its default geometry.

    A path is opened, never read whole: a large (sparse) image costs memory
    only for the sectors in flight.  `overlay` ({lba: 512 bytes}, with
    snapshot=True) takes the writes and is read first; `readonly` drops
    writes altogether."""

    def __init__(self, image, model="JITEMU HARDDISK", serial="JE0001", readonly=False, snapshot=False):
        if isinstance(image, (str, os.PathLike)):
            # Unbuffered: pread/pwrite on the descriptor are all we use.
            self.file = open(image, "rb" if readonly or snapshot else "r+b", buffering=0)
            size = os.fstat(self.file.fileno()).st_size
            self.image = None
        else:
            self.file = None
            self.image = bytearray(image)
            size = len(self.image)
        self.size = size
        self.overlay = {} if snapshot else None
        self.sectors = size // SECTOR
        self.model, self.serial, self.readonly = model, serial, readonly
        self.heads, self.spt = 16, 63
        self.cylinders = max(1, min(16383, self.sectors // (self.heads * self.spt)))

    def read(self, lba, n):
        if self.file is not None:
            data = os.pread(self.file.fileno(), n * SECTOR, lba * SECTOR)
            data += bytes(n * SECTOR - len(data))  # a file cut short under us reads zeros
        else:
            data = bytes(self.image[lba * SECTOR:(lba + n) * SECTOR])
        if self.overlay:
            data = bytearray(data)
            for i in range(n):
                sector = self.overlay.get(lba + i)
                if sector is not None:
                    data[i * SECTOR:(i + 1) * SECTOR] = sector
            data = bytes(data)
        return data

    def write(self, lba, data):
        if self.readonly:
            return
        if self.overlay is not None:
            for i in range(0, len(data), SECTOR):
                self.overlay[lba + i // SECTOR] = bytes(data[i:i + SECTOR])
        elif self.file is not None:
            view, pos = memoryview(data), lba * SECTOR
            while view:
                done = os.pwrite(self.file.fileno(), view, pos)
                view, pos = view[done:], pos + done
        else:
            self.image[lba * SECTOR:lba * SECTOR + len(data)] = data

    def close(self):
        if self.file is not None:
            self.file.close()

    def snapshot(self):
        """What the guest wrote, where it is kept in memory: --snapshot's
        overlay, or an image given as bytes.  A file written in place is
        the disk itself and is not copied (as QEMU's savevm to a raw disk)."""
        st = {"size": self.size}
        if self.overlay is not None:
            st["overlay"] = [[lba, data] for lba, data in sorted(self.overlay.items())]
        if self.image is not None and not self.readonly:
            st["image"] = bytes(self.image)
        return st

    def restore(self, state):
        if state["size"] != self.size:
            raise ValueError("the disk image is %d bytes, the snapshot's was %d" % (self.size, state["size"]))
        if "overlay" in state:
            if self.overlay is None:
                raise ValueError("the snapshot kept the disk's writes in memory: restore it with --snapshot")
            self.overlay = {lba: bytes(data) for lba, data in state["overlay"]}
        if "image" in state and self.image is not None:
            self.image[:] = state["image"]


def ata_string(s, words):
    b = s.encode("ascii").ljust(2 * words, b" ")[:2 * words]
    return [(b[i] << 8) | b[i + 1] for i in range(0, 2 * words, 2)]


class Drive:
    atapi = False  # devices.atapi.ATAPIDrive: a packet device

    def __init__(self, disk):
        self.disk = disk
        self.status = DRDY | DSC
        self.error = 0x01
        self.lheads, self.lspt = disk.heads, disk.spt  # logical geometry (0x91)
        self.mult = 0  # sectors per block for READ/WRITE MULTIPLE (0 = disabled)

    def identify(self):
        d = self.disk
        w = [0] * 256
        w[0] = 0x0040
        w[1], w[3], w[6] = d.cylinders, d.heads, d.spt
        w[5] = SECTOR
        w[10:20] = ata_string(d.serial, 10)
        w[20], w[21], w[22] = 3, 512, 4
        w[23:27] = ata_string("1.0", 4)
        w[27:47] = ata_string(d.model, 20)
        w[47] = 0x8000 | MAX_MULT
        w[48] = 1  # dword PIO
        w[49] = (1 << 11) | (1 << 9)  # IORDY, LBA
        w[50] = 0x4000
        w[51] = w[52] = 0x200
        w[53] = 0x0003
        cyls = min(d.cylinders, d.sectors // max(1, self.lheads * self.lspt), 0xFFFF)
        w[54], w[55], w[56] = cyls, self.lheads, self.lspt
        cap = cyls * self.lheads * self.lspt
        w[57], w[58] = cap & 0xFFFF, cap >> 16
        w[59] = (0x100 | self.mult) if self.mult else 0
        lba28 = min(d.sectors, 0x0FFFFFFF)
        w[60], w[61] = lba28 & 0xFFFF, lba28 >> 16
        w[64] = 0x0003
        w[65] = w[66] = w[67] = w[68] = 120
        w[80] = 0x00F0
        w[81] = 0x0016
        w[82] = w[85] = 0x4000 | (1 << 5)
        w[83] = w[86] = 0x4000 | (1 << 13) | (1 << 12) | (1 << 10)
        w[84] = w[87] = 0x4000
        for i in range(4):
            w[100 + i] = (d.sectors >> (16 * i)) & 0xFFFF
        data = bytearray()
        for x in w[:255]:
            data += x.to_bytes(2, "little")
        data.append(0xA5)
        data.append((-(sum(data)) & 0xFF))
        return bytes(data)


class ATAChannel:
    def __init__(self, base=0x1F0, ctrl=0x3F6, irq=14, master=None, slave=None):
        self.base, self.ctrl = base, ctrl
        self.irq = IRQLine(irq)
        self.drives = [self._drive(master), self._drive(slave)]
        self.machine = None
        self._power_on()

    @staticmethod
    def _drive(d):
        if d is None or getattr(d, "atapi", False):  # absent, or a packet device as it is
            return d
        return Drive(d if isinstance(d, Disk) else Disk(d))

    def _power_on(self):
        self.feature = self.count = self.lba_low = self.lba_mid = self.lba_high = 0
        self.hob = [0, 0, 0, 0, 0]  # feature, count, low, mid, high (previous writes)
        self.device = 0
        self.devctl = 0
        self.pending = False
        self.buf = b""
        self.pos = 0
        self.mode = None  # "in", "out"
        self.remaining = 0
        self.block = 1
        self.lba = 0
        self.lba48 = False
        self.on_block = None  # a packet device's next step when a data block is done
        for dr in self.drives:
            if dr is not None and dr.atapi:
                dr.power_on()
            elif dr is not None:
                dr.status, dr.error, dr.mult = DRDY | DSC, 0x01, 0
                dr.lheads, dr.lspt = dr.disk.heads, dr.disk.spt
        self._signature()

    def attach(self, machine):
        self.machine = machine
        self.irq.machine = machine
        machine.ports.register(range(self.base, self.base + 8), read=self._read, write=self._write)
        machine.ports.register(self.ctrl, read=self._read_alt, write=self._write_ctrl)

    # -- snapshots (jitemu/snapshot.py) ---------------------------------------------
    STATE = ("feature", "count", "lba_low", "lba_mid", "lba_high", "hob", "device", "devctl", "pending",
             "pos", "mode", "remaining", "block", "lba", "lba48")
    DRIVE = ("status", "error", "lheads", "lspt", "mult")

    def snapshot(self):
        if self.on_block is not None:
            raise ValueError("a packet command is in progress")  # (its next step is a continuation)
        st = capture(self, self.STATE)
        st.update(buf=bytes(self.buf), buf_writable=isinstance(self.buf, bytearray), irq=self.irq.level,
                  drives=[None if d is None else {"atapi": d.snapshot()} if d.atapi else
                          dict(capture(d, self.DRIVE), disk=d.disk.snapshot()) for d in self.drives])
        return st

    def restore(self, state):
        if [d is None for d in self.drives] != [d is None for d in state["drives"]]:
            raise ValueError("the IDE drives differ from the snapshot's")
        apply(self, state, self.STATE)
        self.hob = list(self.hob)
        self.buf = bytearray(state["buf"]) if state["buf_writable"] else state["buf"]
        self.irq.level = state["irq"]
        self.on_block = None
        for d, ds in zip(self.drives, state["drives"]):
            if d is None:
                continue
            if d.atapi != ("atapi" in ds):
                raise ValueError("the IDE drives differ from the snapshot's")
            if d.atapi:
                d.restore(ds["atapi"])
            else:
                apply(d, ds, self.DRIVE)
                d.disk.restore(ds["disk"])

    def reset(self):
        self._power_on()
        self._update_irq()

    # -- helpers ----------------------------------------------------------------
    @property
    def selected(self):
        return (self.device >> 4) & 1

    @property
    def drive(self):
        return self.drives[self.selected]

    def _signature(self):
        dr = self.drive
        self.count, self.lba_low, self.lba_mid, self.lba_high = 1, 1, 0, 0
        if dr is not None and dr.atapi:
            self.lba_mid, self.lba_high = 0x14, 0xEB  # the packet device signature
        self.device &= 0x10

    def _update_irq(self):
        self.irq.set(1 if self.pending and not self.devctl & 2 else 0)

    def _interrupt(self):
        self.pending = True
        self._update_irq()

    def _empty(self):
        return self.drives[0] is None and self.drives[1] is None

    # -- ports ----------------------------------------------------------------------
    def _read(self, port, size):
        if self._empty():
            return (1 << (8 * size)) - 1
        r = port - self.base
        if r == 0:
            return self._read_data(size)
        dr = self.drive
        if dr is None:
            return 0
        hob = bool(self.devctl & 0x80)
        if r == 1:
            return self.hob[0] if hob else dr.error
        if r == 2:
            return self.hob[1] if hob else self.count
        if r == 3:
            return self.hob[2] if hob else self.lba_low
        if r == 4:
            return self.hob[3] if hob else self.lba_mid
        if r == 5:
            return self.hob[4] if hob else self.lba_high
        if r == 6:
            return self.device | 0xA0
        self.pending = False
        self._update_irq()
        return dr.status

    def _read_alt(self, port, size):
        if self._empty():
            return 0xFF
        dr = self.drive
        return dr.status if dr is not None else 0

    def _write(self, port, value, size):
        r = port - self.base
        if r == 0:
            self._write_data(value, size)
            return
        v = value & 0xFF
        self.devctl &= ~0x80
        if r == 1:
            self.hob[0], self.feature = self.feature, v
        elif r == 2:
            self.hob[1], self.count = self.count, v
        elif r == 3:
            self.hob[2], self.lba_low = self.lba_low, v
        elif r == 4:
            self.hob[3], self.lba_mid = self.lba_mid, v
        elif r == 5:
            self.hob[4], self.lba_high = self.lba_high, v
        elif r == 6:
            self.device = v & 0x5F
        else:
            self._command(v)

    def _write_ctrl(self, port, value, size):
        v = value & 0xFF
        if v & 4 and not self.devctl & 4:  # SRST asserted
            for dr in self.drives:
                if dr is not None:
                    dr.status = BSY
            self.mode = None
        elif not v & 4 and self.devctl & 4:  # released: reset done
            for dr in self.drives:
                if dr is not None:
                    dr.status, dr.error = DRDY | DSC, 0x01
            self.device = 0
            self._signature()
        self.devctl = v & 0x86
        self._update_irq()

    # -- data transfer ----------------------------------------------------------------
    def _read_data(self, size):
        if self.mode != "in":
            return 0
        chunk = self.buf[self.pos:self.pos + size]
        self.pos += size
        if self.pos >= len(self.buf):
            self._block_done()
        return int.from_bytes(chunk.ljust(size, b"\0"), "little")

    def _write_data(self, value, size):
        if self.mode != "out":
            return
        self.buf[self.pos:self.pos + size] = value.to_bytes(size, "little")
        self.pos += size
        if self.pos >= len(self.buf):
            self._block_done()

    def _start_block(self):
        n = min(self.block, self.remaining)
        dr = self.drive
        if self.mode == "in":
            self.buf = dr.disk.read(self.lba, n) if self.lba is not None else self.buf
        else:
            self.buf = bytearray(n * SECTOR)
        self.pos = 0
        dr.status = DRDY | DSC | DRQ

    def _block_done(self):
        if self.on_block is not None:
            self.on_block()
            return
        dr = self.drive
        n = len(self.buf) // SECTOR
        if self.mode == "out":
            dr.disk.write(self.lba, bytes(self.buf))
        if self.lba is not None:
            self.lba += n
            self._set_address(self.lba)
        self.remaining -= n
        self._set_count(self.remaining)
        if self.remaining > 0:
            self._start_block()
            self._interrupt()
        else:
            mode, self.mode = self.mode, None
            dr.status = DRDY | DSC
            if mode == "out":
                self._interrupt()

    # -- addressing ----------------------------------------------------------------------
    def _address(self):
        """The starting sector of a command, or None when CHS is invalid."""
        if self.lba48:
            return (self.lba_low | self.lba_mid << 8 | self.lba_high << 16 | self.hob[2] << 24
                    | self.hob[3] << 32 | self.hob[4] << 40)
        if self.device & 0x40:
            return self.lba_low | self.lba_mid << 8 | self.lba_high << 16 | (self.device & 0x0F) << 24
        dr = self.drive
        cyl = self.lba_mid | self.lba_high << 8
        head = self.device & 0x0F
        sec = self.lba_low
        if sec == 0 or sec > dr.lspt or head >= dr.lheads:
            return None
        return (cyl * dr.lheads + head) * dr.lspt + sec - 1

    def _set_address(self, lba):
        if self.lba48:
            self.hob[2], self.hob[3], self.hob[4] = (lba >> 24) & 0xFF, (lba >> 32) & 0xFF, (lba >> 40) & 0xFF
            self.lba_low, self.lba_mid, self.lba_high = lba & 0xFF, (lba >> 8) & 0xFF, (lba >> 16) & 0xFF
        elif self.device & 0x40:
            self.lba_low, self.lba_mid, self.lba_high = lba & 0xFF, (lba >> 8) & 0xFF, (lba >> 16) & 0xFF
            self.device = (self.device & 0xF0) | ((lba >> 24) & 0x0F)
        else:
            dr = self.drive
            cyl, rest = divmod(lba, dr.lheads * dr.lspt)
            head, sec = divmod(rest, dr.lspt)
            self.lba_low, self.lba_mid, self.lba_high = sec + 1, cyl & 0xFF, (cyl >> 8) & 0xFF
            self.device = (self.device & 0xF0) | head

    def _set_count(self, n):
        if self.lba48:
            self.hob[1], self.count = (n >> 8) & 0xFF, n & 0xFF
        else:
            self.count = n & 0xFF

    def _sector_count(self):
        if self.lba48:
            n = self.count | self.hob[1] << 8
            return n or 65536
        return self.count or 256

    # -- commands ------------------------------------------------------------------------
    def _abort(self, error=ABRT):
        dr = self.drive
        dr.error = error
        dr.status = DRDY | DSC | ERR
        self.mode = None
        self._interrupt()

    def _ok(self):
        dr = self.drive
        dr.error = 0
        dr.status = DRDY | DSC
        self._interrupt()

    def _command(self, cmd):
        dr = self.drive
        self.pending = False
        self._update_irq()
        if dr is None:
            return  # an absent device ignores commands
        if dr.status & BSY:
            return
        if dr.atapi:
            dr.command(self, cmd)
            return
        self.on_block = None
        dr.error = 0
        self.lba48 = cmd in (0x24, 0x34, 0x29, 0x39, 0x42, 0x27)
        if cmd == 0xEC:
            self.mode, self.lba, self.remaining, self.block = "in", None, 1, 1
            self.buf = dr.identify()
            self.pos = 0
            dr.status = DRDY | DSC | DRQ
            self._interrupt()
        elif cmd in (0x20, 0x21, 0x24, 0xC4, 0x29, 0x30, 0x31, 0x34, 0xC5, 0x39):
            multiple = cmd in (0xC4, 0x29, 0xC5, 0x39)
            if multiple and not dr.mult:
                self._abort()
                return
            lba, n = self._address(), self._sector_count()
            if lba is None or lba + n > dr.disk.sectors:
                self._abort(IDNF)
                return
            self.lba, self.remaining = lba, n
            self.block = dr.mult if multiple else 1
            self.mode = "in" if cmd in (0x20, 0x21, 0x24, 0xC4, 0x29) else "out"
            self._start_block()
            if self.mode == "in":
                self._interrupt()
        elif cmd in (0x40, 0x41, 0x42):  # READ VERIFY
            lba, n = self._address(), self._sector_count()
            if lba is None or lba + n > dr.disk.sectors:
                self._abort(IDNF)
            else:
                self._set_address(lba + n - 1)
                self._ok()
        elif cmd == 0xC6:  # SET MULTIPLE MODE
            n = self.count
            if n == 0 or n > MAX_MULT or n & (n - 1):
                self._abort()
            else:
                dr.mult = n
                self._ok()
        elif cmd == 0x91:  # INITIALIZE DEVICE PARAMETERS
            if self.count == 0:
                self._abort()
            else:
                dr.lspt, dr.lheads = self.count, (self.device & 0x0F) + 1
                self._ok()
        elif cmd == 0xEF:  # SET FEATURES
            if self.feature in (0x02, 0x03, 0x55, 0x66, 0x82, 0xAA, 0xCC):
                self._ok()
            else:
                self._abort()
        elif cmd == 0x27:  # READ NATIVE MAX ADDRESS EXT
            self._set_address(dr.disk.sectors - 1)
            self._ok()
        elif cmd == 0xF8:  # READ NATIVE MAX ADDRESS
            if self.device & 0x40:
                self._set_address(min(dr.disk.sectors, 0x10000000) - 1)
                self._ok()
            else:
                self._abort()
        elif cmd == 0xE5:  # CHECK POWER MODE: active
            self.count = 0xFF
            self._ok()
        elif 0x10 <= cmd <= 0x1F or cmd in (0x70, 0xE7, 0xEA, 0xE0, 0xE1, 0xE2, 0xE3):
            self._ok()
        elif cmd == 0x90:  # EXECUTE DEVICE DIAGNOSTIC
            for d in self.drives:
                if d is not None:
                    d.status, d.error = DRDY | DSC, 0x01
            self.device &= 0x10
            self._signature()
            self._interrupt()
        else:
            self._abort()
