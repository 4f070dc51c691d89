; strops32: the strops benchmark in 32-bit protected mode with paging on
; (identity-mapped 4 KiB pages, so every access goes through the TLB).
; The same kernel (include/strops.inc, 32-bit pointers and counts) and answer
; as strops: prints "strops <checksum>" after REPEAT passes, halts.
; oracle: jitemu-only (Unicorn's real-mode runner cannot enter paging here)
%ifndef REPEAT
%define REPEAT 900
%endif

%define PM32
%include "kernel.inc"

        kernel_rom strops, "strops "
