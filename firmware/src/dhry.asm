; dhry.asm -- CPU-bound real-mode benchmark: a Dhrystone-like integer mix.
;
; Sixteen strings of 4..11 letters (A..H) and sixteen 32-byte records
; (kind: an enumeration 0..4, ival, aux, link, a copy of string i) are made
; from a 32-bit LCG (x = x * 1103515245 + 12345, seed 1, t = x >> 16).  Each
; of REPEAT passes runs 1024 iterations of: draw t; r = record t & 15; copy
; *r to a global record (REP MOVSD); copy string (t >> 4) & 15 into the
; global's string (a mov/inc byte loop); compare it with r's string (0, 1
; or 2: equal, greater, less); v = mix(ival, t, c), a procedure with a
; stack frame and a local (l = ival * t; d = (t & 255) + c + 1; v = ((l / d)
; ^ (l % d)) + ival); then on the global's kind: acc += v, acc ^= v * 3,
; acc -= v >> 3, acc = rol(acc, 1) + v, acc += v / 7; r->ival += acc;
; r->kind = (r->kind + c + 1) % 5.  All arithmetic is 32-bit unsigned.
; Prints "dhry <acc in 8 hex digits>" to port 0x402, halts.
; The kernel (include/dhry.inc) is shared with dhry32.asm; its C twin is
; bench/native/dhry.c.  About 140 instructions per iteration; the default
; REPEAT = 480 is about 69 million.
;
; Assemble: nasm -f bin -I include/ -o dhry.bin dhry.asm   [-DREPEAT=n]

%ifndef REPEAT
%define REPEAT 480
%endif

%include "kernel.inc"

        kernel_rom dhry, "dhry "
