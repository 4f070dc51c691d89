; lz.asm -- CPU-bound real-mode benchmark: LZSS decompression.
;
; Builds a 16 KiB input at 0x20000 from a 32-bit LCG (x = x * 1103515245 +
; 12345, t = x >> 16): a literal from a 16-letter alphabet ('a' + bits 3-6
; of t), or one time in eight a copy of 3..34 earlier bytes (distance 1..1024,
; overlapping allowed), so the data has long and short repeats.  Compresses
; it once with a greedy LZSS (hash of 3 bytes -> last position, one
; candidate, 4 KiB window, matches of 3..18 bytes) to 0x24000, then
; decompresses it REPEAT times to 0x29000: the hot loop.
;
; Stream format (Okumura-style LZSS): a flag byte precedes each group of up
; to 8 tokens, least significant bit first; bit 1 = literal (one byte),
; bit 0 = match (a little-endian word: distance 1..4095 in bits 0-11,
; length - 3 in bits 12-15).  Matches of 8 bytes or more are copied with
; REP MOVSB (overlapping when distance < length), shorter ones with a byte
; loop.  The 16 KiB input compresses to 6,921 bytes (2,359 literals, 2,008
; matches).
;
; Each pass first fills the output with a pass-dependent pattern, then
; decodes, then folds the output into a checksum (h = rol(h + dword, 5) over
; its dwords, carried across passes).  At the end the output is compared
; with the input: prints "lz ok <h in 8 hex digits>" or "lz BAD <h>" to
; port 0x402 and halts.  About 107,000 instructions per pass as jitemu
; counts them (a REP instruction counts once), 120,000 counting every REP
; iteration; the default REPEAT = 700 is about 76 (85) million.
;
; Assemble: nasm -f bin -o lz.bin lz.asm   [-DREPEAT=n]

bits 16
cpu 386
org 0

%ifndef REPEAT
%define REPEAT 700
%endif

DBGPORT equ 0x402
DATASEG equ 0x2000                      ; input, stream, output: one segment
HEADSEG equ 0x3000                      ; 4096-word hash table (through FS)
N       equ 16384                       ; input size
ORIG    equ 0x0000                      ; input at 0x20000
COMP    equ 0x4000                      ; compressed stream at 0x24000
OUTB    equ 0x9000                      ; decompressed output at 0x29000
WINDOW  equ 4095                        ; largest match distance
MAXLEN  equ 18                          ; longest match
LONGMIN equ 8                           ; matches this long use REP MOVSB

entry:
        cli
        cld
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        mov ax, DATASEG
        mov ds, ax
        mov es, ax
        mov ax, HEADSEG
        mov fs, ax

; ---- input: literals and copies driven by the LCG (state in EBX) ----
        mov ebx, 1
        mov di, ORIG
.gen:   cmp di, ORIG + N
        jae .gendone
        call rnd                        ; ax = t
        test al, 7
        jnz .glit
        cmp di, ORIG
        je .glit                        ; nothing to copy from yet
        mov dx, ax
        shr dx, 3
        and dx, 0x3FF
        inc dx                          ; dist 1..1024
        mov cx, di
        sub cx, ORIG                    ; bytes so far
        cmp dx, cx
        jbe .gd
        mov dx, cx                      ; dist = min(dist, bytes so far)
.gd:    call rnd
        and ax, 31
        add ax, 3
        mov cx, ax                      ; length 3..34
.gcopy: cmp di, ORIG + N
        jae .gen
        mov si, di
        sub si, dx
        movsb                           ; one byte at a time: may overlap
        loop .gcopy
        jmp .gen
.glit:  shr ax, 3
        and al, 15
        add al, 'a'
        stosb
        jmp .gen
.gendone:

; ---- compress once: SI = position, DI = stream, BP = flag byte, DL = bit
        push es
        mov ax, HEADSEG
        mov es, ax
        xor di, di
        mov cx, 4096
        xor ax, ax
        rep stosw                       ; empty hash table (0 = no position)
        pop es
        mov si, ORIG
        mov di, COMP
        xor dl, dl
.cloop: cmp si, ORIG + N
        jae .cend
        test dl, dl
        jnz .cgrp
        mov bp, di                      ; new group: flag byte, all matches
        mov byte [di], 0
        inc di
        mov dl, 1
.cgrp:  cmp si, ORIG + N - 3
        ja .clit                        ; fewer than 3 bytes left
        call hash                       ; bx = 2 * hash(si)
        lea ax, [si + 1]
        xchg ax, [fs:bx]                ; candidate + 1; remember this one
        test ax, ax
        jz .clit
        dec ax                          ; candidate position
        mov bx, si
        sub bx, ax                      ; distance
        cmp bx, WINDOW
        ja .clit
        push di
        push si
        mov di, ax
        mov cx, ORIG + N
        sub cx, si
        cmp cx, MAXLEN
        jbe .cmax
        mov cx, MAXLEN
.cmax:  mov ax, cx
        repe cmpsb                      ; [si] vs [candidate]
        je .cfull
        inc cx                          ; the byte that differed
.cfull: sub ax, cx                      ; match length
        pop si
        pop di
        cmp ax, 3
        jb .clit
        mov cx, ax
        sub ax, 3
        shl ax, 12
        or ax, bx
        stosw                           ; match token
.cins:  inc si                          ; enter the positions it covers
        dec cx
        jz .cnext
        cmp si, ORIG + N - 3
        ja .cins
        call hash
        lea ax, [si + 1]
        mov [fs:bx], ax
        jmp .cins
.clit:  or [ds:bp], dl                  ; literal: flag bit 1
        movsb
.cnext: shl dl, 1
        jmp .cloop
.cend:  mov dx, di                      ; DX = end of the stream

; ---- decompress REPEAT times ----
        xor eax, eax
        mov [fs:0x2000], eax            ; checksum, kept next to the table
        mov bp, REPEAT
.pass:  mov di, OUTB                    ; overwrite last pass's output
        mov cx, N / 4
        mov ax, bp
        shl eax, 16
        mov ax, bp
        not eax
        rep stosd
        mov si, COMP
        mov di, OUTB
        xor bx, bx                      ; flags (bit 8 set: byte not spent)
.tok:   cmp si, dx
        jae .decoded
        shr bx, 1
        test bh, 1
        jnz .have
        lodsb                           ; next flag byte
        mov bl, al
        mov bh, 0xFF
.have:  test bl, 1
        jz .match
        movsb                           ; literal
        jmp .tok
.match: lodsw
        mov cx, ax
        shr cx, 12
        add cx, 3                       ; length
        and ax, 0x0FFF                  ; distance
        push si
        mov si, di
        sub si, ax
        cmp cx, LONGMIN
        jb .short
        rep movsb                       ; forward, byte by byte: may overlap
        pop si
        jmp .tok
.short: mov al, [si]
        inc si
        mov [di], al
        inc di
        dec cx
        jnz .short
        pop si
        jmp .tok
.decoded:
        mov si, OUTB
        mov cx, N / 4
        mov ebx, [fs:0x2000]
.sum:   lodsd
        add ebx, eax
        rol ebx, 5
        loop .sum
        mov [fs:0x2000], ebx
        dec bp
        jnz .pass

; ---- the last output must equal the input ----
        mov si, ORIG
        mov di, OUTB
        mov cx, N / 4
        repe cmpsd
        mov si, s_ok
        je .print
        mov si, s_bad
.print: call puts
        mov edx, [fs:0x2000]
        call puthex32
        mov al, 10
        call putc
halt:   cli
        hlt
        jmp halt

; rnd: EBX = EBX * 1103515245 + 12345; AX = high word of the new EBX.
rnd:    imul ebx, ebx, 1103515245
        add ebx, 12345
        mov eax, ebx
        shr eax, 16
        ret

; hash: BX = 2 * (((b0 << 8) ^ (b1 << 4) ^ b2) & 0xFFF), b0..b2 at DS:SI.
; AX changed.
hash:   mov bh, [si]
        mov bl, [si + 2]
        mov al, [si + 1]
        xor ah, ah
        shl ax, 4
        xor bx, ax
        and bx, 0x0FFF
        add bx, bx
        ret

%include "console16.inc"

s_ok:   db "lz ok ", 0
s_bad:  db "lz BAD ", 0

        times 0xFFF0-($-$$) db 0
reset:  jmp 0xF000:entry
        times 0x10000-($-$$) db 0
