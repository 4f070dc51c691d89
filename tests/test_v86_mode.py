"""Virtual-8086 mode against the SDM (vol. 3, chapter 20; vol. 2, IRET and
INT n): entering it by IRETD at CPL 0, leaving it through a ring-0
interrupt gate, what traps to the monitor there, and what runs.  Each ROM
(tests/v86rom.py) ends at the first interrupt or exception, whose ring-0
frame it records.  Unicorn (QEMU) cannot judge this: its interrupt hook
replaces delivery through the IDT (tests/test_diff_v86.py compares what
it can)."""
import pytest

from pmrom import TIERS
from v86rom import IF, IOPL3, NO_CODE, VM, here, machine, result, v86_rom

GP, SS, UD, PF = 13, 12, 6, 14


def run(image, tier="baseline"):
    m = machine(image, tier)
    assert m.run(max_instructions=200_000) == "halt"
    return m, result(m)


def trap(code, eflags=VM | 0x2, tier="baseline", **kw):
    """Run `code` in virtual-8086 mode: (vector, error code, frame, image)."""
    image = v86_rom(code, eflags=eflags, **kw)
    _, r = run(image, tier)
    assert r["count"] == 1
    return r["vector"], r["code"], r["frame"], image


@pytest.mark.parametrize("tier", TIERS)
def test_iretd_enters_8086_mode_and_an_exception_leaves_it_through_the_ring0_stack(tier):
    code = """
    mov ax, 0x1234
    mov [0x10], ax              ; DS = 1000h: linear 10010h
    mov [es:0x10], cs           ; ES = 3000h: linear 30010h
    push word 0x5678            ; SS:SP = 2000:FFF0
    mov ebx, 0xCAFE0000
    hlt                         ; CPL 3: #GP(0)
"""
    m, r = run(v86_rom(code, sp=0xFFF0), tier)
    assert m.read_phys(0x10010, 2) == b"\x34\x12"
    assert m.read_phys(0x30010, 2) == b"\x00\xf0"          # CS is the paragraph F000
    assert m.read_phys(0x2FFEE, 2) == b"\x78\x56"          # a 16-bit stack
    assert (r["vector"], r["code"]) == (GP, 0)
    f = r["frame"]
    # The frame on the TSS's ring-0 stack (0010:7000): GS FS DS ES SS ESP
    # EFLAGS CS EIP, then #GP's error code; the handler's ESP points at EIP.
    assert r["esp"] == 0x7000 - 9 * 4
    assert (f["cs"], f["ss"], f["esp"]) == (0xF000, 0x2000, 0xFFEE)
    assert (f["es"], f["ds"], f["fs"], f["gs"]) == (0x3000, 0x1000, 0x4000, 0x5000)
    assert f["eflags"] & VM
    assert m.read_phys(0xF0000 + f["eip"], 1) == b"\xf4"    # EIP is the HLT
    # The handler runs at ring 0 with VM clear and null data segments.
    assert (r["cs"], r["eflags"] & VM) == (0x08, 0)
    assert (r["ds"], r["es"], r["fs"], r["gs"]) == (0, 0, 0, 0)
    assert m.regs.ebx == 0xCAFE0000


IOPL_SENSITIVE = ("cli", "sti", "pushf", "popf", "pushfd", "popfd", "int 0x30", "iret", "iretd")


@pytest.mark.parametrize("insn, tier", [(i, "baseline") for i in IOPL_SENSITIVE] +
                         [(i, t) for i in ("sti", "popfd", "int 0x30", "iret") for t in TIERS[1:]])
def test_iopl_sensitive_instructions_trap_to_the_monitor_when_iopl_is_below_3(insn, tier):
    for iopl in (0, 1, 2) if tier == "baseline" else (1,):
        vector, err, f, image = trap("here:\n    %s\n" % insn, eflags=VM | (iopl << 12) | 0x2, tier=tier)
        assert (vector, err, f["eip"]) == (GP, 0, here(image))
        assert f["esp"] == 0xFFF0                          # nothing was pushed or popped


def test_with_iopl_3_cli_sti_pushf_popf_run_and_popf_keeps_iopl():
    code = """
    cli
    pushfd
    pop dword [0x40]
    sti
    pushf
    pop word [0x44]
    push word 0x0002            ; IOPL 0, IF 0
    popf
    pushf
    pop word [0x48]
    push dword 0x00000202       ; IF 1 (VM clear in the image: popfd keeps VM too)
    popfd
    pushfd
    pop dword [0x4C]
    hlt
"""
    image = v86_rom(code, eflags=VM | IOPL3 | 0x2)
    m, r = run(image)
    assert (r["vector"], r["code"]) == (GP, 0)
    flags = [int.from_bytes(m.read_phys(0x10040 + 4 * i, 4), "little") for i in range(4)]
    assert flags[0] & (IF | VM | IOPL3) == IOPL3            # PUSHFD's image has VM (and RF) clear
    assert flags[1] & (IF | IOPL3) == IF | IOPL3
    assert flags[2] & (IF | IOPL3) == IOPL3                 # POPF could not clear IOPL
    assert flags[3] & (IF | IOPL3 | VM) == IF | IOPL3
    assert r["frame"]["eflags"] & (VM | IOPL3 | IF) == VM | IOPL3 | IF


def test_with_iopl_3_int_n_goes_through_the_idt_to_the_monitor():
    vector, err, f, image = trap("here:\n    int 0x31\n", eflags=VM | IOPL3 | IF | 0x2)
    assert (vector, err) == (0x31, NO_CODE)
    assert f["eip"] == here(image) + 2                      # the return address is the next instruction
    assert f["eflags"] & (VM | IF) == VM | IF


def test_int_n_to_a_gate_of_dpl_below_3_is_gp_with_the_idt_selector():
    setup = "    and byte [IDT + 0x31 * 8 + 5], 0x9F     ; gate DPL 0\n"
    vector, err, f, image = trap("here:\n    int 0x31\n", eflags=VM | IOPL3 | 0x2, setup=setup)
    assert (vector, err, f["eip"]) == (GP, 0x31 * 8 + 2, here(image))


@pytest.mark.parametrize("insn, vector", [("int3", 3), ("into", 4)])
def test_int3_and_into_are_not_iopl_sensitive(insn, vector):
    code = "    mov al, 0x7F\n    add al, 1                 ; OF for INTO\nhere:\n    %s\n" % insn
    got, err, f, image = trap(code, eflags=VM | 0x2)
    assert (got, err, f["eip"]) == (vector, NO_CODE, here(image) + 1)


@pytest.mark.parametrize("target, why", [(0x20, "conforming"), (0x28, "DPL 2")])
def test_an_interrupt_from_8086_mode_to_a_handler_not_at_ring_0_nonconforming_is_gp_with_its_selector(target, why):
    # UD2's #UD goes through a gate to `target`: its delivery faults with
    # #GP(target + EXT), which vector 13's ring-0 gate delivers.
    setup = "    mov word [IDT + 6 * 8 + 2], 0x%X   ; #UD's gate: code selector %s\n" % (target, why)
    vector, err, f, image = trap("here:\n    ud2\n", setup=setup)
    assert (vector, err, f["eip"]) == (GP, target + 1, here(image))
    assert f["eflags"] & VM


@pytest.mark.parametrize("setup, insn, tier", [("", "out 0x80, al", t) for t in TIERS] + [
    ("", "in al, 0x80", "baseline"), ("mov dx, 0x3F8", "out dx, al", "baseline"),
    ("mov dx, 0x501", "out dx, ax", "baseline")])  # 502h, its second byte, is denied
def test_in_and_out_consult_the_io_bitmap_even_with_iopl_3(setup, insn, tier):
    code = """
    mov dx, 0x402
    mov al, 'v'
    out dx, al
    in al, 0x71
    mov dx, 0x403
    out dx, ax                  ; 403h-404h: allowed
    %s
here:
    %s
""" % (setup, insn)
    vector, err, f, image = trap(code, eflags=VM | IOPL3 | 0x2, tier=tier, denied=(0x80, 0x3F8, 0x502))
    assert (vector, err, f["eip"]) == (GP, 0, here(image))


def test_ins_and_outs_consult_the_io_bitmap():
    code = """
    xor si, si
    mov dx, 0x402
    outsb
    mov dx, 0x80
here:
    rep insb
"""
    vector, err, f, image = trap(code, eflags=VM | IOPL3 | 0x2)
    assert (vector, err, f["eip"]) == (GP, 0, here(image))


@pytest.mark.parametrize("insn", ["lar ax, bx", "lsl ax, bx", "verr ax", "verw ax", "arpl ax, bx", "lldt ax",
                                  "sldt ax", "ltr ax", "str ax"])
def test_descriptor_instructions_are_ud(insn):
    vector, err, f, image = trap("here:\n    %s\n" % insn, eflags=VM | IOPL3 | 0x2)
    assert (vector, err, f["eip"]) == (UD, NO_CODE, here(image))


@pytest.mark.parametrize("insn", ["mov eax, cr0", "mov cr3, eax", "clts", "lmsw ax", "lgdt [0]", "lidt [0]",
                                  "wbinvd", "invlpg [0]", "rdmsr", "wrmsr", "hlt", "mov eax, dr7"])
def test_privileged_instructions_are_gp0(insn):
    vector, err, f, image = trap("here:\n    %s\n" % insn, eflags=VM | IOPL3 | 0x2)
    assert (vector, err, f["eip"]) == (GP, 0, here(image))


def test_smsw_sgdt_and_sidt_run():
    code = "    smsw [0x10]\n    sgdt [0x20]\n    sidt [0x30]\n"
    m, r = run(v86_rom(code))
    assert m.read_phys(0x10010, 1)[0] & 1                   # PE
    assert m.read_phys(0x10032, 4) == (0x30000).to_bytes(4, "little")
    assert r["vector"] == GP and m.read_phys(0xF0000 + r["frame"]["eip"], 1) == b"\xf4"


@pytest.mark.parametrize("tier", TIERS)
def test_32_bit_operands_and_addresses_work_and_offsets_past_64k_fault(tier):
    code = """
    mov ebx, 0x10
    mov ecx, 2
    mov dword [ebx + ecx * 4], 0x89ABCDEF
    mov esi, 0xFFFC
    mov eax, [esi]              ; the last dword of the segment
    mov [0x40], eax
    mov esi, 0xFFFE
here:
    mov eax, [esi]              ; FFFEh-10001h: beyond the limit
"""
    m, r = run(v86_rom(code), tier)
    assert m.read_phys(0x10018, 4) == (0x89ABCDEF).to_bytes(4, "little")
    assert (r["vector"], r["code"]) == (GP, 0)
    assert m.read_phys(0xF0000 + r["frame"]["eip"], 3) == b"\x66\x67\x8b"  # the faulting MOV


def test_a_stack_access_past_64k_is_ss0():
    code = "    mov ebp, 0x10000\nhere:\n    mov ax, [ebp]\n"
    vector, err, f, image = trap(code)
    assert (vector, err, f["eip"]) == (SS, 0, here(image))


@pytest.mark.parametrize("tier", TIERS)
def test_far_jump_call_and_return_load_segments_real_mode_style(tier):
    code = """
    call 0xF000:sub             ; far CALL pushes CS:IP on the 16-bit stack
    mov bx, 0x2000
    mov ds, bx
    mov word [0x20], 0xBEEF     ; a far pointer 6000:BEEF at linear 20020h
    mov word [0x22], 0x6000
    les di, [0x20]
    mov [0x24], di
    jmp 0xF000:after
sub:
    mov si, sp
    mov ax, [ss:si + 2]         ; the pushed CS
    mov [0x30], ax
    retf
after:
"""
    m, r = run(v86_rom(code), tier)
    assert m.read_phys(0x10030, 2) == b"\x00\xf0"
    assert m.read_phys(0x20024, 2) == b"\xef\xbe"
    assert (r["frame"]["ds"], r["frame"]["es"]) == (0x2000, 0x6000)
    assert m.read_phys(0xF0000 + r["frame"]["eip"], 1) == b"\xf4"


def test_iret_with_iopl_3_returns_within_8086_mode_and_keeps_iopl_and_vm():
    code = """
    pushf
    push cs
    push word back
    iret                        ; FLAGS image: IOPL 3 as pushed
back:
    push word 0                 ; an image with IOPL 0 and IF 0...
    push cs
    push word back2
    iret
back2:
    pushfd
    pop dword [0x40]
"""
    m, r = run(v86_rom(code, eflags=VM | IOPL3 | 0x2))
    assert m.read_phys(0x10041, 1)[0] & 0x30 == 0x30         # ...keeps IOPL 3
    assert r["frame"]["eflags"] & VM and r["vector"] == GP


def test_task_switch_to_a_tss_with_vm_set_enters_8086_mode():
    # A second 32-bit TSS at 32000h whose EFLAGS has VM: the JMP to it
    # loads its segments real-mode style and runs at F000:v86 in the mode.
    setup = """
    mov edi, 0x32000
    xor eax, eax
    mov ecx, 0x68 / 4
    rep stosd
    mov dword [0x32000 + 4], 0x7000              ; the monitor's ring-0 stack
    mov dword [0x32000 + 8], 0x10
    mov dword [0x32000 + 0x20], v86              ; EIP
    mov dword [0x32000 + 0x24], 0x20002          ; EFLAGS: VM
    mov dword [0x32000 + 0x38], 0x0100           ; ESP
    mov word [0x32000 + 0x48], 0x3000            ; ES
    mov word [0x32000 + 0x4C], 0xF000            ; CS
    mov word [0x32000 + 0x50], 0x2000            ; SS
    mov word [0x32000 + 0x54], 0x1000            ; DS
    mov word [0x32000 + 0x58], 0x4000            ; FS
    mov word [0x32000 + 0x5C], 0x5000            ; GS
    jmp 0x30:0
"""
    gdt = "    dw 0x67, 0x2000\n    db 0x03, 0x89, 0, 0         ; 0x30: TSS at 32000h\n"
    code = "    mov ax, cs\n    mov [0x50], ax\n"
    m, r = run(v86_rom(code, setup=setup, gdt=gdt))
    assert m.read_phys(0x10050, 2) == b"\x00\xf0"
    f = r["frame"]
    assert (r["vector"], f["cs"], f["ss"], f["esp"], f["ds"]) == (GP, 0xF000, 0x2000, 0x100, 0x1000)
    assert f["eflags"] & VM


def test_paging_applies_at_user_level():
    # Paging with the first 4 MiB identity mapped, pages user-accessible,
    # except linear 10000h (DS:0000), supervisor only: the 8086 code's
    # read faults with U=1 in the error code.
    setup = """
    paging_identity_4m PD, PT
    or dword [PD], 4
    mov edi, PT
    mov ecx, 1024
.user:
    or dword [edi], 4
    add edi, 4
    loop .user
    and dword [PT + 0x10 * 4], ~4
    mov eax, cr3
    mov cr3, eax
"""
    vector, err, f, image = trap("here:\n    mov ax, [0x0004]\n", setup=setup)
    assert (vector, err, f["eip"]) == (PF, 0x5, here(image))    # present, read, user


@pytest.mark.parametrize("before, insn", [("", "db 0x66, 0xE9\n    dd 0x10000"),          # JMP rel32
                                          ("", "db 0x66, 0xE8\n    dd 0x10000"),          # CALL rel32
                                          ("push dword 0x12345", "o32 ret"),
                                          ("cmp ax, ax", "db 0x66, 0x0F, 0x84\n    dd 0x10000")])  # JE, taken
def test_a_near_branch_beyond_64k_is_gp0_before_it_happens(before, insn):
    code = """
    xor ax, ax
    inc ax                      ; ZF clear: the JE below is not taken, and does not fault
    db 0x66, 0x0F, 0x84
    dd 0x10000
    mov word [0x60], 1
    %s
here:
    %s
""" % (before, insn)
    m, r = run(v86_rom(code))
    image = v86_rom(code)
    assert (r["vector"], r["code"], r["frame"]["eip"]) == (GP, 0, here(image))
    assert m.read_phys(0x10060, 2) == b"\x01\x00"
    assert r["frame"]["esp"] == (0xFFEC if "push" in before else 0xFFF0)   # CALL pushed nothing


class _Controller:
    """An interrupt controller that names vector 0x30 on every INTA."""

    def ack(self):
        return 0x30


def test_an_external_interrupt_leaves_8086_mode_whatever_iopl():
    # IF set by the IRETD: the pending interrupt arrives in the loop, and
    # goes through its gate without the IOPL or gate-DPL checks of INT n.
    image = v86_rom("here:\n    jmp here\n", eflags=VM | IF | 0x2)
    m = machine(image)
    m.interrupt_controller = _Controller()
    m.set_irq_line(1)
    assert m.run(max_instructions=200_000) == "halt"
    r = result(m)
    assert (r["vector"], r["code"], r["count"]) == (0x30, NO_CODE, 1)
    assert (r["frame"]["eip"], r["frame"]["cs"]) == (here(image), 0xF000)
    assert r["frame"]["eflags"] & (VM | IF) == VM | IF
    assert r["eflags"] & (VM | IF) == 0                       # an interrupt gate clears IF


def test_divide_error_in_8086_mode_reaches_the_monitor_without_an_error_code():
    vector, err, f, image = trap("    xor cx, cx\nhere:\n    div cx\n")
    assert (vector, err, f["eip"]) == (0, NO_CODE, here(image))
