"""The APICs seen from guest code (tests/apicrom.py: flat protected mode,
every vector logged with its TSC): the local APIC timer in one-shot and
periodic mode arriving at its vector after the programmed time, TPR
masking, EOI and priority order, the spurious vector when the APIC is
software disabled over an asserted request; on the PC, the I/O APIC
routing the PIT (IRQ0, pin 2) and the keyboard (IRQ1) to programmed
vectors, masking, a level-triggered pin's remote IRR cleared by EOI, and
the PICs' vectors through LINT0 in virtual-wire mode.  The TSC counts
guest nanoseconds, as the APIC timer's 1 GHz bus clock does."""
import pytest

from jitemu.devices.debugexit import DebugExit
from jitemu.devices.lapic import LocalAPIC
from jitemu.machine import Machine
from jitemu.pc import build_pc

from apicrom import SPURIOUS, T0, fault, image, log, tsc, word

ENABLE = """
    mov dword [LAPIC + 0xF0], 0x100 | SPURIOUS   ; software enabled
"""
PIT_1MS = """
    mov al, 0x34                     ; channel 0, mode 2
    out 0x43, al
    mov al, 0xA9                     ; 1193 ticks: 999,847 ns
    out 0x40, al
    mov al, 0x04
    out 0x40, al
"""
PIT_PERIOD = 1193 * 1_000_000_000 // 1_193_182


def bare(code):
    """A bare machine with a local APIC (no PICs), the ROM loaded."""
    m = Machine(memory_mb=1)
    m.attach(LocalAPIC())
    m.attach(DebugExit())
    m.load_firmware(image(code))
    return m


def run_bare(code, limit=2_000_000):
    m = bare(code)
    assert m.run(max_instructions=limit) == "halt"
    assert fault(m) is None, fault(m)
    return m


def run_pc(code, limit=20_000_000):
    pc = build_pc(bios=image(code), memory_mb=2)
    assert pc.run(max_instructions=limit) == "halt"
    assert fault(pc.machine) is None, fault(pc.machine)
    return pc.machine


def test_one_shot_timer_interrupts_once_after_the_programmed_time():
    m = run_bare(ENABLE + """
    mov dword [LAPIC + 0x3E0], 0x3   ; divide by 16
    mov dword [LAPIC + 0x320], 0x40  ; one-shot, vector 0x40
    rdtsc
    mov [T0], eax
    mov [T0 + 4], edx
    mov dword [LAPIC + 0x380], 6250  ; 100,000 ns
.wait:
    sti
    hlt                              ; (the second halt has nothing to wait for: the run ends)
    jmp .wait
""")
    (vector, t), = log(m)
    assert vector == 0x40
    assert 100_000 <= t - tsc(m, T0) < 100_000 + 20


def test_periodic_timer_interrupts_every_period():
    m = run_bare(ENABLE + """
    mov dword [LAPIC + 0x3E0], 0xB   ; divide by 1
    mov dword [LAPIC + 0x320], 0x20041 ; periodic, vector 0x41
    mov dword [LAPIC + 0x380], 50000
.wait:
    sti
    hlt
    cli
    cmp dword [LOG], 4
    jb .wait
    mov dword [LAPIC + 0x320], 0x10041 ; masked
""")
    entries = log(m)
    assert [v for v, _ in entries] == [0x41] * 4
    assert [b[1] - a[1] for a, b in zip(entries, entries[1:])] == [50000] * 3


def test_tpr_holds_back_a_lower_class_until_lowered():
    m = run_bare(ENABLE + """
    mov dword [LAPIC + 0x80], 0x50   ; TPR: classes up to 5 wait
    mov dword [LAPIC + 0x3E0], 0xB
    mov dword [LAPIC + 0x320], 0x40
    mov dword [LAPIC + 0x380], 1000
    sti
    mov ecx, 3000
.spin:
    loop .spin                       ; the timer fires in here
    mov eax, [LOG]
    mov [0x7F10], eax                ; nothing delivered yet
    mov eax, [LAPIC + 0x220]         ; IRR bits 0x40-0x5F
    mov [0x7F14], eax
    mov dword [LAPIC + 0x80], 0
    nop
    nop
""")
    assert word(m, 0x7F10) == 0
    assert word(m, 0x7F14) == 1  # vector 0x40 requested
    assert [v for v, _ in log(m)] == [0x40]


def test_eoi_lets_the_next_lower_vector_in_and_isr_ppr_show_the_one_in_service():
    m = run_bare(ENABLE + """
    mov dword [HOOK], ROM + hook
    mov dword [LAPIC + 0x300], 0x40040 ; self-IPI, vector 0x40
    mov dword [LAPIC + 0x300], 0x40060 ; self-IPI, vector 0x60
    mov dword [LAPIC + 0x300], 0x40061 ; and 0x61, the same class
    sti
    nop
    nop
    cli
    mov eax, [LAPIC + 0x130]
    mov [0x7F20], eax                ; ISR 0x60-0x7F after the EOIs: empty
    cli
    hlt
hook:
    mov eax, [LOG]
    mov edx, [LAPIC + 0xA0]          ; PPR in the handler
    mov [0x7F24 + eax * 4 - 4], edx
    ret
""")
    assert [v for v, _ in log(m)] == [0x61, 0x60, 0x40]
    assert [word(m, 0x7F24 + 4 * i) for i in range(3)] == [0x60, 0x60, 0x40]
    assert word(m, 0x7F20) == 0


def test_spurious_vector_when_software_disabled_over_an_asserted_request():
    m = run_bare(ENABLE + """
    mov dword [LAPIC + 0x3E0], 0xB
    mov dword [LAPIC + 0x320], 0x40
    mov dword [LAPIC + 0x380], 100
    mov ecx, 1000
.spin:
    loop .spin                       ; the timer fires with interrupts off
    mov dword [LAPIC + 0xF0], SPURIOUS ; software disabled
    sti
    nop
    nop
    cli
    mov eax, [LAPIC + 0x220]
    mov [0x7F10], eax                ; the request stays in the IRR
    mov eax, [LAPIC + 0x120]
    mov [0x7F14], eax                ; and nothing is in service
""")
    assert [v for v, _ in log(m)] == [SPURIOUS]
    assert word(m, 0x7F10) == 1 and word(m, 0x7F14) == 0


def test_cpuid_reports_the_apic_and_the_msr_its_base():
    m = run_bare("""
    mov eax, 1
    cpuid
    mov [0x7F10], edx
    mov ecx, 0x1B
    rdmsr
    mov [0x7F14], eax
""")
    assert word(m, 0x7F10) & (1 << 9)
    assert word(m, 0x7F14) == 0xFEE00900  # BSP, enabled, the default base


IOAPIC_PIN = """
    mov dword [IOAPIC], 0x10 + 2 * %d
    mov dword [IOAPIC + 0x10], %#x
    mov dword [IOAPIC], 0x11 + 2 * %d
    mov dword [IOAPIC + 0x10], 0       ; physical destination: APIC 0
"""


def pin(n, entry):
    return IOAPIC_PIN % (n, entry, n)


MASK_PICS = """
    mov al, 0xFF
    out 0x21, al
    out 0xA1, al
"""


def test_ioapic_routes_the_pit_on_pin_2_to_its_vector():
    m = run_pc(ENABLE + MASK_PICS + pin(2, 0x50) + PIT_1MS + """
.wait:
    sti
    hlt
    cli
    cmp dword [LOG], 3
    jb .wait
""")
    entries = log(m)
    assert [v for v, _ in entries] == [0x50] * 3
    assert all(abs(b[1] - a[1] - PIT_PERIOD) < 1000 for a, b in zip(entries, entries[1:]))


def test_a_masked_pin_delivers_nothing_until_unmasked():
    m = run_pc(ENABLE + MASK_PICS + pin(2, 0x10050) + PIT_1MS + """
    sti
    mov ecx, 1000000
.spin:
    loop .spin                       ; 2 ms: two PIT periods
    mov eax, [LOG]
    mov [0x7F10], eax
""" + pin(2, 0x50) + """
.wait:
    hlt
    cmp dword [LOG], 1
    jb .wait
    cli
""")
    assert word(m, 0x7F10) == 0
    assert [v for v, _ in log(m)] == [0x50]


KBC_IRQ1 = """
    mov al, 0x60                     ; write the 8042's command byte:
    out 0x64, al
    mov al, 0x01                     ; keyboard interrupt on
    out 0x60, al
    mov al, 0xD2                     ; put a byte in the keyboard output buffer
    out 0x64, al
    mov al, 0xAB
    out 0x60, al
"""


def test_ioapic_routes_the_keyboard_irq():
    m = run_pc(ENABLE + MASK_PICS + pin(1, 0x51) + """
    mov dword [HOOK], ROM + hook
""" + KBC_IRQ1 + """
    sti
    nop
    nop
    cli
    cli
    hlt
hook:
    in al, 0x60
    mov [0x7F10], al
    ret
""")
    assert [v for v, _ in log(m)] == [0x51]
    assert word(m, 0x7F10) & 0xFF == 0xAB


def test_level_triggered_pin_sets_remote_irr_until_eoi_and_asks_again_while_high():
    m = run_pc(ENABLE + MASK_PICS + pin(1, 0x8000 | 0x52) + """
    mov dword [HOOK], ROM + hook
""" + KBC_IRQ1 + """
    sti
    nop
    nop
    nop
    cli
    mov dword [IOAPIC], 0x12
    mov eax, [IOAPIC + 0x10]
    mov [0x7F18], eax                ; after the last EOI
    cli
    hlt
hook:
    mov dword [IOAPIC], 0x12
    mov eax, [IOAPIC + 0x10]
    cmp dword [LOG], 1
    jne .second
    mov [0x7F10], eax                ; in the first handler: remote IRR set
    ret                              ; (the line stays high: EOI asks again)
.second:
    mov [0x7F14], eax
    in al, 0x60                      ; the 8042 lowers IRQ1
    ret
""")
    assert [v for v, _ in log(m)] == [0x52, 0x52]
    assert word(m, 0x7F10) == 0x4000 | 0x8000 | 0x52
    assert word(m, 0x7F14) == 0x4000 | 0x8000 | 0x52
    assert word(m, 0x7F18) == 0x8000 | 0x52  # cleared by the EOI, not asked again


def test_virtual_wire_passes_the_pics_vector_through_lint0():
    m = run_pc(ENABLE + """
    mov dword [LAPIC + 0x350], 0x700 ; LINT0: ExtINT
    mov al, 0x11                     ; ICW1 to both PICs
    out 0x20, al
    out 0xA0, al
    mov al, 0x20                     ; vectors 0x20 and 0x28
    out 0x21, al
    mov al, 0x28
    out 0xA1, al
    mov al, 4
    out 0x21, al
    mov al, 2
    out 0xA1, al
    mov al, 1
    out 0x21, al
    out 0xA1, al
    mov al, 0xFE                     ; only IRQ0
    out 0x21, al
""" + PIT_1MS + """
.wait:
    sti
    hlt
    cli
    cmp dword [LOG], 2
    jb .wait
    mov dword [LAPIC + 0x350], 0x10700 ; LINT0 masked: the PIC is cut off
    sti
    mov ecx, 1000000
.spin:
    loop .spin
    cli
""")
    assert [v for v, _ in log(m)] == [0x20, 0x20]


@pytest.mark.parametrize("at", [30_000, 120_000])
def test_a_snapshot_mid_periodic_timer_resumes_identically(at):
    code = ENABLE + """
    mov dword [LAPIC + 0x3E0], 0xB
    mov dword [LAPIC + 0x320], 0x20041
    mov dword [LAPIC + 0x380], 20000
    sti
    mov ecx, 100000
.spin:
    loop .spin
    cli
"""
    m = bare(code)
    m.run(max_instructions=at)
    snap = m.snapshot()
    assert m.run() == "halt"
    expected = log(m)
    m2 = bare(code)
    m2.restore(snap)
    assert m2.run() == "halt"
    assert log(m2) == expected and len(expected) >= 5
