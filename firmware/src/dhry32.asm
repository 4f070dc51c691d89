; dhry32: the dhry benchmark in 32-bit protected mode with paging on
; (identity-mapped 4 KiB pages, so every access goes through the TLB).
; The same kernel (include/dhry.inc, 32-bit pointers and counts) and answer
; as dhry: prints "dhry <checksum>" after REPEAT passes, halts.
; oracle: jitemu-only (Unicorn's real-mode runner cannot enter paging here)
bits 16
cpu 386
org 0
%include "pm32.inc"

%ifndef REPEAT
%define REPEAT 480
%endif

%define PM32
%include "kregs.inc"

ROM     equ 0xF0000
PD      equ 0x10000
PT0     equ 0x11000

    bench32_entry PD, PT0
        call dhry
        mov esi, ROM + s_dhry
        call puts
        call puthex32
        mov al, 10
        call out_char
        cli
        hlt

%include "dhry.inc"
    console32

s_dhry: db "dhry ", 0

    bench32_end
