"""What a fault during the delivery of an interrupt or exception becomes
(Intel SDM vol. 3, 6.15 "Interrupt 8—Double Fault Exception", table
"Conditions for Generating a Double Fault"): #DF only for a contributory
fault (#DE #TS #NP #SS #GP) while delivering a contributory one, or a #PF
or contributory fault while delivering a #PF; after a benign event (#DB
NMI #BP #OF #BR #UD #NM #MF, INT n, an external interrupt), and for a #PF
after a contributory one, the second fault is delivered as itself.  A
fault while delivering #DF shuts the CPU down, and the PC resets.

Unicorn cannot be the oracle here (a UC_HOOK_INTR hook delivers its
interrupts, so QEMU's double-fault logic never runs): these tests assert
the SDM's table.  The delivery is C (runtime/interrupts.c, protected.c),
shared by every tier; the INT n case runs on each tier all the same.
"""
import pytest

from pmrom import BOOTS, IDT, NO_CODE, TIERS, machine, pm_rom, real_rom, result

GP, NP, PF, DF = 13, 11, 14, 8
EXT = 1  # error-code bit: the fault came from delivering an event external to the program


def run(image, tier="baseline"):
    m = machine(image, tier)
    assert m.run(max_instructions=200_000) == "halt"
    return m, result(m)


# -- benign first: the second fault is delivered as itself ------------------
@pytest.mark.parametrize("tier", TIERS)
def test_int_n_beyond_the_idt_limit_is_a_gp_of_the_int_instruction(tier):
    m, r = run(pm_rom("int 0x40", idt_limit=0x40 * 8 - 1), tier)
    assert (r["vector"], r["code"]) == (GP, 0x40 * 8 + 2)  # IDT, not EXT: INT n is the program's
    assert r["eip"] == r["mark"] and r["count"] == 1        # the saved EIP names the INT


def test_a_not_present_gate_for_int_n_is_a_np():
    # A not-present gate: #NP(vector*8+2), delivered as itself.
    m, r = run(pm_rom("int 0x40", absent=[0x40]))
    assert (r["vector"], r["code"], r["count"]) == (NP, 0x40 * 8 + 2, 1)
    assert r["eip"] == r["mark"]


def test_a_not_present_gate_while_delivering_ud_is_a_np():
    m, r = run(pm_rom("ud2", absent=[6]))
    assert (r["vector"], r["code"], r["count"]) == (NP, 6 * 8 + 2 + EXT, 1)
    assert r["eip"] == r["mark"]


def test_a_bad_gate_type_while_delivering_a_single_step_trap_is_a_gp():
    # TF set: #DB (a trap) after the NOP; gate 1 is a call gate (type 0xC),
    # which an IDT may not hold: #GP(1*8+2+EXT), delivered as itself.
    code = """
    pushfd
    or dword [esp], 0x100
    popfd
    nop
"""
    m, r = run(pm_rom(code, gate_type={1: 0xC}))
    assert (r["vector"], r["code"], r["count"]) == (GP, 1 * 8 + 2 + EXT, 1)


class _Controller:
    """An interrupt controller that names vector 0x30 on every INTA."""

    def ack(self):
        return 0x30


def test_a_not_present_gate_while_delivering_an_external_interrupt_is_a_np():
    image = pm_rom("""
    sti
    hlt
    jmp $
""", absent=[0x30])
    m = machine(image)
    m.interrupt_controller = _Controller()
    m.set_irq_line(1)
    assert m.run(max_instructions=200_000) == "halt"
    r = result(m)
    assert (r["vector"], r["code"], r["count"]) == (NP, 0x30 * 8 + 2 + EXT, 1)


def test_a_page_fault_while_delivering_ud_is_a_page_fault():
    # The IDT straddles a page boundary: entries 0-6 on a page that is not
    # present, 7 and up (#DF, #PF) on one that is.
    base = IDT + 0x1000 - 7 * 8
    m, r = run(pm_rom("ud2", idt=base, unmapped=[IDT]))
    assert (r["vector"], r["code"], r["count"]) == (PF, 0, 1)  # supervisor read, not present
    assert r["cr2"] == base + 6 * 8 and r["eip"] == r["mark"]


# -- contributory first ------------------------------------------------------
# (setup, the faulting instruction, its vector)
CONTRIBUTORY = {
    "de": ("xor ecx, ecx", "div ecx", 0),
    "gp": ("mov ax, 0x7F8", "mov es, ax", GP),    # beyond the GDT limit
    "np": ("mov ax, 0x18", "mov es, ax", NP),     # a not-present data segment
    "ss": ("mov ax, 0x18", "mov ss, ax", 12),     # ... as SS: #SS
}


def contributory(name, **kw):
    setup, code, _ = CONTRIBUTORY[name]
    return pm_rom(code, setup=setup + "\n" + kw.pop("setup", ""), **kw)


@pytest.mark.parametrize("first", sorted(CONTRIBUTORY))
@pytest.mark.parametrize("second", ["np", "gp"])
def test_a_contributory_fault_while_delivering_a_contributory_one_is_a_double_fault(first, second):
    vector = CONTRIBUTORY[first][2]
    kw = {"absent": [vector]} if second == "np" else {"gate_type": {vector: 0xC}}
    m, r = run(contributory(first, **kw))
    assert (r["vector"], r["code"], r["count"]) == (DF, 0, 1)


def test_a_page_fault_while_delivering_gp_is_a_page_fault():
    # Entries 0-13 on a page that is not present, 14 and up on one that is.
    base = IDT + 0x1000 - 14 * 8
    m, r = run(contributory("gp", idt=base, unmapped=[IDT]))
    assert (r["vector"], r["code"], r["count"]) == (PF, 0, 1)
    assert r["cr2"] == base + 13 * 8 and r["eip"] == r["mark"]


# -- a page fault first ------------------------------------------------------
HOLE = 0x300000  # a data page left out of the page tables


def test_a_page_fault_while_delivering_a_page_fault_is_a_double_fault():
    # Entries 0-8 on a present page, 9 and up (#PF's) on one that is not.
    base = IDT + 0x1000 - 9 * 8
    m, r = run(pm_rom("mov eax, [0x%X]" % HOLE, idt=base, unmapped=[IDT + 0x1000, HOLE]))
    assert (r["vector"], r["code"], r["count"]) == (DF, 0, 1)
    assert r["cr2"] == base + 14 * 8  # the second #PF's address


def test_a_contributory_fault_while_delivering_a_page_fault_is_a_double_fault():
    m, r = run(pm_rom("mov eax, [0x%X]" % HOLE, absent=[PF], unmapped=[HOLE]))
    assert (r["vector"], r["code"], r["count"]) == (DF, 0, 1)
    assert r["cr2"] == HOLE


def test_a_page_fault_in_the_handler_stack_of_a_gp_from_ring_0_ends_in_a_shutdown():
    # The stack itself is not present: #GP's frame faults (#PF, serially),
    # #PF's frame faults (#DF), #DF's frame faults: shutdown.
    m = machine(contributory("gp", setup="mov esp, 0x%X" % (HOLE + 0x800), unmapped=[HOLE]))
    assert m.run(max_instructions=200_000) == "halt"
    assert m.resets == {"triple-fault": 1}
    assert result(m)["count"] == 0


# -- double fault first: shutdown ---------------------------------------------
def test_a_fault_while_delivering_a_double_fault_shuts_down_and_the_pc_resets():
    m = machine(contributory("gp", absent=[GP, DF]))
    assert m.run(max_instructions=200_000) == "halt"
    assert m.resets == {"triple-fault": 1}
    assert m.read_phys(BOOTS, 2) == b"\x02\x00"  # booted again
    assert result(m)["count"] == 0                # no handler ran


def test_software_int_8_is_benign():
    # INT 8 is not a double fault: a fault delivering it is a #NP, no shutdown.
    m, r = run(pm_rom("int 8", absent=[DF]))
    assert (r["vector"], r["code"], r["count"]) == (NP, 8 * 8 + 2, 1)
    assert m.resets == {}


# -- real mode: the IVT limit --------------------------------------------------
def test_real_mode_int_n_beyond_the_ivt_limit_is_a_gp():
    # SDM vol. 2, INT n, real-address mode: #GP when the vector is outside
    # the IDT limit (QEMU's do_interrupt_real too).  Vectors 0-15 fit.
    m, r = run(real_rom("int 0x20", idt_limit=16 * 4 - 1))
    assert (r["vector"], r["code"], r["count"]) == (GP, NO_CODE, 1)
    assert (r["cs"] << 4) + r["eip"] == r["mark"]  # the saved IP names the INT


def test_real_mode_gp_beyond_the_ivt_limit_is_a_double_fault():
    # Vectors 0-8 fit: INT 20h's #GP cannot be delivered either (a
    # contributory fault while delivering one): #DF.
    m, r = run(real_rom("int 0x20", idt_limit=9 * 4 - 1))
    assert (r["vector"], r["count"]) == (DF, 1)


def test_real_mode_with_an_empty_ivt_shuts_down():
    # The "interrupt table limit too small" of the 286/386 manuals: the
    # CPU shuts down and the PC resets.
    m = machine(real_rom("int 0x20", idt_limit=0))
    assert m.run(max_instructions=200_000) == "halt"
    assert m.resets == {"triple-fault": 1}
    assert result(m)["count"] == 0
