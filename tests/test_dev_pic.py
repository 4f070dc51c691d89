"""8259A pair: initialization, priority, EOI, masking, cascade, spurious
IRQs, auto-EOI, level triggering via the ELCR, poll, and delivery to the CPU."""
from jitemu.devices.pic import PIC
from jitemu.machine import Machine

from romutil import rom_with


def setup(auto_eoi=False, sfnm=False):
    m = Machine(memory_mb=1)
    pic = m.attach(PIC())
    w = m.ports.write
    icw4 = 0x01 | (0x02 if auto_eoi else 0) | (0x10 if sfnm else 0)
    w(0x20, 0x11, 1); w(0x21, 0x08, 1); w(0x21, 0x04, 1); w(0x21, icw4, 1)
    w(0xA0, 0x11, 1); w(0xA1, 0x70, 1); w(0xA1, 0x02, 1); w(0xA1, 0x01 | (0x02 if auto_eoi else 0), 1)
    w(0x21, 0x00, 1); w(0xA1, 0x00, 1)
    return m, pic


def test_icw_sequence_sets_vector_bases_and_clears_masks():
    m, pic = setup()
    assert pic.master.irq_base == 0x08 and pic.slave.irq_base == 0x70
    assert m.ports.read(0x21, 1) == 0 and m.ports.read(0xA1, 1) == 0
    m.ports.write(0x21, 0xB8, 1)
    assert m.ports.read(0x21, 1) == 0xB8


def test_priority_isr_and_nonspecific_eoi():
    m, pic = setup()
    pic.raise_irq(3); pic.raise_irq(1)
    assert pic.output == 1 and m.s.irq_line == 1
    assert pic.ack() == 0x09  # IRQ1 wins
    assert pic.isr == 0x02 and pic.irr == 0x08
    # IRQ3 is lower priority than the in-service IRQ1: INTR stays low
    assert pic.output == 0
    m.ports.write(0x20, 0x0B, 1)  # OCW3: read ISR
    assert m.ports.read(0x20, 1) == 0x02
    m.ports.write(0x20, 0x0A, 1)  # read IRR
    assert m.ports.read(0x20, 1) == 0x08
    m.ports.write(0x20, 0x20, 1)  # non-specific EOI
    assert pic.isr == 0 and pic.output == 1
    assert pic.ack() == 0x0B


def test_higher_priority_interrupts_an_in_service_lower_one():
    m, pic = setup()
    pic.raise_irq(5)
    assert pic.ack() == 0x0D
    pic.raise_irq(0)
    assert pic.output == 1 and pic.ack() == 0x08
    assert pic.isr == 0x21
    m.ports.write(0x20, 0x20, 1)  # EOI goes to the highest in service: IRQ0
    assert pic.isr == 0x20
    m.ports.write(0x20, 0x65, 1)  # specific EOI for IRQ5
    assert pic.isr == 0


def test_masking_holds_a_request_until_unmasked():
    m, pic = setup()
    m.ports.write(0x21, 0x10, 1)
    pic.raise_irq(4)
    assert pic.output == 0 and pic.irr & 0x10
    m.ports.write(0x21, 0x00, 1)
    assert pic.output == 1 and pic.ack() == 0x0C


def test_edge_triggered_needs_a_new_edge():
    m, pic = setup()
    pic.raise_irq(6)
    assert pic.ack() == 0x0E
    m.ports.write(0x20, 0x20, 1)
    assert pic.output == 0  # line still high: no new request
    pic.lower_irq(6); pic.raise_irq(6)
    assert pic.output == 1


def test_level_triggered_via_elcr_stays_requested_while_high():
    m, pic = setup()
    m.ports.write(0x4D1, 0x0C, 1)  # IRQ10, IRQ11 level
    m.ports.write(0x4D0, 0x07, 1)  # IRQ0-2 cannot be level
    assert m.ports.read(0x4D0, 1) == 0 and m.ports.read(0x4D1, 1) == 0x0C
    pic.raise_irq(10)
    assert pic.ack() == 0x72
    m.ports.write(0xA0, 0x20, 1); m.ports.write(0x20, 0x20, 1)
    assert pic.output == 1  # still asserted: requested again
    pic.lower_irq(10)
    assert pic.output == 0 and pic.irr == 0


def test_cascade_through_irq2_sets_both_isrs():
    m, pic = setup()
    pic.raise_irq(12)
    assert pic.pending() == 0x74
    assert pic.ack() == 0x74
    assert pic.slave.isr == 0x10 and pic.master.isr == 0x04
    pic.raise_irq(3)
    assert pic.output == 0  # IRQ2 (the cascade) outranks IRQ3
    pic.raise_irq(1)
    assert pic.ack() == 0x09


def test_special_fully_nested_lets_a_higher_slave_irq_through():
    m, pic = setup(sfnm=True)
    pic.raise_irq(12)
    assert pic.ack() == 0x74
    pic.raise_irq(9)  # higher priority on the slave
    assert pic.output == 1 and pic.ack() == 0x71


def test_spurious_irq7_and_irq15():
    m, pic = setup()
    assert pic.ack() == 0x0F and pic.isr == 0  # nothing pending: spurious IRQ7
    # a slave request that goes away after the master saw it
    pic.raise_irq(11)
    pic.slave.irr = 0  # the request vanished (as an edge glitch would)
    pic.master.irr |= 4
    assert pic.ack() == 0x77 and pic.slave.isr == 0
    assert pic.spurious == 2


def test_auto_eoi_leaves_isr_clear():
    m, pic = setup(auto_eoi=True)
    pic.raise_irq(4)
    assert pic.ack() == 0x0C and pic.master.isr == 0
    pic.raise_irq(5)
    assert pic.ack() == 0x0D


def test_rotation_on_nonspecific_eoi_makes_the_served_level_lowest():
    m, pic = setup()
    pic.raise_irq(0)
    assert pic.ack() == 0x08
    m.ports.write(0x20, 0xA0, 1)  # rotate on non-specific EOI
    pic.raise_irq(1); pic.lower_irq(0); pic.raise_irq(0)
    assert pic.ack() == 0x09  # IRQ0 is now the lowest priority


def test_special_mask_mode_allows_lower_levels():
    m, pic = setup()
    pic.raise_irq(2 + 1)  # IRQ3
    assert pic.ack() == 0x0B
    pic.raise_irq(5)
    assert pic.output == 0
    m.ports.write(0x21, 0x08, 1)  # mask IRQ3 (in service)
    m.ports.write(0x20, 0x68, 1)  # OCW3: set special mask mode
    assert pic.output == 1 and pic.ack() == 0x0D
    m.ports.write(0x20, 0x48, 1)  # reset special mask mode


def test_poll_command():
    m, pic = setup()
    pic.raise_irq(6)
    m.ports.write(0x20, 0x0C, 1)
    assert m.ports.read(0x20, 1) == 0x86
    assert pic.master.isr == 0x40
    m.ports.write(0x20, 0x0C, 1)
    assert m.ports.read(0x20, 1) == 0x00


def test_guest_receives_irq_through_ivt():
    # IVT[0x08] = F000:0100 (mov bx,0x55; mov al,0x20; out 0x20,al; iret); main: sti; hlt; hlt
    code = bytearray(bytes.fromhex("31c08ed8bc0070" "c7062000" "0001" "c7062200" "00f0" "fb" "f4" "b90100" "f4"))
    code += b"\xf4" * (0x100 - len(code)) + bytes.fromhex("bb5500b020e620cf")
    m = Machine(memory_mb=1)
    m.load_firmware(rom_with(bytes(code)))
    pic = m.attach(PIC())
    w = m.ports.write
    w(0x20, 0x11, 1); w(0x21, 0x08, 1); w(0x21, 0x04, 1); w(0x21, 0x01, 1); w(0x21, 0xFE, 1)
    m.clock.call_at(50_000, lambda: pic.pulse(0))
    assert m.run() == "halt"
    assert m.regs.bx == 0x55 and m.regs.cx == 1
    assert pic.isr == 0 and pic.acks == 1
