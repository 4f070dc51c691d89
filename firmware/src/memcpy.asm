; memcpy.asm -- CPU-bound real-mode benchmark: memory copies.
;
; Two 32 KiB buffers, A at 0x20000 (segment 0x2000) and B at 0x28000
; (segment 0x2800), are filled from a 32-bit LCG (x = x * 1103515245 +
; 12345, seed 1, byte = x >> 24: A first, then B).  Each of REPEAT passes
; makes 256 copies from one buffer to the other (A to B on even passes,
; B to A on odd ones; DS = source, ES = destination), each drawn from the
; same LCG (t = x >> 16, three draws per copy):
;   t1: length = ((t1 >> 5) & mask) + 1, mask 63 when bit 4 is clear (half
;       the copies), else 511 or 4095 as bit 3 is clear or set (so 1..64,
;       1..512 or 1..2048 bytes); the method is bits 0-2
;   t2, t3: source and destination offsets (t * (32768 - length + 1)) >> 16,
;       any byte alignment
; Methods: 0 REP MOVSB; 1 REP MOVSW + MOVSB; 2 REP MOVSD + REP MOVSB;
; 3 a word loop (mov/mov/add/add/loop) + a byte; 4 a dword loop + REP
; MOVSB; 5 REP MOVSB backwards (STD); 6 bytes up to a 4-aligned destination,
; REP MOVSD, REP MOVSB; 7 a byte loop (mov/mov/inc/inc/dec/jnz).
; At the end the checksum of all 64 KiB (h = rol(h + dword, 5), A then B)
; is printed as "memcpy <8 hex digits>" to port 0x402, then the CPU halts.
; About 117,000 instructions per pass as jitemu counts them (a REP
; instruction counts once), 150,000 counting every REP iteration; the
; default REPEAT = 600 is about 71 (90) million.
;
; Assemble: nasm -f bin -o memcpy.bin memcpy.asm   [-DREPEAT=n]

bits 16
cpu 386
org 0

%ifndef REPEAT
%define REPEAT 600
%endif

DBGPORT equ 0x402
SEGA    equ 0x2000
SEGB    equ 0x2800
HALF    equ 0x8000                      ; bytes per buffer
COPIES  equ 256                         ; copies per pass
PASSES  equ 0x7800                      ; variables at 0:7800 (through SS)
NCOPY   equ 0x7802
TVAL    equ 0x7804

entry:
        cli
        cld
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000

        mov ebp, 1                      ; LCG state
        mov ax, SEGA
        mov es, ax
        call fill
        mov ax, SEGB
        mov es, ax
        call fill

        mov ax, SEGA                    ; pass 0: A -> B
        mov ds, ax
        mov ax, SEGB
        mov es, ax
        mov word [ss:PASSES], REPEAT
.pass:  mov word [ss:NCOPY], COPIES
.copy:  call rnd
        mov [ss:TVAL], ax
        mov cx, ax
        shr cx, 5
        test al, 0x10
        jnz .big
        and cx, 63                      ; 1..64
        jmp .len
.big:   test al, 0x08
        jnz .huge
        and cx, 511                     ; 1..512
        jmp .len
.huge:  and cx, 4095                    ; 1..2048 (t >> 5 has 11 bits)
.len:   inc cx
        mov bx, HALF + 1
        sub bx, cx                      ; number of possible offsets
        call rnd
        mul bx
        mov si, dx                      ; source offset
        call rnd
        mul bx
        mov di, dx                      ; destination offset
        mov bx, [ss:TVAL]
        and bx, 7
        add bx, bx
        call [cs:methods + bx]
        dec word [ss:NCOPY]
        jnz .copy
        mov ax, ds                      ; swap directions
        mov bx, es
        mov ds, bx
        mov es, ax
        dec word [ss:PASSES]
        jnz .pass

        xor edx, edx                    ; checksum A, then B
        mov ax, SEGA
        mov ds, ax
        call sum
        mov ax, SEGB
        mov ds, ax
        call sum

        mov si, s_memcpy
        call puts
        call puthex32
        mov al, 10
        call putc
halt:   cli
        hlt
        jmp halt

; fill: ES:0..7FFF = x >> 24 for the next 32768 LCG states (EBP).
fill:   xor di, di
        mov cx, HALF
.f:     imul ebp, ebp, 1103515245
        add ebp, 12345
        mov eax, ebp
        shr eax, 24
        stosb
        loop .f
        ret

; rnd: EBP = EBP * 1103515245 + 12345; AX = high word of the new EBP.
rnd:    imul ebp, ebp, 1103515245
        add ebp, 12345
        mov eax, ebp
        shr eax, 16
        ret

; sum: EDX = rol(EDX + dword, 5) over DS:0..7FFF.
sum:    xor si, si
        mov cx, HALF / 4
.s:     lodsd
        add edx, eax
        rol edx, 5
        loop .s
        ret

; The copy methods: CX (1..2048) bytes from DS:SI to ES:DI.  AX, CX, DX,
; SI, DI changed; DF clear on return.
methods: dw m_movsb, m_movsw, m_movsd, m_wloop, m_dloop, m_back, m_align, m_bloop

m_movsb:
        rep movsb
        ret

m_movsw:
        shr cx, 1                       ; CF = odd byte
        rep movsw                       ; (MOVS leaves the flags alone)
        jnc .e
        movsb
.e:     ret

m_movsd:
        mov ax, cx
        shr cx, 2
        rep movsd
        mov cx, ax
        and cx, 3
        rep movsb
        ret

m_wloop:
        mov dx, cx
        shr cx, 1
        jcxz .tail
.w:     mov ax, [si]
        mov [es:di], ax
        add si, 2
        add di, 2
        loop .w
.tail:  test dl, 1
        jz .e
        mov al, [si]
        mov [es:di], al
.e:     ret

m_dloop:
        mov dx, cx
        shr cx, 2
        jcxz .tail
.d:     mov eax, [si]
        mov [es:di], eax
        add si, 4
        add di, 4
        loop .d
.tail:  mov cx, dx
        and cx, 3
        rep movsb
        ret

m_back:
        std
        add si, cx
        dec si
        add di, cx
        dec di
        rep movsb
        cld
        ret

m_align:
        mov ax, di
        neg ax
        and ax, 3                       ; bytes to a 4-aligned destination
        cmp ax, cx
        jbe .h
        mov ax, cx
.h:     xchg ax, cx
        sub ax, cx                      ; what is left after the head
        rep movsb
        mov cx, ax
        shr cx, 2
        rep movsd
        mov cx, ax
        and cx, 3
        rep movsb
        ret

m_bloop:
        mov al, [si]
        mov [es:di], al
        inc si
        inc di
        dec cx
        jnz m_bloop
        ret

%include "console16.inc"

s_memcpy: db "memcpy ", 0

        times 0xFFF0-($-$$) db 0
reset:  jmp 0xF000:entry
        times 0x10000-($-$$) db 0
