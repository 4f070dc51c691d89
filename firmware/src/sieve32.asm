; sieve32: the sieve benchmark in 32-bit protected mode with paging on
; (identity-mapped 4 KiB pages, so every access goes through the TLB).
; Same answer as sieve: prints "primes 6179" after REPEAT passes, halts.
; oracle: jitemu-only (Unicorn's real-mode runner cannot enter paging here)
bits 16
cpu 386
org 0
%include "pm32.inc"

%ifndef REPEAT
%define REPEAT 100
%endif

ROM     equ 0xF0000
ARR     equ 0x20000
N       equ 61440
PD      equ 0x10000
PT0     equ 0x11000

    bench32_entry PD, PT0
        mov ebp, REPEAT
.pass:  mov edi, ARR
        mov ecx, N / 4
        mov eax, 0x01010101
        rep stosd
        mov word [ARR], 0
        mov ebx, 2
.outer: mov eax, ebx
        mul ebx
        cmp eax, N
        jae .count
        cmp byte [ARR + ebx], 0
        je .next
        mov edi, eax
.mark:  mov byte [ARR + edi], 0
        add edi, ebx
        cmp edi, N
        jb .mark
.next:  inc ebx
        jmp .outer
.count: mov esi, ARR
        mov ecx, N
        xor edx, edx
        xor eax, eax
.cnt:   lodsb
        add edx, eax
        loop .cnt
        dec ebp
        jnz .pass
        mov esi, ROM + s_primes
        call puts
        mov eax, edx
        call putdec
        mov al, 10
        call out_char
        cli
        hlt

putdec: mov ebx, 10
        xor ecx, ecx
.div:   xor edx, edx
        div ebx
        push edx
        inc ecx
        test eax, eax
        jnz .div
.out:   pop eax
        add al, '0'
        call out_char
        loop .out
        ret

    console32

s_primes: db "primes ", 0

    bench32_end
