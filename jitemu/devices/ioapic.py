"""The I/O APIC (Intel 82093AA datasheet) at 0xFEC00000: IOREGSEL (+0x00)
selects a register that IOWIN (+0x10) reads and writes: ID (0), version
(1: 0x00170011, 24 pins), arbitration ID (2), and the redirection table
(0x10 + 2n, low then high dword of pin n): vector, delivery mode (fixed,
lowest priority, SMI, NMI, INIT, ExtINT), destination mode, delivery
status, polarity, remote IRR, trigger mode, mask, destination.

Interrupts go to the local APIC (devices/lapic.py) of the one CPU when the
destination names it.  An edge-triggered pin requests on a rising edge; a
level-triggered one while its line is high, once until the local APIC's
EOI for its vector clears remote IRR (then again if the line is still
high).  Lines are seen at their logical level, as QEMU's are: the polarity
bit is kept but does not invert them.  The ISA IRQs come in through
`IRQRouter`: IRQ0 (the PIT) on pin 2, as SeaBIOS's interrupt source
override says, IRQ n on pin n otherwise.  SMI, NMI, INIT and ExtINT
delivery modes are counted in `ignored`, not delivered.
"""
from .state import apply, capture

BASE = 0xFEC00000
PINS = 24
VERSION = 0x00170011  # (PINS - 1) << 16 | version 0x11
MASKED = 1 << 16
LEVEL = 1 << 15
REMOTE_IRR = 1 << 14
DELIVERY_STATUS = 1 << 12
LOGICAL = 1 << 11
# what software writes in the low dword: vector, delivery and destination
# modes, polarity, trigger mode, mask (delivery status and remote IRR are status)
WRITABLE_LO = 0x1AFFF
DM_FIXED, DM_LOWEST = 0, 1


class IOAPIC:
    STATE = ("ioregsel", "ioapic_id", "redtbl", "irr", "lines", "ignored", "delivered")

    def __init__(self, lapic):
        self.lapic = lapic
        lapic.ioapic = self
        self.machine = None
        self.lines = 0  # input levels, a bit a pin
        self.ignored = 0
        self.delivered = 0
        self.reset()

    def attach(self, machine):
        self.machine = machine
        machine.map_mmio(BASE, 0x1000, self._read, self._write, name="ioapic")

    def reset(self):
        self.ioregsel = 0
        self.ioapic_id = 0
        self.redtbl = [MASKED] * PINS
        self.irr = 0  # pins with a request not delivered yet

    def snapshot(self):
        return capture(self, self.STATE)

    def restore(self, state):
        apply(self, state, self.STATE)
        self.redtbl = list(self.redtbl)

    # -- pins -------------------------------------------------------------------
    def set_irq(self, pin, level):
        bit = 1 << pin
        old = self.lines & bit
        self.lines = (self.lines | bit) if level else (self.lines & ~bit)
        if self.redtbl[pin] & LEVEL:
            if level:
                self.irr |= bit
                self._service()
            else:
                self.irr &= ~bit
        elif level and not old:
            self.irr |= bit
            self._service()

    def _service(self):
        """Send every pending, unmasked request the local APIC can take."""
        pending = self.irr
        while pending:
            pin = pending.bit_length() - 1
            pending &= ~(1 << pin)
            entry = self.redtbl[pin]
            level = bool(entry & LEVEL)
            if not level:
                self.irr &= ~(1 << pin)  # (an edge on a masked pin is lost, as on the 82093AA)
            if entry & MASKED or level and entry & REMOTE_IRR:
                continue
            mode = (entry >> 8) & 7
            if mode not in (DM_FIXED, DM_LOWEST):
                self.ignored += 1
                continue
            if not self.lapic.matches(entry >> 56, bool(entry & LOGICAL)):
                continue
            if level:
                self.redtbl[pin] = entry | REMOTE_IRR
            self.delivered += 1
            self.lapic.accept(entry & 0xFF, level)

    def eoi(self, vector):
        """The local APIC's EOI for a level-triggered `vector`."""
        for pin, entry in enumerate(self.redtbl):
            if entry & REMOTE_IRR and entry & 0xFF == vector:
                self.redtbl[pin] = entry & ~REMOTE_IRR
        self._service()

    # -- registers -----------------------------------------------------------------
    def _read(self, addr, size):
        off = addr & 0xFF
        if off < 4:
            return self.ioregsel >> (8 * off)
        if 0x10 <= off < 0x14:
            return self.read_register(self.ioregsel) >> (8 * (off - 0x10))
        return 0

    def _write(self, addr, value, size):
        off = addr & 0xFF
        if off == 0:
            self.ioregsel = value & 0xFF
        elif off == 0x10 and size == 4:
            self.write_register(self.ioregsel, value & 0xFFFFFFFF)

    def read_register(self, reg):
        if reg == 0:
            return self.ioapic_id << 24
        if reg == 1:
            return VERSION
        if reg == 2:
            return self.ioapic_id << 24  # the arbitration ID is the APIC ID after reset
        if 0x10 <= reg < 0x10 + 2 * PINS:
            entry = self.redtbl[(reg - 0x10) >> 1]
            return entry >> 32 if reg & 1 else entry & 0xFFFFFFFF
        return 0xFFFFFFFF

    def write_register(self, reg, v):
        if reg == 0:
            self.ioapic_id = (v >> 24) & 0xF
        elif 0x10 <= reg < 0x10 + 2 * PINS:
            pin = (reg - 0x10) >> 1
            entry = self.redtbl[pin]
            if reg & 1:
                entry = (entry & 0xFFFFFFFF) | (v & 0xFF000000) << 32
            else:
                entry = (entry & ~WRITABLE_LO) | (v & WRITABLE_LO)
                if not entry & LEVEL:
                    entry &= ~REMOTE_IRR  # (an edge pin has no remote IRR: Linux's EOI for old I/O APICs)
                elif self.lines >> pin & 1:
                    self.irr |= 1 << pin  # a level pin requests while its line is high
            self.redtbl[pin] = entry
            self._service()


class IRQRouter:
    """The PC's ISA interrupt lines go to the 8259 pair and to the I/O
    APIC at once (QEMU's gsi_handler): IRQ0 to pin 2, IRQ n to pin n.  The
    CPU's INTA goes to the local APIC, which asks the PIC for ExtINT."""

    def __init__(self, pic, ioapic, lapic):
        self.pic, self.ioapic, self.lapic = pic, ioapic, lapic

    def set_irq(self, n, level):
        self.pic.set_irq(n, level)
        self.ioapic.set_irq(2 if n == 0 else n, level)

    def ack(self):
        return self.lapic.ack()
