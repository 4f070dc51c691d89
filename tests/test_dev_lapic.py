"""The local APIC's registers and rules (Intel SDM vol. 3 ch. 10), driven
directly: reset values, priorities (TPR, PPR, vector classes), INTA and
EOI, the error status register, self-IPIs, the timer's count and modes
on the machine's virtual clock, software and global disable, snapshots."""
from jitemu.devices.lapic import LocalAPIC
from jitemu.devices.pic import PIC
from jitemu.machine import Machine

EOI, TPR, PPR, SVR, ESR, ICR = 0xB0, 0x80, 0xA0, 0xF0, 0x280, 0x300
LVT_TIMER, LVT_LINT0, LVT_ERROR = 0x320, 0x350, 0x370
TIMER_INIT, TIMER_COUNT, TIMER_DIV = 0x380, 0x390, 0x3E0


def apic(pic=False):
    m = Machine(memory_mb=1)
    p = m.attach(PIC()) if pic else None
    a = m.attach(LocalAPIC(pic=p))
    return m, a


def enabled(pic=False):
    m, a = apic(pic)
    a.write_register(SVR, 0x1EF)
    return m, a


def advance(m, ns):
    """Let guest time pass (as a halted CPU does) and fire what is due."""
    m.s.tsc_offset += ns
    m.clock.run_due()


def test_reset_values_as_qemu_reports_them():
    m, a = apic()
    assert a.read_register(0x20) == 0  # ID 0: the bootstrap processor
    assert a.read_register(0x30) == 0x50014
    assert a.read_register(SVR) == 0xFF  # software disabled
    assert a.read_register(0xE0) == 0xFFFFFFFF  # flat model
    assert [a.read_register(LVT_TIMER + 0x10 * i) for i in range(6)] == \
        [0x10000, 0x10000, 0x10000, 0x700, 0x10000, 0x10000]  # LINT0 ExtINT on the BSP
    # through the MMIO page too, a byte at a time as well
    assert m.read_phys(0xFEE00030, 4) == bytes([0x14, 0x00, 0x05, 0x00])


def test_cpuid_reports_the_apic_while_it_is_globally_enabled():
    from jitemu._runtime import lib
    m, a = apic()
    m.s.regs[0] = 1
    lib.helper_cpuid(m.s)
    assert m.s.regs[2] & (1 << 9)
    bare = Machine(memory_mb=1)
    bare.s.regs[0] = 1
    lib.helper_cpuid(bare.s)
    assert not bare.s.regs[2] & (1 << 9)


def test_lvt_writes_keep_only_their_fields():
    m, a = enabled()
    a.write_register(LVT_TIMER, 0xFFFFFFFF)
    assert a.read_register(LVT_TIMER) == 0x300FF  # vector, mask, periodic; no TSC-deadline mode
    a.write_register(LVT_LINT0, 0xFFFFFFFF)
    assert a.read_register(LVT_LINT0) == 0x1A7FF  # no delivery status, no remote IRR
    a.write_register(LVT_ERROR, 0xFFFFFFFF)
    assert a.read_register(LVT_ERROR) == 0x100FF


def test_the_highest_vector_above_the_processor_priority_is_taken():
    m, a = enabled()
    a.accept(0x31)
    a.accept(0x51)
    a.write_register(TPR, 0x40)
    assert a.read_register(PPR) == 0x40
    assert m.s.irq_line == 1
    assert a.ack() == 0x51
    assert a.read_register(PPR) == 0x50  # the in-service class is above the TPR
    assert a.read_register(0x100 + 0x10 * (0x51 >> 5)) == 1 << (0x51 & 31)  # ISR
    a.accept(0x52)  # the same class as the one in service: waits
    assert m.s.irq_line == 0
    a.write_register(EOI, 0)
    assert a.read_register(PPR) == 0x40
    assert a.ack() == 0x52
    a.write_register(EOI, 0)
    assert m.s.irq_line == 0  # 0x31: class 3 is not above the TPR's 4
    a.write_register(TPR, 0)
    assert m.s.irq_line == 1 and a.ack() == 0x31
    a.write_register(EOI, 0)
    assert a.isr == 0 and a.irr == 0


def test_raising_the_tpr_over_an_asserted_request_gives_the_spurious_vector():
    m, a = enabled()
    a.accept(0x40)
    assert m.s.irq_line == 1  # (the CPU has interrupts off)
    a.write_register(TPR, 0x50)
    assert m.s.irq_line == 1  # already asserted: INTA gets the spurious vector (SDM 10.9)
    assert a.ack() == 0xEF
    assert a.isr == 0 and a.irr == 1 << 0x40 and m.s.irq_line == 0


def test_illegal_vectors_and_registers_are_errors_in_the_esr():
    m, a = enabled()
    a.write_register(LVT_ERROR, 0xFE)
    a.accept(0x05)
    a.write_register(0x400, 1)  # no register there
    assert a.read_register(ESR) == 0  # the errors show after a write to the ESR
    a.write_register(ESR, 0)
    assert a.read_register(ESR) == 0xC0
    assert a.ack() == 0xFE  # the error LVT's vector
    a.write_register(ESR, 0)
    assert a.read_register(ESR) == 0


def test_self_ipis_and_shorthands():
    m, a = enabled()
    a.write_register(ICR, 0x40000 | 0x61)  # self
    a.write_register(ICR, 0x80000 | 0x62)  # all including self
    a.write_register(ICR, 0xC0000 | 0x63)  # all excluding self: nobody
    a.write_register(0x310, 0)
    a.write_register(ICR, 0x64)  # physical destination 0: this CPU
    a.write_register(0x310, 5 << 24)
    a.write_register(ICR, 0x65)  # APIC 5: nobody
    assert a.irr == (1 << 0x61) | (1 << 0x62) | (1 << 0x64)
    a.write_register(ICR, 0xC4500)  # INIT to all others, then SIPI, as SeaBIOS: no other CPU
    a.write_register(ICR, 0xC4600 | 0x9F)
    assert a.read_register(ICR) & (1 << 12) == 0  # delivery status: idle
    assert a.ignored == 2


def test_logical_destinations_flat_and_cluster():
    m, a = enabled()
    a.write_register(0xD0, 0x02000000)  # LDR: logical ID 2
    assert a.matches(0x02, True) and a.matches(0x03, True) and not a.matches(0x01, True)
    a.write_register(0xE0, 0x0FFFFFFF)  # cluster model
    a.write_register(0xD0, 0x12000000)  # cluster 1, member 2
    assert a.matches(0x12, True) and not a.matches(0x22, True) and not a.matches(0x11, True)


def test_one_shot_timer_counts_down_and_fires_once():
    m, a = enabled()
    a.write_register(TIMER_DIV, 0x3)  # divide by 16
    a.write_register(LVT_TIMER, 0x40)
    a.write_register(TIMER_INIT, 1000)
    advance(m, 160)
    assert a.read_register(TIMER_COUNT) == 990
    advance(m, 16000 - 161)
    assert a.irr == 0 and a.read_register(TIMER_COUNT) == 1
    advance(m, 1)
    assert a.irr == 1 << 0x40 and a.read_register(TIMER_COUNT) == 0
    assert m.clock.next_deadline() is None


def test_periodic_timer_reloads():
    m, a = enabled()
    a.write_register(TIMER_DIV, 0xB)  # divide by 1
    a.write_register(LVT_TIMER, 0x20041)
    a.write_register(TIMER_INIT, 500)
    fired = []
    for _ in range(3):
        advance(m, 500)
        fired.append(a.ack())
        a.write_register(EOI, 0)
    assert fired == [0x41] * 3
    advance(m, 100)
    assert a.read_register(TIMER_COUNT) == 400
    a.write_register(TIMER_INIT, 0)  # stops it
    advance(m, 5000)
    assert a.irr == 0


def test_a_masked_timer_counts_but_does_not_interrupt():
    m, a = enabled()
    a.write_register(TIMER_DIV, 0xB)
    a.write_register(LVT_TIMER, 0x10040)
    a.write_register(TIMER_INIT, 100)
    advance(m, 100)
    assert a.irr == 0 and a.read_register(TIMER_COUNT) == 0


def test_software_disable_masks_the_lvt_and_the_pic_drives_intr():
    m, a = enabled(pic=True)
    a.write_register(LVT_TIMER, 0x40)
    a.write_register(SVR, 0xFF)  # software disabled
    assert a.read_register(LVT_TIMER) == 0x10040
    a.write_register(LVT_TIMER, 0x40)
    assert a.read_register(LVT_TIMER) == 0x10040  # the mask stays while disabled
    pic = a.pic
    for port, v in ((0x20, 0x11), (0x21, 0x08), (0x21, 0x04), (0x21, 0x01), (0x21, 0xFE)):
        m.ports.write(port, v, 1)
    pic.set_irq(0, 1)
    assert m.s.irq_line == 1 and a.ack() == 0x08  # the PIC's vector


def test_extint_through_lint0_and_its_mask():
    m, a = enabled(pic=True)
    for port, v in ((0x20, 0x11), (0x21, 0x20), (0x21, 0x04), (0x21, 0x01), (0x21, 0xFE)):
        m.ports.write(port, v, 1)
    a.accept(0x90)  # a fixed interrupt waiting too: ExtINT goes first
    a.pic.set_irq(0, 1)
    assert a.ack() == 0x20
    a.pic.set_irq(0, 0)
    a.write_register(LVT_LINT0, 0x10700)  # LINT0 masked: the PIC no longer reaches the CPU
    m.ports.write(0x20, 0x20, 1)
    a.pic.set_irq(0, 1)
    assert a.ack() == 0x90  # (the fixed one)
    a.write_register(EOI, 0)
    assert m.s.irq_line == 0


def test_global_disable_through_the_msr():
    from jitemu._runtime import lib
    m, a = enabled(pic=True)
    m.s.regs[1] = 0x1B  # ECX
    m.s.regs[0], m.s.regs[2] = 0xFEE00100, 0  # enable bit clear
    lib.helper_wrmsr(m.s)
    assert not a.hw_enabled and not a.enabled
    m.s.regs[0] = 1
    lib.helper_cpuid(m.s)
    assert not m.s.regs[2] & (1 << 9)  # CPUID follows the global enable
    a.accept(0x40)
    assert m.s.irq_line == 0  # nothing comes through a disabled APIC but the PIC


def test_snapshot_keeps_registers_and_the_timer():
    m, a = enabled()
    a.write_register(TIMER_DIV, 0xB)
    a.write_register(LVT_TIMER, 0x20042)
    a.write_register(TIMER_INIT, 700)
    a.write_register(TPR, 0x10)
    a.accept(0x77)
    advance(m, 250)
    snap = m.snapshot()
    m2, a2 = apic()
    m2.restore(snap)
    assert a2.read_register(TPR) == 0x10 and a2.irr == 1 << 0x77
    assert a2.read_register(TIMER_COUNT) == 450
    assert m2.clock.next_deadline() == m.clock.next_deadline()
    advance(m2, 450)
    assert a2.irr == (1 << 0x77) | (1 << 0x42)
