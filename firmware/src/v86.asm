; v86: a tiny virtual-8086 monitor, from reset.  Ring 0 sets up a GDT, an
; IDT, a TSS with an I/O permission bitmap (every port allowed but 0x80) and
; a real-mode IVT entry, then IRETDs to 8086 code at F000:v86 with IOPL 0.
; The 8086 code prints to port 0x402 itself (the bitmap allows it; IN and
; OUT do not look at IOPL in this mode) and runs what traps to the monitor
; as #GP(0), which the monitor emulates the classic way (it keeps the
; program's virtual IF):
;   E  - the 8086 code runs (CS is the paragraph F000, VM set)
;   I  - INT 21h: the monitor reflects it to the IVT's handler (in the mode),
;        which prints I ...
;   R  - ... and its IRET, emulated, returns with AX from the handler
;   C  - CLI, then PUSHF shows the virtual IF clear
;   S  - STI, then PUSHF shows it set
;   F  - POPF of an image with IF clear, then PUSHF shows it clear
;   P  - OUT 80h, AL: the bitmap refuses the port, the monitor performs it
;        (here: keeps the byte) and the program goes on
; HLT ends the program: back in the monitor, which checks the number of
; traps and prints " V86-OK", writes to the debug-exit port 0x501 (which
; `jitemu run` has) and halts.
; oracle: jitemu-only (the Unicorn runner delivers real-mode interrupts only)
bits 16
org 0
%include "pm32.inc"
ROM     equ 0xF0000
GDT     equ 0x1000
IDT     equ 0x2000
TSS     equ 0x3000
VIF     equ 0x600               ; the program's virtual IF (0 or 200h)
TRAPS   equ 0x604               ; #GP traps emulated
PORT80  equ 0x608               ; what the program wrote to port 0x80
start:
    enter_pm gdtr_rom, 0, pm32
bits 32
pm32:
    flat_data 0x7000
    gdt_in_ram gdt, gdt_end, GDT, gdtr_ram
    mov edi, IDT                ; every vector: unexpected; #GP: the monitor
    mov ecx, 256
.idt:
    mov dword [edi], (unexpected - $$) | 0x00080000      ; 0008:F0000+offset, ring 0
    mov dword [edi + 4], 0x000F8E00                       ; 32-bit interrupt gate
    add edi, 8
    loop .idt
    mov dword [IDT + 13 * 8], (monitor - $$) | 0x00080000
    lidt [ROM + idtr]
    mov edi, TSS                ; the TSS: ring-0 stack, the bitmap (all zero but 0x80)
    xor eax, eax
    mov ecx, (0x68 + 0x2000) / 4
    rep stosd
    mov dword [TSS + 4], 0x7000
    mov dword [TSS + 8], 0x10
    mov word [TSS + 0x66], 0x68
    or byte [TSS + 0x68 + (0x80 >> 3)], 1 << (0x80 & 7)
    mov byte [TSS + 0x68 + 0x2000], 0xFF
    mov ax, 0x18
    ltr ax
    mov dword [0x21 * 4], 0xF0000000 | (int21 - $$)   ; the IVT: INT 21h -> F000:int21
    mov dword [VIF], 0x200
    mov dword [TRAPS], 0
    push dword 0                ; GS FS DS ES
    push dword 0
    push dword 0xF000
    push dword 0xF000
    push dword 0x2000           ; SS:SP
    push dword 0xFFFE
    push dword 0x00020002       ; VM, IOPL 0, IF 0
    push dword 0xF000           ; CS:IP
    push dword v86
    iretd

; #GP from the 8086 program: emulate the instruction at CS:IP.
monitor:
    pushad
    mov ax, 0x10                ; (the data segments came in null)
    mov ds, ax
    mov es, ax
    lea ebp, [esp + 36]         ; past PUSHAD and the error code: EIP CS EFLAGS ESP SS
    inc dword [TRAPS]
    movzx esi, word [ebp + 4]
    shl esi, 4
    add esi, [ebp]
    mov al, [esi]
    cmp al, 0xFA
    je .cli
    cmp al, 0xFB
    je .sti
    cmp al, 0x9C
    je .pushf
    cmp al, 0x9D
    je .popf
    cmp al, 0xCD
    je .int
    cmp al, 0xCF
    je .iret
    cmp al, 0xE6
    je .out
    cmp al, 0xF4
    je done
    jmp unexpected
.cli:
    mov dword [VIF], 0
    jmp .next1
.sti:
    mov dword [VIF], 0x200
    jmp .next1
.pushf:
    call vflags
    call vpush
    jmp .next1
.popf:
    call vpop
    call set_vflags
    jmp .next1
.int:                           ; push FLAGS CS IP(next), virtual IF off, IVT
    call vflags
    call vpush
    mov ax, [ebp + 4]
    call vpush
    mov ax, [ebp]
    add ax, 2
    call vpush
    mov dword [VIF], 0
    and dword [ebp + 8], ~0x100 ; TF
    movzx ebx, byte [esi + 1]
    mov ax, [ebx * 4]
    mov [ebp], eax
    and dword [ebp], 0xFFFF
    mov ax, [ebx * 4 + 2]
    mov [ebp + 4], eax
    and dword [ebp + 4], 0xFFFF
    jmp .resume
.iret:
    call vpop
    movzx eax, ax
    mov [ebp], eax
    call vpop
    mov [ebp + 4], eax
    and dword [ebp + 4], 0xFFFF
    call vpop
    call set_vflags
    jmp .resume
.out:
    cmp byte [esi + 1], 0x80
    jne unexpected
    mov eax, [esp + 28]         ; the program's AL (PUSHAD's EAX)
    mov [PORT80], al
    add word [ebp], 2
    jmp .resume
.next1:
    inc word [ebp]
.resume:
    popad
    add esp, 4                  ; the error code
    iretd

; The program's FLAGS as it should see them: the real ones with the virtual
; IF in place of IF (in AX).
vflags:
    mov eax, [ebp + 8]
    and eax, ~0x200
    or eax, [VIF]
    ret

; Take FLAGS from the image in AX: the arithmetic flags, DF and TF, and
; the virtual IF; IOPL, VM and the real IF stay the monitor's.
set_vflags:
    movzx eax, ax
    mov ebx, eax
    and ebx, 0x200
    mov [VIF], ebx
    and eax, 0x0DD5
    and dword [ebp + 8], ~0x0DD5
    or [ebp + 8], eax
    ret

; Push AX on / pop AX from the program's stack (SS:SP in the frame).
vpush:
    sub word [ebp + 12], 2
    call vstack
    mov [edi], ax
    ret
vpop:
    call vstack
    mov ax, [edi]
    add word [ebp + 12], 2
    ret
vstack:
    movzx edi, word [ebp + 16]
    shl edi, 4
    movzx ebx, word [ebp + 12]
    add edi, ebx
    ret

; HLT: the program is done.  INT, IRET, CLI, STI, POPF, OUT, three
; PUSHFs and the HLT: ten traps.
done:
    cmp dword [TRAPS], 10
    jne unexpected
    cmp byte [PORT80], 0x5A
    jne unexpected
    mov esi, ROM + msg_ok
    call puts
    debug_exit

unexpected:
    mov esi, ROM + msg_fail
    call puts
    cli
    hlt

    console32

msg_ok: db " V86-OK", 10, 0
msg_fail: db " FAIL", 10, 0

bits 16
; putc8086 CHAR: the 8086 program's own OUT to the debug console.
%macro putc8086 1
    mov al, %1
    mov dx, 0x402
    out dx, al
%endmacro

v86:
    mov ax, cs
    cmp ax, 0xF000
    jne .bad
    putc8086 'E'
    mov ax, 0
    int 0x21                    ; the handler sets AX = 21h
    cmp ax, 0x21
    jne .bad
    putc8086 'R'
    cli
    pushf
    pop ax
    test ax, 0x200
    jnz .bad
    putc8086 'C'
    sti
    pushf
    pop ax
    test ax, 0x200
    jz .bad
    putc8086 'S'
    push word 0x0002
    popf
    pushf
    pop ax
    test ax, 0x200
    jnz .bad
    putc8086 'F'
    mov al, 0x5A
    out 0x80, al
    putc8086 'P'
    hlt
.bad:
    putc8086 '!'
    hlt

int21:                          ; the real-mode handler the monitor reflects INT 21h to
    putc8086 'I'
    mov ax, 0x21
    iret

align 8
gdt:
    gdt_flat_tss TSS, 0x68 + 0x2000   ; 0x08 code, 0x10 data, 0x18 the TSS with its I/O bitmap
gdt_end:
    gdt_pointers GDT
idtr:
    dw 0x7FF
    dd IDT

    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
