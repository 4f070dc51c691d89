"""8042 keyboard controller: self tests, command byte, output port and A20,
reset requests, the keyboard's replies, IRQ1, and the mouse port."""
from jitemu.devices.kbc import KBC
from jitemu.devices.pic import PIC
from jitemu.machine import Machine

from romutil import rom_with


def setup():
    m = Machine(memory_mb=1)
    pic = m.attach(PIC())
    kbc = m.attach(KBC())
    return m, kbc, pic


def cmd(m, c, *data):
    m.ports.write(0x64, c, 1)
    for d in data:
        m.ports.write(0x60, d, 1)


def drain(m):
    out = []
    while m.ports.read(0x64, 1) & 1:
        out.append(m.ports.read(0x60, 1))
    return out


def test_status_after_reset_and_self_tests():
    m, kbc, pic = setup()
    assert m.ports.read(0x64, 1) == 0x18  # command flag, not inhibited, nothing to read
    cmd(m, 0xAA)
    st = m.ports.read(0x64, 1)
    assert st & 1 and st & 4  # output full, system flag set
    assert drain(m) == [0x55]
    cmd(m, 0xAB)
    assert drain(m) == [0x00]
    cmd(m, 0xA9)
    assert drain(m) == [0x00]


def test_command_byte_read_write_and_system_flag():
    m, kbc, pic = setup()
    cmd(m, 0x60, 0x65)
    assert m.ports.read(0x64, 1) & 0x08 == 0  # last write was data
    cmd(m, 0x20)
    assert drain(m) == [0x65]
    assert m.ports.read(0x64, 1) & 4


def test_keyboard_reset_identify_leds_and_scanning():
    m, kbc, pic = setup()
    m.ports.write(0x60, 0xFF, 1)
    assert drain(m) == [0xFA, 0xAA]
    m.ports.write(0x60, 0xF2, 1)
    assert drain(m) == [0xFA, 0xAB, 0x83]
    cmd(m, 0x60, 0x40)  # translation on
    m.ports.write(0x60, 0xF2, 1)
    assert drain(m) == [0xFA, 0xAB, 0x41]
    m.ports.write(0x60, 0xED, 1); m.ports.write(0x60, 0x07, 1)
    assert drain(m) == [0xFA, 0xFA] and kbc.keyboard.leds == 7
    m.ports.write(0x60, 0xF5, 1)
    assert drain(m) == [0xFA]
    kbc.key(b"\x1e")
    assert drain(m) == []  # scanning disabled
    m.ports.write(0x60, 0xF4, 1)
    kbc.key(b"\x1e\x9e")
    assert drain(m) == [0xFA, 0x1E, 0x9E]
    m.ports.write(0x60, 0xEE, 1)
    assert drain(m) == [0xEE]
    m.ports.write(0x60, 0x99, 1)
    assert drain(m) == [0xFE]


def test_irq1_when_output_buffer_full_and_enabled():
    m, kbc, pic = setup()
    cmd(m, 0x60, 0x00)  # interrupts off
    kbc.key(b"\x1c")
    assert pic.irr & 2 == 0
    drain(m)
    cmd(m, 0x60, 0x01)
    kbc.key(b"\x1c")
    assert pic.irr & 2 and kbc.irq_kbd.level == 1
    m.ports.read(0x60, 1)
    assert kbc.irq_kbd.level == 0
    cmd(m, 0xAD)  # keyboard disabled: bytes wait
    kbc.key(b"\x01")
    assert not m.ports.read(0x64, 1) & 1
    cmd(m, 0xAE)
    assert drain(m) == [0x01]


def test_output_port_a20_and_dd_df():
    m, kbc, pic = setup()
    cmd(m, 0xD0)
    assert drain(m)[0] & 3 == 3
    cmd(m, 0xDD)
    assert not m.a20
    cmd(m, 0xDF)
    assert m.a20
    cmd(m, 0xD1, 0x01)  # A20 off, keep the CPU running
    assert not m.a20
    cmd(m, 0xD0)
    assert drain(m)[0] & 3 == 1
    cmd(m, 0xD1, 0x03)
    assert m.a20


def test_mouse_port():
    m, kbc, pic = setup()
    cmd(m, 0xA8)
    cmd(m, 0xD4, 0xFF)
    st = m.ports.read(0x64, 1)
    assert st & 0x21 == 0x21  # from the mouse
    assert drain(m) == [0xFA, 0xAA, 0x00]
    cmd(m, 0xD4, 0xF2)
    assert drain(m) == [0xFA, 0x00]
    cmd(m, 0xD4, 0xF3); cmd(m, 0xD4, 100)
    assert drain(m) == [0xFA, 0xFA]


def reset_rom(action):
    tail = bytes.fromhex("c606000501") + action + bytes.fromhex("ebfe")
    code = bytes.fromhex("31c08ed8" "803e000500") + bytes([0x75, len(tail)]) + tail + b"\xf4"
    return rom_with(code)


def test_pulse_reset_command_fe_from_the_guest():
    m = Machine(memory_mb=1)
    m.load_firmware(reset_rom(bytes.fromhex("b0fee664")))  # mov al,0xfe; out 0x64,al
    m.attach(KBC())
    assert m.run(max_instructions=10_000) == "halt"
    assert m.resets == {"kbc": 1}


def test_output_port_bit0_clear_resets_from_the_guest():
    # mov al,0xd1; out 0x64,al; mov al,0x02; out 0x60,al
    m = Machine(memory_mb=1)
    m.load_firmware(reset_rom(bytes.fromhex("b0d1e664b002e660")))
    m.attach(KBC())
    assert m.run(max_instructions=10_000) == "halt"
    assert m.resets == {"kbc": 1}
    assert m.a20  # the reset turned A20 back on
