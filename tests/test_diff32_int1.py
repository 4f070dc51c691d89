"""INT1 (ICEBP, F1) in 32-bit protected mode.

Against Unicorn at ring 0, as in tests/test_diff_int1.py: Unicorn has no
ICEBP and runs INT 1 in its place (delivery through IDT gate 1; the
return address differs, after the one byte of F1).  By hand at ring 3,
what Unicorn cannot show: INT1 is not a software interrupt, so the gate's
DPL is not checked (SDM vol. 2, INT n/INTO/INT3/INT1): through a DPL 0
gate, INT 1 raises #GP(0Ah) and INT1 reaches the #DB handler."""

import pytest
from hypothesis import given

import oracle
import oracle32
from encode import Encoding
from jitemu.devices.debugcon import DebugConsole
from jitemu.machine import Machine
from romutil import assemble
from test_diff_int1 import ICEBP, check

CASES = oracle32.cases([Encoding(ICEBP, "F1", code32=True)])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(40)
@given(state=oracle32.states())
def test_int1_is_int_1_returning_after_f1_in_pm32(case, state):
    a = check(case, state)
    assert (a["segs"]["cs"], a["eip"]) == (0x08, oracle32.handler(1) + 1)  # past the HLT at gate 1's handler


SOURCE = r"""
bits 16
org 0
%include "pm32.inc"
ROM     equ 0xF0000
STACK0  equ 0x8000
TSS     equ 0x9000
start:
    enter_pm gdtr, idtr, pm32
bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    mov edi, TSS
    xor eax, eax
    mov ecx, 0x68 / 4
    rep stosd
    mov dword [TSS + 4], STACK0
    mov dword [TSS + 8], 0x10
    mov ax, 0x28
    ltr ax
    push dword 0x23                       ; to ring 3
    push dword 0x6000
    push dword 0x3002                     ; IOPL 3: ring 3 may print
    push dword 0x1B
    push dword ROM + ring3
    iretd
ring3:
    int 1                                 ; gate DPL 0 < CPL 3: #GP(1 * 8 + 2)
    icebp                                 ; #DB through the same gate
after:
    putc 'X'                              ; (not reached)
    hlt

gp_handler:
    cmp dword [esp], 0x0A
    jne .bad
    putc 'G'
    add dword [esp + 4], 2                ; past INT 1
    add esp, 4
    iretd
.bad:
    putc '?'
    hlt

db_handler:                               ; a trap: EIP after ICEBP, from ring 3
    cmp dword [esp], ROM + after
    jne .bad
    cmp dword [esp + 4], 0x1B
    jne .bad
    putc 'D'
    hlt
.bad:
    putc '!'
    hlt

align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF                 ; 0x08 code, DPL 0
    dq 0x00CF93000000FFFF                 ; 0x10 data, DPL 0
    dq 0x00CFFB000000FFFF                 ; 0x18 code, DPL 3
    dq 0x00CFF3000000FFFF                 ; 0x20 data, DPL 3
    dw 0x67, TSS & 0xFFFF                 ; 0x28 TSS
    db (TSS >> 16) & 0xFF, 0x89, 0x00, TSS >> 24
gdt_end:
gdtr:
    dw gdt_end - gdt - 1
    dd ROM + gdt

%macro gate 1
    dw (%1 - $$) & 0xFFFF, 0x08
    db 0, 0x8E                            ; 32-bit interrupt gate, DPL 0
    dw 0x000F
%endmacro
idt:
    dq 0
    gate db_handler                       ; 1
%rep 11
    dq 0
%endrep
    gate gp_handler                       ; 13
idtr:
    dw 14 * 8 - 1
    dd ROM + idt
bits 16
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
"""

def test_int1_from_ring_3_skips_the_gate_dpl_check_that_int_1_fails():
    image = assemble(SOURCE)
    m = Machine()
    m.load_firmware(image)
    con = m.attach(DebugConsole())
    assert m.run(max_instructions=10_000) == "halt"
    assert con.text == "GD"
    assert m.s.last_exception == 1 and m.regs.cs == 0x08
