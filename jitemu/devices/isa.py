"""Small helpers shared by the ISA devices: IRQ lines that go through the
machine's interrupt controller, and splitting of wide port accesses into
byte accesses (an 8-bit ISA device sees a 16-bit IN/OUT as two cycles on
consecutive ports, as QEMU's memory core does for byte-wide devices)."""


class IRQLine:
    """One ISA interrupt request line.  The level goes to
    machine.interrupt_controller.set_irq(n, level) when there is one (looked
    up at each change, so the PIC may be attached later)."""

    def __init__(self, n):
        self.n = n
        self.level = 0
        self.machine = None

    def set(self, level):
        level = 1 if level else 0
        self.level = level
        m = self.machine
        pic = getattr(m, "interrupt_controller", None) if m is not None else None
        if pic is not None and hasattr(pic, "set_irq"):
            pic.set_irq(self.n, level)

    def raise_(self):
        self.set(1)

    def lower(self):
        self.set(0)

    def pulse(self):
        self.set(1)
        self.set(0)


def register_bytewise(machine, ports, read=None, write=None):
    """Register byte-wide handlers read(port) -> int and write(port, value)
    on `ports`; a wider access at one of them is split into byte accesses
    at port, port+1, ... through the machine's port bus."""
    bus = machine.ports

    def rd(port, size):
        v = read(port) & 0xFF
        for i in range(1, size):
            v |= (bus.read(port + i, 1) & 0xFF) << (8 * i)
        return v

    def wr(port, value, size):
        write(port, value & 0xFF)
        for i in range(1, size):
            bus.write(port + i, (value >> (8 * i)) & 0xFF, 1)

    bus.register(ports, read=rd if read is not None else None, write=wr if write is not None else None)


def bcd(v):
    return ((v // 10) << 4) | (v % 10)


def from_bcd(v):
    return (v >> 4) * 10 + (v & 0xF)
