"""Segment access rights in protected mode (Intel SDM vol. 3, 5.4-5.5): a
write needs a writable data segment, a read a data or readable code
segment, else #GP(0); and a faulting instruction leaves EFLAGS as they
were before it (here an ADD whose write faults after its flags were
computed)."""

from jitemu.devices.debugcon import DebugConsole
from jitemu.machine import Machine
from romutil import assemble

SOURCE = r"""
bits 16
org 0
%include "pm32.inc"
ROM equ 0xF0000
ERR equ 0x8000
SKIP equ 0x8008
FL equ 0x800C
start:
    enter_pm gdtr, idtr, pm32
bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    mov dword [0x500], 1
    mov ax, 0x18                 ; read-only data
    mov ds, ax
    mov eax, [0x500]             ; a read is fine
    cmp eax, 1
    jne .no_a
    putc 'A'
.no_a:
    mov dword [es:SKIP], 6
    mov [0x500], eax             ; 6 bytes: #GP(0)
    cmp dword [es:ERR], 0
    jne .no_b
    putc 'B'
.no_b:
    xor ecx, ecx                 ; ZF=1
    stc                          ; CF=1
    mov dword [es:SKIP], 6
    add [0x500], eax             ; 1 + 1: ZF=0 CF=0, but the write faults
    mov eax, [es:FL]
    and eax, 0x41
    cmp eax, 0x41                ; the saved EFLAGS still say CF=1 ZF=1
    jne .no_f
    putc 'F'
.no_f:
    mov eax, [cs:0x500]          ; CS is readable code
    putc 'C'
    jmp 0x20:(ROM + xonly)
xonly:
    mov dword [es:ERR], 0xFFFF
    mov dword [es:SKIP], 7
    mov eax, [cs:0x500]          ; 7 bytes: execute-only code, #GP(0)
    cmp dword [es:ERR], 0
    jne .no_d
    putc 'D'
.no_d:
    mov dword [es:ERR], 0xFFFF
    mov dword [es:SKIP], 7
    mov [cs:0x500], eax          ; code is never writable: #GP(0)
    cmp dword [es:ERR], 0
    jne .no_e
    putc 'E'
.no_e:
    putc 10
    cli
    hlt
gp:
    push eax
    mov eax, [esp + 4]
    mov [es:ERR], eax
    mov eax, [esp + 16]          ; the EFLAGS the fault saved
    mov [es:FL], eax
    mov eax, [es:SKIP]
    add [esp + 8], eax
    pop eax
    add esp, 4
    iretd
align 8
gdt: dq 0
    dq 0x00CF9B000000FFFF        ; 0x08 code, readable
    dq 0x00CF93000000FFFF        ; 0x10 data, writable
    dq 0x00CF91000000FFFF        ; 0x18 data, read-only
    dq 0x00CF99000000FFFF        ; 0x20 code, execute-only
gdtr: dw 39
    dd ROM + gdt
idt:
%rep 13
    dq 0
%endrep
    dw (gp - $$) & 0xFFFF, 0x08, 0x8E00, 0x000F
idtr: dw 14 * 8 - 1
    dd ROM + idt
bits 16
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
"""

def test_access_rights_and_flags_of_a_faulting_instruction():
    image = assemble(SOURCE)
    m = Machine()
    m.load_firmware(image)
    con = m.attach(DebugConsole())
    assert m.run(max_instructions=10_000) == "halt"
    assert con.text == "ABFCDE\n"
