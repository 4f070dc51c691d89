; strops.asm -- CPU-bound real-mode benchmark: string operations.
;
; An 8 KiB text at 0x8000 is made from a 32-bit LCG (x = x * 1103515245 +
; 12345, seed 1; b = x >> 24: a NUL when b < 16, else 'a' + (b & 15)), so it
; holds about 480 NUL-separated strings of letters a..p; its last byte is a
; NUL.  Each of REPEAT passes draws a letter k ('a' + (t & 15), t = x >> 16)
; and folds into a checksum (h = rol(h, 5) + value, 32-bit): the length of
; every string (a mov/inc loop); after copying every string to 0xA000
; (LODSB/STOSB loop) and flipping bit 0 of the copy's byte t & 8191, the
; number of bytes equal to k (REPNE SCASB), of aligned words equal to k,
; k + 1 (REPNE SCASW), and the count REPE CMPSB of text and copy leaves;
; then 16 times each, at drawn offsets (t & 4095) into the text, 64-byte
; REPE CMPSB (count left + 0x100 if the first string's byte is above, 0x200
; if below) and REPNE CMPSB (count left + 0x100 if an equal byte was
; found), and strchr from t & 8191 (LODSB loop: bytes read + 0x100 if k was
; found before the NUL).  Prints "strops <h in 8 hex digits>" to port
; 0x402, halts.
; The kernel (include/strops.inc) is shared with strops32.asm; its C twin
; is bench/native/strops.c.  About 79,000 instructions per pass as jitemu
; counts them (a REP instruction counts once); the default REPEAT = 900 is
; about 71 million.
;
; Assemble: nasm -f bin -I include/ -o strops.bin strops.asm   [-DREPEAT=n]

%ifndef REPEAT
%define REPEAT 900
%endif

%include "kernel.inc"

        kernel_rom strops, "strops "
