"""Intel PIIX3 south bridge functions, as QEMU's `-M pc` has them.

- PIIX3 (00:01.0, 8086:7000, class 0601, multi-function): the PCI-to-ISA
  bridge with PIRQ routing (0x60-0x63: bit 7 disables, bits 3-0 the ISA
  IRQ; reset 0x80), the reset control register at port 0xCF9 (a write with
  bit 2 set asks for a reset with source "cf9"; bit 1, hard/soft, is kept)
  and QEMU's port 0x92 (bit 1 gates A20 via machine.set_a20; a 0->1 edge of
  bit 0 asks for a reset with source "port92"; bit 0 reads 0 after reset).
  The ELCR (0x4D0/0x4D1) lives with the PICs in pic.py.
- PIIX3 IDE (00:01.1, 8086:7010, class 0101 prog-if 80: legacy ports,
  bus-master capable): the configuration space, with the bus-master BAR 4
  (16 bytes of I/O) sizable; the ATA channels themselves are ata.py, and
  bus-master DMA is not implemented.
- PIIX4 ACPI power management (00:01.3, 8086:7113, class 0680), which QEMU
  pairs with the PIIX3: PMBASE (0x40, I/O, 64 bytes) enabled by bit 0 of
  0x80, and at PMBASE the PM1 status/enable/control registers and the ACPI
  PM timer (PMBASE+8: 24-bit, 3.579545 MHz on the virtual clock).  A write
  of SLP_EN with sleep type 0 (S5 for this chipset) powers off: the run
  stops and `powered_off` is set.  DEVACTB (0x58) has APMC_EN set, as
  QEMU does when the machine has no SMM, so SeaBIOS skips its SMM setup.
  The APM control and status ports (0xB2, 0xB3) are the FADT's SMI
  command port: writing ACPI_ENABLE (0xF1) or ACPI_DISABLE (0xF0) there sets
  or clears PM1_CNT.SCI_EN directly, as QEMU's PIIX4 does without SMM (an
  OS polls SCI_EN for up to 3 s after asking).
"""
from .i440fx import PCIDevice

PM_TIMER_HZ = 3579545
APM_CNT, APM_STS = 0xB2, 0xB3
ACPI_ENABLE, ACPI_DISABLE, SCI_EN = 0xF1, 0xF0, 1
NS = 1_000_000_000


class PIIX3(PCIDevice):
    def __init__(self, host, slot=1, pic=None):
        super().__init__(0x8086, 0x7000, 0x060100, header_type=0x80, name="piix3")
        c = self.config
        c[0x04] = 0x07
        c[0x07] = 0x02
        c[0x4C] = 0x4D
        c[0x4E] = 0x03
        c[0x60:0x64] = b"\x80\x80\x80\x80"
        c[0x69] = 0x02
        c[0x70] = 0x80
        c[0x76] = c[0x77] = 0x0C
        c[0x78] = 0x02
        c[0xA0] = 0x08
        c[0xA8] = 0x0F
        self.host = host
        self.slot = slot
        host.bus.add(self, slot, 0)
        self.machine = None
        self.rcr = 0
        self._port92 = 0x02
        self.pirq_levels = [0, 0, 0, 0]
        self._isa_levels = {}

    def attach(self, machine):
        self.machine = machine
        machine.ports.register(0xCF9, read=self._read_rcr, write=self._write_rcr)
        machine.ports.register(0x92, read=self._read_92, write=self._write_92)
        self.port92 = self._port92  # SeaBIOS reads port 0x92 at every mode switch: served in C

    @property
    def port92(self):
        return self._port92

    @port92.setter
    def port92(self, value):
        self._port92 = value
        if self.machine is not None:
            self.machine.ports.fast_latch(0x92, value)

    def reset(self):
        super().reset()
        self.rcr = 0
        self.port92 = (self.port92 & ~1) | 0x02  # the CPU comes out of reset with A20 on
        self._route()

    def snapshot(self):
        return {"config": bytes(self.config), "rcr": self.rcr, "port92": self.port92,
                "pirq_levels": list(self.pirq_levels), "isa_levels": sorted(self._isa_levels.items())}

    def restore(self, state):
        self.config[:] = state["config"]
        self.rcr, self.port92 = state["rcr"], state["port92"]
        self.pirq_levels = list(state["pirq_levels"])
        self._isa_levels = {irq: lv for irq, lv in state["isa_levels"]}

    # -- reset control and port 0x92 --------------------------------------------
    def _read_rcr(self, port, size):
        return self.rcr

    def _write_rcr(self, port, value, size):
        if value & 4:
            self.machine.request_reset("cf9")
            return
        self.rcr = value & 2

    def _read_92(self, port, size):
        return self.port92

    def _write_92(self, port, value, size):
        old = self.port92
        self.port92 = value & 0xFF
        self.machine.set_a20(bool(value & 2))
        if value & 1 and not old & 1:
            self.machine.request_reset("port92")

    # -- PCI interrupts -----------------------------------------------------------
    def set_pirq(self, pirq, level):
        """PCI interrupt PIRQA-D (0-3) to the ISA IRQ its route register names."""
        self.pirq_levels[pirq] = 1 if level else 0
        self._route()

    def config_written(self, off, size):
        if off < 0x64 and off + size > 0x60:
            self._route()

    def _route(self):
        levels = {}
        for i in range(4):
            r = self.config[0x60 + i]
            if not r & 0x80 and r & 0x0F:
                irq = r & 0x0F
                levels[irq] = levels.get(irq, 0) | self.pirq_levels[i]
        pic = getattr(self.machine, "interrupt_controller", None)
        for irq in set(levels) | set(self._isa_levels):
            lv = levels.get(irq, 0)
            if self._isa_levels.get(irq, 0) != lv and pic is not None:
                pic.set_irq(irq, lv)
        self._isa_levels = {k: v for k, v in levels.items() if v}


class PIIX3IDE(PCIDevice):
    def __init__(self, host, slot=1, fn=1):
        super().__init__(0x8086, 0x7010, 0x010180, name="piix3-ide")
        self.set16(0x06, 0x0280)  # fast back-to-back, medium DEVSEL
        self.add_bar(4, 16, io=True)
        host.bus.add(self, slot, fn)

    def attach(self, machine):
        pass


class PIIX4PM(PCIDevice):
    def __init__(self, host, slot=1, fn=3, sci_irq=9):
        super().__init__(0x8086, 0x7113, 0x068000, revision=0x03, name="piix4-pm")
        self.config[0x3D] = 0x01  # INTA
        self.config[0x3C] = sci_irq
        self.set32(0x40, 1)  # PMBASE: I/O space indicator
        self.set_wmask(0x40, 0xFFC0, 4)
        self.config[0x5B] = 0x02  # DEVACTB APMC_EN: "SMM already set up" (no SMM here)
        self.set32(0x90, 1)  # SMBus base: I/O space indicator
        self.set_wmask(0x90, 0xFFF0, 4)
        host.bus.add(self, slot, fn)
        self.machine = None
        self.base = None
        self._registered = set()
        self.pm1_sts = 0
        self.pm1_en = 0
        self.pm1_cnt = 0
        self.apm_cnt = self.apm_sts = 0
        self.powered_off = False

    def attach(self, machine):
        self.machine = machine
        machine.ports.register([APM_CNT, APM_STS], read=self._apm_read, write=self._apm_write)
        self._update_io()

    def reset(self):
        super().reset()
        self.pm1_sts = self.pm1_en = self.pm1_cnt = 0
        self.apm_cnt = self.apm_sts = 0
        self._update_io()

    def _apm_read(self, port, size):
        return self.apm_cnt if port == APM_CNT else self.apm_sts

    def _apm_write(self, port, value, size):
        if port == APM_STS:
            self.apm_sts = value & 0xFF
            return
        self.apm_cnt = value & 0xFF
        if self.apm_cnt == ACPI_ENABLE:
            self.pm1_cnt |= SCI_EN
        elif self.apm_cnt == ACPI_DISABLE:
            self.pm1_cnt &= ~SCI_EN

    def config_written(self, off, size):
        if (off < 0x44 and off + size > 0x40) or (off <= 0x80 < off + size):
            self._update_io()

    def snapshot(self):
        return {"config": bytes(self.config), "pm1_sts": self.pm1_sts, "pm1_en": self.pm1_en,
                "pm1_cnt": self.pm1_cnt, "powered_off": self.powered_off,
                "apm_cnt": self.apm_cnt, "apm_sts": self.apm_sts}

    def restore(self, state):
        self.config[:] = state["config"]
        self.pm1_sts, self.pm1_en, self.pm1_cnt = state["pm1_sts"], state["pm1_en"], state["pm1_cnt"]
        self.apm_cnt, self.apm_sts = state.get("apm_cnt", 0), state.get("apm_sts", 0)
        self.powered_off = state["powered_off"]
        self._update_io()  # PMBASE's ports

    def _update_io(self):
        base = self.get(0x40, 4) & 0xFFC0 if self.config[0x80] & 1 else None
        old, self.base = self.base, base
        m = self.machine
        if m is None:
            return
        if old is not None and old != base:
            m.ports.fast_clear(range(old + 8, old + 12))  # _read answers all ones there now
        if base is None:
            return
        ports = range(base, base + 12)
        new = [p for p in ports if p not in self._registered]
        if new:
            m.ports.register(new, read=self._read, write=self._write)
            self._registered.update(new)
        # Firmware polls the timer for every delay: reads are served in C.
        m.ports.fast_counter(base + 8, PM_TIMER_HZ, 24)

    def timer(self, now=None):
        now = self.machine.clock.now() if now is None else now
        return (now * PM_TIMER_HZ // NS) & 0xFFFFFF

    def _regs(self):
        return self.pm1_sts.to_bytes(2, "little") + self.pm1_en.to_bytes(2, "little") + \
            self.pm1_cnt.to_bytes(2, "little") + b"\0\0" + self.timer().to_bytes(4, "little")

    def _read(self, port, size):
        if self.base is None or not self.base <= port < self.base + 12:
            return (1 << (8 * size)) - 1  # an old PMBASE
        off = port - self.base
        if off == 8 and size == 4:  # the PM timer, polled in delay loops: without building _regs()
            return (self.machine.clock.now() * PM_TIMER_HZ // NS) & 0xFFFFFF
        regs = self._regs()
        return int.from_bytes(regs[off:off + size].ljust(size, b"\xff"), "little")

    def _write(self, port, value, size):
        if self.base is None or not self.base <= port < self.base + 12:
            return
        off = port - self.base
        for i in range(size):
            a, b = off + i, (value >> (8 * i)) & 0xFF
            if a < 2:  # PM1_STS: write 1 to clear
                self.pm1_sts &= ~(b << (8 * a))
            elif a < 4:
                sh = 8 * (a - 2)
                self.pm1_en = (self.pm1_en & ~(0xFF << sh)) | (b << sh)
            elif a < 6:
                sh = 8 * (a - 4)
                cnt = (self.pm1_cnt & ~(0xFF << sh)) | (b << sh)
                if cnt & 0x2000:  # SLP_EN
                    if (cnt >> 10) & 7 == 0:
                        self.powered_off = True
                        self.machine.request_exit()
                    cnt &= ~0x2000  # write-only
                self.pm1_cnt = cnt
