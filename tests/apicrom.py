"""Test ROMs for the APICs: flat 32-bit protected mode at CPL 0 with an IDT
of all 256 vectors.  An exception (0-31) stores its vector at FAULT and
halts; any other vector appends (vector, TSC low, TSC high) to the log at
LOG (its count first), calls the routine whose address the test code put at
HOOK (if any), sends EOI (the PIC's for 0x20-0x2F, the local APIC's for the
others but SPURIOUS, whose handler must not) and returns.  The test code
runs after the prelude with interrupts off; it ends with `cli; hlt`.
"""
import struct

from romutil import assemble

LOG, HOOK, FAULT, T0 = 0x8000, 0x7F00, 0x7F04, 0x7F08
SPURIOUS = 0xEF  # the vector the tests put in SVR

PRELUDE = r"""
bits 16
org 0
%include "pm32.inc"
ROM equ 0xF0000
LAPIC equ 0xFEE00000
IOAPIC equ 0xFEC00000
LOG equ 0x8000
HOOK equ 0x7F00
FAULT equ 0x7F04
T0 equ 0x7F08
SPURIOUS equ 0xEF
start:
    enter_pm gdtr, idtr, pm32
bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    mov dword [LOG], 0
    mov dword [HOOK], 0
    mov dword [FAULT], 0xFFFFFFFF
test_code:
"""

EPILOGUE = r"""
    cli
    hlt
fault:
    pop dword [FAULT]
    cli
    hlt
irq_common:
    push eax
    push edx
    push ecx
    mov ecx, [LOG]
    lea ecx, [ecx + ecx * 2]
    mov eax, [esp + 12]              ; the vector
    mov [LOG + 4 + ecx * 4], eax
    rdtsc
    mov [LOG + 8 + ecx * 4], eax
    mov [LOG + 12 + ecx * 4], edx
    inc dword [LOG]
    mov eax, [HOOK]
    test eax, eax
    jz .eoi
    call eax
.eoi:
    mov eax, [esp + 12]
    cmp eax, SPURIOUS
    je .out
    cmp eax, 0x30
    jae .apic
    cmp eax, 0x28
    jb .master
    mov al, 0x20
    out 0xA0, al
.master:
    mov al, 0x20
    out 0x20, al
    jmp .out
.apic:
    mov dword [LAPIC + 0xB0], 0
.out:
    pop ecx
    pop edx
    pop eax
    add esp, 4
    iretd
%assign v 0
%rep 256
handler_ %+ v:
    push dword v
%if v < 32
    jmp fault
%else
    jmp irq_common
%endif
%assign v v + 1
%endrep
align 8
gdt: dq 0
    dq 0x00CF9B000000FFFF        ; 0x08 code
    dq 0x00CF93000000FFFF        ; 0x10 data
gdt_end:
gdtr: dw gdt_end - gdt - 1
    dd ROM + gdt
idt:
%assign v 0
%rep 256
    dw (handler_ %+ v - $$) & 0xFFFF, 0x08, 0x8E00, 0x000F
%assign v v + 1
%endrep
idt_end:
idtr: dw idt_end - idt - 1
    dd ROM + idt
bits 16
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
"""


def image(code):
    return assemble(PRELUDE + code + EPILOGUE)


def log(m):
    """The interrupts the handlers saw: [(vector, tsc)]."""
    n = struct.unpack("<I", m.read_phys(LOG, 4))[0]
    words = struct.unpack("<%dI" % (3 * n), m.read_phys(LOG + 4, 12 * n))
    return [(words[3 * i], words[3 * i + 1] | words[3 * i + 2] << 32) for i in range(n)]


def fault(m):
    """The exception vector that stopped the code, or None."""
    v = struct.unpack("<I", m.read_phys(FAULT, 4))[0]
    return None if v == 0xFFFFFFFF else v


def word(m, addr):
    return struct.unpack("<I", m.read_phys(addr, 4))[0]


def tsc(m, addr):
    return struct.unpack("<Q", m.read_phys(addr, 8))[0]
