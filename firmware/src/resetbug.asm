; resetbug: a small POST with two planted reset bugs, for `jitemu resetfuzz`
; (tests/test_resetfuzz.py).  A cold boot is correct; a reset at the wrong
; moment is not survived:
;   1. The warm-boot flag.  Like a BIOS's 40:72 = 1234h, POST sets a flag
;      in RAM once the hardware is initialised, and a boot that finds it
;      skips initialising the interrupt controller.  RAM survives a reset;
;      the 8259s' programming does not.  A reset after the flag is set
;      (the checksum phase) leaves the PICs in their reset state: IRQ0
;      arrives as vector 0, never as the timer's, and POST waits for ever
;      (hung).
;   2. The poll counter.  The timer wait counts its polls in RAM that is
;      never cleared: zero at power-on, but after a reset during the wait
;      (or before the flag is set) the next boot counts on from the old
;      value and prints another number (wrong output).
; With -DFIXED both are fixed: the flag is never trusted and the counter is
; cleared.  Prints (cold boot):
;   resetbug: POST / memory ok / timer ok: polls <8 hex> / checksum <8 hex> /
;   RESETBUG-OK
; then exits through port 0x501.
; oracle: jitemu-only (needs the PC machine: 8259 PICs, 8254 PIT, 0x501)
; machine: pc
bits 16
cpu 386
org 0

WARM      equ 0x472             ; word: 1234h once POST has set up the PICs
TICKS     equ 0x500             ; word: timer interrupts so far
POLLS     equ 0x504             ; dword: polls of the timer wait
TEST_SEG  equ 0x1000            ; memory test: 0x10000-0x2FFFF
TEST_PARAS equ 0x2000
PIT_COUNT equ 119               ; ~100 us: 100,000 instructions a tick
WANT_TICKS equ 3

entry:
        cli
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        mov ds, ax
        mov si, msg_post
        call puts

        ; --- the interrupt controllers (bug 1: skipped on a warm boot)
%ifndef FIXED
        cmp word [WARM], 0x1234
        je .pic_done
%endif
        call init_pic
.pic_done:

        ; --- memory test: a pattern over 128 KiB, written then read back
        mov bx, TEST_SEG
.wseg:  mov es, bx
        xor di, di
        mov cx, 8
.wr:    mov ax, bx
        xor ax, di
        mov [es:di], ax
        add di, 2
        loop .wr
        add bx, 1
        cmp bx, TEST_SEG + TEST_PARAS
        jb .wseg
        mov bx, TEST_SEG
.rseg:  mov es, bx
        xor di, di
        mov cx, 8
.rd:    mov ax, bx
        xor ax, di
        cmp [es:di], ax
        jne mem_bad
        add di, 2
        loop .rd
        add bx, 1
        cmp bx, TEST_SEG + TEST_PARAS
        jb .rseg
        mov si, msg_mem
        call puts

        ; --- the interrupt table: every vector to `unexpected`, IRQ0 (08h) to `tick`
        xor ax, ax
        mov es, ax
        xor di, di
        mov cx, 256
.ivt:   mov word [es:di], unexpected
        mov word [es:di + 2], 0xF000
        add di, 4
        loop .ivt
        mov word [es:8 * 4], tick

        ; --- the timer: PIT channel 0, mode 2, and wait for WANT_TICKS ticks
        mov word [TICKS], 0
%ifdef FIXED
        mov dword [POLLS], 0
%endif
        mov al, 0x34
        out 0x43, al
        mov al, PIT_COUNT & 0xFF
        out 0x40, al
        mov al, PIT_COUNT >> 8
        out 0x40, al
        sti
.wait:  inc dword [POLLS]               ; (bug 2: POLLS was never cleared)
        cmp word [TICKS], WANT_TICKS
        jb .wait
        cli
        mov si, msg_timer
        call puts
        mov edx, [POLLS]
        call puthex32
        mov al, 10
        call putc

        ; --- POST has set up the hardware: remember it (bug 1's other half)
        mov word [WARM], 0x1234

        ; --- the ROM's checksum, a dword sum over 64 KiB, four times
        mov bx, 4
        xor edx, edx
.pass:  push ds
        mov ax, 0xF000
        mov ds, ax
        xor si, si
.sum:   lodsd
        add edx, eax
        rol edx, 1
        test si, si
        jnz .sum
        pop ds
        dec bx
        jnz .pass
        mov si, msg_sum
        call puts
        call puthex32
        mov al, 10
        call putc

        mov si, msg_done
        call puts
        mov dx, 0x501
        mov al, 0
        out dx, al
        cli
        hlt

mem_bad:
        mov si, msg_membad
        call puts
        cli
        hlt

init_pic:
        mov al, 0x11                    ; ICW1: edge, cascade, ICW4
        out 0x20, al
        out 0xA0, al
        mov al, 0x08                    ; ICW2: IRQ0-7 at 08h-0Fh
        out 0x21, al
        mov al, 0x70                    ; IRQ8-15 at 70h-77h
        out 0xA1, al
        mov al, 0x04                    ; ICW3: slave on IR2
        out 0x21, al
        mov al, 0x02
        out 0xA1, al
        mov al, 0x01                    ; ICW4: 8086 mode
        out 0x21, al
        out 0xA1, al
        mov al, 0xFE                    ; only IRQ0
        out 0x21, al
        mov al, 0xFF
        out 0xA1, al
        ret

tick:   push ax
        push ds
        xor ax, ax
        mov ds, ax
        inc word [TICKS]
        pop ds
        mov al, 0x20                    ; EOI
        out 0x20, al
        pop ax
        iret

unexpected:
        iret

%include "console16.inc"

msg_post:   db "resetbug: POST", 10, 0
msg_mem:    db "memory ok", 10, 0
msg_timer:  db "timer ok: polls ", 0
msg_sum:    db "checksum ", 0
msg_done:   db "RESETBUG-OK", 10, 0
msg_membad: db "memory BAD", 10, 0

        times 0xFFF0-($-$$) db 0
reset:  jmp 0xF000:entry
        times 0x10000-($-$$) db 0
