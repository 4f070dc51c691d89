"""Test ROMs from a few lines of nasm, with rings (tests/pmrom.py has the
faulting-code harness).  Protected mode (run_pm): the code runs at CPL 0
in flat 32-bit protected mode (paging off), and every exception or
interrupt (vectors 0-31 and 0x30, the "done" interrupt, DPL 3) goes to a
handler that pushes an error code (0 when the CPU pushed none) and its
vector and halts.  So a test reads what happened from the ring-0 stack
(`Frame`) with the general registers as the faulting or finishing code
left them.

GDT:  08 ring-0 code   10 ring-0 data   18 the TSS (ESP0 = STACK0)
      60 ring-0 code   68 ring-0 data   73 ring-3 code   7B ring-3 data
(60-7B: the layout SYSENTER and SYSEXIT take with SYSENTER_CS = 60h).
`to_ring3 LABEL` goes to LABEL at CPL 3 (stack STACK3, DS and ES 7B) by
IRETD; `done`
is INT 30h.  Memory: RAM from 0; the code runs from the ROM at 0xF0000.
Real mode (run_real): IVT vectors 0-31 halt in handlers that push their
vector; INT 1Fh ends the code.
"""
import struct

from jitemu.machine import Machine
from romutil import assemble

STACK0, STACK3 = 0x7000, 0x9000
DONE = 0x30

PRELUDE = r"""
bits 16
org 0
%include "pm32.inc"
ROM equ 0xF0000
STACK0 equ 0x7000
STACK3 equ 0x9000
TSS equ 0x500
%macro to_ring3 1
    push eax
    mov ax, 0x7B                     ; (IRET to ring 3 would null DPL-0 data segments)
    mov ds, ax
    mov es, ax
    pop eax
    push dword 0x7B
    push dword STACK3
    pushfd
    push dword 0x73
    push dword ROM + %1
    iretd
%endmacro
%macro done 0
    int 0x30
%endmacro
start:
    enter_pm gdtr, idtr, pm32
bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, STACK0
    mov dword [TSS + 4], STACK0      ; ESP0
    mov dword [TSS + 8], 0x10        ; SS0
    mov word [TSS + 0x66], 0x68      ; no I/O bitmap
    mov ax, 0x18
    ltr ax
    xor eax, eax
    xor ebx, ebx
    xor ecx, ecx
    xor edx, edx
    xor esi, esi
    xor edi, edi
    xor ebp, ebp
test_code:
"""

EPILOGUE = r"""
    done
%assign v 0
%rep 32
handler_ %+ v:
%if v == 8 || (v >= 10 && v <= 14) || v == 17
%else
    push dword 0
%endif
    push dword v
    cli
    hlt
%assign v v + 1
%endrep
handler_done:
    push dword 0
    push dword 0x30
    cli
    hlt
align 8
gdt: dq 0
    dq 0x00CF9B000000FFFF        ; 0x08 ring-0 code
    dq 0x00CF93000000FFFF        ; 0x10 ring-0 data
    dw 0x67, TSS, 0x8900, 0      ; 0x18 32-bit TSS at TSS
    times 8 dq 0                 ; 0x20-0x58
    dq 0x00CF9B000000FFFF        ; 0x60 ring-0 code
    dq 0x00CF93000000FFFF        ; 0x68 ring-0 data
    dq 0x00CFFB000000FFFF        ; 0x70 ring-3 code
    dq 0x00CFF3000000FFFF        ; 0x78 ring-3 data
gdt_end:
gdtr: dw gdt_end - gdt - 1
    dd ROM + gdt
idt:
%assign v 0
%rep 32
    dw (handler_ %+ v - $$) & 0xFFFF, 0x08, 0x8E00, 0x000F
%assign v v + 1
%endrep
    times 16 dq 0
    dw (handler_done - $$) & 0xFFFF, 0x08, 0xEE00, 0x000F
idt_end:
idtr: dw idt_end - idt - 1
    dd ROM + idt
bits 16
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
"""


class Frame:
    """What the handler found: the vector, the error code (0 if none), and
    the interrupted EIP, CS, EFLAGS (and ESP, SS when it came from ring 3)."""

    def __init__(self, m):
        esp = m.regs.esp
        words = struct.unpack("<7I", m.read_phys(esp, 28))
        self.vector, self.error, self.eip, self.cs, self.eflags = words[:5]
        self.esp, self.ss = (words[5], words[6]) if self.cs & 3 else (None, None)

    def __repr__(self):
        return "Frame(vector=%#x error=%#x cs:eip=%04x:%08x eflags=%08x)" % (
            self.vector, self.error, self.cs, self.eip, self.eflags)


def run_pm(code, m=None, max_instructions=100_000):
    """Assemble `code` (32-bit nasm, CPL 0, after the prelude) into a ROM,
    run it to the halt in a handler; returns (machine, Frame)."""
    image = assemble(PRELUDE + code + EPILOGUE)
    if m is None:
        m = Machine()
    m.load_firmware(image)
    why = m.run(max_instructions=max_instructions)
    assert why == "halt", why
    return m, Frame(m)



REAL_PRELUDE = r"""
bits 16
org 0
start:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7000
%assign v 0
%rep 32
    mov word [v * 4], (rhandler_ %+ v - $$)
    mov word [v * 4 + 2], 0xF000
%assign v v + 1
%endrep
    xor ax, ax
test_code:
"""

REAL_EPILOGUE = r"""
    int 0x1f
%assign v 0
%rep 32
rhandler_ %+ v:
    push word v
    cli
    hlt
%assign v v + 1
%endrep
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
"""


class RealFrame:
    """Real mode: the vector and the interrupted IP, CS, FLAGS (vectors
    0-31 halt in their handlers; INT 1Fh ends the test code)."""

    def __init__(self, m):
        sp = m.regs.esp & 0xFFFF
        self.vector, self.ip, self.cs, self.flags = struct.unpack("<4H", m.read_phys(sp, 8))

    def __repr__(self):
        return "RealFrame(vector=%#x cs:ip=%04x:%04x flags=%04x)" % (self.vector, self.cs, self.ip, self.flags)


def run_real(code, max_instructions=100_000):
    """Assemble `code` (16-bit nasm, real mode, SS:SP 0:7000) and run it to
    the halt in an IVT handler; returns (machine, RealFrame)."""
    image = assemble(REAL_PRELUDE + code + REAL_EPILOGUE)
    m = Machine()
    m.load_firmware(image)
    why = m.run(max_instructions=max_instructions)
    assert why == "halt", why
    return m, RealFrame(m)
