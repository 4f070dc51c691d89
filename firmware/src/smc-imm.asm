; smc-imm.asm -- real-mode benchmark: self-modifying code, patched immediates.
;
; A small routine is copied from the ROM (which cannot be written) to
; 0000:8000.  Each of REPEAT iterations draws three numbers from a 32-bit
; LCG (x = x * 1103515245 + 12345, seed 1) and writes them into the
; routine's own code -- the imm32 of `mov eax, imm32`, the imm32 of
; `add ebx, imm32` and the imm16 of `cmp bx, imm16` -- then calls it:
;   eax = i1; ebx += eax; ebx = rol(ebx, 5); ebx += i2;
;   cmp bx, i3 (= x & 0xFFFF); ebx += CF; ebx ^= eax
; so every call runs code that was just rewritten (a translator must drop
; and retranslate it each time).  EBX starts at 0x12345678 and is printed
; at the end as "smc-imm <8 hex digits>" to port 0x402; then the CPU halts.
; About 20 instructions per iteration; the default REPEAT = 250 is small
; because each iteration costs a retranslation (jitemu bench runs it
; --scale times, 20 by default).
;
; Assemble: nasm -f bin -o smc-imm.bin smc-imm.asm   [-DREPEAT=n]

bits 16
cpu 386
org 0

%ifndef REPEAT
%define REPEAT 250
%endif

CODE    equ 0x8000                      ; the routine's copy in RAM
COUNT   equ 0x7800                      ; iterations left (a dword: --scale)

entry:
        cli
        cld
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        mov es, ax
        push cs                         ; copy the routine: CS:routine -> 0:CODE
        pop ds
        mov si, routine
        mov di, CODE
        mov cx, routine_end - routine
        rep movsb
        mov ds, ax

        mov ebp, 1                      ; LCG state
        mov ebx, 0x12345678             ; the routine's accumulator
        mov dword [COUNT], REPEAT
.iter:  imul ebp, ebp, 1103515245
        add ebp, 12345
        mov [CODE + r_mov - routine + 2], ebp   ; 66 B8 imm32
        imul ebp, ebp, 1103515245
        add ebp, 12345
        mov [CODE + r_add - routine + 3], ebp   ; 66 81 C3 imm32
        imul ebp, ebp, 1103515245
        add ebp, 12345
        mov [CODE + r_cmp - routine + 2], bp    ; 81 FB imm16
        call 0:CODE
        dec dword [COUNT]
        jnz .iter

        mov edx, ebx
        mov si, s_smc
        call puts
        call puthex32
        mov al, 10
        call putc
halt:   cli
        hlt
        jmp halt

; The routine, run only from its copy at 0:CODE (its immediates are
; placeholders; strict keeps the long encodings whatever their value).
routine:
r_mov:  mov eax, strict dword 0
        add ebx, eax
        rol ebx, 5
r_add:  add ebx, strict dword 0
r_cmp:  cmp bx, strict word 0
        adc ebx, 0
        xor ebx, eax
        retf
routine_end:

%include "console16.inc"

s_smc:  db "smc-imm ", 0

        times 0xFFF0-($-$$) db 0
reset:  jmp 0xF000:entry
        times 0x10000-($-$$) db 0
