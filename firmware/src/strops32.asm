; strops32: the strops benchmark in 32-bit protected mode with paging on
; (identity-mapped 4 KiB pages, so every access goes through the TLB).
; The same kernel (include/strops.inc, 32-bit pointers and counts) and answer
; as strops: prints "strops <checksum>" after REPEAT passes, halts.
; oracle: jitemu-only (Unicorn's real-mode runner cannot enter paging here)
bits 16
cpu 386
org 0
%include "pm32.inc"

%ifndef REPEAT
%define REPEAT 900
%endif

%define PM32
%include "kregs.inc"

ROM     equ 0xF0000
PD      equ 0x10000
PT0     equ 0x11000

    bench32_entry PD, PT0
        call strops
        mov esi, ROM + s_strops
        call puts
        call puthex32
        mov al, 10
        call out_char
        cli
        hlt

%include "strops.inc"
    console32

s_strops: db "strops ", 0

    bench32_end
