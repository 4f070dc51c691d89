; reboot: the QEMU 3.1 reset race (Launchpad #1827871), as a torture test.
; Run on the PC machine (jitemu.pc), it reboots itself REBOOTS times the way
; SeaBIOS's qemu_reboot does, and checks every boot:
;   1. At entry (from F000:FFF0) the registers must hold the reset state:
;      EAX..EDI 0 except EDX (the CPU signature, nonzero), EFLAGS 2,
;      CR0 60000010, DS ES SS FS GS 0, SP 0.
;   2. It shadows itself: PAM routes writes at F0000 to RAM, it copies the
;      ROM onto itself, patches the shadow copy's MODE byte to 1, then PAM
;      routes reads to RAM too and it continues from the shadow copy, which
;      must see MODE = 1.
;   3. In big real mode it copies the pristine BIOS from FFFF0000 back over
;      the shadow copy it is running from (MODE returns to 0), writes 0x02
;      then 0x06 to port 0xCF9, and executes INT3 and the rest of SeaBIOS's
;      reboot path.  None of that may run: the reset comes first.  INT3's
;      vector and the code after it record a "stale" event.
; The boot count, failures and stale events live in CMOS NVRAM (0x48-0x4B),
; which survives resets.  After the last boot it prints
; "reboots N failures F stale S" to port 0x402 and exits through 0x501.
; oracle: jitemu-only (needs the PC machine: PAM, CMOS, 0xCF9)
; machine: pc
bits 16
cpu 386
org 0

%ifndef REBOOTS
%define REBOOTS 1000
%endif

CMOS_COUNT equ 0x48             ; word: boots so far
CMOS_FAIL  equ 0x4A             ; failures seen at entry or in shadow
CMOS_STALE equ 0x4B             ; code that ran after a reset request

entry:
        ; --- 1. the reset state, before touching anything: EFLAGS first
        ; (SS:SP = 0:0, so the push lands at 0:FFFC and SP becomes FFFC)
        pushfd
        cmp esp, 0xFFFC
        jne .bad
        cmp eax, 0
        jne .bad
        or ebx, ecx
        or ebx, esi
        or ebx, edi
        or ebx, ebp
        jnz .bad
        test edx, edx
        jz .bad
        mov eax, cr0
        cmp eax, 0x60000010
        jne .bad
        mov ax, ds
        mov bx, es
        or ax, bx
        mov bx, ss
        or ax, bx
        mov bx, fs
        or ax, bx
        mov bx, gs
        or ax, bx
        jnz .bad
        pop eax
        cmp eax, 2
        jne .bad
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        jmp .state_ok
.bad:   xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        mov al, CMOS_FAIL
        call cmos_inc
.state_ok:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        ; INT3 and the stale path count stale events
        mov word [3 * 4], stale
        mov word [3 * 4 + 2], 0xF000
        ; --- the boot count
        mov al, CMOS_COUNT
        call cmos_read
        mov bl, al
        mov al, CMOS_COUNT + 1
        call cmos_read
        mov bh, al
        cmp bx, REBOOTS
        jae report
        inc bx
        mov al, CMOS_COUNT
        mov ah, bl
        call cmos_write
        mov al, CMOS_COUNT + 1
        mov ah, bh
        call cmos_write
        ; --- 2. shadow: writes to RAM, copy, patch, then reads from RAM
        mov ah, 0x20
        call set_pam
        mov ax, 0xF000
        mov ds, ax
        mov es, ax
        xor si, si
        xor di, di
        mov cx, 0x4000
        cld
        rep movsd
        mov byte [es:mode_byte + 1], 1   ; the shadow copy says MODE = 1
        mov ah, 0x30
        call set_pam
        jmp 0xF000:in_shadow
in_shadow:
mode_byte:
        mov al, 0                        ; MODE: 0 in ROM, 1 in the shadow copy
        cmp al, 1
        je .shadow_ok
        mov al, 0x4C
        call cmos_inc
.shadow_ok:
        ; --- 3. big real mode, copy the pristine BIOS back over ourselves
        xor ax, ax
        mov ds, ax
        o32 lgdt [cs:gdtr]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp short $+2
        mov bx, 0x08
        mov ds, bx
        mov es, bx
        and al, 0xFE
        mov cr0, eax
        jmp short $+2
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov esi, 0xFFFF0000
        mov edi, 0x000F0000
        mov ecx, 0x4000
        a32 rep movsd
        ; SeaBIOS's reboot: 0x02 then 0x06 to the PIIX3 reset control
        mov dx, 0xCF9
        mov al, 0x02
        out dx, al
        mov al, 0x06
        out dx, al
        int3
        ; what follows in SeaBIOS's path must not run either
stale:  xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        mov al, CMOS_STALE
        call cmos_inc
        cli
        hlt
        jmp stale

report: mov si, s_reboots
        call puts
        mov ax, bx
        call putdec
        mov si, s_fail
        call puts
        mov al, CMOS_FAIL
        call cmos_read
        xor ah, ah
        call putdec
        mov si, s_stale
        call puts
        mov al, CMOS_STALE
        call cmos_read
        xor ah, ah
        call putdec
        mov al, 10
        call putc
        mov dx, 0x501
        xor al, al
        out dx, al
        cli
        hlt

; PAM0 (i440FX config 0x59) high nibble = AH
set_pam:
        mov cl, ah
        mov dx, 0xCF8
        mov eax, 0x80000058
        out dx, eax
        mov dx, 0xCFD
        mov al, cl
        out dx, al
        ret

cmos_read:                               ; AL = index -> AL = value
        out 0x70, al
        in al, 0x71
        ret
cmos_write:                              ; AL = index, AH = value
        out 0x70, al
        mov al, ah
        out 0x71, al
        ret
cmos_inc:                                ; AL = index
        push ax
        call cmos_read
        inc al
        mov ah, al
        pop bx
        mov al, bl
        call cmos_write
        ret

%include "console16.inc"

s_reboots: db "reboots ", 0
s_fail:    db " failures ", 0
s_stale:   db " stale ", 0

align 8
gdt:    dq 0
        dq 0x008F93000000FFFF            ; 0x08 data, base 0, limit 4 GiB
gdtr:   dw 15
        dd 0xF0000 + gdt

        times 0xFFF0-($-$$) db 0
reset:  jmp 0xF000:entry
        times 0x10000-($-$$) db 0
