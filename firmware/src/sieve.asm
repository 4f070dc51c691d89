; sieve.asm -- CPU-bound real-mode benchmark: sieve of Eratosthenes.
;
; A 60 KiB byte array at 0x20000 (one byte per number 0..61439) is sieved
; REPEAT times (refilled each pass); the primes below 61440 are counted and
; "primes <count>" is printed in decimal to port 0x402, then the CPU halts.
; About 0.8 million instructions per pass (REP STOSW counted per
; iteration); the default REPEAT = 100 is about 80 million.
;
; Assemble: nasm -f bin -o sieve.bin sieve.asm   [-DREPEAT=n]

bits 16
cpu 386
org 0

%ifndef REPEAT
%define REPEAT 100
%endif

DBGPORT equ 0x402
ARRSEG  equ 0x2000
N       equ 61440                       ; 60 KiB

entry:
        cli
        cld
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        mov ax, ARRSEG
        mov ds, ax
        mov es, ax

        mov bp, REPEAT
.pass:  xor di, di                      ; every number is a candidate...
        mov cx, N/2
        mov ax, 0x0101
        rep stosw
        mov word [0], 0                 ; ...except 0 and 1
        mov bx, 2                       ; bx = i
.outer: mov ax, bx
        mul bx                          ; dx:ax = i*i
        cmp ax, N
        jae .count
        cmp byte [bx], 0
        je .next
        mov di, ax                      ; j = i*i
.mark:  mov byte [di], 0
        add di, bx
        cmp di, N
        jb .mark
.next:  inc bx
        jmp .outer

.count: xor si, si
        mov cx, N
        xor dx, dx
        xor ah, ah
.cnt:   lodsb
        add dx, ax
        loop .cnt
        dec bp
        jnz .pass

        mov si, s_primes
        call puts
        mov ax, dx
        call putdec
        mov al, 10
        call putc
halt:   cli
        hlt
        jmp halt

%include "console16.inc"

s_primes: db "primes ", 0

        times 0xFFF0-($-$$) db 0
reset:  jmp 0xF000:entry
        times 0x10000-($-$$) db 0
