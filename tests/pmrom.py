"""Small test ROMs that run one faulting piece of code in 32-bit protected
mode (ring 0, flat segments) or in real mode, with every interrupt vector
going to a stub that records what arrived and halts.  Used by
tests/test_double_fault.py, test_enter.py, test_task16.py
and test_fpu_presence.py.

What a handler saw is in RAM at RESULT (dwords): the vector, the error
code (NO_CODE when the vector has none), the saved EIP and CS, CR2, ESP in
the handler where it points at the saved EIP (protected mode), the number
of handler entries, the address the test code marked as its faulting
instruction (`mark`), and (protected mode) EAX and EBP as the handler
found them.  The protected-mode IDT maps vector v to a stub at
ROM + STUBS + 10 v through a 32-bit interrupt gate; a test edits the gates
(absent=, gate_type=, an IDT limit, where the IDT lies) and may page (a
PD/PT identity-mapping the first 4 MiB, with pages to leave out).
"""
import struct

from jitemu.machine import Machine
from romutil import assemble

ROM = 0xF0000
RESULT = 0x600
BOOTS = 0x5F0            # boots counted in RAM (a shutdown resets the machine)
IDT = 0x30000
NO_CODE = 0xFFFFFFFF
FIELDS = ("vector", "code", "eip", "cs", "cr2", "esp", "count", "mark", "eax", "ebp")


def result(m):
    vals = struct.unpack("<10I", m.read_phys(RESULT, 40))
    return dict(zip(FIELDS, vals))


_PM = r"""
bits 16
org 0
%include "pm32.inc"
RESULT equ 0x600
R_VEC equ RESULT
R_ERR equ RESULT + 4
R_EIP equ RESULT + 8
R_CS equ RESULT + 12
R_CR2 equ RESULT + 16
R_ESP equ RESULT + 20
R_COUNT equ RESULT + 24
R_MARK equ RESULT + 28
ROM equ 0xF0000
STUBS equ 0x8000
IDT equ @IDT@
PD equ 0x20000
PT equ 0x21000
start:
    cli
    xor ax, ax
    mov ds, ax
    inc word [0x5F0]            ; boots: a shutdown resets the machine
    cmp word [0x5F0], 2
    jb .first
    hlt                         ; the second boot stops here
.first:
    enter_pm gdtr_rom, 0, pm32
bits 32
pm32:
    flat_data 0x7000
    gdt_in_ram gdt, gdt_end, 0x1000, gdtr_ram
    idt_stubs IDT, stubs, 0x8E00    ; vector v -> stub v, 32-bit interrupt gate, DPL 0
@GATES@
    lidt [ROM + idtr]
@PAGING@
    xor eax, eax
    mov edi, RESULT
    mov ecx, 10
    rep stosd
@SETUP@
    mov dword [R_MARK], ROM + fault_here
fault_here:
@CODE@
    mov dword [R_VEC], 0xEEEE   ; fell through: no exception
    cli
    hlt

record:                         ; [esp]: vector, then the frame
    mov [RESULT + 32], eax
    mov [RESULT + 36], ebp
    pop eax
    mov [R_VEC], eax
    mov dword [R_ERR], 0xFFFFFFFF
    cmp eax, 8
    je .code
    cmp eax, 17
    je .code
    cmp eax, 10
    jb .nocode
    cmp eax, 14
    ja .nocode
.code:
    pop eax
    mov [R_ERR], eax
.nocode:
    mov eax, [esp]
    mov [R_EIP], eax
    mov eax, [esp + 4]
    mov [R_CS], eax
    mov eax, cr2
    mov [R_CR2], eax
    mov [R_ESP], esp
    inc dword [R_COUNT]
    cli
    hlt
@EXTRA@
    times STUBS-($-$$) db 0xF4
stubs:
    vector_stubs record
stubs_end:
align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF       ; 0x08 code, flat
    dq 0x00CF93000000FFFF       ; 0x10 data, flat
    dq 0x00CF13000000FFFF       ; 0x18 data, not present
@GDT@
gdt_end:
    gdt_pointers 0x1000
idtr:
    dw @IDT_LIMIT@
    dd IDT
bits 16
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
"""

_PAGING = """
    paging_identity_4m PD, PT
%s
    mov eax, cr3
    mov cr3, eax
"""


def pm_rom(code, idt_limit=0x7FF, absent=(), gate_type=None, idt=IDT, unmapped=(), setup="", extra="",
           gdt=""):
    """A protected-mode ROM running `code` (its first instruction is the
    marked one) after `setup`.  `absent`: vectors whose gates are not
    present; `gate_type`: {vector: type nibble}; `unmapped`: linear pages
    whose PTE is cleared (paging is on when it is a list, even an empty
    one); `extra`: code placed after the handler; `gdt`: descriptors from
    selector 20h on (the GDT is copied to 1000h)."""
    gates = []
    for v in absent:
        gates.append("    and byte [IDT + %d * 8 + 5], 0x7F" % v)
    for v, t in (gate_type or {}).items():
        gates.append("    and byte [IDT + %d * 8 + 5], 0xF0\n    or byte [IDT + %d * 8 + 5], 0x%X" % (v, v, t))
    paging = ""
    if isinstance(unmapped, list):
        paging = _PAGING % "\n".join("    and dword [PT + %d * 4], ~1" % (p >> 12) for p in unmapped)
    src = (_PM.replace("@IDT@", "0x%X" % idt).replace("@GATES@", "\n".join(gates))
           .replace("@PAGING@", paging).replace("@SETUP@", setup).replace("@CODE@", code)
           .replace("@EXTRA@", extra).replace("@IDT_LIMIT@", "0x%X" % idt_limit).replace("@GDT@", gdt))
    return assemble(src)


_REAL = r"""
bits 16
org 0
RESULT equ 0x600
start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    inc word [0x5F0]            ; boots: a shutdown resets the machine
    cmp word [0x5F0], 2
    jb .first
    hlt
.first:
    xor di, di                  ; IVT: vector v -> F000:stub v
    mov es, ax
    mov bx, stubs
    mov cx, 256
.fill:
    mov [es:di], bx
    mov word [es:di + 2], 0xF000
    add bx, 6
    add di, 4
    loop .fill
    xor eax, eax
    mov di, RESULT
    mov cx, 10
    rep stosd
    o32 lidt [cs:idtr]
    mov dword [RESULT + 28], 0xF0000 + fault_here
fault_here:
@CODE@
    mov dword [RESULT], 0xEEEE
    hlt

record:                         ; [sp]: vector, then IP CS FLAGS
    pop ax
    mov [RESULT], ax
    mov dword [RESULT + 4], 0xFFFFFFFF
    mov bp, sp
    mov ax, [bp]
    mov [RESULT + 8], ax
    mov ax, [bp + 2]
    mov [RESULT + 12], ax
    inc dword [RESULT + 24]
    hlt
stubs:
%assign v 0
%rep 256
    push strict word v
    jmp strict near record
%assign v v + 1
%endrep
idtr:
    dw @IDT_LIMIT@
    dd 0
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
"""


def real_rom(code, idt_limit=0x3FF):
    return assemble(_REAL.replace("@CODE@", code).replace("@IDT_LIMIT@", "0x%X" % idt_limit))


TIERS = ("baseline", "llvm", "region")


def machine(image, tier="baseline"):
    """A bare machine with `image` as its firmware, running its code on
    one tier: the baseline (copy-and-patch stencils), the LLVM first tier,
    or every block compiled as a region (tests/test_tier_oracle.py)."""
    m = Machine(memory_mb=4)
    if tier != "baseline":
        m.translator.baseline = None
        m.translator.regions_first = tier == "region"
    m.load_firmware(image)
    return m
