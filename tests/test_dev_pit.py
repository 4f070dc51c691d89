"""8254 PIT on the virtual clock: modes, latch and read-back, BCD, access
modes, port 0x61 gate/output/refresh, and IRQ0 edges scheduled as timers."""
from jitemu.devices.pic import PIC
from jitemu.devices.pit import PIT, PIT_HZ, ns_of_tick
from jitemu.machine import Machine

from romutil import assemble, rom_with

LOOP = rom_with(bytes.fromhex("ebfe"))  # jmp $


def setup():
    m = Machine(memory_mb=1)
    m.load_firmware(LOOP)
    pit = m.attach(PIT())
    return m, pit


def advance(m, ns):
    """Run the guest (a busy loop) for about `ns` guest nanoseconds."""
    m.run(max_instructions=ns)


def read16(m, port):
    lo = m.ports.read(port, 1)
    return lo | m.ports.read(port, 1) << 8


def test_mode2_counts_down_and_latch_freezes_the_value():
    m, pit = setup()
    m.ports.write(0x43, 0x34, 1)  # ch0, lobyte/hibyte, mode 2
    m.ports.write(0x40, 0x00, 1)
    m.ports.write(0x40, 0x10, 1)  # 0x1000
    t0 = m.clock.now()
    advance(m, 100_000)  # ~119 ticks
    m.ports.write(0x43, 0x00, 1)  # latch ch0
    elapsed = m.clock.now() - t0
    advance(m, 50_000)
    v = read16(m, 0x40)
    expect = 0x1000 - elapsed * PIT_HZ // 10**9
    assert abs(v - expect) <= 1
    assert read16(m, 0x40) < v  # latch consumed: live value again


def test_readback_status_and_count():
    m, pit = setup()
    m.ports.write(0x43, 0xB0, 1)  # ch2, lobyte/hibyte, mode 0
    st_before = pit.channels[2].status()
    assert st_before & 0x40  # null count until the count is written
    m.ports.write(0x42, 0x34, 1)
    m.ports.write(0x42, 0x12, 1)
    m.ports.write(0x43, 0xC8, 1)  # read-back count+status of ch2
    status = m.ports.read(0x42, 1)
    assert status == (0 << 7) | (0 << 6) | (3 << 4) | (0 << 1)
    assert read16(m, 0x42) == 0x1234  # gate low: not counting
    m.ports.write(0x43, 0xE8, 1)  # status only
    assert m.ports.read(0x42, 1) == 0x30


def test_bcd_counting_and_lsb_only_access():
    m, pit = setup()
    m.ports.write(0x43, 0x51, 1)  # ch1, LSB only, mode 0, BCD
    m.ports.write(0x41, 0x99, 1)  # 99 decimal
    t0 = m.clock.now()
    advance(m, 10_000)  # ~12 ticks
    d = (m.clock.now() - t0) * PIT_HZ // 10**9
    v = m.ports.read(0x41, 1)
    dec = (v >> 4) * 10 + (v & 15)
    assert (v & 15) <= 9 and (v >> 4) <= 9 and dec == 99 - d


def test_mode0_output_rises_at_terminal_count_via_port61():
    m, pit = setup()
    m.ports.write(0x61, 0x00, 1)  # gate 2 low
    m.ports.write(0x43, 0xB0, 1)  # ch2 mode 0
    m.ports.write(0x42, 100, 1); m.ports.write(0x42, 0, 1)
    assert m.ports.read(0x61, 1) & 0x20 == 0
    advance(m, 200_000)
    assert m.ports.read(0x61, 1) & 0x20 == 0  # gate low: not counting
    m.ports.write(0x61, 0x01, 1)  # gate high: counting starts now
    t0 = m.clock.now()
    advance(m, ns_of_tick(99) - 100)
    assert m.ports.read(0x61, 1) & 0x20 == 0
    advance(m, ns_of_tick(100) - (m.clock.now() - t0) + 5)
    assert m.ports.read(0x61, 1) & 0x20


def test_port61_refresh_bit_toggles_and_bits_0_3_read_back():
    m, pit = setup()
    m.ports.write(0x61, 0x0F, 1)
    seen = set()
    for _ in range(8):
        v = m.ports.read(0x61, 1)
        assert v & 0x0F == 0x0F
        seen.add(v & 0x10)
        advance(m, 7_000)
    assert seen == {0, 0x10}


# How firmware times a delay (memtest86+ calibrates its TSC so): channel 2
# in mode 0 with the gate high, then port 0x61 polled until OUT2 rises.
CALIBRATE = """
bits 16
    xor ax, ax
    mov ds, ax
    mov al, 0x01                ; gate 2 high, speaker off
    out 0x61, al
    mov al, 0xB0                ; ch2, LSB then MSB, mode 0
    out 0x43, al
    mov al, 0x9B                ; 0x2E9B ticks: 10 ms
    out 0x42, al
    mov al, 0x2E
    out 0x42, al
    xor ebx, ebx
poll:
    inc ebx
    in al, 0x61
    test al, 0x20
    jz poll
    mov [0x500], ebx
    hlt
"""


def test_a_delay_timed_by_polling_port61_ends_at_the_terminal_count_with_few_device_calls():
    m = Machine(memory_mb=1)
    m.load_firmware(rom_with(assemble(CALIBRATE)))
    pit = m.attach(PIT())
    calls = []
    m.ports.register(0x61, read=lambda p, s: calls.append(p) or pit._read61(p, s), write=pit._write61)
    assert m.run(max_instructions=20_000_000) == "halt"
    ch = pit.channels[2]
    edge = ch.load_ns + ns_of_tick(0x2E9B)
    polls = int.from_bytes(m.read_phys(0x500, 4), "little")
    last_in = m.clock.now() - 4  # the IN before test, jz, mov and hlt
    assert edge <= last_in < edge + 4  # the first read at or after the edge saw OUT2 high
    assert polls == (last_in - (ch.load_ns + 2)) // 4 + 1  # one IN every four instructions from the load on
    assert len(calls) <= 2  # C answered the polls; the device only the one at the edge
    assert m.ports.is_fast(0x61)


def test_mode3_square_wave_output():
    m, pit = setup()
    m.ports.write(0x61, 0x01, 1)
    m.ports.write(0x43, 0xB6, 1)  # ch2 mode 3
    m.ports.write(0x42, 200, 1); m.ports.write(0x42, 0, 1)
    ch = pit.channels[2]
    t = ch.load_ns
    assert ch.out(t + ns_of_tick(99)) == 1 and ch.out(t + ns_of_tick(100)) == 0
    assert ch.out(t + ns_of_tick(199)) == 0 and ch.out(t + ns_of_tick(200)) == 1
    assert ch.value(t + ns_of_tick(10)) == 180  # counts by two


def test_mode4_strobe_and_mode1_waits_for_gate():
    m, pit = setup()
    m.ports.write(0x43, 0x78, 1)  # ch1 mode 4
    m.ports.write(0x41, 10, 1); m.ports.write(0x41, 0, 1)
    ch = pit.channels[1]
    t = ch.load_ns
    assert [ch.out(t + ns_of_tick(k)) for k in (9, 10, 11)] == [1, 0, 1]
    m.ports.write(0x61, 0x00, 1)
    m.ports.write(0x43, 0xB2, 1)  # ch2 mode 1
    m.ports.write(0x42, 10, 1); m.ports.write(0x42, 0, 1)
    ch2 = pit.channels[2]
    advance(m, 50_000)
    assert ch2.out() == 1
    m.ports.write(0x61, 0x01, 1)  # trigger
    assert ch2.out() == 0
    advance(m, 20_000)
    assert ch2.out() == 1


def test_irq0_periodic_interrupts_on_the_virtual_clock():
    m, pit = setup()
    pic = m.attach(PIC())
    w = m.ports.write
    w(0x20, 0x11, 1); w(0x21, 0x08, 1); w(0x21, 0x04, 1); w(0x21, 0x01, 1)
    w(0x43, 0x34, 1); w(0x40, 0xA9, 1); w(0x40, 0x04, 1)  # 1193 ticks = ~1 ms, mode 2
    edges = []
    orig = pic.set_irq
    pic.set_irq = lambda n, lv: (edges.append((m.clock.now(), lv)) if n == 0 else None, orig(n, lv))
    advance(m, 10_500_000)  # 10.5 ms
    rises = [t for t, lv in edges if lv]
    assert len(rises) == 10
    period = (rises[-1] - rises[0]) / 9
    assert abs(period - 1193 * 10**9 / PIT_HZ) < 200


def test_halted_guest_wakes_on_the_pit_and_time_skips():
    # IVT[8] -> F000:0100: inc si; mov al,0x20; out 0x20,al; iret.  main: sti; l: hlt; cmp si,3; jb l; cli; hlt
    code = bytearray(bytes.fromhex("31c08ed8bc0070" "c7062000" "0001" "c7062200" "00f0" "31f6" "fb"
                                   "f4" "83fe03" "72fa" "fa" "f4"))
    code += b"\xf4" * (0x100 - len(code)) + bytes.fromhex("46b020e620cf")
    m = Machine(memory_mb=1)
    m.load_firmware(rom_with(bytes(code)))
    pic = m.attach(PIC())
    m.attach(PIT())
    w = m.ports.write
    w(0x20, 0x11, 1); w(0x21, 0x08, 1); w(0x21, 0x04, 1); w(0x21, 0x01, 1); w(0x21, 0xFE, 1)
    w(0x43, 0x34, 1); w(0x40, 0x00, 1); w(0x40, 0x00, 1)  # 65536: 18.2 Hz
    assert m.run() == "halt"
    assert m.regs.si == 3
    assert 3 * 54_900_000 <= m.clock.now() < 3 * 55_000_000 + 1_000_000
    assert m.icount < 1000


def test_a_restored_pit_has_port61_served_in_c_again_with_the_same_answers():
    m, pit = setup()
    m.ports.write(0x61, 0x03, 1)
    m.ports.write(0x43, 0xB0, 1)  # ch2 mode 0, 1000 ticks
    m.ports.write(0x42, 0xE8, 1); m.ports.write(0x42, 0x03, 1)
    advance(m, 100_000)
    state = pit.snapshot()
    m.ports.fast_clear(0x61)
    pit.restore(state)
    assert m.ports.is_fast(0x61)
    for _ in range(4):
        assert m.ports.read(0x61, 1) == pit._read61(0x61, 1)
        advance(m, 300_000)  # past the terminal count by the last
    assert m.ports.read(0x61, 1) & 0x20


def test_a_mode4_one_shot_whose_timer_runs_late_still_gives_irq0_its_rising_edge():
    # Linux's one-shot clockevent is mode 4: OUT0 pulses low for one tick
    # at the terminal count.  Timers fire between blocks, so the callback
    # can run after the pulse has ended: the edge must not be lost, or the
    # tick stops for good.
    m, pit = setup()
    pic = m.attach(PIC())
    w = m.ports.write
    w(0x20, 0x11, 1); w(0x21, 0x08, 1); w(0x21, 0x04, 1); w(0x21, 0x01, 1); w(0x21, 0xFE, 1)
    edges = []
    orig = pic.set_irq
    pic.set_irq = lambda n, lv: (edges.append(lv) if n == 0 else None, orig(n, lv))
    w(0x43, 0x38, 1); w(0x40, 100, 1); w(0x40, 0, 1)  # ch0 mode 4, 100 ticks
    due = pit.channels[0].next_edge_ns(m.clock.now())
    m.s.tsc_offset += due + 3 * ns_of_tick(1) - m.clock.now()  # the clock is three ticks past the pulse
    m.clock.run_due()
    assert edges == [0, 1]  # the pulse's fall and rise, in order
    assert pic.master.irr & 1  # IRQ0 is latched for the CPU
    assert pit._timer is None  # a one-shot: nothing more to come
