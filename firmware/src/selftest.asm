; selftest.asm -- real-mode 386 integer instruction-set self-test ROM.
;
; 64 KiB flat ROM image, mapped at F0000-FFFFF; the CPU starts at F000:FFF0.
; Every check prints one line "ok <name>" or "FAIL <name>" to the debug
; console (port 0x402), then "selftest: N passed, M failed" and halts.
; The expected values are the architectural ones (Intel SDM); only flags the
; SDM defines for an instruction are compared.
;
; Assemble: nasm -f bin -o selftest.bin selftest.asm

bits 16
cpu 386
org 0

DBGPORT equ 0x402

; RAM variables (DS = 0 throughout, except where a test says otherwise)
BAD     equ 0x500       ; byte: sub-check failures in the current check
FL      equ 0x502       ; word: flags captured by SAVEFL
NPASS   equ 0x504
NFAIL   equ 0x506
DEHIT   equ 0x508       ; byte: #DE handler count
DELEN   equ 0x509       ; byte: length of the DIV the #DE handler skips
DEIP    equ 0x50A       ; word: IP pushed by #DE
DECS    equ 0x50C       ; word: CS pushed by #DE
IHIT    equ 0x510       ; word: generic interrupt handler hit counter
IIP     equ 0x512       ; word: IP pushed for the last interrupt
ICS     equ 0x514       ; word: CS pushed
IFLG    equ 0x516       ; word: FLAGS pushed
IFIN    equ 0x518       ; word: FLAGS seen inside the handler
IAX     equ 0x51A       ; word: AX seen inside the handler
SCR     equ 0x600       ; scratch area 0x600-0x6FF
TBL     equ 0x700       ; dword table for 32-bit addressing
BUF     equ 0x1000      ; string buffers 0x1000-0x1FFF

F_CF equ 0x001
F_PF equ 0x004
F_AF equ 0x010
F_ZF equ 0x040
F_SF equ 0x080
F_TF equ 0x100
F_IF equ 0x200
F_DF equ 0x400
F_OF equ 0x800
OSZAPC equ F_OF|F_SF|F_ZF|F_AF|F_PF|F_CF
OSZPC  equ F_OF|F_SF|F_ZF|F_PF|F_CF
SZAPC  equ F_SF|F_ZF|F_AF|F_PF|F_CF
SZPC   equ F_SF|F_ZF|F_PF|F_CF
SZP    equ F_SF|F_ZF|F_PF
OC     equ F_OF|F_CF

; ---------------------------------------------------------------- macros
%include "checks16.inc"

%macro SAVEFL 0                 ; capture FLAGS into [FL]
        pushf
        pop word [FL]
%endmacro

%macro FL 2                     ; sub-check: ([FL] & %1) == %2
        push ax
        mov ax, [FL]
        and ax, %1
        cmp ax, %2
        pop ax
        je %%ok
        inc byte [BAD]
%%ok:
%endmacro

%macro SETFL 1                  ; FLAGS := %1 (bit 1 is always set)
        push word (%1)|2
        popf
%endmacro

%macro TAKEN 1                  ; J%1 must branch
        j%1 %%ok
        inc byte [BAD]
%%ok:
%endmacro

%macro NOTTAKEN 1               ; J%1 must not branch
        j%1 %%bad
        jmp short %%ok
%%bad:  inc byte [BAD]
%%ok:
%endmacro


%macro SETVEC 2                 ; IVT[%1] := F000:%2
        mov word [(%1)*4], %2
        mov word [(%1)*4+2], 0xF000
%endmacro

; ---------------------------------------------------------------- start
entry:
        cli
        cld
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        mov ds, ax
        mov es, ax
        ; clear the RAM we use (0x400-0x1FFF)
        mov di, 0x400
        mov cx, (0x2000-0x400)/2
        rep stosw
        ; every vector -> default IRET handler
        xor di, di
        mov cx, 256
.ivt:   mov word [di], int_default
        mov word [di+2], 0xF000
        add di, 4
        loop .ivt
        SETVEC 0, de_handler
        SETVEC 3, int_record
        SETVEC 4, int_record
        SETVEC 0x40, int_record
        SETVEC 0x41, int_setcf
        SETVEC 0x42, int_retf2

        mov si, s_banner
        call puts

; ================================================================ MOV
        mov ax, 0x1234
        mov bx, ax
        mov [SCR], bx
        mov cl, [SCR+1]
        mov ch, [SCR]
        EQ bx, 0x1234
        EQ cx, 0x3412
        mov word [SCR+2], 0xBEEF
        mov si, SCR
        mov dx, [si+2]
        EQ dx, 0xBEEF
        mov byte [si+bx-0x1234+4], 0x5A
        EQ byte [SCR+4], 0x5A
        mov bp, SCR
        mov di, 2
        mov ax, [bp+di]
        EQ ax, 0xBEEF
        mov al, [SCR+4]                 ; moffs form
        EQ al, 0x5A
        END "mov reg/mem/imm"

        mov ax, 0x0100
        mov es, ax
        mov word [es:0x10], 0x4321      ; linear 0x1010
        mov bx, [0x1010]
        EQ bx, 0x4321
        mov dx, es
        EQ dx, 0x0100
        mov fs, dx
        mov gs, dx
        mov ax, [fs:0x10]
        EQ ax, 0x4321
        mov ax, [gs:0x10]
        EQ ax, 0x4321
        xor ax, ax
        mov es, ax
        mov [0x1010], ax
        END "mov sreg"

        mov eax, 0x89ABCDEF
        mov [SCR], eax
        mov ebx, [SCR]
        EQ ebx, 0x89ABCDEF
        EQ word [SCR+2], 0x89AB
        mov bx, 0x1111                  ; 16-bit write keeps upper half
        EQ ebx, 0x89AB1111
        mov bl, 0x22
        mov bh, 0x33
        EQ ebx, 0x89AB3322
        END "mov 32-bit"

; ================================================================ ALU
        SETFL 0
        mov ax, 0x7FFF
        add ax, 1
        SAVEFL
        EQ ax, 0x8000
        FL OSZAPC, F_OF|F_SF|F_AF|F_PF
        mov al, 0xFF
        add al, 1
        SAVEFL
        EQ al, 0
        FL OSZAPC, F_CF|F_ZF|F_AF|F_PF
        END "add flags"

        mov word [SCR], 0x1000
        add word [SCR], byte -1
        SAVEFL
        EQ word [SCR], 0x0FFF
        FL OSZAPC, F_CF|F_PF
        mov bx, 0x0102
        mov [SCR], bx
        add [SCR], bl                   ; byte 0x02 + 0x02
        add bh, [SCR+1]                 ; 0x01 + 0x01
        EQ word [SCR], 0x0104
        EQ bh, 0x02
        END "add mem"

        SETFL 0
        stc
        mov ax, 0xFFFF
        adc ax, 0
        SAVEFL
        EQ ax, 0
        FL OSZAPC, F_CF|F_ZF|F_AF|F_PF
        clc
        mov al, 0x7F
        adc al, 0
        SAVEFL
        EQ al, 0x7F
        FL OSZAPC, 0
        END "adc"

        mov eax, 0xFFFFFFFF             ; 64-bit add 0x1FFFFFFFF + 0x200000001
        mov edx, 0x00000001
        add eax, 0x00000001
        adc edx, 0x00000002
        EQ eax, 0
        EQ edx, 4
        END "add/adc 32-bit"

        SETFL 0
        mov ax, 0x8000
        sub ax, 1
        SAVEFL
        EQ ax, 0x7FFF
        FL OSZAPC, F_OF|F_AF|F_PF
        mov bl, 3
        sub bl, 5
        SAVEFL
        EQ bl, 0xFE
        FL OSZAPC, F_CF|F_SF|F_AF
        END "sub flags"

        SETFL 0
        stc
        mov ax, 5
        sbb ax, 5
        SAVEFL
        EQ ax, 0xFFFF
        FL OSZAPC, F_CF|F_SF|F_AF|F_PF
        mov eax, 0                      ; 64-bit 0x100000000 - 1
        mov edx, 1
        sub eax, 1
        sbb edx, 0
        EQ eax, 0xFFFFFFFF
        EQ edx, 0
        END "sbb"

        mov ax, 5
        cmp ax, 7
        SAVEFL
        EQ ax, 5
        FL OSZAPC, F_CF|F_SF|F_AF
        cmp ax, 5
        SAVEFL
        FL OSZAPC, F_ZF|F_PF
        mov al, 0x80
        cmp al, 1
        SAVEFL
        FL OSZAPC, F_OF|F_AF
        mov dword [SCR], 10
        cmp dword [SCR], byte 11
        SAVEFL
        FL OSZAPC, F_CF|F_SF|F_AF|F_PF
        END "cmp"

        SETFL OSZAPC
        mov ax, 0xF0F0
        and ax, 0x0FF0
        SAVEFL
        EQ ax, 0x00F0
        FL OSZPC, F_PF
        SETFL OSZAPC
        mov al, 0x80
        or al, 0x01
        SAVEFL
        EQ al, 0x81
        FL OSZPC, F_SF|F_PF
        END "and/or"

        SETFL OSZAPC
        xor ax, ax
        SAVEFL
        EQ ax, 0
        FL OSZPC, F_ZF|F_PF
        mov ax, 0x1234
        xor ax, 0xFFFF
        SAVEFL
        EQ ax, 0xEDCB
        FL OSZPC, F_SF
        mov word [SCR], 0x00FF
        mov bx, 0x0F0F
        xor [SCR], bx
        EQ word [SCR], 0x0FF0
        END "xor"

        SETFL OSZAPC
        mov al, 0x81
        test al, 0x80
        SAVEFL
        EQ al, 0x81
        FL OSZPC, F_SF
        test al, 0x02
        SAVEFL
        FL OSZPC, F_ZF|F_PF
        mov dword [SCR], 0x80000000
        mov ecx, 0x80000001
        test [SCR], ecx
        SAVEFL
        FL OSZPC, F_SF|F_PF
        END "test"

        SETFL 0
        mov ax, 5
        neg ax
        SAVEFL
        EQ ax, 0xFFFB
        FL OSZAPC, F_CF|F_SF|F_AF
        mov al, 0x80
        neg al
        SAVEFL
        EQ al, 0x80
        FL OSZAPC, F_OF|F_CF|F_SF
        xor ax, ax
        neg ax
        SAVEFL
        FL OSZAPC, F_ZF|F_PF
        mov word [SCR], 1
        neg word [SCR]
        EQ word [SCR], 0xFFFF
        END "neg"

        SETFL OSZAPC
        mov ax, 0x00FF
        not ax
        SAVEFL
        EQ ax, 0xFF00
        FL OSZAPC, OSZAPC               ; NOT changes no flags
        SETFL 0
        mov dword [SCR], 0x0000FFFF
        not dword [SCR]
        SAVEFL
        EQ dword [SCR], 0xFFFF0000
        FL OSZAPC, 0
        END "not"

        SETFL F_CF
        mov ax, 0x7FFF
        inc ax
        SAVEFL
        EQ ax, 0x8000
        FL OSZAPC, F_OF|F_SF|F_AF|F_PF|F_CF   ; CF preserved
        SETFL 0
        mov al, 0xFF
        inc al
        SAVEFL
        EQ al, 0
        FL OSZAPC, F_ZF|F_AF|F_PF
        END "inc"

        SETFL 0
        mov ax, 0x8000
        dec ax
        SAVEFL
        EQ ax, 0x7FFF
        FL OSZAPC, F_OF|F_AF|F_PF
        SETFL F_CF
        mov cx, 1
        dec cx
        SAVEFL
        EQ cx, 0
        FL OSZAPC, F_ZF|F_PF|F_CF
        mov word [SCR], 0
        dec word [SCR]
        EQ word [SCR], 0xFFFF
        mov ecx, 0x10000
        dec ecx
        EQ ecx, 0xFFFF
        END "dec"

        SETFL 0
        mov eax, 0xFFFFFFFF
        add eax, 1
        SAVEFL
        EQ eax, 0
        FL OSZAPC, F_CF|F_ZF|F_AF|F_PF
        mov ebx, 0x80000000
        sub ebx, 1
        SAVEFL
        EQ ebx, 0x7FFFFFFF
        FL OSZAPC, F_OF|F_AF|F_PF
        mov esi, 0x12345678
        and esi, 0x0F0F0F0F
        or esi, 0x80000000
        xor esi, 0x00000001
        EQ esi, 0x82040609
        END "alu 32-bit"

; ================================================================ MUL/DIV
        mov al, 0x80
        mov bl, 2
        mul bl
        SAVEFL
        EQ ax, 0x0100
        FL OC, OC
        mov ax, 3
        mov cx, 4
        mov dx, 0xFFFF
        mul cx
        SAVEFL
        EQ ax, 12
        EQ dx, 0
        FL OC, 0
        mov ax, 0x1234
        mov word [SCR], 0x0100
        mul word [SCR]
        SAVEFL
        EQ ax, 0x3400
        EQ dx, 0x0012
        FL OC, OC
        END "mul"

        mov eax, 0x10000
        mov ecx, 0x10000
        mul ecx
        EQ eax, 0
        EQ edx, 1
        mov eax, 0xFFFFFFFF
        mov ebx, 0xFFFFFFFF
        mul ebx                         ; = 0xFFFFFFFE_00000001
        EQ eax, 1
        EQ edx, 0xFFFFFFFE
        END "mul 32-bit"

        mov al, -2
        mov bl, 3
        imul bl
        SAVEFL
        EQ ax, 0xFFFA
        FL OC, 0
        mov ax, 0x4000
        mov bx, 2
        imul bx
        SAVEFL
        EQ ax, 0x8000
        EQ dx, 0
        FL OC, OC
        mov eax, -3
        mov ecx, 1000000
        imul ecx
        EQ eax, -3000000
        EQ edx, 0xFFFFFFFF
        END "imul 1-op"

        mov ax, -3
        mov bx, 7
        imul ax, bx
        SAVEFL
        EQ ax, -21
        FL OC, 0
        mov ecx, 0x10000
        imul ecx, ecx
        SAVEFL
        EQ ecx, 0
        FL OC, OC
        mov word [SCR], -300
        mov si, 100
        imul si, [SCR]
        EQ si, -30000
        END "imul 2-op"

        mov bx, 100
        imul ax, bx, -5
        SAVEFL
        EQ ax, -500
        FL OC, 0
        mov word [SCR], 200
        imul dx, [SCR], 300
        SAVEFL
        EQ dx, 60000
        FL OC, OC
        mov ebx, 123456
        imul eax, ebx, 1000
        EQ eax, 123456000
        END "imul 3-op"

        mov ax, 1000
        mov bl, 7
        div bl
        EQ ax, 0x068E                   ; q=142 r=6
        mov dx, 1
        mov ax, 0
        mov cx, 0x10
        div cx
        EQ ax, 0x1000
        EQ dx, 0
        mov edx, 0
        mov eax, 1000000007
        mov ecx, 10
        div ecx
        EQ eax, 100000000
        EQ edx, 7
        END "div"

        mov ax, -7
        mov bl, 2
        idiv bl
        EQ ax, 0xFFFD                   ; q=-3 r=-1
        mov ax, -1000
        cwd
        mov cx, 7
        idiv cx
        EQ ax, -142
        EQ dx, -6
        mov eax, -100
        cdq
        mov ecx, -7
        idiv ecx
        EQ eax, 14
        EQ edx, -2
        END "idiv"

        ; divide by zero: #DE is a fault, pushes the address of the DIV
        mov byte [DEHIT], 0
        mov byte [DELEN], de1_end - de1
        mov ax, 0x1234
        xor bl, bl
de1:    div bl
de1_end:
        EQ byte [DEHIT], 1
        EQ word [DEIP], de1
        EQ word [DECS], 0xF000
        EQ ax, 0x1234                   ; faulting DIV changes nothing
        END "div by zero #DE"

        mov byte [DEHIT], 0
        mov byte [DELEN], de2_end - de2
        mov ax, 0x1000                  ; 0x1000/2 does not fit in AL
        mov bl, 2
de2:    div bl
de2_end:
        EQ byte [DEHIT], 1
        EQ word [DEIP], de2
        EQ ax, 0x1000
        mov byte [DELEN], de3_end - de3
        mov ax, 0x8000                  ; -32768 / -1 does not fit in AX
        cwd
        mov word [SCR], -1
de3:    idiv word [SCR]
de3_end:
        EQ byte [DEHIT], 2
        EQ word [DEIP], de3
        EQ ax, 0x8000
        EQ dx, 0xFFFF
        END "div overflow #DE"

; ================================================================ shifts
        SETFL 0
        mov al, 0x81
        shl al, 1
        SAVEFL
        EQ al, 0x02
        FL OSZPC, F_OF|F_CF
        mov bx, 1
        shl bx, 15
        EQ bx, 0x8000
        mov cl, 33                      ; count is masked to 5 bits
        mov ax, 1
        shl ax, cl
        EQ ax, 2
        mov cl, 17
        mov ax, 0xFFFF
        shl ax, cl
        EQ ax, 0
        END "shl"

        SETFL 0
        mov ax, 0x8001
        shr ax, 1
        SAVEFL
        EQ ax, 0x4000
        FL OSZPC, F_OF|F_CF|F_PF
        mov ax, 0x8001
        sar ax, 1
        SAVEFL
        EQ ax, 0xC000
        FL OSZPC, F_SF|F_CF|F_PF
        mov cl, 4
        mov ax, 0xF123
        sar ax, cl
        SAVEFL
        EQ ax, 0xFF12
        FL SZPC, F_SF|F_PF
        mov eax, 0x12345678
        shl eax, 4
        EQ eax, 0x23456780
        shr eax, 8
        EQ eax, 0x00234567
        mov eax, 0x80000000
        sar eax, 31
        EQ eax, 0xFFFFFFFF
        END "shr/sar"

        SETFL 0
        mov al, 0x81
        rol al, 1
        SAVEFL
        EQ al, 0x03
        FL OC, OC
        mov al, 0x01
        ror al, 1
        SAVEFL
        EQ al, 0x80
        FL OC, OC
        mov ax, 0x1234
        ror ax, 4
        SAVEFL
        EQ ax, 0x4123
        FL F_CF, 0
        mov eax, 0x12345678
        mov cl, 8
        rol eax, cl
        EQ eax, 0x34567812
        END "rol/ror"

        stc
        mov al, 0x80
        rcl al, 1
        SAVEFL
        EQ al, 0x01
        FL OC, OC
        clc
        mov ax, 0x8000
        rcl ax, 2
        SAVEFL
        EQ ax, 0x0001
        FL F_CF, 0
        END "rcl"

        stc
        mov al, 0x01
        rcr al, 1
        SAVEFL
        EQ al, 0x80
        FL OC, OC
        stc
        mov eax, 0
        rcr eax, 1
        SAVEFL
        EQ eax, 0x80000000
        FL F_CF, 0
        END "rcr"

        mov ax, 0x1234
        mov bx, 0xABCD
        shld ax, bx, 4
        SAVEFL
        EQ ax, 0x234A
        FL F_CF, F_CF
        mov eax, 0x12345678
        mov edx, 0x9ABCDEF0
        mov cl, 8
        shld eax, edx, cl
        EQ eax, 0x3456789A
        END "shld"

        mov ax, 0x1234
        mov bx, 0xABCD
        shrd ax, bx, 4
        SAVEFL
        EQ ax, 0xD123
        FL F_CF, 0
        mov eax, 0x12345678
        mov edx, 0x9ABCDEF0
        mov cl, 8
        shrd eax, edx, cl
        EQ eax, 0xF0123456
        END "shrd"

; ================================================================ bits
        mov ax, 0x0100
        bt ax, 8
        SAVEFL
        FL F_CF, F_CF
        bt ax, 7
        SAVEFL
        FL F_CF, 0
        EQ ax, 0x0100
        mov ax, 0
        bts ax, 3
        SAVEFL
        EQ ax, 8
        FL F_CF, 0
        END "bt/bts"

        mov ax, 0xFFFF
        btr ax, 15
        SAVEFL
        EQ ax, 0x7FFF
        FL F_CF, F_CF
        mov ax, 0x000F
        mov cx, 0
        btc ax, cx
        SAVEFL
        EQ ax, 0x000E
        FL F_CF, F_CF
        END "btr/btc"

        mov dword [SCR], 0
        mov ax, 17                      ; register offset may leave the word
        bts [SCR], ax
        SAVEFL
        EQ word [SCR+2], 0x0002
        FL F_CF, 0
        mov dword [SCR+4], 0
        mov eax, 35
        bt [SCR], eax                   ; bit 3 of byte SCR+4 = 0
        SAVEFL
        FL F_CF, 0
        mov byte [SCR+4], 0x08
        bt [SCR], eax
        SAVEFL
        FL F_CF, F_CF
        END "bt mem bitstring"

        mov ax, 0x0120
        bsf cx, ax
        SAVEFL
        EQ cx, 5
        FL F_ZF, 0
        bsr cx, ax
        EQ cx, 8
        xor ax, ax
        bsf cx, ax
        SAVEFL
        FL F_ZF, F_ZF
        mov eax, 0x80000000
        bsr ecx, eax
        EQ ecx, 31
        END "bsf/bsr"

; ================================================================ SETcc
        mov al, 5
        cmp al, 3
        seta bl
        setb cl
        setg dl
        setl dh
        sete ah
        EQ bl, 1
        EQ cl, 0
        EQ dl, 1
        EQ dh, 0
        EQ ah, 0
        mov al, -1
        cmp al, 1
        seta bl
        setg cl
        setl dl
        setbe dh
        setne ah
        EQ bl, 1
        EQ cl, 0
        EQ dl, 1
        EQ dh, 0
        EQ ah, 1
        END "setcc"

        SETFL F_OF|F_PF
        seto al
        setno ah
        setp bl
        setnp bh
        sets cl
        setc ch
        setle dl
        setge dh
        EQ ax, 0x0001
        EQ bx, 0x0001
        EQ cx, 0x0000
        EQ dx, 0x0001                   ; SF!=OF: le=1, ge=0
        mov byte [SCR], 0x55
        stc
        setc [SCR]
        EQ byte [SCR], 1
        END "setcc flags"

; ================================================================ MOVZX etc
        mov bl, 0x80
        movzx ax, bl
        EQ ax, 0x0080
        movsx ax, bl
        EQ ax, 0xFF80
        movsx eax, bl
        EQ eax, 0xFFFFFF80
        mov word [SCR], 0x8001
        movsx ecx, word [SCR]
        EQ ecx, 0xFFFF8001
        movzx edx, word [SCR]
        EQ edx, 0x00008001
        mov byte [SCR], 0x7F
        movsx si, byte [SCR]
        EQ si, 0x007F
        END "movzx/movsx"

        mov bx, 0x100
        mov si, 0x20
        lea ax, [bx+si+5]
        EQ ax, 0x125
        lea dx, [bx+si-0x200]
        EQ dx, 0xFF20
        mov bp, 0x3000
        lea di, [bp-2]
        EQ di, 0x2FFE
        mov ebx, 0x10000
        mov ecx, 3
        lea eax, [ebx+ecx*8+4]
        EQ eax, 0x1001C
        lea ax, [ebx+ecx*8+4]           ; 16-bit result of a 32-bit address
        EQ ax, 0x001C
        END "lea"

        mov ax, 1
        mov bx, 2
        xchg ax, bx
        EQ ax, 2
        EQ bx, 1
        mov word [SCR], 0x55AA
        mov cx, 0x1111
        xchg cx, [SCR]
        EQ cx, 0x55AA
        EQ word [SCR], 0x1111
        mov ax, 0x1234
        xchg al, ah
        EQ ax, 0x3412
        mov eax, 1
        mov edx, 0x80000000
        xchg edx, eax
        EQ eax, 0x80000000
        EQ edx, 1
        END "xchg"

        mov al, 0x80
        cbw
        EQ ax, 0xFF80
        mov al, 0x7F
        cbw
        EQ ax, 0x007F
        mov ax, 0x8000
        cwd
        EQ dx, 0xFFFF
        mov ax, 0x7000
        cwd
        EQ dx, 0
        mov eax, 0x12348000
        cwde
        EQ eax, 0xFFFF8000
        mov eax, 0x80000000
        cdq
        EQ edx, 0xFFFFFFFF
        END "cbw/cwd/cwde/cdq"

; ================================================================ BCD
        mov al, 0x79
        add al, 0x35
        daa
        SAVEFL
        EQ al, 0x14
        FL SZAPC, F_AF|F_CF|F_PF
        mov al, 0x38
        add al, 0x45
        daa
        SAVEFL
        EQ al, 0x83
        FL SZAPC, F_AF|F_SF
        END "daa"

        mov al, 0x35
        sub al, 0x47
        das
        SAVEFL
        EQ al, 0x88
        FL SZAPC, F_SF|F_AF|F_PF|F_CF
        mov al, 0x47
        sub al, 0x35
        das
        SAVEFL
        EQ al, 0x12
        FL F_CF|F_AF, 0
        END "das"

        mov ax, 0x0009
        add al, 0x08
        aaa
        SAVEFL
        EQ ax, 0x0107
        FL F_AF|F_CF, F_AF|F_CF
        mov ax, 0x0203
        sub al, 0x05
        aas
        SAVEFL
        EQ ax, 0x0108
        FL F_AF|F_CF, F_AF|F_CF
        mov ax, 0x0102
        add al, 0x03
        aaa
        SAVEFL
        EQ ax, 0x0105
        FL F_AF|F_CF, 0
        END "aaa/aas"

        mov al, 79
        aam
        SAVEFL
        EQ ax, 0x0709
        FL SZP, F_PF
        mov al, 0x5B
        aam 16
        EQ ax, 0x050B
        mov ax, 0x0709
        aad
        SAVEFL
        EQ ax, 0x004F
        FL SZP, 0
        mov ax, 0x0102
        aad 16
        EQ ax, 0x0012
        END "aam/aad"

; ================================================================ strings
        cld
        mov ax, 0x0100
        mov es, ax                      ; ES base 0x1000 = BUF
        xor di, di
        mov cx, 16
        mov al, 0xA5
        rep stosb
        EQ di, 16
        EQ cx, 0
        EQ byte [BUF], 0xA5
        EQ byte [BUF+15], 0xA5
        EQ byte [BUF+16], 0
        mov eax, 0x11223344
        mov cx, 2
        rep stosd
        EQ di, 24
        EQ dword [BUF+20], 0x11223344
        xor ax, ax
        mov es, ax
        END "rep stos"

        mov si, BUF                     ; DS:SI -> ES:DI, words
        mov di, BUF+0x100
        mov cx, 12
        rep movsw
        EQ si, BUF+24
        EQ di, BUF+0x118
        EQ dword [BUF+0x114], 0x11223344
        EQ word [BUF+0x100], 0xA5A5
        mov si, BUF+0x100
        lodsw
        EQ ax, 0xA5A5
        EQ si, BUF+0x102
        lodsd
        EQ eax, 0xA5A5A5A5
        END "rep movs/lods"

        mov si, s_hello                 ; CS-overridden source (ROM)
        mov di, BUF+0x200
        mov cx, 11
        cs rep movsb
        EQ byte [BUF+0x200], 'h'
        EQ byte [BUF+0x20A], 'd'
        mov si, s_hello
        mov di, BUF+0x200
        mov cx, 11
        cs repe cmpsb
        SAVEFL
        EQ cx, 0
        FL F_ZF, F_ZF
        END "segment override movs"

        mov si, s_abcdef
        mov di, s_abcxef
        push cs
        pop es
        mov cx, 6
        cs repe cmpsb
        SAVEFL
        EQ cx, 2
        EQ si, s_abcdef+4
        EQ di, s_abcxef+4
        FL F_ZF|F_CF, F_CF              ; 'd' < 'x'
        xor ax, ax
        mov es, ax
        END "repe cmps"

        mov di, BUF+0x200               ; "hello world"
        mov cx, 11
        mov al, 'w'
        repne scasb
        SAVEFL
        EQ di, BUF+0x207
        EQ cx, 4
        FL F_ZF, F_ZF
        mov di, BUF+0x200
        mov cx, 11
        mov al, 'Q'
        repne scasb
        SAVEFL
        EQ cx, 0
        FL F_ZF, 0
        END "repne scas"

        std
        mov si, BUF+0x20A
        lodsb
        EQ al, 'd'
        EQ si, BUF+0x209
        mov di, BUF+0x30F
        mov cx, 4
        mov al, 0x77
        rep stosb
        EQ di, BUF+0x30B
        EQ dword [BUF+0x30C], 0x77777777
        cld
        xor cx, cx
        mov si, BUF+0x200
        mov di, BUF+0x400
        SETFL F_CF|F_SF
        rep movsb                       ; CX=0: nothing happens
        SAVEFL
        FL SZPC, F_CF|F_SF
        EQ si, BUF+0x200
        EQ byte [BUF+0x400], 0
        END "std string ops"

; ================================================================ stack
        mov ax, sp
        push sp                         ; 286+: pushes the old SP
        pop bx
        EQ ax, bx
        push word 0x1234
        pop es
        push es
        pop ds
        mov bx, ds
        push word 0
        pop ds
        EQ bx, 0x1234
        push word 0x5678
        pop fs
        push fs
        pop gs
        mov cx, gs
        EQ cx, 0x5678
        xor ax, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        END "push/pop sreg"

        mov bx, sp
        push byte -2
        pop ax
        EQ ax, 0xFFFE
        push eax
        mov cx, bx
        sub cx, sp
        EQ cx, 4
        pop edx
        EQ edx, eax
        mov word [SCR], 0xCAFE
        push word [SCR]
        pop word [SCR+2]
        EQ word [SCR+2], 0xCAFE
        EQ sp, bx
        END "push/pop"

        mov ax, 0x1111
        mov cx, 0x2222
        mov dx, 0x3333
        mov bx, 0x4444
        mov bp, 0x5555
        mov si, 0x6666
        mov di, 0x7777
        mov [SCR], sp
        pusha
        mov bp, sp
        EQ word [bp+14], 0x1111
        EQ word [bp+12], 0x2222
        EQ word [bp+10], 0x3333
        EQ word [bp+8], 0x4444
        mov ax, [SCR]
        EQ [bp+6], ax
        EQ word [bp+4], 0x5555
        EQ word [bp+2], 0x6666
        EQ word [bp+0], 0x7777
        mov word [bp+6], 0xDEAD         ; POPA ignores the SP slot
        xor ax, ax
        xor cx, cx
        xor dx, dx
        xor bx, bx
        xor si, si
        xor di, di
        popa
        EQ ax, 0x1111
        EQ cx, 0x2222
        EQ dx, 0x3333
        EQ bx, 0x4444
        EQ bp, 0x5555
        EQ si, 0x6666
        EQ di, 0x7777
        EQ sp, [SCR]
        END "pusha/popa"

        mov eax, 0x11111111
        mov edi, 0x77777777
        mov [SCR], sp
        pushad
        mov bx, [SCR]
        sub bx, sp
        EQ bx, 32
        mov bx, sp
        EQ dword [bx+28], 0x11111111
        EQ dword [bx], 0x77777777
        xor eax, eax
        xor edi, edi
        popad
        EQ eax, 0x11111111
        EQ edi, 0x77777777
        END "pushad/popad"

        push word 0x0CD5|2              ; OF DF SF ZF AF PF CF
        popf
        pushf
        pop ax
        and ax, 0x0FD7
        EQ ax, 0x0CD7
        push word 0x0028                ; reserved bits 3,5 read as 0, 1 as 1
        popf
        pushf
        pop ax
        and ax, 0x002A
        EQ ax, 0x0002
        cld
        END "pushf/popf"

        mov bp, 0x1111
        mov ax, sp
        enter 8, 0
        mov cx, ax
        sub cx, bp
        EQ cx, 2
        mov cx, ax
        sub cx, sp
        EQ cx, 10
        EQ word [bp], 0x1111
        leave
        EQ sp, ax
        EQ bp, 0x1111
        enter 4, 1
        mov cx, ax
        sub cx, sp
        EQ cx, 8
        EQ [bp-2], bp
        EQ word [bp], 0x1111
        leave
        EQ sp, ax
        EQ bp, 0x1111
        END "enter/leave"

; ================================================================ control
        xor ax, ax
        call near_fn
        EQ ax, 1
        mov bx, near_fn
        call bx
        EQ ax, 2
        mov word [SCR], near_fn
        call [SCR]
        EQ ax, 3
        mov di, sp
        push word 1
        push word 2
        call ret4_fn
        EQ sp, di
        EQ cx, 3
        END "near call/ret"

        mov bx, jt1
        jmp bx
        inc byte [BAD]
jt1:    mov word [SCR], jt2
        jmp [SCR]
        inc byte [BAD]
jt2:    jmp near jt3
        inc byte [BAD]
jt3:    END "near jmp"

        xor ax, ax
        call 0xF000:far_fn
        EQ ax, 1
        EQ dx, 0xF000                   ; far_fn saw CS pushed
        mov word [SCR], far_fn
        mov word [SCR+2], 0xF000
        call far [SCR]
        EQ ax, 2
        mov di, sp
        push word 7
        call 0xF000:far_ret2_fn
        EQ sp, di
        EQ cx, 7
        END "far call/retf"

        mov ax, 0x1234
        jmp 0xFC00:(far_seg_code - 0xC000)  ; same bytes, other CS base
far_back:
        EQ ax, 0xFC00
        EQ cx, (far_seg_code - 0xC000)
        mov word [SCR], fj2
        mov word [SCR+2], 0xF000
        jmp far [SCR]
        inc byte [BAD]
fj2:    mov ax, cs
        EQ ax, 0xF000
        END "far jmp"

        SETFL F_ZF|F_PF
        TAKEN e
        NOTTAKEN ne
        NOTTAKEN b
        TAKEN ae
        TAKEN be
        NOTTAKEN a
        NOTTAKEN s
        TAKEN ns
        NOTTAKEN o
        TAKEN no
        TAKEN p
        NOTTAKEN np
        NOTTAKEN l
        TAKEN ge
        TAKEN le
        NOTTAKEN g
        END "jcc (ZF)"

        SETFL F_SF|F_CF
        NOTTAKEN e
        TAKEN ne
        TAKEN b
        NOTTAKEN ae
        TAKEN be
        NOTTAKEN a
        TAKEN s
        TAKEN np
        TAKEN l
        NOTTAKEN ge
        TAKEN le
        NOTTAKEN g
        SETFL F_SF|F_OF
        TAKEN o
        NOTTAKEN l
        TAKEN ge
        TAKEN g
        NOTTAKEN le
        TAKEN a
        END "jcc (SF/OF/CF)"

        xor ax, ax
        cmp ax, 1
        jb near .n1                     ; 0F 82 rel16 forms
        inc byte [BAD]
.n1:    jae near .n2
        jmp short .n3
.n2:    inc byte [BAD]
.n3:    END "jcc near"

        mov cx, 5
        xor ax, ax
.l1:    inc ax
        loop .l1
        EQ ax, 5
        EQ cx, 0
        mov ecx, 0x00010003             ; LOOP uses CX only
        xor ax, ax
.l2:    inc ax
        loop .l2
        EQ ax, 3
        EQ ecx, 0x00010000
        jcxz .z1
        inc byte [BAD]
.z1:    jecxz .z2                       ; ECX != 0
        jmp short .z3
.z2:    inc byte [BAD]
.z3:    mov ecx, 3
        xor ax, ax
.l3:    inc ax
        a32 loop .l3                    ; LOOP with ECX
        EQ ax, 3
        EQ ecx, 0
        jecxz .z4
        inc byte [BAD]
.z4:    END "loop/jcxz/jecxz"

        mov si, b_loope                 ; 5,5,5,7,5
        mov cx, 5
.le:    cs lodsb
        cmp al, 5
        loope .le
        EQ cx, 1
        EQ si, b_loope+4
        mov cx, 5
        xor bx, bx
.ln:    inc bx
        cmp bx, 3
        loopne .ln
        EQ bx, 3
        EQ cx, 2
        END "loope/loopne"

; ================================================================ interrupts
        mov word [IHIT], 0
        sti
        mov ax, 0x41
        int 0x40
int40_ret:
        SAVEFL
        cli
        EQ word [IHIT], 1
        EQ word [IAX], 0x41
        EQ word [IIP], int40_ret
        EQ word [ICS], 0xF000
        FL F_IF, F_IF                   ; IRET restored IF
        mov ax, [IFLG]
        and ax, F_IF
        EQ ax, F_IF                     ; pushed FLAGS had IF=1
        mov ax, [IFIN]
        and ax, F_IF|F_TF
        EQ ax, 0                        ; handler runs with IF=TF=0
        END "int n/iret"

        clc
        int 0x41                        ; handler sets CF in the frame
        SAVEFL
        FL F_CF, F_CF
        stc
        int 0x42                        ; handler clears CF, RETF 2
        SAVEFL
        FL F_CF, 0
        END "int flags return"

        mov word [IHIT], 0
        int3
int3_ret:
        EQ word [IHIT], 1
        EQ word [IIP], int3_ret
        int 3                           ; CD 03 form
int3b_ret:
        EQ word [IHIT], 2
        EQ word [IIP], int3b_ret
        END "int3"

        mov word [IHIT], 0
        SETFL 0
        into                            ; OF=0: no interrupt
        EQ word [IHIT], 0
        mov al, 0x7F
        add al, 1                       ; OF=1
        into
into_ret:
        EQ word [IHIT], 1
        EQ word [IIP], into_ret
        END "into"

; ================================================================ flags
        cli
        pushf
        pop ax
        sti
        pushf
        pop bx
        cli
        and ax, F_IF
        and bx, F_IF
        EQ ax, 0
        EQ bx, F_IF
        std
        SAVEFL
        FL F_DF, F_DF
        cld
        SAVEFL
        FL F_DF, 0
        END "cli/sti/cld/std"

        clc
        SAVEFL
        FL F_CF, 0
        stc
        SAVEFL
        FL F_CF, F_CF
        stc
        cmc
        SAVEFL
        FL F_CF, 0
        clc
        cmc
        SAVEFL
        FL F_CF, F_CF
        END "clc/stc/cmc"

        SETFL F_OF
        mov ah, 0xD5
        sahf
        SAVEFL
        mov ah, 0
        lahf
        FL SZAPC|F_OF, SZAPC|F_OF       ; SAHF leaves OF alone
        EQ ah, 0xD7
        mov ah, 0x28                    ; bits 3,5 are not stored
        sahf
        mov ah, 0xFF
        lahf
        EQ ah, 0x02
        END "lahf/sahf"

        mov bx, xlat_tbl
        mov al, 3
        cs xlatb
        EQ al, 0x30
        mov byte [SCR+7], 0x99
        mov bx, SCR
        mov al, 7
        xlatb
        EQ al, 0x99
        END "xlat"

        mov ax, 0x5500
        mov dx, DBGPORT
        in al, dx                       ; debugcon readback is 0xE9
        EQ ax, 0x55E9
        in al, 0xE9
        EQ al, 0xE9
        END "in"

; ================================================================ 32-bit
        mov dword [TBL], 0x00000000
        mov dword [TBL+4], 0x11111111
        mov dword [TBL+8], 0x22222222
        mov dword [TBL+12], 0x33333333
        mov ebx, TBL
        mov ecx, 2
        mov eax, [ebx+ecx*4]
        EQ eax, 0x22222222
        mov esi, TBL
        mov edi, 2
        mov edx, 0xAABBCCDD
        mov [esi+edi*2+0x10], edx       ; TBL+0x14
        EQ dword [TBL+0x14], 0xAABBCCDD
        mov ax, 0x0010
        mov fs, ax                      ; FS base 0x100
        mov ebx, TBL-0x100
        mov ecx, 3
        mov eax, [fs:ebx+ecx*4]
        EQ eax, 0x33333333
        xor ax, ax
        mov fs, ax
        mov ebp, TBL                    ; [ebp] defaults to SS
        mov eax, [ebp+4]
        EQ eax, 0x11111111
        END "32-bit addressing"

        mov eax, 0x12345678
        mov ebx, 0x9ABCDEF0
        add eax, ebx
        SAVEFL
        EQ eax, 0xACF13568
        FL OSZAPC, F_SF                 ; no carry out of bit 3 or 31
        mov ecx, 1000
        imul eax, ecx, 1000
        EQ eax, 1000000
        xor edx, edx
        mov ecx, 7
        div ecx
        EQ eax, 142857
        EQ edx, 1
        mov eax, 0xFFFF0000
        shr eax, 16
        neg eax
        EQ eax, 0xFFFF0001
        END "32-bit arithmetic"

; ================================================================ summary
        SUMMARY "selftest"
halt:   cli
        hlt
        jmp halt

; ================================================================ routines
        CHECK_ROUTINES puts, putc

; puts: print the NUL-terminated string at CS:SI
puts:   push ax
.next:  mov al, [cs:si]
        inc si
        test al, al
        jz .done
        call putc
        jmp short .next
.done:  pop ax
        ret

putc:   push dx
        mov dx, DBGPORT
        out dx, al
        pop dx
        ret

; putdec: print AX in decimal
putdec: push ax
        push bx
        push cx
        push dx
        mov bx, 10
        xor cx, cx
.div:   xor dx, dx
        div bx
        push dx
        inc cx
        test ax, ax
        jnz .div
.out:   pop ax
        add al, '0'
        call putc
        loop .out
        pop dx
        pop cx
        pop bx
        pop ax
        ret

near_fn:
        inc ax
        ret

ret4_fn:
        mov bx, sp
        mov cx, [bx+2]
        add cx, [bx+4]
        ret 4

far_fn:
        inc ax
        mov bx, sp
        mov dx, [bx+2]                  ; pushed CS
        retf

far_ret2_fn:
        mov bx, sp
        mov cx, [bx+4]
        retf 2

; interrupt handlers (DS = 0 assumed)
int_default:
        iret

de_handler:
        push bp
        mov bp, sp
        push ax
        inc byte [DEHIT]
        mov ax, [bp+2]
        mov [DEIP], ax
        mov ax, [bp+4]
        mov [DECS], ax
        mov al, [DELEN]
        xor ah, ah
        add [bp+2], ax                  ; skip the faulting instruction
        pop ax
        pop bp
        iret

int_record:
        push bp
        mov bp, sp
        push ax
        pushf
        pop word [IFIN]
        mov [IAX], ax
        inc word [IHIT]
        mov ax, [bp+2]
        mov [IIP], ax
        mov ax, [bp+4]
        mov [ICS], ax
        mov ax, [bp+6]
        mov [IFLG], ax
        pop ax
        pop bp
        iret

int_setcf:
        push bp
        mov bp, sp
        or word [bp+6], F_CF
        pop bp
        iret

int_retf2:
        clc
        retf 2

; ================================================================ data
s_banner: db "selftest: real-mode instruction set", 10, 0
s_hello:  db "hello world"
s_abcdef: db "abcdef"
s_abcxef: db "abcxef"
b_loope:  db 5, 5, 5, 7, 5
xlat_tbl: db 0x00, 0x10, 0x20, 0x30, 0x40

; ---------------------------------------------------------------- far code
; Executed as FC00:xxxx (CS base 0xFC000) to check CS base handling.
        times 0xC000-($-$$) db 0
far_seg_code:
        mov ax, cs
        call .here                      ; near call within CS=FC00
.here:  pop cx
        sub cx, .here - far_seg_code    ; CX = IP of far_seg_code
        jmp 0xF000:far_back

; ---------------------------------------------------------------- reset
        times 0xFFF0-($-$$) db 0
reset:  jmp 0xF000:entry
        times 0x10000-($-$$) db 0
