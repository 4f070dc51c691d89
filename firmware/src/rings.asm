; rings: privilege levels and tasks in 32-bit protected mode, from reset.
; Ring 0 sets up a GDT with ring-0 and ring-3 segments, a TSS, a call gate
; and a second TSS, then IRETs to ring 3.  Prints to port 0x402:
;   R  - running at CPL 3 after IRET to an outer level
;   O  - OUT to port 0x402, which the TSS's I/O permission bitmap allows
;   G  - OUT to port 0x80, which the bitmap denies: #GP(0)
;   G  - CLI at CPL 3 with IOPL 0 raises #GP(0) through an interrupt gate,
;        with the stack switched to the TSS's SS0:ESP0 and CS 0x1B pushed
;   I  - INT 40h (gate DPL 3) from ring 3 reaches ring 0 and IRETs back
;   D  - INT 41h (gate DPL 0) from ring 3 raises #GP with error 0x20A
;   C  - a far CALL through a call gate enters ring 0 with the parameter
;        copied to the inner stack ...
;   K  - ... and RETF 4 returns to ring 3 with the outer stack restored
;   N  - an x87 instruction with CR0.TS set raises #NM
;   T  - a JMP to a TSS switches tasks (the new task runs at ring 0) ...
;   t  - ... and a JMP back resumes the first task at ring 3 with CR0.TS set
; oracle: jitemu-only (the Unicorn runner delivers real-mode interrupts only)
bits 16
org 0
%include "pm32.inc"
ROM     equ 0xF0000
STACK0  equ 0x8000
STACK3  equ 0x6000
TSS1    equ 0x9000
TSS2    equ 0x9100
GDT     equ 0xA000
start:
    enter_pm gdtr_rom, idtr, pm32
bits 32
; A ring-3 putc: IOPL is 0, so ring 3 prints through INT 43h.
%macro putc3 1
    push eax
    mov al, %1
    int 0x43
    pop eax
%endmacro
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    ; the GDT lives in RAM: LTR and task switches write busy bits
    mov esi, ROM + gdt
    mov edi, GDT
    mov ecx, gdt_end - gdt
    rep movsb
    lgdt [ROM + gdtr_ram]
    ; TSS1: ring-0 stack
    mov edi, TSS1
    xor eax, eax
    mov ecx, 0x68 / 4
    rep stosd
    mov dword [TSS1 + 4], STACK0
    mov dword [TSS1 + 8], 0x10
    ; I/O permission bitmap at TSS1+0x68: every port denied but 0x402
    mov word [TSS1 + 0x66], 0x68
    mov edi, TSS1 + 0x68
    mov al, 0xFF
    mov ecx, 0x81
    rep stosb
    and byte [TSS1 + 0x68 + (0x402 >> 3)], ~(1 << (0x402 & 7))
    xor eax, eax
    ; TSS2: a ring-0 task that starts at task2
    mov edi, TSS2
    mov ecx, 0x68 / 4
    rep stosd
    mov dword [TSS2 + 0x20], ROM + task2
    mov dword [TSS2 + 0x24], 0x2
    mov dword [TSS2 + 0x38], 0x7800       ; esp
    mov dword [TSS2 + 0x48], 0x10         ; es
    mov dword [TSS2 + 0x4C], 0x08         ; cs
    mov dword [TSS2 + 0x50], 0x10         ; ss
    mov dword [TSS2 + 0x54], 0x10         ; ds
    mov ax, 0x28
    ltr ax
    ; to ring 3
    push dword 0x23
    push dword STACK3
    push dword 0x2                        ; IF=0, IOPL=0
    push dword 0x1B
    push dword ROM + ring3
    iretd

ring3:
    mov ax, 0x23
    mov ds, ax
    mov es, ax
    mov ax, cs
    and ax, 3
    cmp ax, 3
    jne .no_r
    putc3 'R'
.no_r:
    mov dx, 0x402
    mov al, 'O'
    out dx, al                            ; the bitmap allows it
    mov dx, 0x80
    out dx, al                            ; #GP(0): the bitmap denies it
    cli                                   ; #GP(0): IOPL 0 < CPL 3
    int 0x40
    int 0x41                              ; #GP: gate DPL 0
    mov ebx, esp
    push dword 0x1234
    call 0x33:0                           ; through the call gate
    cmp esp, ebx
    jne .no_k
    cmp eax, 0x1234
    jne .no_k
    putc3 'K'
.no_k:
    fld1                                  ; #NM: CR0.TS is set by ring 0 below
    jmp 0x3B:0                            ; task switch to TSS2
back_in_task1:
    mov ax, cs
    and ax, 3
    cmp ax, 3
    jne .no_t
    putc3 't'
.no_t:
    int 0x42                              ; finish in ring 0


task2:
    putc 'T'
    jmp 0x28:0                            ; back to task 1

gp_handler:                               ; ring 0, error code on the stack
    cmp dword [esp], 0
    jne .not_cli
    cmp dword [esp + 8], 0x1B             ; came from ring 3
    jne .skip1
    cmp esp, STACK0 - 24                  ; on the TSS's ring-0 stack
    jne .skip1
    putc 'G'
.skip1:
    add dword [esp + 4], 1                ; skip CLI (or OUT DX, AL)
    add esp, 4
    iretd
.not_cli:
    cmp dword [esp], 0x41 * 8 + 2
    jne .other
    putc 'D'
    add dword [esp + 4], 2                ; skip INT 41h
    add esp, 4
    iretd
.other:
    putc '!'
    cli
    hlt

nm_handler:
    putc 'N'
    clts
    add dword [esp], 2                    ; skip FLD1 (#NM has no error code)
    iretd

int40_handler:
    mov ax, cs
    cmp ax, 0x08
    jne .bad
    putc 'I'
    ; set CR0.TS so ring 3's FLD1 raises #NM
    mov eax, cr0
    or eax, 8
    mov cr0, eax
.bad:
    iretd

int42_handler:
    mov eax, cr0
    test eax, 8                           ; the task switch set TS
    jz .done
    putc 10
.done:
    cli
    hlt

int43_handler:                            ; putc for ring 3: AL
    push edx
    mov dx, 0x402
    out dx, al
    pop edx
    iretd

gate_target:                              ; ring 0 via the call gate
    mov ax, cs
    cmp ax, 0x08
    jne .bad
    mov eax, [esp + 8]                    ; the copied parameter
    cmp eax, 0x1234
    jne .bad
    putc 'C'
.bad:
    retf 4

align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF                 ; 0x08 code, DPL 0
    dq 0x00CF93000000FFFF                 ; 0x10 data, DPL 0
    dq 0x00CFFB000000FFFF                 ; 0x18 code, DPL 3
    dq 0x00CFF3000000FFFF                 ; 0x20 data, DPL 3
    ; 0x28 TSS1: base TSS1, limit 0xE8 (with the I/O bitmap), 32-bit available
    dw 0x68 + 0x80, TSS1 & 0xFFFF
    db (TSS1 >> 16) & 0xFF, 0x89, 0x00, TSS1 >> 24
    ; 0x30 call gate, DPL 3, 1 parameter, to 0x08:gate_target
    dw (gate_target - $$) & 0xFFFF, 0x08
    db 1, 0xEC
    dw 0x000F
    ; 0x38 TSS2, DPL 3 so ring 3 may jump to it
    dw 0x67, TSS2 & 0xFFFF
    db (TSS2 >> 16) & 0xFF, 0xE9, 0x00, TSS2 >> 24
gdt_end:
gdtr_rom:
    dw gdt_end - gdt - 1
    dd ROM + gdt
gdtr_ram:
    dw gdt_end - gdt - 1
    dd GDT

%macro gate 2                             ; handler, DPL
    dw (%1 - $$) & 0xFFFF
    dw 0x08
    db 0, 0x8E | (%2 << 5)
    dw 0x000F
%endmacro
idt:
%rep 7
    dq 0
%endrep
    gate nm_handler, 0                    ; 7
%rep 5
    dq 0
%endrep
    gate gp_handler, 0                    ; 13
%rep 0x40 - 14
    dq 0
%endrep
    gate int40_handler, 3                 ; 0x40
    gate int40_handler, 0                 ; 0x41: ring 3 may not use it
    gate int42_handler, 3                 ; 0x42
    gate int43_handler, 3                 ; 0x43
idtr:
    dw 0x44 * 8 - 1
    dd ROM + idt
bits 16
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
