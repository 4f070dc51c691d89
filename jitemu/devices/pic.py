"""Two cascaded Intel 8259A programmable interrupt controllers, as on the PC
(master at 0x20/0x21 with the slave on IR2, slave at 0xA0/0xA1), plus the
edge/level control registers (ELCR, 0x4D0/0x4D1) that the PIIX3 puts next
to them.

Behaviour follows the 8259A datasheet and QEMU's i8259: ICW1-ICW4, OCW1
(mask), OCW2 (non-specific/specific EOI, rotation, set priority), OCW3 (IRR
or ISR read, poll, special mask mode), edge and level triggering (ICW1 LTIM
or the ELCR), fully nested priority with rotation, special fully nested mode
for the cascade, auto-EOI (with rotation), and the spurious IRQ7/IRQ15 a
request that disappears before INTA produces.

The Machine sees `ack()` (the INTA cycle: returns the vector) and the INTR
output through `machine.set_irq_line`, or the local APIC's LINT0 (`intr`).  Devices call `set_irq(n, level)`,
`raise_irq(n)`, `lower_irq(n)` or `pulse(n)` with n = 0..15.
"""


from .state import apply, capture


class I8259:
    """One 8259A."""

    STATE = ("elcr", "irr", "last_irr", "imr", "isr", "priority_add", "irq_base", "read_isr", "poll",
             "special_mask", "init_state", "init4", "single", "ltim", "auto_eoi", "rotate_on_auto_eoi",
             "special_fully_nested")

    def __init__(self, master, elcr_mask):
        self.master = master
        self.elcr_mask = elcr_mask
        self.elcr = 0
        self.irr = 0
        self.init_reset()

    def init_reset(self):
        """ICW1 and reset: everything but the ELCR (and the input lines)."""
        self.last_irr = 0  # input levels as last seen (edge detection)
        self.irr &= self.elcr
        self.imr = 0
        self.isr = 0
        self.priority_add = 0  # the level with the highest priority
        self.irq_base = 0
        self.read_isr = False
        self.poll = False
        self.special_mask = False
        self.init_state = 0
        self.init4 = False
        self.single = False
        self.ltim = False
        self.auto_eoi = False
        self.rotate_on_auto_eoi = False
        self.special_fully_nested = False

    # -- priority ------------------------------------------------------
    def _priority(self, mask):
        """Priority (0 = highest) of the highest-priority bit in mask, 8 if none."""
        if not mask:
            return 8
        p = 0
        while not mask & (1 << ((p + self.priority_add) & 7)):
            p += 1
        return p

    def get_irq(self):
        """The IR level this PIC would present to the CPU now, or -1."""
        mask = self.irr & ~self.imr
        if self.special_mask:
            mask &= ~self.isr  # all other unmasked levels, lower ones too
            p = self._priority(mask)
            return -1 if p == 8 else (p + self.priority_add) & 7
        p = self._priority(mask)
        if p == 8:
            return -1
        cur = self.isr
        if self.special_fully_nested and self.master:
            cur &= ~(1 << 2)  # the slave may interrupt its own in-service level
        if p < self._priority(cur):
            return (p + self.priority_add) & 7
        return -1

    def is_level(self, irq):
        return self.ltim or bool(self.elcr & (1 << irq))

    def set_input(self, irq, level):
        bit = 1 << irq
        if self.is_level(irq):
            if level:
                self.irr |= bit
                self.last_irr |= bit
            else:
                self.irr &= ~bit
                self.last_irr &= ~bit
        else:
            if level:
                if not self.last_irr & bit:
                    self.irr |= bit  # rising edge
                self.last_irr |= bit
            else:
                self.last_irr &= ~bit

    def intack(self, irq):
        bit = 1 << irq
        if self.auto_eoi:
            if self.rotate_on_auto_eoi:
                self.priority_add = (irq + 1) & 7
        else:
            self.isr |= bit
        if not self.is_level(irq):
            self.irr &= ~bit  # a level-triggered request stays while its line is high

    def eoi_nonspecific(self, rotate):
        p = self._priority(self.isr)
        if p != 8:
            irq = (p + self.priority_add) & 7
            self.isr &= ~(1 << irq)
            if rotate:
                self.priority_add = (irq + 1) & 7


class PIC:
    """The PC's master/slave pair."""

    def __init__(self, elcr_ports=(0x4D0, 0x4D1)):
        self.master = I8259(True, 0xF8)
        self.slave = I8259(False, 0xDE)
        self.elcr_ports = tuple(elcr_ports) if elcr_ports else ()
        self.lines = 0  # input levels of IRQ0-15
        self.output = 0  # INTR as last driven
        # Where INTR goes: the CPU (machine.set_irq_line), or with a local
        # APIC its LINT0 input (devices/lapic.py sets this).
        self.intr = None
        self.machine = None
        self.acks = 0
        self.spurious = 0

    def attach(self, machine):
        self.machine = machine
        machine.interrupt_controller = self
        machine.ports.register((0x20, 0x21), read=self._read_port(self.master), write=self._write_port(self.master))
        machine.ports.register((0xA0, 0xA1), read=self._read_port(self.slave), write=self._write_port(self.slave))
        if self.elcr_ports:
            machine.ports.register(self.elcr_ports, read=self._elcr_read, write=self._elcr_write)
        self._update()

    def reset(self):
        for p in (self.master, self.slave):
            p.elcr = 0
            p.irr = 0
            p.init_reset()
        self._update()

    # -- snapshots (jitemu/snapshot.py) ------------------------------------
    def snapshot(self):
        return {"master": capture(self.master, I8259.STATE), "slave": capture(self.slave, I8259.STATE),
                "lines": self.lines, "output": self.output, "acks": self.acks, "spurious": self.spurious}

    def restore(self, state):
        # (INTR itself is in the CPU state: nothing is driven here)
        apply(self.master, state["master"], I8259.STATE)
        apply(self.slave, state["slave"], I8259.STATE)
        self.lines, self.output = state["lines"], state["output"]
        self.acks, self.spurious = state["acks"], state["spurious"]

    # -- device side ---------------------------------------------------
    def set_irq(self, n, level):
        if not 0 <= n < 16:
            raise ValueError("IRQ %d out of range" % n)
        bit = 1 << n
        self.lines = (self.lines | bit) if level else (self.lines & ~bit)
        if n < 8:
            self.master.set_input(n, level)
        else:
            self.slave.set_input(n - 8, level)
        self._update()

    def raise_irq(self, n):
        self.set_irq(n, 1)

    def lower_irq(self, n):
        self.set_irq(n, 0)

    def pulse(self, n):
        self.set_irq(n, 1)
        self.set_irq(n, 0)

    # -- CPU side --------------------------------------------------------
    def _update(self):
        # The slave's INT output is the master's IR2 input, taken as a
        # level so a second slave request is not lost behind the first.
        if not self.master.single:
            if self.slave.get_irq() >= 0:
                self.master.irr |= 4
            else:
                self.master.irr &= ~4
        out = 1 if self.master.get_irq() >= 0 else 0
        self.output = out
        if self.intr is not None:
            self.intr(out)
        elif self.machine is not None:
            self.machine.set_irq_line(out)

    def pending(self):
        """The vector the CPU would get now (without acknowledging), or -1."""
        irq = self.master.get_irq()
        if irq < 0:
            return -1
        if irq == 2 and not self.master.single:
            irq2 = self.slave.get_irq()
            return self.slave.irq_base + (irq2 if irq2 >= 0 else 7)
        return self.master.irq_base + irq

    def ack(self):
        """The INTA cycle: the vector of the highest-priority request, with
        IRR/ISR updated; a request that went away gives the spurious IRQ7
        (or IRQ15 from the slave) vector, with no ISR bit set."""
        self.acks += 1
        m, s = self.master, self.slave
        irq = m.get_irq()
        if irq >= 0:
            m.intack(irq)
            if irq == 2 and not m.single:
                irq2 = s.get_irq()
                if irq2 >= 0:
                    s.intack(irq2)
                else:
                    irq2 = 7
                    self.spurious += 1
                vector = s.irq_base + irq2
            else:
                vector = m.irq_base + irq
        else:
            self.spurious += 1
            vector = m.irq_base + 7
        self._update()
        return vector

    # -- ports -------------------------------------------------------------
    def _read_port(self, pic):
        def read(port, size):
            if port & 1:
                return pic.imr
            if pic.poll:
                pic.poll = False
                return self._poll(pic)
            return pic.isr if pic.read_isr else pic.irr
        return read

    def _poll(self, pic):
        irq = pic.get_irq()
        if irq < 0:
            return 0
        pic.intack(irq)
        if pic is self.master and irq == 2:
            irq2 = self.slave.get_irq()
            if irq2 >= 0:
                self.slave.intack(irq2)
        self._update()
        return 0x80 | irq

    def _write_port(self, pic):
        def write(port, value, size):
            value &= 0xFF
            if port & 1:
                self._write_data(pic, value)
            else:
                self._write_command(pic, value)
            self._update()
        return write

    def _write_command(self, pic, v):
        if v & 0x10:  # ICW1
            pic.init_reset()
            pic.init_state = 1
            pic.init4 = bool(v & 1)
            pic.single = bool(v & 2)
            pic.ltim = bool(v & 8)
        elif v & 0x08:  # OCW3
            if v & 0x04:
                pic.poll = True
            if v & 0x02:
                pic.read_isr = bool(v & 1)
            if v & 0x40:
                pic.special_mask = bool(v & 0x20)
        else:  # OCW2
            cmd = v >> 5
            if cmd in (0, 4):  # clear / set rotate in auto-EOI mode
                pic.rotate_on_auto_eoi = cmd == 4
            elif cmd in (1, 5):  # non-specific EOI (with rotation)
                pic.eoi_nonspecific(cmd == 5)
            elif cmd in (3, 7):  # specific EOI (with rotation)
                irq = v & 7
                pic.isr &= ~(1 << irq)
                if cmd == 7:
                    pic.priority_add = (irq + 1) & 7
            elif cmd == 6:  # set priority: IRn becomes the lowest
                pic.priority_add = ((v & 7) + 1) & 7
            # cmd 2: no operation

    def _write_data(self, pic, v):
        st = pic.init_state
        if st == 0:  # OCW1
            pic.imr = v
        elif st == 1:  # ICW2
            pic.irq_base = v & 0xF8
            pic.init_state = (3 if pic.init4 else 0) if pic.single else 2
        elif st == 2:  # ICW3 (cascade wiring is fixed on a PC)
            pic.init_state = 3 if pic.init4 else 0
        elif st == 3:  # ICW4
            pic.special_fully_nested = bool(v & 0x10)
            pic.auto_eoi = bool(v & 0x02)
            pic.init_state = 0

    def _elcr_read(self, port, size):
        v = self.master.elcr if port == self.elcr_ports[0] else self.slave.elcr
        if size > 1 and port == self.elcr_ports[0]:
            v |= self.slave.elcr << 8
        return v

    def _elcr_write(self, port, value, size):
        if port == self.elcr_ports[0]:
            self.master.elcr = value & self.master.elcr_mask
            if size > 1:
                self.slave.elcr = (value >> 8) & self.slave.elcr_mask
        else:
            self.slave.elcr = value & self.slave.elcr_mask
        self._update()

    # -- inspection ----------------------------------------------------------
    @property
    def irr(self):
        return self.master.irr | (self.slave.irr << 8)

    @property
    def isr(self):
        return self.master.isr | (self.slave.isr << 8)

    @property
    def imr(self):
        return self.master.imr | (self.slave.imr << 8)
