; exceptions: every exception class of the 386 in 32-bit protected mode,
; each taken through the IDT and returned from (or, for #DF, recovered).
; Prints one letter per class whose handler ran with the right error code
; and return address, then a newline:
;   0 #DE  1 #DB  3 #BP  4 #OF  5 #BR  6 #UD  7 #NM  8 #DF
;   A #TS  B #NP  C #SS  D #GP  E #PF
; oracle: jitemu-only (the Unicorn runner delivers real-mode interrupts only)
bits 16
org 0
%include "pm32.inc"
ROM     equ 0xF0000
GDT     equ 0xA000
PD      equ 0x10000
PT0     equ 0x11000
skip    equ 0x8000              ; bytes to skip on return from a fault
expect  equ 0x8004              ; the error code the handler must see
start:
    enter_pm gdtr_rom, idtr, pm32
bits 32
; fault N, bytes: the next instruction (N bytes long) must fault
%macro fault_next 2
    mov dword [skip], %1
    mov dword [expect], %2
%endmacro
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    mov esi, ROM + gdt
    mov edi, GDT
    mov ecx, gdt_end - gdt
    rep movsb
    lgdt [ROM + gdtr_ram]
    mov esi, ROM + idt               ; the IDT too: #DF edits a gate
    mov edi, ROM_IDT_RAM
    mov ecx, idt_end - idt
    rep movsb
    lidt [ROM + idtr_ram]
    ; #DE
    fault_next 2, 0
    xor ecx, ecx
    div ecx                          ; 2 bytes
    ; #DB: single step one instruction
    pushfd
    or dword [esp], 0x100
    popfd                            ; TF=1: #DB after the next instruction
    nop
    ; #BP, #OF
    int3
    mov al, 0x7f
    add al, 1                        ; OF=1
    into
    ; #BR
    mov dword [0x9000], 10
    mov dword [0x9004], 20
    mov eax, 30
    fault_next 6, 0
    bound eax, [0x9000]              ; 6 bytes
    ; #UD
    fault_next 2, 0
    ud2
    ; #NM
    mov eax, cr0
    or eax, 4                        ; EM
    mov cr0, eax
    fault_next 2, 0
    fld1
    and eax, ~4
    mov cr0, eax
    ; #TS: a task switch to a TSS whose limit is too small
    fault_next 7, 0x28
    jmp 0x28:0                       ; 7 bytes
    ; #NP: a not-present data segment
    mov ax, 0x30
    fault_next 2, 0x30
    mov ds, ax                       ; 2 bytes
    ; #SS: beyond the limit of a 64 KiB stack segment
    mov ax, 0x38
    mov ss, ax                       ; base 0, limit 0xFFFF
    fault_next 7, 0
    mov eax, [esp + 0x20000]         ; 7 bytes
    mov ax, 0x10
    mov ss, ax
    ; #GP: a selector beyond the GDT
    mov ax, 0x1230
    fault_next 2, 0x1230
    mov es, ax
    ; #PF: paging with a not-present page at 4 MiB
    paging_identity_4m PD, PT0
    mov dword [expect], 0            ; read, supervisor, not present
    mov eax, [0x400000]              ; the handler maps it; the read restarts
    ; #DF: #NP while delivering #NP (its own gate is not present)
    and byte [ROM_IDT_RAM + 11 * 8 + 5], 0x7f
    mov [df_esp], esp
    mov ax, 0x30
    mov ds, ax                       ; #NP -> gate 11 not present -> #DF
df_resume:
    putc 10
    cli
    hlt

; Handlers: check the error code (when the class pushes one), skip the
; faulting instruction, and return.
%macro handler_noerr 2                ; letter, is_fault
    putc %1
%if %2
    push eax
    mov eax, [skip]
    add [esp + 4], eax
    pop eax
%endif
    iretd
%endmacro
%macro handler_err 1
    push eax
    mov eax, [esp + 4]
    cmp eax, [expect]
    jne %%bad
    putc %1
%%bad:
    mov eax, [skip]
    add [esp + 8], eax
    pop eax
    add esp, 4
    iretd
%endmacro
h0: handler_noerr '0', 1
h1:
    and dword [esp + 8], ~0x100      ; clear TF in the saved EFLAGS
    handler_noerr '1', 0
h3: handler_noerr '3', 0
h4: handler_noerr '4', 0
h5: handler_noerr '5', 1
h6: handler_noerr '6', 1
h7: handler_noerr '7', 1
h8:
    cmp dword [esp], 0               ; #DF pushes 0
    jne .bad
    putc '8'
.bad:
    mov esp, [df_esp]                ; an abort: resume at a known place
    mov ax, 0x10
    mov ds, ax
    jmp df_resume
h10: handler_err 'A'
h11: handler_err 'B'
h12: handler_err 'C'
h13: handler_err 'D'
h14:
    push eax
    mov eax, cr2
    cmp eax, 0x400000
    jne .bad
    mov eax, [esp + 4]
    cmp eax, [expect]
    jne .bad
    putc 'E'
.bad:
    ; map the page and retry instead of skipping
    mov dword [PT0 + 0], 3           ; harmless: page 0 stays identity
    mov eax, PD
    mov dword [PD + 4], PT0 | 3      ; 4 MiB..8 MiB -> 0..4 MiB
    mov cr3, eax
    pop eax
    add esp, 4
    iretd

df_esp equ 0x8008

align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF            ; 0x08 code
    dq 0x00CF93000000FFFF            ; 0x10 data
    dq 0
    dq 0
    ; 0x28 a TSS with limit 0x20 (too small)
    dw 0x20, 0x9100
    db 0, 0x89, 0, 0
    dq 0x00CF13000000FFFF            ; 0x30 data, not present
    dq 0x000093000000FFFF            ; 0x38 data, 64 KiB, byte granular
gdt_end:
gdtr_rom:
    dw gdt_end - gdt - 1
    dd ROM + gdt
gdtr_ram:
    dw gdt_end - gdt - 1
    dd GDT

%macro gate 1
    dw (%1 - $$) & 0xFFFF
    dw 0x08
    dw 0x8E00
    dw 0x000F
%endmacro
idt:
    gate h0
    gate h1
    dq 0
    gate h3
    gate h4
    gate h5
    gate h6
    gate h7
    gate h8
    dq 0
    gate h10
    gate h11
    gate h12
    gate h13
    gate h14
idt_end:
idtr:
    dw idt_end - idt - 1
    dd ROM + idt
ROM_IDT_RAM equ 0xB000
idtr_ram:
    dw idt_end - idt - 1
    dd ROM_IDT_RAM
bits 16
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
