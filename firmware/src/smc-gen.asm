; smc-gen.asm -- real-mode benchmark: self-modifying code, generated routines.
;
; Each of REPEAT iterations writes a fresh routine into a RAM buffer at
; 0000:9000 and calls it.  The routine is drawn from a 32-bit LCG (x = x *
; 1103515245 + 12345, seed 1; t = x >> 16 after a step):
;   n = 4 + (t & 7) instructions (one step), each chosen by t & 3 of a
;   new step:
;     0  add ebx, imm32           66 81 C3 imm32   (imm32 = x after one more step)
;     1  xor ebx, imm32           66 81 F3 imm32   (likewise)
;     2  rol ebx, (t >> 2) & 31   66 C1 C3 imm8
;     3  imul ebx, ebx, imm32     66 69 DB imm32   (likewise)
;   then retf.
; So every call runs code that did not exist a moment before, of varying
; length and shape.  EBX starts at 0x12345678 and is printed at the end as
; "smc-gen <8 hex digits>" to port 0x402; then the CPU halts.  About 200
; instructions per iteration (most of them generating); the default REPEAT =
; 200 is small because each iteration costs a translation (jitemu bench
; runs it --scale times, 20 by default).
;
; Assemble: nasm -f bin -o smc-gen.bin smc-gen.asm   [-DREPEAT=n]

bits 16
cpu 386
org 0

%ifndef REPEAT
%define REPEAT 200
%endif

GEN     equ 0x9000                      ; the routine's buffer
COUNT   equ 0x7800                      ; iterations left (a dword: --scale)

entry:
        cli
        cld
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        mov ds, ax
        mov es, ax

        mov ebp, 1                      ; LCG state
        mov ebx, 0x12345678             ; the routines' accumulator
        mov dword [COUNT], REPEAT
.iter:  mov di, GEN
        call rnd
        and ax, 7
        add ax, 4
        mov cx, ax                      ; instructions in this routine
.ins:   call rnd                        ; AX = t
        mov si, ax
        and si, 3
        cmp si, 2
        je .rol
        add si, si
        mov al, 0x66
        stosb
        mov ax, [cs:optab + si]
        stosw
        call rnd
        mov eax, ebp
        stosd
        loop .ins
        jmp .call
.rol:   shr ax, 2
        and al, 31
        mov dl, al                      ; the count
        mov ax, 0xC166                  ; 66 C1 C3 count: rol ebx, count
        stosw
        mov al, 0xC3
        stosb
        mov al, dl
        stosb
        loop .ins
.call:  mov al, 0xCB                    ; retf
        stosb
        call 0:GEN
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

; rnd: EBP = EBP * 1103515245 + 12345; AX = t = the high word of the new EBP.
rnd:    imul ebp, ebp, 1103515245
        add ebp, 12345
        mov eax, ebp
        shr eax, 16
        ret

; The two bytes after 0x66 for each t & 3 (2, the rotate, is built in place).
optab:  db 0x81, 0xC3, 0x81, 0xF3, 0, 0, 0x69, 0xDB

%include "console16.inc"

s_smc:  db "smc-gen ", 0

        times 0xFFF0-($-$$) db 0
reset:  jmp 0xF000:entry
        times 0x10000-($-$$) db 0
