"""An ATAPI CD/DVD-ROM drive for an ata.ATAChannel (QEMU's ide-cd:
`-cdrom` is the secondary channel's master).

The ATA side: the packet signature (cylinder registers 0x14/0xEB) after
reset and for IDENTIFY DEVICE (which aborts, as ATA-4 says), IDENTIFY
PACKET DEVICE (0xA1), PACKET (0xA0), DEVICE RESET (0x08), EXECUTE DEVICE
DIAGNOSTIC, SET FEATURES and the power commands.  PACKET takes the 12-byte
command through the data port (DRQ, interrupt reason C/D=1 I/O=0, no
interrupt), then moves data by PIO in pieces no larger than the byte count
limit the host put in the cylinder registers (rounded down to even), each
with DRQ, interrupt reason I/O=1 and the size in the cylinder registers,
and an interrupt; the end of a command is status DRDY (and ERR with the
sense key in the error register's high nibble on failure), interrupt
reason C/D=1 I/O=1, and an interrupt.  DMA (feature bit 0) is not
offered: a command asking for it gets ILLEGAL REQUEST.

SCSI/MMC commands: TEST UNIT READY, REQUEST SENSE, INQUIRY, READ CAPACITY,
READ(10), READ(12), MODE SENSE(6/10) (pages 01, 0D, 2A, 3F), GET
CONFIGURATION, READ TOC (formats 0 and 1, LBA or MSF), START STOP UNIT,
PREVENT ALLOW MEDIUM REMOVAL, GET EVENT STATUS NOTIFICATION (polled, media
class), SEEK(10), READ DISC INFORMATION, MECHANISM STATUS; others get
ILLEGAL REQUEST / invalid command operation code.  The medium cannot be
ejected and there is no unit attention at power-on.
"""
import os
import struct

from .ata import DRDY, DSC, DRQ, ERR, ABRT, Disk, ata_string

BLOCK = 2048
CD_MAX_SECTORS = 80 * 60 * 75  # an 80-minute CD; a larger medium is a DVD (QEMU's rule)

NO_SENSE, NOT_READY, ILLEGAL_REQUEST = 0x0, 0x2, 0x5
ASC_INVALID_OPCODE, ASC_LBA_OUT_OF_RANGE, ASC_INVALID_FIELD, ASC_NO_MEDIUM = 0x20, 0x21, 0x24, 0x3A


class CDROM:
    """An ISO image (a path, opened and read as needed, or bytes)."""

    def __init__(self, image):
        self.disk = image if isinstance(image, Disk) else Disk(image, readonly=True)
        self.sectors = self.disk.size // BLOCK

    @property
    def size(self):
        return self.disk.size

    @property
    def dvd(self):
        return self.sectors > CD_MAX_SECTORS

    def read(self, lba, n):
        return self.disk.read(lba * 4, n * 4)

    def close(self):
        self.disk.close()


class ATAPIDrive:
    atapi = True  # ata.ATAChannel hands it the ATA commands

    def __init__(self, medium=None, model="JITEMU DVD-ROM", serial="JE0002"):
        if medium is not None and not isinstance(medium, CDROM):
            medium = CDROM(medium)
        self.medium = medium
        self.model, self.serial = model, serial
        self.power_on()

    def snapshot(self):
        return {"status": self.status, "error": self.error, "sense": list(self.sense),
                "medium": None if self.medium is None else self.medium.disk.snapshot()}

    def restore(self, state):
        if (self.medium is None) != (state["medium"] is None):
            raise ValueError("the CD-ROM drive's medium differs from the snapshot's")
        self.status, self.error, self.sense = state["status"], state["error"], tuple(state["sense"])
        if self.medium is not None:
            self.medium.disk.restore(state["medium"])

    def power_on(self):
        self.status = DRDY | DSC
        self.error = 0x01
        self.sense = (NO_SENSE, 0, 0)

    # -- the ATA command set ------------------------------------------------------
    def command(self, ch, cmd):
        ch.on_block = None
        ch.mode = None
        if cmd == 0xA1:  # IDENTIFY PACKET DEVICE
            self._identify_in(ch, self.identify())
        elif cmd == 0xA0:  # PACKET
            if ch.feature & 1:  # DMA: not offered
                self._ata_abort(ch)
                return
            ch.mode, ch.buf, ch.pos = "out", bytearray(12), 0
            ch.count = 0x01  # C/D: the command packet
            self.status = DRDY | DSC | DRQ
            ch.on_block = lambda: self._packet(ch, bytes(ch.buf))
        elif cmd in (0x08, 0x90):  # DEVICE RESET, EXECUTE DEVICE DIAGNOSTIC
            self.power_on()
            ch._signature()
            if cmd == 0x90:
                ch._interrupt()
        elif cmd == 0xEC:  # IDENTIFY DEVICE: abort with the signature, so hosts know
            ch._signature()
            self._ata_abort(ch)
        elif cmd == 0xEF or cmd in (0xE0, 0xE1, 0xE2, 0xE3, 0xE5, 0xE7):
            if cmd == 0xE5:
                ch.count = 0xFF
            self.error = 0
            self.status = DRDY | DSC
            ch._interrupt()
        else:
            self._ata_abort(ch)

    def _ata_abort(self, ch):
        self.error = ABRT
        self.status = DRDY | DSC | ERR
        ch.mode = None
        ch._interrupt()

    def identify(self):
        w = [0] * 256
        # ATAPI, CD-ROM, removable, DRQ within 50 us, 12-byte packets
        w[0] = (2 << 14) | (5 << 8) | (1 << 7) | (2 << 5)
        w[10:20] = ata_string(self.serial, 10)
        w[20], w[21] = 3, 512
        w[23:27] = ata_string("1.0", 4)
        w[27:47] = ata_string(self.model, 20)
        w[49] = 1 << 9  # LBA; no DMA
        w[53] = 0x0003
        w[64] = 0x0003  # PIO modes 3 and 4
        w[65] = w[66] = w[67] = w[68] = 120
        w[71], w[72] = 30, 30
        w[80] = 0x001E  # ATA/ATAPI-1..4
        w[82] = w[85] = 1 << 4  # PACKET feature set
        return b"".join(x.to_bytes(2, "little") for x in w)

    # -- PIO ----------------------------------------------------------------------------
    def _identify_in(self, ch, data):
        """An ATA command's data (IDENTIFY PACKET DEVICE): one block, no
        interrupt reason."""
        ch.mode, ch.buf, ch.pos = "in", data, 0
        self.status, self.error = DRDY | DSC | DRQ, 0

        def done():
            ch.mode, ch.on_block = None, None
            self.status = DRDY | DSC
        ch.on_block = done
        ch._interrupt()

    def _send(self, ch, pending, more, limit):
        """Hand the host `pending` then what more() gives (b"" at the end)
        in pieces of at most `limit` bytes, each with an interrupt; then
        complete the command."""
        if not pending and more is not None:
            pending = more()
        if not pending:
            self._complete(ch)
            return
        piece, rest = pending[:limit], pending[limit:]
        ch.mode, ch.buf, ch.pos = "in", piece, 0
        ch.count = 0x02  # I/O: to the host
        ch.lba_mid, ch.lba_high = len(piece) & 0xFF, len(piece) >> 8
        self.status = DRDY | DSC | DRQ
        ch.on_block = lambda: self._send(ch, rest, more, limit)
        ch._interrupt()

    def _complete(self, ch, sense=None):
        ch.mode, ch.on_block = None, None
        ch.count = 0x03  # C/D and I/O: status
        if sense is None:
            self.status, self.error = DRDY | DSC, 0
            self.sense = (NO_SENSE, 0, 0)
        else:
            self.sense = sense
            self.status, self.error = DRDY | DSC | ERR, (sense[0] << 4) | ABRT
        ch._interrupt()

    # -- packet commands ------------------------------------------------------------------
    def _packet(self, ch, cdb):
        limit = ch.lba_mid | ch.lba_high << 8
        if limit == 0 or limit == 0xFFFF:
            limit = 0xFFFE
        limit &= ~1
        op = cdb[0]
        handler = COMMANDS.get(op)
        if handler is None:
            self._complete(ch, (ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0))
            return
        name, needs_medium = handler
        if needs_medium and self.medium is None:
            self._complete(ch, (NOT_READY, ASC_NO_MEDIUM, 0))
            return
        result = getattr(self, "_scsi_" + name)(cdb)
        if isinstance(result, tuple):  # sense: the command failed
            self._complete(ch, result)
        elif callable(result):  # a long read, a few sectors at a time
            self._send(ch, b"", result, limit)
        else:
            self._send(ch, result, None, limit)

    @staticmethod
    def _alloc(data, n):
        return bytes(data[:n])

    def _scsi_test_unit_ready(self, cdb):
        return b""

    def _scsi_request_sense(self, cdb):
        key, asc, ascq = self.sense
        data = bytearray(18)
        data[0], data[2], data[7], data[12], data[13] = 0x70, key, 10, asc, ascq
        self.sense = (NO_SENSE, 0, 0)
        return self._alloc(data, cdb[4])

    def _scsi_inquiry(self, cdb):
        data = bytearray(36)
        data[0], data[1], data[2], data[3], data[4] = 0x05, 0x80, 0x00, 0x21, 31
        data[8:16] = b"JITEMU  "
        data[16:32] = self.model.encode().ljust(16)[:16]
        data[32:36] = b"1.0 "
        return self._alloc(data, cdb[4])

    def _scsi_read_capacity(self, cdb):
        return struct.pack(">II", self.medium.sectors - 1, BLOCK)

    def _read(self, lba, count):
        if lba + count > self.medium.sectors:
            return (ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0)
        if count == 0:
            return b""
        # At most 16 sectors a piece of the host's transfer are read at once,
        # so a long read costs no more memory than that.
        state = {"lba": lba, "left": count}
        medium = self.medium

        def more():
            n = min(16, state["left"])
            if not n:
                return b""
            data = medium.read(state["lba"], n)
            state["lba"] += n
            state["left"] -= n
            return data
        return more

    def _scsi_read10(self, cdb):
        lba, = struct.unpack(">I", cdb[2:6])
        return self._read(lba, cdb[7] << 8 | cdb[8])

    def _scsi_read12(self, cdb):
        lba, count = struct.unpack(">II", cdb[2:10])
        return self._read(lba, count)

    def _mode_pages(self, page):
        pages = {
            0x01: bytes([0x01, 0x06, 0x00, 0x05, 0, 0, 0, 0]),  # read error recovery
            0x0D: bytes([0x0D, 0x06, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x4B]),  # CD device parameters
            # capabilities: reads CD-R/RW, DVD-ROM; audio, eject, lock; 16x
            0x2A: bytes([0x2A, 0x12, 0x3B, 0x00, 0x71, 0x60, 0x29, 0x00, 0x0B, 0x06, 0x00, 0x02,
                         0x02, 0x00, 0x0B, 0x06, 0x00, 0x00, 0x00, 0x00]),
        }
        if page == 0x3F:
            return b"".join(pages[p] for p in sorted(pages))
        return pages.get(page)

    def _scsi_mode_sense10(self, cdb):
        body = self._mode_pages(cdb[2] & 0x3F)
        if body is None or cdb[2] >> 6 == 3:  # saved values are not supported
            return (ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0)
        data = struct.pack(">HBBxxxx", 6 + len(body), 0x70, 0) + body
        return self._alloc(data, cdb[7] << 8 | cdb[8])

    def _scsi_mode_sense6(self, cdb):
        body = self._mode_pages(cdb[2] & 0x3F)
        if body is None or cdb[2] >> 6 == 3:
            return (ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0)
        data = bytes([3 + len(body), 0x70, 0, 0]) + body
        return self._alloc(data, cdb[4])

    def _profile(self):
        if self.medium is None:
            return 0
        return 0x0010 if self.medium.dvd else 0x0008  # DVD-ROM, CD-ROM

    def _scsi_get_configuration(self, cdb):
        current = self._profile()
        profiles = [(0x0010, current == 0x0010), (0x0008, current == 0x0008)]
        plist = b"".join(struct.pack(">HBx", p, cur) for p, cur in profiles)
        features = struct.pack(">HBB", 0x0000, 0x03, len(plist)) + plist
        features += struct.pack(">HBBIBxxx", 0x0001, 0x0B, 8, 2, 1)  # core: ATAPI, DBE
        features += struct.pack(">HBBBxxx", 0x0003, 0x0B, 4, 0x29)  # removable medium: tray, lock
        rt = cdb[1] & 3
        start = cdb[2] << 8 | cdb[3]
        if rt == 2:  # the one feature asked for
            chosen = b""
            pos = 0
            while pos < len(features):
                code, length = struct.unpack(">H", features[pos:pos + 2])[0], features[pos + 3]
                if code == start:
                    chosen = features[pos:pos + 4 + length]
                pos += 4 + length
            features = chosen
        data = struct.pack(">IxxH", 4 + len(features), current) + features
        return self._alloc(data, cdb[7] << 8 | cdb[8])

    @staticmethod
    def _msf(lba):
        lba += 150
        return bytes([0, lba // (75 * 60), lba // 75 % 60, lba % 75])

    def _scsi_read_toc(self, cdb):
        msf = cdb[1] & 2
        fmt = cdb[2] & 0x0F or cdb[9] >> 6
        addr = (lambda lba: self._msf(lba)) if msf else (lambda lba: struct.pack(">I", lba))
        if fmt == 0:
            track = cdb[6]
            if track > 1 and track != 0xAA:
                return (ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0)
            body = b""
            if track <= 1:
                body += bytes([0, 0x14, 1, 0]) + addr(0)  # data track 1
            body += bytes([0, 0x16, 0xAA, 0]) + addr(self.medium.sectors)  # lead-out
            data = struct.pack(">HBB", 2 + len(body), 1, 1) + body
        elif fmt == 1:  # multi-session information: one session
            data = struct.pack(">HBB", 10, 1, 1) + bytes([0, 0x14, 1, 0]) + addr(0)
        else:
            return (ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0)
        return self._alloc(data, cdb[7] << 8 | cdb[8])

    def _scsi_start_stop_unit(self, cdb):
        return b""

    def _scsi_prevent_allow(self, cdb):
        return b""

    def _scsi_seek(self, cdb):
        lba, = struct.unpack(">I", cdb[2:6])
        return b"" if lba < self.medium.sectors else (ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0)

    def _scsi_get_event_status(self, cdb):
        if not cdb[1] & 1:  # only polled operation
            return (ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0)
        supported = 1 << 4  # media events
        if cdb[4] & supported:
            present = 0x02 if self.medium is not None else 0x00
            data = struct.pack(">HBB", 6, 4, supported) + bytes([0, present, 0, 0])
        else:
            data = struct.pack(">HBB", 2, 0x80, supported)  # no event available
        return self._alloc(data, cdb[7] << 8 | cdb[8])

    def _scsi_read_disc_information(self, cdb):
        data = struct.pack(">HBBBBBBIBBxx", 32, 0x0E, 1, 1, 1, 1, 0x20, 0, 0, 0) + bytes(20)
        return self._alloc(data[:34], cdb[7] << 8 | cdb[8])

    def _scsi_mechanism_status(self, cdb):
        data = bytes([0, 0, 0, 0, 0, 0, 0, 0])
        return self._alloc(data, cdb[8] << 8 | cdb[9])


# opcode: (handler, needs a medium)
COMMANDS = {
    0x00: ("test_unit_ready", True), 0x03: ("request_sense", False), 0x12: ("inquiry", False),
    0x25: ("read_capacity", True), 0x28: ("read10", True), 0xA8: ("read12", True),
    0x5A: ("mode_sense10", False), 0x1A: ("mode_sense6", False), 0x46: ("get_configuration", False),
    0x43: ("read_toc", True), 0x1B: ("start_stop_unit", False), 0x1E: ("prevent_allow", False),
    0x2B: ("seek", True), 0x4A: ("get_event_status", False), 0x51: ("read_disc_information", True),
    0xBD: ("mechanism_status", False),
}
