; dhry32: the dhry benchmark in 32-bit protected mode with paging on
; (identity-mapped 4 KiB pages, so every access goes through the TLB).
; The same kernel (include/dhry.inc, 32-bit pointers and counts) and answer
; as dhry: prints "dhry <checksum>" after REPEAT passes, halts.
; oracle: jitemu-only (Unicorn's real-mode runner cannot enter paging here)
%ifndef REPEAT
%define REPEAT 480
%endif

%define PM32
%include "kernel.inc"

        kernel_rom dhry, "dhry "
