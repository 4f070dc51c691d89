; p6.asm -- the Pentium Pro / Pentium II integer instructions a 386 lacks:
; CMOVcc, CMPXCHG (with LOCK), XADD, CMPXCHG8B, BSWAP; first in real mode
; (16-bit code, with 0x66 and 0x67 forms), then in flat 32-bit protected
; mode with paging on (the first 4 MiB identity-mapped; no interrupts: the
; Unicorn runner can run it too), and back to real mode to halt.
;
; Every check prints "ok <name>" or "FAIL <name>" to the debug console
; (port 0x402), then "p6: N passed, M failed" and halts.  Expected values
; are the SDM's; only flags the SDM defines are compared.
; (Running it collects the baseline tier's forms for these instructions:
; python -m jitemu.jit.forms collect firmware/images/p6.bin.)

bits 16
cpu 686
org 0
%include "pm32.inc"

ROM     equ 0xF0000
BAD     equ 0x500       ; byte: sub-check failures in the current check
NPASS   equ 0x504
NFAIL   equ 0x506
FL      equ 0x508       ; dword: flags captured by SAVEFL
SCR     equ 0x600       ; scratch 0x600-0x6FF

F_CF equ 0x001
F_PF equ 0x004
F_AF equ 0x010
F_ZF equ 0x040
F_SF equ 0x080
F_OF equ 0x800
OSZAPC equ F_OF|F_SF|F_ZF|F_AF|F_PF|F_CF

%include "checks16.inc"

%macro SAVEFL 0
        pushfd
        pop dword [FL]
%endmacro

%macro FL 2                     ; sub-check: ([FL] & %1) == %2
        push eax
        mov eax, [FL]
        and eax, %1
        cmp eax, %2
        pop eax
        je %%ok
        inc byte [BAD]
%%ok:
%endmacro

%macro SETFL 1
        push dword (%1)|2
        popfd
%endmacro


%macro END32 1
        push dword ROM + %%name
        call report32
        jmp %%skip
%%name: db %1, 0
%%skip:
%endmacro

; The checks, once for 16-bit and once for 32-bit code: %1 = END/END32.
; DS is 0 (real mode) or flat; SCR is addressed absolutely, through BX and
; through 32-bit registers (0x67 in 16-bit code).
%macro CHECKS 1
        ; CMOVcc: moves only when the condition holds, flags untouched
        mov eax, 1
        mov ecx, 2
        mov edx, 0x55
        cmp eax, ecx                    ; CF=1 ZF=0 SF=1 OF=0
        cmovb eax, ecx                  ; taken
        cmova edx, ecx                  ; not taken
        EQ eax, 2
        EQ edx, 0x55
        mov dx, 5
        mov bx, 9
        SETFL F_SF                      ; less: SF != OF
        cmovl dx, bx
        cmovge bx, [cs:0]               ; not taken (the source is still read)
        EQ dx, 9
        EQ bx, 9
        mov dword [SCR], 0x12345678
        SETFL F_ZF|F_PF
        cmove edx, [SCR]
        SAVEFL
        EQ edx, 0x12345678
        FL OSZAPC, F_ZF|F_PF
        mov esi, SCR
        mov ecx, 0x00020000
        SETFL F_SF
        cmovs cx, [esi]
        cmovns ecx, [esi]
        EQ ecx, 0x00025678
        %1 "cmovcc"

        ; CMPXCHG: equal (the destination takes the source), not equal (the
        ; accumulator takes the destination), flags as CMP
        mov byte [SCR], 7
        mov al, 7
        mov cl, 9
        cmpxchg [SCR], cl
        SAVEFL
        EQ byte [SCR], 9
        EQ al, 7
        FL OSZAPC, F_ZF|F_PF
        mov word [SCR], 0x100
        mov ax, 0x200
        mov cx, 5
        mov bx, SCR
        cmpxchg [bx], cx
        SAVEFL
        EQ ax, 0x100
        EQ word [SCR], 0x100
        FL OSZAPC, F_PF                 ; 0x200 - 0x100
        mov dword [SCR], 0x80000000
        mov eax, 0x80000000
        mov ecx, 0xCAFEF00D
        mov edi, SCR
        lock cmpxchg [edi], ecx
        SAVEFL
        EQ dword [SCR], 0xCAFEF00D
        FL F_ZF, F_ZF
        mov eax, 1
        lock cmpxchg [edi], ecx         ; 1 - 0xCAFEF00D: borrows
        SAVEFL
        EQ eax, 0xCAFEF00D
        FL F_ZF|F_CF, F_CF
        mov eax, 3
        mov ebx, 3
        mov ecx, 8
        cmpxchg ebx, ecx
        EQ ebx, 8
        cmpxchg eax, ecx                ; EAX equals itself: EAX := ECX
        EQ eax, 8
        mov ax, 0x1122
        mov dx, 0x3344
        cmpxchg dx, ax                  ; not equal: AX := DX
        EQ ax, 0x3344
        EQ dx, 0x3344
        %1 "cmpxchg"

        ; XADD: the destination takes the sum, the source the old destination
        mov word [SCR], 0xFFFF
        mov ax, 1
        xadd [SCR], ax
        SAVEFL
        EQ word [SCR], 0
        EQ ax, 0xFFFF
        FL F_ZF|F_CF|F_SF, F_ZF|F_CF
        mov eax, 5
        xadd eax, eax
        EQ eax, 10
        mov bl, 0x70
        mov cl, 0x10
        xadd bl, cl
        SAVEFL
        EQ bl, 0x80
        EQ cl, 0x70
        FL F_OF|F_SF|F_CF, F_OF|F_SF
        mov dword [SCR + 8], 40
        mov edx, 2
        mov esi, SCR
        lock xadd [esi + 8], edx
        EQ edx, 40
        EQ dword [SCR + 8], 42
        %1 "xadd"

        ; CMPXCHG8B: EDX:EAX against m64; ZF only
        mov dword [SCR], 0x11111111
        mov dword [SCR + 4], 0x22222222
        mov eax, 0x11111111
        mov edx, 0x22222222
        mov ebx, 0xAAAAAAAA
        mov ecx, 0xBBBBBBBB
        SETFL F_CF|F_SF
        lock cmpxchg8b [SCR]
        SAVEFL
        EQ dword [SCR], 0xAAAAAAAA
        EQ dword [SCR + 4], 0xBBBBBBBB
        EQ eax, 0x11111111
        FL F_ZF|F_CF|F_SF, F_ZF|F_CF|F_SF
        mov edi, SCR
        SETFL F_CF
        cmpxchg8b [edi]                 ; not equal now
        SAVEFL
        EQ eax, 0xAAAAAAAA
        EQ edx, 0xBBBBBBBB
        EQ dword [SCR], 0xAAAAAAAA
        FL F_ZF|F_CF, F_CF
        %1 "cmpxchg8b"

        mov eax, 0x11223344
        bswap eax
        EQ eax, 0x44332211
        mov esi, 0x80000001
        bswap esi
        EQ esi, 0x01000080
        %1 "bswap"
%endmacro

; ---------------------------------------------------------------- real mode
entry:
        cli
        cld
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        mov ds, ax
        mov es, ax
        mov di, 0x500
        mov cx, 0x100
        rep stosw
        mov si, s_real
        call puts16
        CHECKS END

        ; -------------------------------------------- 32-bit protected mode
        o32 lgdt [cs:gdtr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp dword 0x08:(ROM + pm32)
bits 32
pm32:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, 0x7000
        paging_identity_4m 0x10000, 0x11000     ; (as a kernel runs: paged, flat, ring 0)
        jmp .paged
.paged:
        mov esi, ROM + s_pm
        call puts
        CHECKS END32
        mov esi, ROM + s_sum1
        call puts
        movzx eax, word [NPASS]
        call putdec32
        mov esi, ROM + s_sum2
        call puts
        movzx eax, word [NFAIL]
        call putdec32
        mov esi, ROM + s_sum3
        call puts
        mov eax, cr0
        and eax, 0x7FFFFFFF             ; paging off (the code is identity-mapped)
        mov cr0, eax
        jmp 0x18:back16                 ; back to real mode to halt (the Unicorn
                                        ; runner finds HLT by CS:IP)

report32:                               ; [esp+4]: the check's name
        push esi
        mov esi, ROM + chk_ok
        cmp byte [BAD], 0
        je .ok
        inc word [NFAIL]
        mov esi, ROM + chk_fail
        jmp .out
.ok:    inc word [NPASS]
.out:   call puts
        mov esi, [esp + 8]
        call puts
        mov al, 10
        call out_char
        mov byte [BAD], 0
        pop esi
        ret 4

putdec32:                               ; EAX in decimal
        mov ebx, 10
        xor ecx, ecx
.div:   xor edx, edx
        div ebx
        push edx
        inc ecx
        test eax, eax
        jnz .div
.o:     pop eax
        add al, '0'
        call out_char
        loop .o
        ret

        console32

bits 16
back16: mov ax, 0x20
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov eax, cr0
        and al, 0xFE
        mov cr0, eax
        jmp 0xF000:real_end
real_end:
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        cli
        hlt

        CHECK_ROUTINES puts16, putc16

puts16: mov al, [cs:si]
        inc si
        test al, al
        jz .done
        call putc16
        jmp puts16
.done:  ret

putc16: push dx
        mov dx, 0x402
        out dx, al
        pop dx
        ret

s_real: db "p6: real mode", 10, 0
s_pm:   db "p6: 32-bit protected mode, paging on", 10, 0
s_sum1: db "p6: ", 0
s_sum2: db " passed, ", 0
s_sum3: db " failed", 10, 0

align 8
gdt:    dq 0
        dq 0x00CF9B000000FFFF           ; 08: flat code
        dq 0x00CF93000000FFFF           ; 10: flat data
        dq 0x00009B0F0000FFFF           ; 18: 16-bit code at F0000 (the way back)
        dq 0x000093000000FFFF           ; 20: 16-bit data, 64 KiB
gdtr:   dw 39
        dd ROM + gdt

        times 0xFFF0-($-$$) db 0
reset:  jmp 0xF000:entry
        times 0x10000-($-$$) db 0
