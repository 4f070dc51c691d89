"""The local APIC (xAPIC, Intel SDM vol. 3 ch. 10 "Advanced Programmable
Interrupt Controller"): its 4 KiB of registers at 0xFEE00000, the
interrupts it accepts (its timer, its LVT entries, the I/O APIC, IPIs to
itself) and the CPU's INTR line and INTA cycle while it is enabled.

There is one CPU, the bootstrap processor with APIC ID 0.  Registers: ID,
version (0x50014 as QEMU: version 0x14, six LVT entries), TPR, APR, PPR,
EOI, LDR, DFR, SVR, ISR/TMR/IRR, ESR, ICR, the LVT (timer, thermal,
performance counters, LINT0, LINT1, error), the timer's initial and
current count and its divide configuration.  The timer counts the 1 GHz
bus clock (guest nanoseconds, as QEMU's) divided by 1-128, one-shot or
periodic (no TSC-deadline mode: CPUID does not report it).

The 8259 pair reaches the CPU through LINT0: while the APIC is disabled
(IA32_APIC_BASE bit 11 clear, or SVR bit 8 clear) its INTR output is the
CPU's; while enabled, LINT0 programmed as ExtINT and unmasked passes it
(virtual-wire mode) and the PIC names the vector at INTA, ahead of any
fixed interrupt (ExtINT ignores priority).  At reset LINT0 is ExtINT,
unmasked, on the bootstrap processor, as QEMU has it, so the PIC works
before firmware programs the APIC.

Not modelled: NMI, SMI, INIT and SIPI delivery (an IPI of those modes, and
LVT entries in them, are counted in `ignored`: the one CPU has nobody to
start, and nothing on this PC drives LINT1); moving the register page
(IA32_APIC_BASE's base stays 0xFEE00000: the page does not follow it).
"""
from .state import apply, arm, capture, timer_when

BASE = 0xFEE00000
VERSION = 0x00050014  # version 0x14, max LVT entry 5 (QEMU's)
MSR_BSP, MSR_ENABLE = 0x100, 0x800
RESET_APIC_BASE = BASE | MSR_BSP | MSR_ENABLE

# LVT entries, in register order 0x320-0x370
LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR = range(6)
# What software can write in each (the rest reads as zero or is status)
LVT_WRITABLE = (0x300FF, 0x107FF, 0x107FF, 0x1A7FF, 0x1A7FF, 0x100FF)
MASKED = 1 << 16
PERIODIC = 1 << 17
LEVEL_TRIGGER = 1 << 15
REMOTE_IRR = 1 << 14
DM_FIXED, DM_LOWEST, DM_SMI, DM_NMI, DM_INIT, DM_SIPI, DM_EXTINT = 0, 1, 2, 4, 5, 6, 7
SVR_ENABLE = 1 << 8

# ESR bits (SDM 10.5.3)
ESR_SEND_ILLEGAL_VECTOR = 1 << 5
ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6
ESR_ILLEGAL_REGISTER = 1 << 7


def _top(bits):
    """The highest set bit of a 256-bit vector set, or -1."""
    return bits.bit_length() - 1


class LocalAPIC:
    STATE = ("apicbase", "apic_id", "tpr", "ldr", "dfr", "svr", "isr", "irr", "tmr", "esr", "esr_pending",
             "icr_lo", "icr_hi", "lvt", "initial_count", "divide", "load_time", "lint0_level",
             "spurious_owed", "output", "ignored", "spurious")

    def __init__(self, pic=None, apic_id=0):
        self.pic = pic
        self.reset_id = apic_id
        self.ioapic = None  # EOI of a level-triggered vector goes to it (devices/ioapic.py)
        self.machine = None
        self._timer = None
        self.lint0_level = 0
        self.output = 0
        self.ignored = 0
        self.spurious = 0
        self.reset()

    # -- wiring ---------------------------------------------------------------
    def attach(self, machine):
        from .._runtime import lib
        self.machine = machine
        machine.map_mmio(BASE, 0x1000, self._read, self._write, name="lapic")
        machine.on_apic_base = self._apic_base_written
        machine.lapic = self
        if machine.interrupt_controller is None:
            machine.interrupt_controller = self  # (a bare machine; the PC routes INTA here too)
        lib.rt_set_apic(machine.s, 1)
        if self.pic is not None:
            self.pic.intr = self.set_lint0
        self._update()

    def reset(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.apicbase = RESET_APIC_BASE
        self.apic_id = self.reset_id
        self.tpr = 0
        self.ldr = 0
        self.dfr = 0xFFFFFFFF  # flat model
        self.svr = 0xFF  # software disabled, spurious vector FF
        self.isr = self.irr = self.tmr = 0
        self.esr = self.esr_pending = 0
        self.icr_lo = self.icr_hi = 0
        self.lvt = [MASKED] * 6
        self.lvt[LVT_LINT0] = DM_EXTINT << 8  # (QEMU's BSP: the PIC works before firmware programs LINT0)
        self.initial_count = 0
        self.divide = 0  # divide by 2
        self.load_time = 0
        self.spurious_owed = False
        if self.machine is not None:
            self._update()

    # -- snapshots (jitemu/snapshot.py) -----------------------------------------
    def snapshot(self):
        state = capture(self, self.STATE)
        state["timer"] = timer_when(self._timer)
        return state

    def restore(self, state):
        apply(self, state, self.STATE)
        self.lvt = list(self.lvt)
        self._timer = arm(self.machine, state["timer"], self._timer_fire)

    # -- state ----------------------------------------------------------------
    @property
    def hw_enabled(self):
        return bool(self.apicbase & MSR_ENABLE)

    @property
    def enabled(self):
        """Globally and software enabled: interrupts go through the APIC."""
        return bool(self.apicbase & MSR_ENABLE) and bool(self.svr & SVR_ENABLE)

    def _apic_base_written(self, value):
        self.apicbase = (value & ~MSR_BSP) | MSR_BSP  # (one CPU: always the BSP)
        self._update(masking=True)

    @property
    def ppr(self):
        """Processor priority (SDM 10.8.3.1): the TPR, or the class of the
        highest in-service vector if that is higher."""
        isrv = max(_top(self.isr), 0)
        return self.tpr & 0xFF if (self.tpr >> 4) >= (isrv >> 4) else isrv & 0xF0

    def _deliverable(self):
        """The vector the APIC would give the CPU now, or -1: the highest
        requested one whose priority class is above the PPR's."""
        v = _top(self.irr)
        if v < 0 or (v >> 4) <= (self.ppr >> 4):
            return -1
        return v

    def _extint(self):
        """The PIC's request, passed through LINT0 in ExtINT mode."""
        lint0 = self.lvt[LVT_LINT0]
        return self.lint0_level and not lint0 & MASKED and (lint0 >> 8) & 7 == DM_EXTINT

    def _update(self, masking=False):
        """Drive the CPU's INTR line.  `masking`: the guest may have just
        masked what the line was asserted for (a TPR write, disabling the
        APIC); the line then stays up and the INTA cycle gets the spurious
        vector (SDM 10.9)."""
        if self.machine is None:
            return
        if not self.enabled:
            level = self.lint0_level or self.spurious_owed
        else:
            level = bool(self._extint()) or self._deliverable() >= 0 or self.spurious_owed
        if masking and not level and self.output and not self.lint0_level:
            self.spurious_owed = True
            level = True
        self.output = 1 if level else 0
        self.machine.set_irq_line(self.output)

    # -- the CPU side -----------------------------------------------------------
    def ack(self):
        """The INTA cycle: the vector, with IRR and ISR updated."""
        if self.enabled and self._extint() or not self.enabled and self.lint0_level:
            return self.pic.ack() if self.pic is not None else -1  # (which updates LINT0)
        v = self._deliverable() if self.enabled else -1
        if v < 0:
            self.spurious_owed = False
            self.spurious += 1
            vector = self.svr & 0xFF  # no ISR bit: its handler sends no EOI
            self._update()
            return vector
        bit = 1 << v
        self.irr &= ~bit
        self.isr |= bit
        self._update()
        return v

    # -- interrupts arriving --------------------------------------------------
    def accept(self, vector, level_triggered=False):
        """A fixed (or lowest-priority) interrupt for this CPU."""
        if vector < 16:
            self._error(ESR_RECEIVE_ILLEGAL_VECTOR)
            return
        bit = 1 << vector
        self.irr |= bit
        self.tmr = (self.tmr | bit) if level_triggered else (self.tmr & ~bit)
        self._update()

    def matches(self, dest, logical):
        """Whether a message to `dest` in physical or logical destination
        mode (SDM 10.6.2) is for this APIC."""
        if not logical:
            return dest == 0xFF or dest == self.apic_id
        if dest == 0xFF:
            return True
        ldr = self.ldr >> 24
        if self.dfr >> 28 == 0xF:  # flat
            return bool(ldr & dest)
        return dest >> 4 == ldr >> 4 and bool(dest & ldr & 0xF)  # cluster

    def set_lint0(self, level):
        """The PIC's INTR output, wired to LINT0."""
        old, self.lint0_level = self.lint0_level, 1 if level else 0
        lint0 = self.lvt[LVT_LINT0]
        if self.enabled and not lint0 & MASKED and (lint0 >> 8) & 7 == DM_FIXED:
            # (a fixed vector on LINT0: an edge requests it; a level one is
            # withdrawn with its line, as QEMU does)
            if level and not old:
                self.accept(lint0 & 0xFF, bool(lint0 & LEVEL_TRIGGER))
                return
            if not level and lint0 & LEVEL_TRIGGER:
                self.irr &= ~(1 << (lint0 & 0xFF))
        self._update()

    def _local(self, which):
        """Deliver an LVT entry's interrupt (the timer, the error)."""
        lvt = self.lvt[which]
        if lvt & MASKED or not self.enabled:
            return
        mode = (lvt >> 8) & 7 if which != LVT_TIMER else DM_FIXED
        if mode == DM_FIXED:
            self.accept(lvt & 0xFF)
        else:
            self.ignored += 1

    def _error(self, bits):
        new = bits & ~self.esr_pending
        self.esr_pending |= bits
        if new:
            self._local(LVT_ERROR)

    # -- the timer (SDM 10.5.4) ---------------------------------------------------
    @property
    def _shift(self):
        d = ((self.divide >> 1) & 4) | (self.divide & 3)
        return 0 if d == 7 else d + 1

    def _now(self):
        return self.machine.clock.now()

    def current_count(self):
        if not self.initial_count:
            return 0
        ticks = (self._now() - self.load_time) >> self._shift
        if self.lvt[LVT_TIMER] & PERIODIC:
            return self.initial_count - ticks % self.initial_count
        return max(0, self.initial_count - ticks)

    def _arm(self):
        """Schedule the next expiry from load_time, initial_count and the mode."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.initial_count:
            return
        period = self.initial_count << self._shift
        elapsed = self._now() - self.load_time
        if self.lvt[LVT_TIMER] & PERIODIC:
            when = self.load_time + (elapsed // period + 1) * period
        elif elapsed < period:
            when = self.load_time + period
        else:
            return  # a one-shot count that reached zero already
        self._timer = self.machine.clock.call_at(when, self._timer_fire)

    def _timer_fire(self):
        self._timer = None
        self._local(LVT_TIMER)
        if self.lvt[LVT_TIMER] & PERIODIC:
            self._arm()

    # -- registers ------------------------------------------------------------------
    def _read(self, addr, size):
        off = addr & 0xFFF
        value = self.read_register(off & ~0xF)
        return (value >> (8 * (off & 3))) if off & 0xF < 4 else 0

    def _write(self, addr, value, size):
        off = addr & 0xFFF
        if off & 0xF or size != 4:
            return  # (the SDM asks for aligned 32-bit accesses; others are undefined: ignored)
        self.write_register(off, value & 0xFFFFFFFF)

    def read_register(self, off):
        r = off >> 4
        if r == 0x02:
            return self.apic_id << 24
        if r == 0x03:
            return VERSION
        if r == 0x08:
            return self.tpr
        if r == 0x09:
            return 0  # APR: arbitration among CPUs; there is one
        if r == 0x0A:
            return self.ppr
        if r == 0x0B:
            return 0  # EOI is write-only
        if r == 0x0D:
            return self.ldr
        if r == 0x0E:
            return self.dfr
        if r == 0x0F:
            return self.svr
        if 0x10 <= r < 0x28:
            bits = (self.isr, self.tmr, self.irr)[(r - 0x10) >> 3]
            return (bits >> (32 * (r & 7))) & 0xFFFFFFFF
        if r == 0x28:
            return self.esr
        if r == 0x30:
            return self.icr_lo  # (delivery status 0: an IPI is delivered at once)
        if r == 0x31:
            return self.icr_hi
        if 0x32 <= r <= 0x37:
            return self.lvt[r - 0x32]
        if r == 0x38:
            return self.initial_count
        if r == 0x39:
            return self.current_count()
        if r == 0x3E:
            return self.divide
        return 0  # reserved (and RRD, 0x0C: remote reads are not supported)

    def write_register(self, off, v):
        r = off >> 4
        if r == 0x02:
            self.apic_id = v >> 24
        elif r == 0x08:
            self.tpr = v & 0xFF
            self._update(masking=True)
        elif r == 0x0B:
            self._eoi()
        elif r == 0x0D:
            self.ldr = v & 0xFF000000
        elif r == 0x0E:
            self.dfr = v | 0x0FFFFFFF
        elif r == 0x0F:
            self.svr = v & 0x1FF
            if not self.svr & SVR_ENABLE:
                # software disabled: every LVT entry masked (SDM 10.4.7.2)
                self.lvt = [e | MASKED for e in self.lvt]
            self._update(masking=True)
        elif r == 0x28:
            self.esr, self.esr_pending = self.esr_pending, 0
        elif r == 0x30:
            self.icr_lo = v & 0x000CDFFF
            self._ipi()
        elif r == 0x31:
            self.icr_hi = v & 0xFF000000
        elif 0x32 <= r <= 0x37:
            which = r - 0x32
            v &= LVT_WRITABLE[which]
            if not self.svr & SVR_ENABLE:
                v |= MASKED  # (the mask cannot be cleared while software disabled)
            self.lvt[which] = v | (self.lvt[which] & REMOTE_IRR)
            if which == LVT_TIMER:
                self._arm()
            elif which == LVT_LINT0:
                self.set_lint0(self.lint0_level)
        elif r == 0x38:
            self.initial_count = v
            self.load_time = self._now()
            self._arm()
        elif r == 0x3E:
            self.divide = v & 0xB
            self._arm()
        elif r in (0x03, 0x09, 0x0A, 0x0C) or 0x10 <= r < 0x28 or r == 0x39:
            pass  # read-only
        else:
            self._error(ESR_ILLEGAL_REGISTER)

    def _eoi(self):
        v = _top(self.isr)
        if v < 0:
            return
        bit = 1 << v
        self.isr &= ~bit
        if self.tmr & bit and self.ioapic is not None:
            self.ioapic.eoi(v)  # level-triggered: the I/O APIC clears its remote IRR
        self._update()

    def _ipi(self):
        """An IPI (SDM 10.6): fixed and lowest-priority ones that reach
        this CPU are accepted at once; there are no other CPUs."""
        lo = self.icr_lo
        mode, vector = (lo >> 8) & 7, lo & 0xFF
        shorthand = (lo >> 18) & 3
        if shorthand == 0:
            to_me = self.matches(self.icr_hi >> 24, bool(lo & (1 << 11)))
        else:
            to_me = shorthand in (1, 2)  # self, all including self
        if mode in (DM_FIXED, DM_LOWEST):
            if vector < 16:
                self._error(ESR_SEND_ILLEGAL_VECTOR)
            elif to_me:
                self.accept(vector, False)
        else:
            self.ignored += 1
