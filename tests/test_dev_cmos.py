"""MC146818 RTC/CMOS: time from a fixed datetime on the virtual clock, BCD
and binary, 12/24 h, UIP timing, NVRAM across reset, register C/D, the
periodic interrupt, the NMI mask bit, and the memory-size bytes."""
import datetime

from jitemu.devices.cmos import CMOS, UIP_NS
from jitemu.devices.pic import PIC
from jitemu.machine import Machine

from romutil import rom_with

T0 = datetime.datetime(2024, 2, 29, 23, 59, 58)


def setup(**kw):
    m = Machine(memory_mb=1)
    m.load_firmware(rom_with(bytes.fromhex("fbf4ebfd")))  # sti; l: hlt; jmp l
    rtc = m.attach(CMOS(fixed_time=T0, **kw))
    return m, rtc


def advance(m, ns):
    """Let `ns` of guest time pass: the guest halts, the clock skips."""
    m.clock.call_at(m.clock.now() + ns, m.stop)
    assert m.run() == "stop"


def rd(m, i):
    m.ports.write(0x70, i, 1)
    return m.ports.read(0x71, 1)


def wr(m, i, v):
    m.ports.write(0x70, i, 1)
    m.ports.write(0x71, v, 1)


def test_fixed_time_in_bcd_and_it_advances_with_guest_time():
    m, rtc = setup()
    assert [rd(m, i) for i in (0, 2, 4, 7, 8, 9, 0x32)] == [0x58, 0x59, 0x23, 0x29, 0x02, 0x24, 0x20]
    assert rd(m, 6) == 5  # Thursday (Sunday = 1)
    advance(m, 2_000_000_000)  # 2 s of guest time
    assert [rd(m, i) for i in (0, 2, 4, 7, 8)] == [0x00, 0x00, 0x00, 0x01, 0x03]


def test_binary_and_12_hour_modes():
    m, rtc = setup()
    wr(m, 0x0B, 0x04)  # binary, 12 h
    assert rd(m, 0) == 58 and rd(m, 4) == 0x80 | 11  # 11 PM
    wr(m, 0x0B, 0x00)  # BCD, 12 h
    assert rd(m, 4) == 0x80 | 0x11


def test_set_bit_freezes_and_guest_can_set_the_time():
    m, rtc = setup()
    wr(m, 0x0B, 0x82)  # SET, 24 h, BCD
    wr(m, 4, 0x12); wr(m, 2, 0x34); wr(m, 0, 0x56)
    advance(m, 3_000_000_000)
    assert (rd(m, 4), rd(m, 2), rd(m, 0)) == (0x12, 0x34, 0x56)
    assert rd(m, 0x0A) & 0x80 == 0  # no UIP while SET
    wr(m, 0x0B, 0x02)
    advance(m, 1_000_000_000)
    assert rd(m, 0) == 0x57


def test_update_in_progress_is_set_for_244us_before_each_second():
    m, rtc = setup()
    # base second boundary is at attach time (guest time 0)
    def uip_at(ns):
        return rtc.update_in_progress(ns)
    assert not uip_at(1_000_000_000 - UIP_NS - 1)
    assert uip_at(1_000_000_000 - UIP_NS)
    assert uip_at(1_000_000_000 - 1)
    assert not uip_at(1_000_000_000)
    # and through the port, at a time the guest reaches
    advance(m, 1_000_000_000 - 100_000)
    assert rd(m, 0x0A) == 0xA6
    assert rd(m, 0) == 0x58
    advance(m, 200_000)
    assert rd(m, 0x0A) == 0x26 and rd(m, 0) == 0x59


def test_nvram_survives_reset_but_not_power_on():
    m, rtc = setup()
    wr(m, 0x40, 0xA5); wr(m, 0x7F, 0x5A)
    wr(m, 0x0B, 0x42)  # PIE
    m.reset()
    assert rd(m, 0x40) == 0xA5 and rd(m, 0x7F) == 0x5A
    assert rd(m, 0x0B) == 0x02  # interrupt enables cleared by reset
    assert CMOS().ram[0x40] == 0


def test_nmi_mask_bit_and_register_d():
    m, rtc = setup()
    m.ports.write(0x70, 0x8D, 1)
    assert rtc.nmi_disabled and m.ports.read(0x71, 1) == 0x80
    m.ports.write(0x70, 0x0D, 1)
    assert not rtc.nmi_disabled


def test_periodic_interrupt_on_irq8_and_register_c():
    m = Machine(memory_mb=1)
    m.load_firmware(rom_with(bytes.fromhex("ebfe")))  # jmp $ with IF=0
    rtc = m.attach(CMOS(fixed_time=T0))
    pic = m.attach(PIC())
    w = m.ports.write
    w(0xA0, 0x11, 1); w(0xA1, 0x70, 1); w(0xA1, 0x02, 1); w(0xA1, 0x01, 1)
    wr(m, 0x0A, 0x26)  # 1024 Hz
    rd(m, 0x0C)
    wr(m, 0x0B, 0x42)  # PIE
    m.run(max_instructions=1_000_000)  # ~1 ms
    assert pic.slave.irr & 1
    c = rd(m, 0x0C)
    assert c & 0xC0 == 0xC0
    assert rd(m, 0x0C) == 0  # cleared by reading
    assert rtc.irq.level == 0


def test_flags_without_interrupts_are_set_lazily():
    m, rtc = setup()
    rd(m, 0x0C)
    advance(m, 2_100_000_000)
    assert m.clock.next_deadline() is None  # no timers while interrupts are off
    c = rd(m, 0x0C)
    assert c & 0x10 and c & 0x40 and not c & 0x80  # UF, PF, no IRQF


def test_alarm_flag():
    m, rtc = setup()
    wr(m, 1, 0x00); wr(m, 3, 0x00); wr(m, 5, 0x00)  # alarm at 00:00:00
    rd(m, 0x0C)
    advance(m, 2_100_000_000)
    assert rd(m, 0x0C) & 0x20


def test_memory_size_bytes_like_qemu():
    rtc = CMOS()
    rtc.set_memory(16 << 20)
    r = rtc.ram
    assert (r[0x15] | r[0x16] << 8) == 640
    assert (r[0x17] | r[0x18] << 8) == 15 * 1024 == (r[0x30] | r[0x31] << 8)
    assert (r[0x34] | r[0x35] << 8) == 0
    rtc.set_memory(128 << 20)
    assert (r[0x34] | r[0x35] << 8) == (112 << 20) // 65536
    assert (r[0x5B], r[0x5C], r[0x5D]) == (0, 0, 0)


def test_the_index_port_reads_back_0xff_in_c_and_its_writes_reach_the_device():
    # SeaBIOS reads port 0x70 back at every mode switch to keep the NMI
    # bit; like QEMU's RTC, it reads 0xFF.  The runtime answers those reads
    # itself; writes (the index, the NMI mask) still go to the device.
    # in al,70h; mov [500h],al; mov al,8Ah; out 70h,al; in al,70h;
    # mov [501h],al; in al,71h; mov [502h],al; hlt  (DS = 0)
    code = bytes.fromhex("31c08ed8" "e470a20005" "b08ae670" "e470a20105" "e471a20205" "f4")
    m = Machine(memory_mb=1)
    m.load_firmware(rom_with(code))
    rtc = m.attach(CMOS(fixed_time=T0))
    assert m.ports.is_fast(0x70) and not m.ports.is_fast(0x71)
    assert m.run(max_instructions=100) == "halt"
    assert list(m.read_phys(0x500, 3)) == [0xFF, 0xFF, 0x26]  # register A through the index written
    assert rtc.index == 0x0A and rtc.nmi_disabled
    assert m.ports.read(0x70, 1) == 0xFF == rtc._read_index(0x70, 1)
    m.reset()
    assert m.run(max_instructions=100) == "halt"
    assert list(m.read_phys(0x500, 3)) == [0xFF, 0xFF, 0x26]
