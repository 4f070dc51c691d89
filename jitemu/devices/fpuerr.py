"""The PC's coprocessor error logic: FERR# from the FPU (an unmasked x87
exception with CR0.NE=0, runtime/fpu.c) raises IRQ13 at the slave PIC; a
write to port F0 (any value: IGNNE#) lowers it and lets the FPU signal
again."""


class FpuError:
    def __init__(self, pic, port=0xF0, irq=13):
        self.pic, self.port, self.irq = pic, port, irq

    def attach(self, machine):
        self._machine = machine
        machine.on_ferr = self.ferr
        machine.ports.register(self.port, write=self.write)

    def reset(self):
        self.pic.set_irq(self.irq, 0)

    def snapshot(self):
        return {}  # (IRQ13's level is the PIC's, FERR# the CPU state's)

    def restore(self, state):
        pass

    def ferr(self):
        self.pic.set_irq(self.irq, 1)

    def write(self, port, value, size):
        self.pic.set_irq(self.irq, 0)
        self._machine.s.fpu_ferr = 0
