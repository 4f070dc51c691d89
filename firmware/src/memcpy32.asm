; memcpy32: the memcpy benchmark in 32-bit protected mode with paging on
; (identity-mapped 4 KiB pages, so every access goes through the TLB).
; Same buffers (A at 0x20000, B at 0x28000), LCG draws, copy methods (with
; 32-bit registers and addressing; the word loop uses 16-bit operands) and
; answer as memcpy: prints "memcpy <checksum>" after REPEAT passes of 256
; copies, halts.  See memcpy.asm.
; oracle: jitemu-only (Unicorn's real-mode runner cannot enter paging here)
bits 16
cpu 386
org 0
%include "pm32.inc"

%ifndef REPEAT
%define REPEAT 600
%endif

ROM     equ 0xF0000
PD      equ 0x10000
PT0     equ 0x11000
BUFA    equ 0x20000
BUFB    equ 0x28000
HALF    equ 0x8000
COPIES  equ 256
PASSES  equ 0x7800                      ; variables
NCOPY   equ 0x7804
TVAL    equ 0x7808
SRC     equ 0x780C                      ; source buffer of this pass
DST     equ 0x7810                      ; destination buffer of this pass

    bench32_entry PD, PT0
        mov ebp, 1                      ; LCG state
        mov edi, BUFA
        call fill
        mov edi, BUFB
        call fill

        mov dword [SRC], BUFA           ; pass 0: A -> B
        mov dword [DST], BUFB
        mov dword [PASSES], REPEAT
.pass:  mov dword [NCOPY], COPIES
.copy:  call rnd
        mov [TVAL], eax
        mov ecx, eax
        shr ecx, 5
        test al, 0x10
        jnz .big
        and ecx, 63
        jmp .len
.big:   test al, 0x08
        jnz .huge
        and ecx, 511
        jmp .len
.huge:  and ecx, 4095
.len:   inc ecx
        mov ebx, HALF + 1
        sub ebx, ecx
        call rnd
        mul ebx
        shr eax, 16
        mov esi, eax
        add esi, [SRC]
        call rnd
        mul ebx
        shr eax, 16
        mov edi, eax
        add edi, [DST]
        mov ebx, [TVAL]
        and ebx, 7
        call [ROM + methods + ebx * 4]
        dec dword [NCOPY]
        jnz .copy
        mov eax, [SRC]                  ; swap directions
        xchg eax, [DST]
        mov [SRC], eax
        dec dword [PASSES]
        jnz .pass

        xor edx, edx
        mov esi, BUFA                   ; A then B: contiguous
        mov ecx, 2 * HALF / 4
.s:     lodsd
        add edx, eax
        rol edx, 5
        loop .s

        mov esi, ROM + s_memcpy
        call puts
        call puthex32
        mov al, 10
        call out_char
        cli
        hlt

; fill: [EDI..EDI+7FFF] = x >> 24 for the next 32768 LCG states (EBP).
fill:   mov ecx, HALF
.f:     imul ebp, ebp, 1103515245
        add ebp, 12345
        mov eax, ebp
        shr eax, 24
        stosb
        loop .f
        ret

; rnd: EBP = EBP * 1103515245 + 12345; EAX = EBP >> 16.
rnd:    imul ebp, ebp, 1103515245
        add ebp, 12345
        mov eax, ebp
        shr eax, 16
        ret

; The copy methods: ECX (1..2048) bytes from [ESI] to [EDI].  EAX, ECX,
; EDX, ESI, EDI changed; DF clear on return.
align 4
methods: dd ROM + m_movsb, ROM + m_movsw, ROM + m_movsd, ROM + m_wloop
         dd ROM + m_dloop, ROM + m_back, ROM + m_align, ROM + m_bloop

m_movsb:
        rep movsb
        ret

m_movsw:
        shr ecx, 1
        rep movsw
        jnc .e
        movsb
.e:     ret

m_movsd:
        mov eax, ecx
        shr ecx, 2
        rep movsd
        mov ecx, eax
        and ecx, 3
        rep movsb
        ret

m_wloop:
        mov edx, ecx
        shr ecx, 1
        jecxz .tail
.w:     mov ax, [esi]
        mov [edi], ax
        add esi, 2
        add edi, 2
        loop .w
.tail:  test dl, 1
        jz .e
        mov al, [esi]
        mov [edi], al
.e:     ret

m_dloop:
        mov edx, ecx
        shr ecx, 2
        jecxz .tail
.d:     mov eax, [esi]
        mov [edi], eax
        add esi, 4
        add edi, 4
        loop .d
.tail:  mov ecx, edx
        and ecx, 3
        rep movsb
        ret

m_back:
        std
        lea esi, [esi + ecx - 1]
        lea edi, [edi + ecx - 1]
        rep movsb
        cld
        ret

m_align:
        mov eax, edi
        neg eax
        and eax, 3
        cmp eax, ecx
        jbe .h
        mov eax, ecx
.h:     xchg eax, ecx
        sub eax, ecx
        rep movsb
        mov ecx, eax
        shr ecx, 2
        rep movsd
        mov ecx, eax
        and ecx, 3
        rep movsb
        ret

m_bloop:
        mov al, [esi]
        mov [edi], al
        inc esi
        inc edi
        dec ecx
        jnz m_bloop
        ret

    console32

s_memcpy: db "memcpy ", 0

    bench32_end
