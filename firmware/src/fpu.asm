; fpu.asm -- the x87 from reset, in real mode on the PC machine: the
; classic probe (FNINIT, FNSTSW/FNSTCW), CPUID's FPU and FXSR bits,
; arithmetic, integer and BCD conversions, the transcendentals (results
; compared bit for bit with values computed offline with mpmath at 400
; bits and rounded to nearest), C2 for an operand out of FSIN's range,
; exceptions as #MF (CR0.NE=1) and as FERR# -> IRQ13 through the PICs
; (CR0.NE=0, cleared by a write to port F0), FSAVE/FRSTOR, #NM with CR0.TS
; (and for WAIT with CR0.MP too), and the FXSAVE layout with its #GP for a
; misaligned operand.
;
; Every check prints "ok <name>" or "FAIL <name>" to the debug console
; (port 0x402), then "fpu: N passed, M failed", and the ROM exits through
; the debug-exit port (0x501).
; oracle: jitemu-only (needs the PC machine's PICs and FERR#; Unicorn
; computes the transcendentals in doubles and has no #MF)
; machine: pc

bits 16
cpu 686
org 0

BAD     equ 0x500       ; byte: sub-check failures in the current check
NPASS   equ 0x504
NFAIL   equ 0x506
SEEN    equ 0x508       ; byte: handlers that ran (1 #NM, 2 #MF, 4 IRQ13, 8 #GP)
TMP     equ 0x800       ; scratch results
SAVE    equ 0x1000      ; FSAVE / FXSAVE images (16-byte aligned)
IRQ13   equ 0x75        ; the slave PIC's IRQ5 with the slave at vector 70h

%include "checks16.inc"

%macro EXPECT 1                 ; sub-check: the tword at TMP == the one at CS:%1
        mov si, %1
        call expect10
%endmacro

%macro VECTOR 2
        mov word [%1 * 4], %2
        mov word [%1 * 4 + 2], 0xF000
%endmacro

entry:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7000
        mov byte [BAD], 0
        mov word [NPASS], 0
        mov word [NFAIL], 0
        VECTOR 7, nm_handler
        VECTOR 13, gp_handler
        VECTOR 16, mf_handler
        VECTOR IRQ13, irq13_handler
        mov si, s_title
        call puts

        ; -- the probe: a BIOS's test for a coprocessor
        mov word [TMP], 0x5A5A
        mov word [TMP + 2], 0x5A5A
        fninit
        fnstsw [TMP]
        fnstcw [TMP + 2]
        EQ word [TMP], 0
        EQ word [TMP + 2], 0x037F
        mov eax, cr0
        test al, 0x10                   ; ET: a 387-class coprocessor
        jnz .et
        inc byte [BAD]
.et:    END "probe"

        mov eax, 1
        cpuid
        and edx, (1 << 24) | 1
        EQ edx, (1 << 24) | 1           ; FXSR and FPU
        END "cpuid"

        ; -- arithmetic: (2 + 3) * 4 / 8 = 2.5, which rounds to even (2)
        fninit
        fld1
        fld1
        faddp st1, st0
        fild word [cs:three]
        faddp st1, st0
        fimul word [cs:four]
        fidiv word [cs:eight]
        fist word [TMP]
        EQ word [TMP], 2
        fstp tword [TMP]
        EXPECT two_half
        fild word [cs:two]
        fsqrt
        fstp tword [TMP]
        EXPECT sqrt2
        fld1                            ; 1/3 rounded to nearest: up, PE and C1
        fild word [cs:three]
        fdivp st1, st0
        fnstsw ax
        and ax, 0x023F
        EQ ax, 0x0220
        fstp st0
        END "arithmetic"

        fninit
        fild dword [cs:big]             ; 123456789
        fchs
        fbstp [TMP]
        EQ dword [TMP], 0x23456789
        EQ byte [TMP + 4], 0x01
        EQ byte [TMP + 9], 0x80         ; negative
        fbld [TMP]
        fistp dword [TMP]
        EQ dword [TMP], -123456789
        END "integer and bcd"

        ; -- transcendentals, exactly rounded
        fninit
        fld1
        fsin
        fstp tword [TMP]
        EXPECT sin1
        fld1
        fcos
        fstp tword [TMP]
        EXPECT cos1
        fld tword [cs:half]
        fptan
        fstp tword [TMP]
        EXPECT one
        fstp tword [TMP]
        EXPECT tanhalf
        fld tword [cs:half]
        fsincos
        fstp tword [TMP]
        EXPECT coshalf
        fstp tword [TMP]
        EXPECT sinhalf
        fld1                            ; y
        fild word [cs:two]              ; x
        fpatan                          ; atan(1/2)
        fstp tword [TMP]
        EXPECT atan_1_2
        fld tword [cs:half]
        f2xm1                           ; sqrt(2) - 1
        fstp tword [TMP]
        EXPECT exp2half
        fld1
        fild word [cs:ten]
        fyl2x                           ; log2(10)
        fstp tword [TMP]
        EXPECT l2_10
        fldl2t
        fstp tword [TMP]
        EXPECT l2_10
        fild word [cs:three]
        fld tword [cs:quarter]
        fyl2xp1                         ; 3 log2(1.25)
        fstp tword [TMP]
        EXPECT l2_125x3
        fild dword [cs:million]
        fsin                            ; reduced by 2/pi to 384 bits
        fstp tword [TMP]
        EXPECT sin1e6
        fnstsw ax
        EQ ah, 0                        ; TOP 0, C2 clear: all in range
        END "transcendentals"

        fninit
        fld tword [cs:two64]
        fsin                            ; |x| >= 2^63: C2, nothing changes
        fnstsw ax
        and ax, 0x3C3F
        EQ ax, 0x3C00                   ; C2, TOP 7, no exception
        fstp tword [TMP]
        EXPECT two64
        END "fsin out of range"

        ; -- an unmasked exception, CR0.NE=1: #MF at the next waiting instruction
        mov eax, cr0
        or eax, 0x20
        mov cr0, eax
        mov byte [SEEN], 0
        fninit
        fldcw [cs:cw_ze]
        fld1
        fldz
        fdivp st1, st0                  ; ZE pending, the stack as it was
        EQ byte [SEEN], 0
        fnstsw ax
        and ax, 0x38BF
        EQ ax, 0x3084                   ; TOP 6, ES, ZE
        fwait                           ; #MF: the handler clears it
        EQ byte [SEEN], 2
        END "#MF"

        ; -- CR0.NE=0: FERR# -> IRQ13 (slave PIC IRQ5); port F0 clears it
        mov eax, cr0
        and eax, ~0x20
        mov cr0, eax
        call init_pics
        mov byte [SEEN], 0
        sti
        fninit
        fldcw [cs:cw_ze]
        fld1
        fldz
        fdivp st1, st0                  ; FERR#: IRQ13 comes in
        nop
        nop
        cli
        EQ byte [SEEN], 4
        fnstsw ax
        EQ ax, 0x3000                   ; cleared by the handler's FNCLEX
        END "FERR# and IRQ13"

        ; -- FSAVE / FRSTOR
        fninit
        fldpi
        fld1
        fnsave [SAVE]
        EQ word [SAVE], 0x037F
        EQ word [SAVE + 2], 0x3000      ; TOP 6
        EQ word [SAVE + 4], 0x0FFF      ; registers 6 and 7 valid
        fnstsw ax
        EQ ax, 0                        ; FNSAVE initialized the FPU
        frstor [SAVE]
        fstp tword [TMP]
        EXPECT one
        fstp tword [TMP]
        EXPECT pi
        END "fsave and frstor"

        ; -- #NM: CR0.TS for an escape opcode, CR0.TS and MP for WAIT
        fninit
        mov eax, cr0
        or eax, 0x0A                    ; MP TS
        mov cr0, eax
        mov byte [SEEN], 0
        fld1                            ; #NM: the handler clears TS, it runs again
        EQ byte [SEEN], 1
        fistp word [TMP]
        EQ word [TMP], 1
        mov eax, cr0
        or eax, 0x08
        mov cr0, eax
        mov byte [SEEN], 0
        fwait
        EQ byte [SEEN], 1
        mov eax, cr0
        and eax, ~0x02
        mov cr0, eax
        END "#NM"

        ; -- FXSAVE: the 512-byte layout, FXRSTOR back, #GP when misaligned
        mov di, SAVE
        mov cx, 512
        mov al, 0xA5
        rep stosb
        fninit
        fld1
        fldz
        fxsave [SAVE]
        EQ word [SAVE], 0x037F
        EQ word [SAVE + 2], 0x3000      ; TOP 6
        EQ byte [SAVE + 4], 0xC0        ; abridged tags: registers 6 and 7
        EQ word [SAVE + 6], 0x01EE      ; FOP of FLDZ (D9 EE)
        EQ dword [SAVE + 24], 0xA5A5A5A5 ; no MXCSR without SSE
        EQ dword [SAVE + 32], 0         ; ST0 = +0
        EQ dword [SAVE + 52], 0x80000000 ; ST1 = 1.0
        EQ word [SAVE + 56], 0x3FFF
        EQ dword [SAVE + 160], 0xA5A5A5A5 ; no XMM registers
        fninit
        fxrstor [SAVE]
        fstp st0
        fstp tword [TMP]
        EXPECT one
        mov byte [SEEN], 0
        fxsave [SAVE + 8]               ; #GP(0): the handler skips it
        EQ byte [SEEN], 8
        END "fxsave"

        SUMMARY "fpu"
        cli
        mov dx, 0x501
        xor al, al
        out dx, al                      ; exit status (0 << 1) | 1
        hlt

; -- handlers ---------------------------------------------------------------
nm_handler:
        push eax
        clts
        or byte [SEEN], 1
        pop eax
        iret

mf_handler:
        fnclex
        or byte [SEEN], 2
        iret

irq13_handler:
        push ax
        xor al, al
        out 0xF0, al                    ; clear FERR#'s latch
        fnclex
        mov al, 0x20
        out 0xA0, al
        out 0x20, al
        or byte [SEEN], 4
        pop ax
        iret

gp_handler:                             ; skip the faulting 5-byte FXSAVE [disp16]
        push bp
        mov bp, sp
        add word [bp + 2], 5
        or byte [SEEN], 8
        pop bp
        iret

; The PICs as a BIOS sets them: master at 08h, slave at 70h on IRQ2;
; only the cascade and IRQ13 unmasked.
init_pics:
        mov al, 0x11
        out 0x20, al
        out 0xA0, al
        mov al, 0x08
        out 0x21, al
        mov al, 0x70
        out 0xA1, al
        mov al, 0x04
        out 0x21, al
        mov al, 0x02
        out 0xA1, al
        mov al, 0x01
        out 0x21, al
        out 0xA1, al
        mov al, 0xFB
        out 0x21, al
        mov al, 0xDF
        out 0xA1, al
        ret

; -- reporting --------------------------------------------------------------
expect10:                               ; [TMP..+10] == [CS:SI..+10], else BAD
        push cx
        push di
        mov di, TMP
        mov cx, 10
.next:  mov al, [cs:si]
        cmp al, [di]
        je .same
        inc byte [BAD]
        jmp .done
.same:  inc si
        inc di
        loop .next
.done:  pop di
        pop cx
        ret

        CHECK_ROUTINES puts, putc

%include "console16.inc"

s_title: db "fpu: x87 from reset", 10, 0

; -- operands and expected results (80-bit: significand, sign and exponent)
two:    dw 2
three:  dw 3
four:   dw 4
eight:  dw 8
ten:    dw 10
big:    dd 123456789
million: dd 1000000
cw_ze:  dw 0x037B                       ; all masked but ZE
one:    dq 0x8000000000000000
        dw 0x3FFF
half:   dq 0x8000000000000000
        dw 0x3FFE
quarter: dq 0x8000000000000000
        dw 0x3FFD
two_half: dq 0xA000000000000000
        dw 0x4000
two64:  dq 0x8000000000000000
        dw 0x403F
pi:     dq 0xC90FDAA22168C235
        dw 0x4000
sqrt2:  dq 0xB504F333F9DE6484
        dw 0x3FFF
; mpmath, 400 bits, rounded to nearest:
sin1:   dq 0xD76AA47848677021           ; sin 1
        dw 0x3FFE
cos1:   dq 0x8A51407DA8345C92           ; cos 1
        dw 0x3FFE
tanhalf: dq 0x8BDA7ADF9A3A5219          ; tan 0.5
        dw 0x3FFE
sinhalf: dq 0xF57743A2582F7F44          ; sin 0.5
        dw 0x3FFD
coshalf: dq 0xE0A94032DBEA7CEE          ; cos 0.5
        dw 0x3FFE
atan_1_2: dq 0xED63382B0DDA7B45         ; atan 0.5
        dw 0x3FFD
exp2half: dq 0xD413CCCFE7799211         ; 2^0.5 - 1
        dw 0x3FFD
l2_10:  dq 0xD49A784BCD1B8AFE           ; log2 10
        dw 0x4000
l2_125x3: dq 0xF73DA38D9D4A83EB         ; 3 log2 1.25
        dw 0x3FFE
sin1e6: dq 0xB332592B46C33A4D           ; sin 1000000
        dw 0xBFFD

        times 0xFFF0-($-$$) db 0
reset:  jmp 0xF000:entry
        times 0x10000-($-$$) db 0
