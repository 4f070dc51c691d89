; marker: a 512-byte option ROM (tests/test_vga_boot.py) with a PnP header
; and neither a boot nor a BCV entry, so SeaBIOS runs its init entry once,
; when it scans option ROMs; the init entry prints OPTION-ROM-INIT-OK on
; the debug console (port 0x402) and returns.  firmware/build.py sets the
; last byte so that the ROM's bytes sum to 0.
bits 16
org 0
    db 0x55, 0xAA               ; signature
    db 1                        ; length in 512-byte blocks
    jmp init                    ; the init entry (offset 3)
    times 0x1A - ($ - $$) db 0
    dw pnp                      ; (0x18, the PCI data offset, is 0: none)

align 16
pnp:
    db "$PnP", 1, 2             ; signature, revision, length in 16-byte units
    dw 0                        ; no next header
    db 0
    db -(0x24 + 0x50 + 0x6E + 0x50 + 1 + 2)  ; the header's checksum
    times 32 - ($ - pnp) db 0   ; no IDs, names, BCV, BEV

init:
    pusha
    mov si, msg
    call puts
    popa
    retf
msg: db "OPTION-ROM-INIT-OK", 10, 0

%include "console16.inc"
    times 511 - ($ - $$) db 0
    db 0                        ; the checksum byte
