; lz32: the lz benchmark (LZSS decompression) in 32-bit protected mode with
; paging on (identity-mapped 4 KiB pages, so every access goes through the
; TLB).  Same input, stream format, checksum and answer as lz: the 16 KiB
; LCG input at 0x20000 is compressed once to 0x24000 and decompressed
; REPEAT times to 0x29000; prints "lz ok <checksum>" (or "lz BAD ...") and
; halts.  See lz.asm for the format.
; oracle: jitemu-only (Unicorn's real-mode runner cannot enter paging here)
bits 16
cpu 386
org 0
%include "pm32.inc"

%ifndef REPEAT
%define REPEAT 700
%endif

ROM     equ 0xF0000
PD      equ 0x10000
PT0     equ 0x11000
N       equ 16384
ORIG    equ 0x20000
COMP    equ 0x24000
OUTB    equ 0x29000
HEAD    equ 0x30000                     ; 4096 words: position + 1, 0 = none
CSUM    equ 0x32000                     ; the checksum (dword)
WINDOW  equ 4095
MAXLEN  equ 18
LONGMIN equ 8

    bench32_entry PD, PT0

; ---- input: literals and copies driven by the LCG (state in EBX) ----
        mov ebx, 1
        mov edi, ORIG
.gen:   cmp edi, ORIG + N
        jae .gendone
        call rnd                        ; eax = t (16 bits)
        test al, 7
        jnz .glit
        cmp edi, ORIG
        je .glit
        mov edx, eax
        shr edx, 3
        and edx, 0x3FF
        inc edx                         ; dist 1..1024
        mov ecx, edi
        sub ecx, ORIG
        cmp edx, ecx
        jbe .gd
        mov edx, ecx
.gd:    call rnd
        and eax, 31
        add eax, 3
        mov ecx, eax                    ; length 3..34
.gcopy: cmp edi, ORIG + N
        jae .gen
        mov esi, edi
        sub esi, edx
        movsb
        loop .gcopy
        jmp .gen
.glit:  shr eax, 3
        and al, 15
        add al, 'a'
        stosb
        jmp .gen
.gendone:

; ---- compress once: ESI = position, EDI = stream, EBP = flag byte, DL = bit
        mov edi, HEAD
        mov ecx, 4096
        xor eax, eax
        rep stosw
        mov esi, ORIG
        mov edi, COMP
        xor dl, dl
.cloop: cmp esi, ORIG + N
        jae .cend
        test dl, dl
        jnz .cgrp
        mov ebp, edi
        mov byte [edi], 0
        inc edi
        mov dl, 1
.cgrp:  cmp esi, ORIG + N - 3
        ja .clit
        call hash                       ; ebx = 2 * hash(esi)
        lea eax, [esi - ORIG + 1]
        xchg ax, [HEAD + ebx]           ; candidate + 1; remember this one
        movzx eax, ax
        test eax, eax
        jz .clit
        lea eax, [eax + ORIG - 1]       ; candidate address
        mov ebx, esi
        sub ebx, eax                    ; distance
        cmp ebx, WINDOW
        ja .clit
        push edi
        push esi
        mov edi, eax
        mov ecx, ORIG + N
        sub ecx, esi
        cmp ecx, MAXLEN
        jbe .cmax
        mov ecx, MAXLEN
.cmax:  mov eax, ecx
        repe cmpsb
        je .cfull
        inc ecx
.cfull: sub eax, ecx                    ; match length
        pop esi
        pop edi
        cmp eax, 3
        jb .clit
        mov ecx, eax
        sub eax, 3
        shl eax, 12
        or eax, ebx
        stosw
.cins:  inc esi
        dec ecx
        jz .cnext
        cmp esi, ORIG + N - 3
        ja .cins
        call hash
        lea eax, [esi - ORIG + 1]
        mov [HEAD + ebx], ax
        jmp .cins
.clit:  or [ebp], dl                    ; (EBP-based: SS, flat like DS)
        movsb
.cnext: shl dl, 1
        jmp .cloop
.cend:  mov edx, edi                    ; EDX = end of the stream

; ---- decompress REPEAT times ----
        mov dword [CSUM], 0
        mov ebp, REPEAT
.pass:  mov edi, OUTB
        mov ecx, N / 4
        mov eax, ebp
        shl eax, 16
        mov ax, bp
        not eax
        rep stosd
        mov esi, COMP
        mov edi, OUTB
        xor ebx, ebx
.tok:   cmp esi, edx
        jae .decoded
        shr ebx, 1
        test bh, 1
        jnz .have
        lodsb
        mov bl, al
        mov bh, 0xFF
.have:  test bl, 1
        jz .match
        movsb
        jmp .tok
.match: xor eax, eax
        lodsw
        mov ecx, eax
        shr ecx, 12
        add ecx, 3
        and eax, 0x0FFF
        push esi
        mov esi, edi
        sub esi, eax
        cmp ecx, LONGMIN
        jb .short
        rep movsb
        pop esi
        jmp .tok
.short: mov al, [esi]
        inc esi
        mov [edi], al
        inc edi
        dec ecx
        jnz .short
        pop esi
        jmp .tok
.decoded:
        mov esi, OUTB
        mov ecx, N / 4
        mov ebx, [CSUM]
.sum:   lodsd
        add ebx, eax
        rol ebx, 5
        loop .sum
        mov [CSUM], ebx
        dec ebp
        jnz .pass

        mov esi, ORIG
        mov edi, OUTB
        mov ecx, N / 4
        repe cmpsd
        mov esi, ROM + s_ok
        je .print
        mov esi, ROM + s_bad
.print: call puts
        mov edx, [CSUM]
        call puthex32
        mov al, 10
        call out_char
        cli
        hlt

; rnd: EBX = EBX * 1103515245 + 12345; EAX = EBX >> 16.
rnd:    imul ebx, ebx, 1103515245
        add ebx, 12345
        mov eax, ebx
        shr eax, 16
        ret

; hash: EBX = 2 * (((b0 << 8) ^ (b1 << 4) ^ b2) & 0xFFF), b0..b2 at [ESI].
; EAX changed.
hash:   movzx ebx, byte [esi]
        shl ebx, 8
        mov bl, [esi + 2]
        movzx eax, byte [esi + 1]
        shl eax, 4
        xor ebx, eax
        and ebx, 0x0FFF
        add ebx, ebx
        ret

    console32

s_ok:   db "lz ok ", 0
s_bad:  db "lz BAD ", 0

    bench32_end
