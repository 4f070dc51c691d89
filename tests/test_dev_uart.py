"""16550A UART: divisor latch, line status, loopback with modem-status
mapping, FIFO receive and overrun, IIR priorities, THRE interrupt, IRQ4
gated by OUT2, and output to a stream."""
import io

from jitemu.devices.pic import PIC
from jitemu.devices.uart import UART
from jitemu.machine import Machine

B = 0x3F8


def setup(out=None):
    m = Machine(memory_mb=1)
    pic = m.attach(PIC())
    u = m.attach(UART(out=out))
    return m, u, pic


def test_transmit_to_a_text_stream_and_line_status():
    s = io.StringIO()
    m, u, pic = setup(s)
    assert m.ports.read(B + 5, 1) == 0x60  # THRE, TEMT
    for ch in b"hi\n":
        m.ports.write(B, ch, 1)
    assert s.getvalue() == "hi\n" and u.text == "hi\n"


def test_binary_stream_and_divisor_latch():
    s = io.BytesIO()
    m, u, pic = setup(s)
    m.ports.write(B + 3, 0x83, 1)  # DLAB, 8N1
    m.ports.write(B, 0x01, 1); m.ports.write(B + 1, 0x00, 1)
    assert u.divisor == 1 and not s.getvalue()
    m.ports.write(B + 3, 0x03, 1)
    m.ports.write(B, 0x41, 1)
    assert s.getvalue() == b"A"
    m.ports.write(B + 7, 0x5A, 1)
    assert m.ports.read(B + 7, 1) == 0x5A


def test_loopback_receives_what_it_sends_and_maps_modem_lines():
    m, u, pic = setup()
    m.ports.write(B + 4, 0x10 | 0x01, 1)  # loop, DTR
    msr = m.ports.read(B + 6, 1)
    assert msr & 0xF0 == 0x20  # DSR follows DTR
    m.ports.write(B + 4, 0x10 | 0x0E, 1)  # RTS, OUT1, OUT2
    msr = m.ports.read(B + 6, 1)
    assert msr & 0xF0 == 0xD0 and msr & 0x0B  # CTS, RI, DCD and deltas
    m.ports.write(B, 0x55, 1)
    assert m.ports.read(B + 5, 1) & 1
    assert m.ports.read(B, 1) == 0x55
    assert not m.ports.read(B + 5, 1) & 1
    assert u.output == b""  # nothing left the chip


def test_fifo_receive_and_overrun():
    m, u, pic = setup()
    m.ports.write(B + 2, 0x07, 1)  # enable + clear FIFOs
    assert m.ports.read(B + 2, 1) & 0xC0 == 0xC0
    u.receive(bytes(range(17)))
    lsr = m.ports.read(B + 5, 1)
    assert lsr & 0x03 == 0x03  # data ready, overrun
    assert [m.ports.read(B, 1) for _ in range(16)] == list(range(16))
    assert not m.ports.read(B + 5, 1) & 3


def test_interrupt_identification_and_irq4_gated_by_out2():
    m, u, pic = setup()
    assert m.ports.read(B + 2, 1) == 0x01  # none
    m.ports.write(B + 1, 0x03, 1)  # RX data + THRE
    assert m.ports.read(B + 2, 1) == 0x02  # THR empty
    assert m.ports.read(B + 2, 1) == 0x01  # cleared by reading IIR
    assert not pic.irr & 0x10  # OUT2 low: no IRQ4
    m.ports.write(B + 4, 0x08, 1)  # OUT2
    u.receive(b"x")
    assert m.ports.read(B + 2, 1) == 0x04 and pic.irr & 0x10
    m.ports.write(B, 0x41, 1)  # THR empties again: THRE pending, but RX outranks it
    assert m.ports.read(B + 2, 1) == 0x04
    m.ports.read(B, 1)
    assert m.ports.read(B + 2, 1) == 0x02
    assert u.irq.level == 0
