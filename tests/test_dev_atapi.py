"""The ATAPI CD-ROM on the secondary IDE channel: its signature, IDENTIFY
(PACKET) DEVICE, the PACKET protocol (the command through the data port,
data in pieces no larger than the byte count limit, interrupt reasons and
IRQ 15), and the SCSI/MMC commands SeaBIOS and GRUB use, with their sense
data on failure."""
import struct

import pytest

from jitemu.devices.ata import ATAChannel
from jitemu.devices.atapi import ATAPIDrive, CDROM
from jitemu.devices.pic import PIC
from jitemu.machine import Machine

SECTORS = 40
BASE, CTRL = 0x170, 0x376
DRQ, ERR = 0x08, 0x01


def iso():
    """Each 2048-byte sector filled with its number."""
    return b"".join(bytes([n]) * 2048 for n in range(SECTORS))


def setup(medium=True):
    m = Machine(memory_mb=1)
    m.attach(PIC())
    ch = m.attach(ATAChannel(BASE, CTRL, 15, master=ATAPIDrive(CDROM(iso()) if medium else None)))
    return m, ch


def reg(m, r):
    return m.ports.read(BASE + r, 1)


def send_packet(m, cdb, limit=0xFFFE):
    w = m.ports.write
    w(BASE + 6, 0xA0, 1)
    w(BASE + 1, 0, 1)  # PIO
    w(BASE + 4, limit & 0xFF, 1)
    w(BASE + 5, limit >> 8, 1)
    w(BASE + 7, 0xA0, 1)
    assert m.ports.read(CTRL, 1) & DRQ and reg(m, 2) == 0x01  # C/D: waiting for the packet
    cdb = bytes(cdb).ljust(12, b"\0")
    for i in range(0, 12, 2):
        w(BASE, cdb[i] | cdb[i + 1] << 8, 2)


def transfer(m, ch):
    """The pieces of data the drive hands over, each announced with an
    interrupt, I/O=1 C/D=0 and its size; then the status at the end."""
    pieces = []
    while m.ports.read(CTRL, 1) & DRQ:
        assert ch.irq.level == 1 and reg(m, 2) == 0x02
        n = reg(m, 4) | reg(m, 5) << 8
        reg(m, 7)  # status: acknowledges the interrupt
        pieces.append(b"".join(m.ports.read(BASE, 2).to_bytes(2, "little") for _ in range((n + 1) // 2))[:n])
    assert ch.irq.level == 1 and reg(m, 2) == 0x03  # C/D and I/O: the command is done
    return pieces, reg(m, 7)


def command(m, ch, cdb, limit=0xFFFE):
    send_packet(m, cdb, limit)
    pieces, status = transfer(m, ch)
    return b"".join(pieces), status


def sense(m, ch):
    data, status = command(m, ch, [0x03, 0, 0, 0, 18, 0])
    return data[2] & 0x0F, data[12], data[13]


def test_the_packet_signature_after_reset():
    m, ch = setup()
    assert (reg(m, 2), reg(m, 3), reg(m, 4), reg(m, 5)) == (1, 1, 0x14, 0xEB)
    m.ports.write(CTRL, 0x06, 1)  # SRST
    m.ports.write(CTRL, 0x02, 1)
    assert (reg(m, 4), reg(m, 5)) == (0x14, 0xEB)


def test_identify_device_aborts_with_the_signature():
    m, ch = setup()
    m.ports.write(BASE + 4, 0, 1)
    m.ports.write(BASE + 7, 0xEC, 1)
    assert reg(m, 7) & ERR and reg(m, 1) == 0x04
    assert (reg(m, 4), reg(m, 5)) == (0x14, 0xEB)


def test_identify_packet_device():
    m, ch = setup()
    m.ports.write(BASE + 7, 0xA1, 1)
    assert ch.irq.level == 1 and reg(m, 7) & DRQ
    words = [m.ports.read(BASE, 2) for _ in range(256)]
    assert words[0] >> 14 == 2 and (words[0] >> 8) & 0x1F == 5  # ATAPI, CD-ROM
    assert words[0] & 0x80  # removable
    model = b"".join(x.to_bytes(2, "big") for x in words[27:47]).decode().strip()
    assert model == "JITEMU DVD-ROM"
    assert not reg(m, 7) & DRQ


def test_inquiry_says_cd_rom_and_stops_at_the_allocation_length():
    m, ch = setup()
    data, status = command(m, ch, [0x12, 0, 0, 0, 36, 0])
    assert status == 0x50
    assert data[0] == 0x05 and data[1] & 0x80 and data[8:16] == b"JITEMU  "
    data, _ = command(m, ch, [0x12, 0, 0, 0, 5, 0])
    assert len(data) == 5


def test_test_unit_ready_and_read_capacity():
    m, ch = setup()
    data, status = command(m, ch, [0x00])
    assert data == b"" and status == 0x50
    data, _ = command(m, ch, [0x25])
    assert struct.unpack(">II", data) == (SECTORS - 1, 2048)


def test_read10_comes_in_pieces_of_the_byte_count_limit():
    m, ch = setup()
    send_packet(m, [0x28, 0, 0, 0, 0, 5, 0, 0, 3, 0], limit=2048)
    pieces, status = transfer(m, ch)
    assert [len(p) for p in pieces] == [2048, 2048, 2048]
    assert pieces == [bytes([n]) * 2048 for n in (5, 6, 7)]
    assert status == 0x50


def test_an_odd_byte_count_limit_is_rounded_down_to_even():
    m, ch = setup()
    send_packet(m, [0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0], limit=1001)
    pieces, _ = transfer(m, ch)
    assert [len(p) for p in pieces] == [1000, 1000, 48]
    assert b"".join(pieces) == bytes([1]) * 2048


def test_read12_and_a_read_past_the_end():
    m, ch = setup()
    data, _ = command(m, ch, [0xA8, 0, 0, 0, 0, SECTORS - 1, 0, 0, 0, 1, 0, 0])
    assert data == bytes([SECTORS - 1]) * 2048
    data, status = command(m, ch, [0x28, 0, 0, 0, 0, SECTORS - 1, 0, 0, 2, 0])
    assert status & ERR and reg(m, 1) >> 4 == 0x5  # sense key in the error register
    assert sense(m, ch) == (0x5, 0x21, 0)  # ILLEGAL REQUEST, LBA out of range
    assert sense(m, ch) == (0, 0, 0)  # reported once


def test_an_unknown_command_is_an_illegal_request():
    m, ch = setup()
    _, status = command(m, ch, [0xFF])
    assert status & ERR
    assert sense(m, ch) == (0x5, 0x20, 0)


def test_no_medium_is_not_ready():
    m, ch = setup(medium=False)
    _, status = command(m, ch, [0x00])
    assert status & ERR
    assert sense(m, ch) == (0x2, 0x3A, 0)


def test_read_toc_in_lba_and_msf():
    m, ch = setup()
    data, _ = command(m, ch, [0x43, 0, 0, 0, 0, 0, 0, 0, 100, 0])
    assert data[2:4] == b"\x01\x01"  # first and last track
    assert data[4 + 2] == 1 and struct.unpack(">I", data[8:12])[0] == 0
    assert data[12 + 2] == 0xAA and struct.unpack(">I", data[16:20])[0] == SECTORS
    data, _ = command(m, ch, [0x43, 0x02, 0, 0, 0, 0, 0, 0, 100, 0])
    assert data[16:20] == bytes([0, 0, 2, 40])  # lead-out: LBA 40 + 150 frames = 00:02:40


def test_get_configuration_reports_the_cd_rom_profile():
    m, ch = setup()
    data, _ = command(m, ch, [0x46, 0, 0, 0, 0, 0, 0, 0, 8, 0])
    assert struct.unpack(">H", data[6:8])[0] == 0x0008


def test_get_event_status_notification_polled_media_class():
    m, ch = setup()
    data, _ = command(m, ch, [0x4A, 0x01, 0, 0, 0x10, 0, 0, 0, 8, 0])
    assert data[2] == 4 and data[5] == 0x02  # media class: a medium is present
    _, status = command(m, ch, [0x4A, 0x00, 0, 0, 0x10, 0, 0, 0, 8, 0])
    assert status & ERR  # asynchronous operation is not supported


def test_mode_sense_capabilities_page():
    m, ch = setup()
    data, _ = command(m, ch, [0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 64, 0])
    assert struct.unpack(">H", data[0:2])[0] == len(data) - 2
    assert data[8] == 0x2A


@pytest.mark.parametrize("cdb", [[0x1B, 0, 0, 0, 0x01, 0], [0x1E, 0, 0, 0, 0x01, 0]])
def test_start_stop_unit_and_prevent_allow_medium_removal_succeed(cdb):
    m, ch = setup()
    data, status = command(m, ch, cdb)
    assert data == b"" and status == 0x50
