; pmode: enter 32-bit protected mode from reset, with a flat GDT and an IDT;
; write above 1 MiB; take INT 30h and a #DE through interrupt gates and
; return with IRETD; run CPUID.  Prints to port 0x402:
;   I  - the INT 30h handler ran
;   P  - execution went on after IRETD
;   D  - the #DE handler ran (pushed EIP = the faulting DIV, skipped by 2)
;   M  - the dword written at 1 MiB reads back
;   G  - CPUID leaf 0 says GenuineIntel
; oracle: jitemu-only (the Unicorn runner delivers real-mode interrupts only)
bits 16
org 0
%include "pm32.inc"
start:
    enter_pm gdtr, idtr, pm32
bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x9000
    mov dword [0x100000], 0x12345678   ; above 1 MiB
    mov eax, [0x100000]
    int 0x30
    mov dx, 0x402
    mov al, 'P'
    out dx, al
    xor ecx, ecx
    div ecx           ; #DE -> handler prints 'D' and skips 2 bytes
    cmp dword [0x100000], 0x12345678
    jne .skip_m
    mov al, 'M'
    out dx, al
.skip_m:
    xor eax, eax
    cpuid
    cmp ebx, 'Genu'
    jne .skip_g
    mov dx, 0x402
    mov al, 'G'
    out dx, al
.skip_g:
    mov dx, 0x402
    mov al, 10
    out dx, al
    cli
    hlt
handler30:
    push eax
    mov dx, 0x402
    mov al, 'I'
    out dx, al
    pop eax
    iretd
handler0:
    mov dx, 0x402
    mov al, 'D'
    out dx, al
    add dword [esp], 2
    iretd
align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF   ; 0x08 code32 flat
    dq 0x00CF93000000FFFF   ; 0x10 data32 flat
gdtr:
    dw 23
    dd 0xF0000 + gdt
idt:
%macro gate 1
    dw (%1 - $$) & 0xFFFF
    dw 0x08
    dw 0x8E00
    dw 0x000F
%endmacro
    gate handler0
%rep 0x2F
    dq 0
%endrep
    gate handler30
idtr:
    dw 0x31*8-1
    dd 0xF0000 + idt
    times 0xFFF0-($-$$) db 0xF4
bits 16
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
