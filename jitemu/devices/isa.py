"""Small helpers shared by the ISA devices: IRQ lines that go through the
machine's interrupt controller, and BCD conversion."""


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


def bcd(v):
    return ((v // 10) << 4) | (v % 10)


def from_bcd(v):
    return (v >> 4) * 10 + (v & 0xF)
