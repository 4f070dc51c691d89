"""The floppy controller (82077AA at 0x3F0, IRQ 6) and the 8237 DMA pair
that moves its data (channel 2): registers, the reset interrupt and its
four sense reports, seeks, READ/WRITE DATA through DMA into and out of RAM
with their result bytes, multi-track reads, the data-rate check SeaBIOS's
media sense relies on, FORMAT TRACK, and the CMOS bytes of the PC."""
import pytest

from jitemu.devices.dma import DMA
from jitemu.devices.fdc import FDC, Floppy
from jitemu.devices.pic import PIC
from jitemu.machine import Machine
from jitemu.pc import build_pc

SIZE = 1474560
SPT, HEADS = 18, 2


def image():
    """Each sector filled with its LBA's low byte, then its high byte last."""
    return b"".join(bytes([lba & 0xFF]) * 511 + bytes([lba >> 8]) for lba in range(SIZE // 512))


def sector(img, c, h, r):
    lba = (c * HEADS + h) * SPT + r - 1
    return img[lba * 512:(lba + 1) * 512]


def setup(img=None, drive_b=None):
    m = Machine(memory_mb=1)
    pic = m.attach(PIC())
    dma = m.attach(DMA())
    fdc = m.attach(FDC(drives=(Floppy(img if img is not None else image()), drive_b), dma=dma))
    return m, fdc, dma, pic


def out(m, port, value):
    m.ports.write(port, value, 1)


def inb(m, port):
    return m.ports.read(port, 1)


def command(m, *data):
    for b in data:
        assert inb(m, 0x3F4) & 0xC0 == 0x80  # RQM, to the controller
        out(m, 0x3F5, b)


def results(m):
    got = []
    while inb(m, 0x3F4) & 0xC0 == 0xC0:  # RQM and DIO: a result byte waits
        got.append(inb(m, 0x3F5))
    return got


def dma2(m, addr, length, mode):
    """Program channel 2 as SeaBIOS does: mask, address, count, mode, page, unmask."""
    out(m, 0x0A, 0x06)
    out(m, 0x0C, 0)
    out(m, 0x04, addr & 0xFF); out(m, 0x04, (addr >> 8) & 0xFF)
    out(m, 0x0C, 0)
    out(m, 0x05, (length - 1) & 0xFF); out(m, 0x05, (length - 1) >> 8)
    out(m, 0x0B, mode)
    out(m, 0x81, addr >> 16)
    out(m, 0x0A, 0x02)


READ_TO_MEMORY, WRITE_FROM_MEMORY = 0x46, 0x4A


def test_power_on_registers_and_version():
    m, fdc, _, _ = setup()
    assert inb(m, 0x3F4) == 0x80  # RQM: ready for a command
    assert inb(m, 0x3F2) == 0x0C  # out of reset, DMA and interrupts on
    assert inb(m, 0x3F7) & 0x80  # a medium was inserted: disk change
    command(m, 0x10)
    assert inb(m, 0x3F4) == 0xD0  # result phase: RQM, DIO, busy
    assert results(m) == [0x90]  # the 82077AA's enhanced controller
    assert inb(m, 0x3F4) == 0x80


def test_leaving_reset_raises_irq6_and_four_sense_interrupts_report_each_drive():
    m, fdc, _, pic = setup()
    out(m, 0x3F2, 0x08)  # into reset
    assert fdc.irq.level == 0
    out(m, 0x3F2, 0x0C)  # out of reset
    assert fdc.irq.level == 1 and pic.irr & (1 << 6)
    assert inb(m, 0x3F0) & 0x80  # status A: interrupt pending
    command(m, 0x08)
    assert results(m) == [0xC0, 0]
    assert fdc.irq.level == 0
    for drive in (1, 2, 3):
        command(m, 0x08)
        assert results(m) == [0xC0 | drive, 0]
    command(m, 0x08)
    assert results(m) == [0x80]  # nothing pending: invalid


def test_dsr_software_reset_also_interrupts():
    m, fdc, _, _ = setup()
    out(m, 0x3F4, 0x80)
    assert fdc.irq.level == 1


def test_seek_then_sense_interrupt_reports_the_cylinder_and_clears_disk_change():
    m, fdc, _, _ = setup()
    command(m, 0x0F, 0x04, 5)  # SEEK head 1 drive 0 to cylinder 5
    assert results(m) == [] and fdc.irq.level == 1
    command(m, 0x08)
    assert results(m) == [0x20, 5]  # seek end, drive 0 (no head bit, as QEMU's)
    assert fdc.irq.level == 0
    assert not inb(m, 0x3F7) & 0x80
    command(m, 0x04, 0x00)  # SENSE DRIVE STATUS
    assert results(m) == [0x28]  # ready, two-sided, not on track 0
    command(m, 0x07, 0x00)  # RECALIBRATE
    command(m, 0x08)
    assert results(m) == [0x20, 0]
    command(m, 0x04, 0x00)
    assert results(m) == [0x38]  # track 0 now


def test_read_data_moves_sectors_through_dma_into_ram_and_interrupts():
    img = image()
    m, fdc, _, pic = setup(img)
    dma2(m, 0x23000, 1024, READ_TO_MEMORY)
    command(m, 0x46, 0x04, 1, 1, 3, 2, 4, 0x1B, 0xFF)  # READ C1 H1 R3..4
    assert fdc.irq.level == 1 and pic.irr & (1 << 6)
    assert m.read_phys(0x23000, 1024) == sector(img, 1, 1, 3) + sector(img, 1, 1, 4)
    # ST0 (head 1, drive 0), ST1, ST2, then the sector after the last one
    # read: past EOT, without multi-track, sector 1 of the next cylinder.
    assert results(m) == [0x04, 0, 0, 2, 1, 1, 2]
    assert fdc.irq.level == 0  # reading the results ends the interrupt
    # The channel reached terminal count: status bit 2 (cleared by the
    # read), the count at 0xFFFF, the address moved on.
    assert inb(m, 0x08) & 0x04
    assert not inb(m, 0x08) & 0x04
    out(m, 0x0C, 0)
    assert inb(m, 0x04) | inb(m, 0x04) << 8 == 0x3400
    assert inb(m, 0x05) | inb(m, 0x05) << 8 == 0xFFFF


def test_read_waits_for_the_channel_to_be_unmasked():
    img = image()
    m, fdc, _, _ = setup(img)
    dma2(m, 0x4000, 512, READ_TO_MEMORY)
    out(m, 0x0A, 0x06)  # mask channel 2 again
    command(m, 0xE6, 0x00, 0, 0, 1, 2, 1, 0x1B, 0xFF)
    assert inb(m, 0x3F4) == 0x10  # executing: busy, no request for the CPU
    assert fdc.irq.level == 0
    assert inb(m, 0x08) & 0x40  # DMA status: channel 2 requests
    out(m, 0x0A, 0x02)
    assert fdc.irq.level == 1
    assert m.read_phys(0x4000, 512) == sector(img, 0, 0, 1)
    assert results(m) == [0x00, 0, 0, 0, 1, 1, 2]  # multi-track: past EOT on head 0, head 1


def test_a_multi_track_read_goes_on_to_head_1():
    img = image()
    m, _, _, _ = setup(img)
    dma2(m, 0x5000, 1024, READ_TO_MEMORY)
    command(m, 0xC6, 0x00, 2, 0, 18, 2, 18, 0x1B, 0xFF)  # MT: C2 H0 R18, EOT 18
    assert m.read_phys(0x5000, 1024) == sector(img, 2, 0, 18) + sector(img, 2, 1, 1)
    assert results(m) == [0x00, 0, 0, 2, 1, 2, 2]


def test_without_multi_track_a_read_ends_at_the_end_of_the_track():
    img = image()
    m, _, _, _ = setup(img)
    dma2(m, 0x5000, 1024, READ_TO_MEMORY)
    command(m, 0x46, 0x00, 2, 0, 18, 2, 18, 0x1B, 0xFF)
    assert m.read_phys(0x5000, 512) == sector(img, 2, 0, 18)
    assert m.read_phys(0x5200, 512) == bytes(512)  # not read
    assert results(m) == [0x00, 0, 0, 3, 0, 1, 2]


def test_write_data_takes_ram_through_dma_into_the_image():
    m, fdc, _, _ = setup()
    m.write_phys(0x6000, b"\x5A" * 512)
    dma2(m, 0x6000, 512, WRITE_FROM_MEMORY)
    command(m, 0xC5, 0x00, 3, 1, 7, 2, 7, 0x1B, 0xFF)
    assert results(m) == [0x00, 0, 0, 4, 0, 1, 2]  # C3 H1 R7 was the last of EOT 7
    assert fdc.drives[0].medium.read((3 * 2 + 1) * 18 + 6) == b"\x5A" * 512


def test_read_id_finds_the_medium_only_at_its_data_rate():
    m, _, _, _ = setup()
    out(m, 0x3F7, 0x01)  # 300 kbit/s: a 1.44M medium has no marks there
    command(m, 0x4A, 0x00)
    st = results(m)
    assert st[0] & 0xC0 == 0x40 and st[1] == 0x01  # abnormal end, missing address mark
    out(m, 0x3F7, 0x00)  # 500 kbit/s
    command(m, 0x0F, 0x00, 7)
    command(m, 0x08)
    results(m)
    command(m, 0x4A, 0x00)
    assert results(m) == [0x00, 0, 0, 7, 0, 1, 2]


def test_a_sector_beyond_the_track_is_not_found():
    m, fdc, _, _ = setup()
    dma2(m, 0x5000, 512, READ_TO_MEMORY)
    command(m, 0x46, 0x00, 0, 0, 19, 2, 19, 0x1B, 0xFF)
    st = results(m)
    assert st[0] == 0x40 and st[1] == 0x04  # no data
    assert fdc.irq.level == 0


def test_a_drive_without_a_medium_is_not_ready():
    m, _, _, _ = setup()
    command(m, 0x4A, 0x01)  # READ ID on drive B
    st = results(m)
    assert st[0] == 0x40 | 0x08 | 0x01


def test_specify_configure_perpendicular_lock_and_dumpreg():
    m, _, _, _ = setup()
    command(m, 0x03, 0xAF, 0x02)
    command(m, 0x13, 0x00, 0x57, 0x10)
    command(m, 0x12, 0x80 | 0x08)  # OW: drive 1 perpendicular
    command(m, 0x94)
    assert results(m) == [0x10]  # locked
    out(m, 0x3F4, 0x80)  # software reset: locked settings survive
    for _ in range(4):
        command(m, 0x08)
        results(m)
    command(m, 0x0E)
    assert results(m) == [0, 0, 0, 0, 0xAF, 0x02, 0, 0x80 | 0x08, 0x57, 0x10]
    command(m, 0x14)
    assert results(m) == [0x00]
    out(m, 0x3F4, 0x80)
    command(m, 0x0E)
    assert results(m)[8:] == [0x60, 0x00]  # unlocked: back to the reset configuration


def test_an_unknown_command_is_invalid():
    m, _, _, _ = setup()
    command(m, 0x1F)
    assert results(m) == [0x80]


def test_format_track_fills_the_sectors_it_is_given():
    m, fdc, _, _ = setup()
    ids = b"".join(bytes([1, 0, r, 2]) for r in range(1, 19))
    m.write_phys(0x7000, ids)
    dma2(m, 0x7000, len(ids), WRITE_FROM_MEMORY)
    command(m, 0x4D, 0x00, 2, 18, 0x6C, 0xF6)
    assert results(m)[:3] == [0x00, 0, 0]
    medium = fdc.drives[0].medium
    assert all(medium.read(36 + i) == b"\xF6" * 512 for i in range(18))
    assert medium.read(35) != b"\xF6" * 512


@pytest.mark.parametrize("size,geometry,cmos_type", [
    (1474560, (80, 2, 18), 4), (737280, (80, 2, 9), 4), (1228800, (80, 2, 15), 2),
    (2949120, (80, 2, 36), 5), (368640, (40, 2, 9), 2)])
def test_geometry_and_drive_type_come_from_the_image_size(size, geometry, cmos_type):
    f = Floppy(bytes(size))
    assert (f.cylinders, f.heads, f.spt) == geometry and f.cmos_type == cmos_type


def test_an_image_of_another_size_is_refused():
    with pytest.raises(ValueError, match="floppy image is 1000 bytes"):
        Floppy(bytes(1000))


def cmos(pc, index):
    pc.machine.ports.write(0x70, index, 1)
    return pc.machine.ports.read(0x71, 1)


def test_the_pc_cmos_describes_drive_a_as_qemu_does():
    pc = build_pc(floppy=bytes(SIZE))
    assert cmos(pc, 0x10) == 0x40  # A: 1.44M, no B:
    assert cmos(pc, 0x14) & 0x01  # a floppy drive to boot from
    assert cmos(build_pc(floppy=bytes(2949120)), 0x10) == 0x50
    empty = build_pc()
    assert cmos(empty, 0x10) == 0x00 and not cmos(empty, 0x14) & 0x01
    assert empty.machine.ports.read(0x3F4, 1) == 0x80  # the controller is there without drives


def test_dma_registers_use_the_flip_flop_and_post_keeps_port_0x80():
    pc = build_pc()
    m = pc.machine
    out(m, 0x0C, 0)
    out(m, 0x02, 0x34); out(m, 0x02, 0x12)  # channel 1 address
    out(m, 0x0C, 0)
    assert inb(m, 0x02) == 0x34 and inb(m, 0x02) == 0x12
    out(m, 0x83, 0x0A)
    assert inb(m, 0x83) == 0x0A
    out(m, 0x0E, 0)  # unmask all
    assert inb(m, 0x0F) & 0x0F == 0
    out(m, 0x0D, 0)  # master clear masks all
    assert inb(m, 0x0F) & 0x0F == 0x0F
    out(m, 0x80, 0x42)
    assert pc.post.value == 0x42


def test_a_16_bit_channel_counts_words():
    m = Machine(memory_mb=1)
    dma = m.attach(DMA())
    out(m, 0xD8, 0)  # DMA2 flip-flop
    out(m, 0xC4, 0x00); out(m, 0xC4, 0x08)  # channel 5 address 0x0800 words
    out(m, 0xC6, 0x01); out(m, 0xC6, 0x00)  # 2 words
    out(m, 0xD6, 0x45)  # channel 5: write to memory
    out(m, 0x8B, 0x02)  # page
    out(m, 0xD4, 0x01)  # unmask channel 5
    ch = dma.channel(5)
    assert ch.remaining == 4
    assert ch.write_memory(b"ABCDEF") == 4
    assert m.read_phys(0x21000, 6) == b"ABCD\0\0"
