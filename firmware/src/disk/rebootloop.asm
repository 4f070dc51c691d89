; rebootloop: a raw hard-disk image whose boot sector makes the BIOS reboot
; itself, the way a user's Ctrl-Alt-Del does: it counts boots in CMOS NVRAM
; (index 0x50-0x51), prints "boot N" on the debug console (0x402), and far
; jumps to F000:FFF0.  SeaBIOS then takes its qemu_reboot path (copy the
; BIOS back over shadow RAM, 0x02 and 0x06 to port 0xCF9, INT3).  After
; BOOTS boots it prints "REBOOTS-OK N" and ends the run through port 0x501
; (exit status 1).
bits 16
org 0x7C00

%ifndef BOOTS
%define BOOTS 100
%endif

start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7C00
    mov al, 0x50
    out 0x70, al
    in al, 0x71
    mov bl, al
    mov al, 0x51
    out 0x70, al
    in al, 0x71
    mov bh, al
    inc bx
    mov al, 0x50
    out 0x70, al
    mov al, bl
    out 0x71, al
    mov al, 0x51
    out 0x70, al
    mov al, bh
    out 0x71, al
    mov si, s_boot
    cmp bx, BOOTS
    jb .print
    mov si, s_done
.print:
    call puts
    mov ax, bx
    call putdec
    mov al, 10
    call putc
    cmp bx, BOOTS
    jae .exit
    jmp 0xF000:0xFFF0                   ; reboot through the BIOS
.exit:
    mov dx, 0x501
    xor al, al
    out dx, al
    hlt
    jmp .exit

putdec:
    mov cx, 0
    mov di, 10
.div:
    xor dx, dx
    div di
    push dx
    inc cx
    test ax, ax
    jnz .div
.out:
    pop ax
    add al, '0'
    call putc
    loop .out
    ret
puts:
    lodsb
    test al, al
    jz .done
    call putc
    jmp puts
.done:
    ret
putc:
    push dx
    mov dx, 0x402
    out dx, al
    pop dx
    ret

s_boot: db "boot ", 0
s_done: db "REBOOTS-OK ", 0
    times 510 - ($ - $$) db 0
    dw 0xAA55
    times 1024 * 1024 - ($ - $$) db 0
