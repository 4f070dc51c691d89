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

DBGPORT equ 0x402
ROM     equ 0xF0000
ARR     equ 0x20000
N       equ 61440
PD      equ 0x10000
PT0     equ 0x11000

entry:
    enter_pm gdtr, 0, pm32
bits 32
pm32:   mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, 0x7000
        cld
        paging_identity_4m PD, PT0
        jmp .paged
.paged: mov ebp, REPEAT
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
puts:   lodsb
        test al, al
        jz .done
        call out_char
        jmp puts
.done:  ret
out_char:   push edx
        mov dx, DBGPORT
        out dx, al
        pop edx
        ret
s_primes: db "primes ", 0

align 8
gdt:    dq 0
        dq 0x00CF9B000000FFFF
        dq 0x00CF93000000FFFF
gdtr:   dw 23
        dd ROM + gdt
bits 16
        times 0xFFF0-($-$$) db 0
reset:  jmp 0xF000:entry
        times 0x10000-($-$$) db 0
