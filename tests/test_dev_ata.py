"""ATA PIO disk: IDENTIFY, READ/WRITE SECTORS in LBA28, CHS and LBA48,
READ/WRITE MULTIPLE, status/alt-status and IRQ14 semantics, nIEN, SRST,
errors, and the absent-device cases."""
import os
import tempfile

from jitemu.devices.ata import ATAChannel, Disk
from jitemu.devices.pic import PIC
from jitemu.machine import Machine

SECTORS = 2 * 16 * 63  # 2 cylinders


def image():
    return b"".join(bytes([i & 0xFF]) * 511 + bytes([i >> 8]) for i in range(SECTORS))


def setup(master=True, slave=False, img=None):
    m = Machine(memory_mb=1)
    pic = m.attach(PIC())
    ch = m.attach(ATAChannel(master=(img if img is not None else image()) if master else None,
                             slave=image() if slave else None))
    return m, ch, pic


def read_sector_words(m):
    return b"".join(m.ports.read(0x1F0, 2).to_bytes(2, "little") for _ in range(256))


def lba28(m, lba, count, cmd, dev=0):
    w = m.ports.write
    w(0x1F6, 0xE0 | dev << 4 | (lba >> 24), 1)
    w(0x1F2, count, 1)
    w(0x1F3, lba & 0xFF, 1); w(0x1F4, (lba >> 8) & 0xFF, 1); w(0x1F5, (lba >> 16) & 0xFF, 1)
    w(0x1F7, cmd, 1)


def test_identify_device():
    m, ch, pic = setup()
    assert m.ports.read(0x1F7, 1) == 0x50
    m.ports.write(0x1F6, 0xA0, 1)
    m.ports.write(0x1F7, 0xEC, 1)
    assert m.ports.read(0x3F6, 1) == 0x58  # DRQ; alt status leaves the IRQ
    assert pic.irr & (1 << 14)
    assert ch.irq.level == 1
    assert m.ports.read(0x1F7, 1) == 0x58 and ch.irq.level == 0
    data = read_sector_words(m)
    w = [int.from_bytes(data[i:i + 2], "little") for i in range(0, 512, 2)]
    assert w[0] == 0x0040 and (w[1], w[3], w[6]) == (2, 16, 63)
    assert w[60] | w[61] << 16 == SECTORS
    assert w[49] & 0x200  # LBA
    model = b"".join(x.to_bytes(2, "big") for x in w[27:47]).decode().strip()
    assert model == "JITEMU HARDDISK"
    assert sum(data) & 0xFF == 0 and data[510] == 0xA5  # integrity word
    assert m.ports.read(0x1F7, 1) == 0x50


def test_read_sectors_lba28_with_an_interrupt_per_sector():
    m, ch, pic = setup()
    lba28(m, 5, 2, 0x20)
    assert ch.irq.level and m.ports.read(0x1F7, 1) == 0x58
    s1 = read_sector_words(m)
    assert s1 == bytes([5]) * 511 + b"\0"
    assert ch.irq.level  # second sector ready
    assert m.ports.read(0x1F7, 1) == 0x58
    assert read_sector_words(m) == bytes([6]) * 511 + b"\0"
    assert m.ports.read(0x1F7, 1) == 0x50
    assert m.ports.read(0x1F3, 1) == 7 and m.ports.read(0x1F2, 1) == 0  # next sector, count 0


def test_write_sectors_then_read_back_and_image_file():
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(image())
        path = f.name
    try:
        m, ch, pic = setup(img=Disk(path))
        lba28(m, 100, 1, 0x30)
        assert m.ports.read(0x3F6, 1) == 0x58 and not ch.irq.level  # DRQ, no IRQ yet
        for i in range(256):
            m.ports.write(0x1F0, 0x4241 + i, 2)
        assert ch.irq.level and m.ports.read(0x1F7, 1) == 0x50
        lba28(m, 100, 1, 0x20)
        m.ports.read(0x1F7, 1)
        data = read_sector_words(m)
        assert data[:4] == bytes.fromhex("41424242")
        ch.drives[0].disk.file.close()
        with open(path, "rb") as f:
            f.seek(100 * 512)
            assert f.read(4) == bytes.fromhex("41424242")
    finally:
        os.unlink(path)


def test_chs_addressing_and_initialize_device_parameters():
    m, ch, pic = setup()
    w = m.ports.write
    # C/H/S = 1/2/3 with 16 heads, 63 sectors: LBA (1*16+2)*63+2 = 1136
    w(0x1F6, 0xA0 | 2, 1); w(0x1F2, 1, 1); w(0x1F3, 3, 1); w(0x1F4, 1, 1); w(0x1F5, 0, 1)
    w(0x1F7, 0x20, 1)
    m.ports.read(0x1F7, 1)
    assert read_sector_words(m) == bytes([1136 & 0xFF]) * 511 + bytes([1136 >> 8])
    # a 4-head, 17-sector translation
    w(0x1F6, 0xA0 | 3, 1); w(0x1F2, 17, 1); w(0x1F7, 0x91, 1)
    assert m.ports.read(0x1F7, 1) == 0x50
    w(0x1F6, 0xA0 | 1, 1); w(0x1F2, 1, 1); w(0x1F3, 1, 1); w(0x1F4, 2, 1); w(0x1F5, 0, 1)
    w(0x1F7, 0x20, 1)
    lba = (2 * 4 + 1) * 17
    m.ports.read(0x1F7, 1)
    assert read_sector_words(m)[0] == lba & 0xFF
    # sector 0 does not exist in CHS
    w(0x1F3, 0, 1); w(0x1F7, 0x20, 1)
    assert m.ports.read(0x1F7, 1) == 0x51 and m.ports.read(0x1F1, 1) == 0x10


def test_lba48_and_multiple():
    m, ch, pic = setup()
    w = m.ports.write
    w(0x1F6, 0x40, 1)
    w(0x1F2, 0, 1); w(0x1F2, 3, 1)  # count 3 (HOB 0)
    for reg, hi, lo in ((0x1F3, 0, 0x10), (0x1F4, 0, 0), (0x1F5, 0, 0)):
        w(reg, hi, 1); w(reg, lo, 1)
    w(0x1F2, 0, 1); w(0x1F2, 3, 1)
    w(0x1F7, 0x24, 1)
    m.ports.read(0x1F7, 1)
    assert [read_sector_words(m)[0] for _ in range(3)] == [0x10, 0x11, 0x12]
    # multiple: not set yet -> abort; then blocks of 4 with one IRQ per block
    lba28(m, 0, 8, 0xC4)
    assert m.ports.read(0x1F7, 1) & 1 and m.ports.read(0x1F1, 1) == 0x04
    w(0x1F2, 4, 1); w(0x1F7, 0xC6, 1)
    assert m.ports.read(0x1F7, 1) == 0x50
    lba28(m, 0, 8, 0xC4)
    assert m.ports.read(0x1F7, 1) == 0x58
    firsts = [read_sector_words(m)[0] for _ in range(4)]
    assert firsts == [0, 1, 2, 3] and ch.irq.level
    assert m.ports.read(0x1F7, 1) == 0x58
    assert [read_sector_words(m)[0] for _ in range(4)] == [4, 5, 6, 7]


def test_dword_data_port_and_set_features_and_unknown_command():
    m, ch, pic = setup()
    lba28(m, 1, 1, 0x20)
    data = b"".join(m.ports.read(0x1F0, 4).to_bytes(4, "little") for _ in range(128))
    assert data == bytes([1]) * 511 + b"\0"
    m.ports.write(0x1F1, 0x03, 1); m.ports.write(0x1F7, 0xEF, 1)
    assert m.ports.read(0x1F7, 1) == 0x50
    m.ports.write(0x1F7, 0xB0, 1)  # SMART: not supported
    assert m.ports.read(0x1F7, 1) == 0x51 and m.ports.read(0x1F1, 1) == 0x04
    lba28(m, SECTORS - 1, 2, 0x20)  # past the end
    assert m.ports.read(0x1F1, 1) == 0x10


def test_nien_masks_the_irq_and_srst_sets_the_signature():
    m, ch, pic = setup()
    m.ports.write(0x3F6, 0x02, 1)  # nIEN
    lba28(m, 0, 1, 0x20)
    assert ch.pending and ch.irq.level == 0
    m.ports.write(0x3F6, 0x06, 1)  # SRST
    assert m.ports.read(0x3F6, 1) & 0x80
    m.ports.write(0x3F6, 0x00, 1)
    assert m.ports.read(0x1F7, 1) == 0x50 and m.ports.read(0x1F1, 1) == 0x01
    assert [m.ports.read(p, 1) for p in (0x1F2, 0x1F3, 0x1F4, 0x1F5)] == [1, 1, 0, 0]


def test_absent_devices():
    m, ch, pic = setup()
    m.ports.write(0x1F6, 0xB0, 1)  # select the absent slave
    assert m.ports.read(0x1F7, 1) == 0x00
    m.ports.write(0x1F7, 0xEC, 1)
    assert m.ports.read(0x1F7, 1) == 0x00 and not ch.pending
    m2, ch2, _ = setup(master=False)
    assert m2.ports.read(0x1F7, 1) == 0xFF and m2.ports.read(0x3F6, 1) == 0xFF
