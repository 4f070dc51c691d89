"""The port bus: handlers, open bus, and the ports a device has the runtime
serve in C (ports.py fast_*), which answer the guest's IN and OUT, string
I/O and PortBus.read/write alike."""
from jitemu.machine import Machine
from jitemu.ports import PortBus

from romutil import rom_with


def test_a_machine_with_no_devices_has_an_open_bus():
    m = Machine(memory_mb=1)
    # in al,92h; mov [500h],al; mov dx,0B008h; in eax,dx; mov [504h],eax; hlt (DS = 0)
    m.load_firmware(rom_with(bytes.fromhex("31c08ed8 e492 a20005 ba08b0 66ed 66a30405 f4".replace(" ", ""))))
    assert m.run(max_instructions=100) == "halt"
    assert m.read_phys(0x500, 8) == b"\xff\0\0\0\xff\xff\xff\xff"
    assert not any(m.ports.is_fast(p) for p in (0x70, 0x92, 0x402, 0xB008))


def test_a_latch_answers_byte_reads_and_leaves_the_rest_to_the_device():
    m = Machine(memory_mb=1)
    seen = []
    m.ports.register(0x300, read=lambda p, s: 0x1234, write=lambda p, v, s: seen.append((v, s)))
    m.ports.fast_latch(0x300, 0x5A)
    # in al,dx; mov [500h],al; in ax,dx; mov [502h],ax; out dx,al; hlt
    m.load_firmware(rom_with(bytes.fromhex("31c08ed8 ba0003 ec a20005 ed a30205 ee f4".replace(" ", ""))))
    assert m.run(max_instructions=100) == "halt"
    assert m.read_phys(0x500, 4) == b"\x5a\0\x34\x12"
    assert seen == [(0x34, 1)]
    assert m.ports.read(0x300, 1) == 0x5A and m.ports.read(0x300, 2) == 0x1234


def test_string_input_from_a_latch_and_a_counter():
    m = Machine(memory_mb=1)
    m.ports.fast_latch(0x300, 0xA5)
    m.ports.fast_counter(0x310, 1_000_000_000, 32)  # counts guest nanoseconds: the clock itself
    # push ds; pop es (0); mov di,500h; mov dx,300h; mov cx,3; rep insb;
    # mov dx,310h; insd; hlt
    code = "31c08ed8 1e07 bf0005 ba0003 b90300 f36c ba1003 666d f4"
    m.load_firmware(rom_with(bytes.fromhex(code.replace(" ", ""))))
    assert m.run(max_instructions=100) == "halt"
    assert m.read_phys(0x500, 3) == b"\xa5\xa5\xa5"
    t = int.from_bytes(m.read_phys(0x503, 4), "little")
    assert 0 < t <= m.clock.now()


def test_registering_a_port_again_gives_it_to_the_new_handlers():
    m = Machine(memory_mb=1)
    m.ports.register(0x300, read=lambda p, s: 1)
    m.ports.fast_latch(0x300, 2)
    assert m.ports.is_fast(0x300) and m.ports.read(0x300, 1) == 2
    m.ports.register(0x300, read=lambda p, s: 3)
    assert not m.ports.is_fast(0x300) and m.ports.read(0x300, 1) == 3
    m.ports.fast_latch(0x300, 4)
    m.ports.fast_clear(0x300)
    assert m.ports.read(0x300, 1) == 3


def test_a_bus_without_a_runtime_calls_its_handlers():
    bus = PortBus()
    got = []
    bus.register(0x402, read=lambda p, s: 0xE9, write=lambda p, v, s: got.append(v))
    bus.fast_latch(0x402, 0x11)
    bus.fast_sink(0x402, got.extend)
    bus.fast_counter(0x408, 3579545, 24)
    assert not bus.is_fast(0x402) and bus.read(0x402, 1) == 0xE9 and bus.read(0x408, 4) == 0xFFFFFFFF
    bus.write(0x402, 7, 1)
    assert got == [7]


def test_a_timed_latch_toggles_its_bit_with_the_clock_and_hands_over_at_its_deadline():
    m = Machine(memory_mb=1)
    calls = []
    m.ports.register(0x300, read=lambda p, s: calls.append(m.clock.now()) or 0x77)
    m.ports.fast_timed(0x300, 0x21 | 0x10, 5_000, 4, 1_000)  # bit 4 is the clock's, whatever value says
    # DS = 0, DI = 500h; loop: in al,dx; stosb; dec cx; jnz loop; hlt (3000 reads, 4 instructions each)
    m.load_firmware(rom_with(bytes.fromhex("31c08ed8 8ec0 bf0005 ba0003 b9b80b ec aa 49 75fb f4".replace(" ", ""))))
    assert m.run(max_instructions=20_000) == "halt"
    got = m.read_phys(0x500, 3000)
    first_t = 7  # the guest time of the first IN: the jump from the reset vector and six more before it
    for i, v in enumerate(got):
        t = first_t + 4 * i
        if t < 5_000:
            assert v == 0x21 | ((t // 1_000) & 1) << 4, (i, t)
        else:
            assert v == 0x77
    # From the first read at or after the deadline on, every read is the device's.
    assert calls == [first_t + 4 * i for i in range(3000) if first_t + 4 * i >= 5_000]
    assert m.ports.read(0x300, 1) == 0x77


def test_a_timed_latch_with_no_deadline_answers_until_it_is_cleared():
    m = Machine(memory_mb=1)
    m.ports.register(0x300, read=lambda p, s: 0x99)
    m.ports.fast_timed(0x300, 0x05, None, 7, 1 << 20)
    assert m.ports.is_fast(0x300) and m.ports.read(0x300, 1) == 0x05 and m.ports.read(0x300, 2) == 0x99
    m.ports.fast_clear(0x300)
    assert m.ports.read(0x300, 1) == 0x99
