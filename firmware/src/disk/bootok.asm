; bootok: a raw hard-disk image whose boot sector prints BOOT-SECTOR-OK on
; the debug console (port 0x402) and ends the run through the debug-exit
; port 0x501 (exit status (0 << 1) | 1 = 1), so a `jitemu boot` run ends by
; itself.  1 MiB: 2048 sectors, enough for any BIOS's disk geometry.
bits 16
org 0x7C00
start:
    cli
    xor ax, ax
    mov ds, ax
    mov si, msg
    mov dx, 0x402
.next:
    lodsb
    test al, al
    jz .done
    out dx, al
    jmp .next
.done:
    mov dx, 0x501
    xor al, al
    out dx, al                  ; debug exit
    hlt
    jmp .done
msg: db "BOOT-SECTOR-OK", 10, 0
    times 510 - ($ - $$) db 0
    dw 0xAA55
    times 1024 * 1024 - ($ - $$) db 0
