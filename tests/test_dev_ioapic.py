"""The I/O APIC's registers and pins (82093AA datasheet), driven directly:
IOREGSEL/IOWIN, ID, version and arbitration, the redirection table's
writable fields, edge and level pins, masking, remote IRR and the local
APIC's EOI, destinations, and the PC's ISA wiring (IRQ0 on pin 2)."""
from jitemu.devices.ioapic import IOAPIC, IRQRouter
from jitemu.devices.lapic import LocalAPIC
from jitemu.machine import Machine
from jitemu.pc import build_pc

from romutil import rom_with


def board():
    m = Machine(memory_mb=1)
    lapic = m.attach(LocalAPIC())
    io = m.attach(IOAPIC(lapic))
    lapic.write_register(0xF0, 0x1FF)  # software enabled
    return m, io, lapic


def reg(m, index, value=None):
    """Select register `index` in IOREGSEL and read (or write, then read)
    it through IOWIN, as a guest does."""
    io = m.lapic.ioapic
    io._write(0xFEC00000, index, 4)
    if value is not None:
        io._write(0xFEC00010, value, 4)
    return io._read(0xFEC00010, 4)


def route(m, pin, lo, hi=0):
    reg(m, 0x11 + 2 * pin, hi)
    reg(m, 0x10 + 2 * pin, lo)


def test_identification_registers():
    m, io, _ = board()
    assert reg(m, 1) == 0x00170011  # 24 pins, version 0x11
    assert reg(m, 0) == 0
    reg(m, 0, 0x0F000000 | 0xFFFFFF)
    assert reg(m, 0) == 0x0F000000  # a 4-bit ID
    assert reg(m, 2) == 0x0F000000  # arbitration ID: the APIC ID
    assert io._read(0xFEC00000, 4) == 2  # IOREGSEL reads back


def test_redirection_entries_reset_masked_and_keep_their_fields():
    m, io, _ = board()
    assert all(reg(m, 0x10 + 2 * p) == 0x10000 for p in range(24))
    reg(m, 0x10, 0xFFFFFFFF)
    assert reg(m, 0x10) == 0x1AFFF  # no delivery status, no remote IRR from software
    reg(m, 0x11, 0xFFFFFFFF)
    assert reg(m, 0x11) == 0xFF000000  # the destination field


def test_edge_pin_delivers_its_vector_on_a_rising_edge():
    m, io, lapic = board()
    route(m, 4, 0x34)
    io.set_irq(4, 1)
    io.set_irq(4, 1)  # (no new edge)
    assert lapic.ack() == 0x34 and lapic.irr == 0
    assert not lapic.tmr >> 0x34 & 1  # edge: TMR clear
    lapic.write_register(0xB0, 0)
    io.set_irq(4, 0)
    io.set_irq(4, 1)
    assert lapic.irr == 1 << 0x34


def test_a_masked_pin_loses_its_edges():
    m, io, lapic = board()
    route(m, 3, 0x10033)
    io.set_irq(3, 1)
    io.set_irq(3, 0)
    route(m, 3, 0x33)
    assert lapic.irr == 0


def test_level_pin_waits_for_eoi_and_asks_again_while_high():
    m, io, lapic = board()
    route(m, 9, 0x8000 | 0x39)
    io.set_irq(9, 1)
    assert reg(m, 0x10 + 18) & 0x4000  # remote IRR
    assert lapic.ack() == 0x39 and lapic.tmr >> 0x39 & 1
    lapic.write_register(0xB0, 0)  # EOI: remote IRR cleared, and the line is still high
    assert lapic.irr == 1 << 0x39
    assert lapic.ack() == 0x39
    io.set_irq(9, 0)
    lapic.write_register(0xB0, 0)
    assert not reg(m, 0x10 + 18) & 0x4000 and lapic.irr == 0


def test_switching_a_pin_to_edge_clears_remote_irr():
    m, io, lapic = board()
    route(m, 10, 0x8000 | 0x3A)
    io.set_irq(10, 1)
    assert reg(m, 0x10 + 20) & 0x4000
    route(m, 10, 0x3A)  # (Linux's EOI for an I/O APIC without an EOI register)
    assert not reg(m, 0x10 + 20) & 0x4000


def test_destinations_physical_and_logical():
    m, io, lapic = board()
    route(m, 5, 0x35, 1 << 24)  # physical APIC 1: nobody
    io.set_irq(5, 1)
    assert lapic.irr == 0
    lapic.write_register(0xD0, 0x01000000)  # logical ID 1 (flat)
    route(m, 6, 0x800 | 0x36, 0x01000000)
    io.set_irq(6, 1)
    assert lapic.irr == 1 << 0x36


def test_nmi_smi_init_and_extint_modes_are_counted_not_delivered():
    m, io, lapic = board()
    for pin, mode in ((11, 2), (12, 4), (13, 5), (14, 7)):
        route(m, pin, mode << 8 | 0x40)
        io.set_irq(pin, 1)
    assert lapic.irr == 0 and io.ignored == 4


def test_pc_routes_isa_irq0_to_pin_2_and_the_rest_to_their_own_pin():
    pc = build_pc(bios=rom_with(b"\xf4"))
    assert isinstance(pc.machine.interrupt_controller, IRQRouter)
    seen = []
    pc.ioapic.set_irq = lambda pin, level: seen.append((pin, level))
    pc.irqs.set_irq(0, 1)
    pc.irqs.set_irq(1, 1)
    pc.irqs.set_irq(14, 0)
    assert seen == [(2, 1), (1, 1), (14, 0)]
    assert pc.pic.irr & 0b11  # the PICs see them too


def test_snapshot_keeps_the_table_and_remote_irr():
    m, io, lapic = board()
    route(m, 9, 0x8000 | 0x39)
    io.set_irq(9, 1)
    snap = m.snapshot()
    m2, io2, _ = board()
    m2.restore(snap)
    assert io2.redtbl == io.redtbl and io2.lines == io.lines
    assert io2.redtbl[9] & 0x4000
