; cpuloop.asm -- CPU-bound real-mode benchmark: bitwise CRC32.
;
; Fills a 32 KiB RAM buffer (0x10000-0x17FFF) from a 32-bit LCG, then runs a
; bitwise (reflected, polynomial 0xEDB88320) CRC32 over the buffer REPEAT
; times in a row, i.e. the CRC32 of the buffer concatenated REPEAT times
; (zlib.crc32(buf * REPEAT)). Prints "crc32 xxxxxxxx" to port 0x402, halts.
; About 1.3 million instructions per pass; the default REPEAT = 64 is about
; 86 million guest instructions.
;
; Assemble: nasm -f bin -o cpuloop.bin cpuloop.asm   [-DREPEAT=n]

bits 16
cpu 386
org 0

%ifndef REPEAT
%define REPEAT 64
%endif

DBGPORT equ 0x402
BUFSEG  equ 0x1000
BUFLEN  equ 0x8000
POLY    equ 0xEDB88320

entry:
        cli
        cld
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        mov ax, BUFSEG
        mov ds, ax
        mov es, ax

        ; fill: x = x * 1103515245 + 12345 (mod 2^32); byte = x >> 24
        mov ebx, 1
        xor di, di
        mov cx, BUFLEN
.fill:  imul ebx, ebx, 1103515245
        add ebx, 12345
        mov eax, ebx
        shr eax, 24
        stosb
        loop .fill

        mov edx, 0xFFFFFFFF             ; CRC register
        mov bp, REPEAT
.pass:  xor si, si
        mov cx, BUFLEN
.byte:  lodsb
        xor dl, al
        mov bl, 8
.bit:   shr edx, 1
        jnc .nox
        xor edx, POLY
.nox:   dec bl
        jnz .bit
        loop .byte
        dec bp
        jnz .pass
        not edx

        mov si, s_crc
        call puts
        call puthex32
        mov al, 10
        call putc
halt:   cli
        hlt
        jmp halt

%include "console16.inc"

s_crc:  db "crc32 ", 0

        times 0xFFF0-($-$$) db 0
reset:  jmp 0xF000:entry
        times 0x10000-($-$$) db 0
