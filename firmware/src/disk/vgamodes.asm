; vgamodes: a boot sector that draws in five video modes through the VGA
; BIOS (INT 10h), stopping after each through the debug-exit port so that
; the test (tests/test_vga_boot.py) can look at the screen and run on:
;   1. mode 13h (320x200, 256 colours, chain-4): DAC entries 1 and 2 set
;      to red and green through ports 3C8/3C9, the top 100 rows red, the
;      bottom 100 green; exit status 3
;   2. mode 12h (640x480, 16 colours, planar): write mode 2 with bit mask
;      F0, each byte of row 0 written with colour 12 (its left 4 pixels);
;      exit status 5
;   3. mode 4 (320x200, CGA 4 colours): row 0 starts with colours 0-3,
;      row 1 (at B800:2000) with 3-0; exit status 7
;   4. mode 6 (640x200, 2 colours): row 0 starts 10100101, row 1
;      00001111; exit status 9
;   5. VBE mode 140h (320x200, 32 bpp) with the linear framebuffer (4F02,
;      BX = 4140h), its address from 4F01's mode information; in 32-bit
;      protected mode the top 100 rows 00123456, the bottom 100 00ABCDEF;
;      exit status 1.  A VBE call that fails exits with status 0xFF.
; 1 MiB, as bootok.
bits 16
org 0x7C00
MODEINFO equ 0x8000
start:                          ; (on the BIOS's stack)
    xor ax, ax
    mov ds, ax

    mov ax, 0x0013
    int 0x10
    mov dx, 0x3C8
    mov al, 1
    out dx, al
    inc dx
    mov al, 63                  ; entry 1: red
    out dx, al
    xor al, al
    out dx, al
    out dx, al
    out dx, al                  ; entry 2: green
    mov al, 63
    out dx, al
    xor al, al
    out dx, al
    push 0xA000
    pop es
    xor di, di
    mov al, 1
    mov cx, 32000
    rep stosb
    mov al, 2
    mov cx, 32000
    rep stosb
    mov al, 1
    call stop

    mov ax, 0x0012
    int 0x10
    mov dx, 0x3CE
    mov ax, 0x0205              ; write mode 2
    out dx, ax
    mov ax, 0xF008              ; bit mask F0
    out dx, ax
    xor di, di
    mov cx, 80
.row:
    mov al, [es:di]             ; load the latches
    mov byte [es:di], 12
    inc di
    loop .row
    mov ax, 0x0005
    out dx, ax
    mov ax, 0xFF08
    out dx, ax
    mov al, 2
    call stop

    mov ax, 0x0004              ; CGA 320x200, 4 colours
    int 0x10
    push 0xB800
    pop es
    mov byte [es:0], 0x1B       ; row 0: colours 0 1 2 3
    mov byte [es:0x2000], 0xE4  ; row 1 (the odd rows' bank): 3 2 1 0
    mov al, 3
    call stop

    mov ax, 0x0006              ; CGA 640x200, 2 colours
    int 0x10
    mov byte [es:0], 0xA5       ; row 0: 1 0 1 0 0 1 0 1
    mov byte [es:0x2000], 0x0F  ; row 1: 0 0 0 0 1 1 1 1
    mov al, 4
    call stop

    push ds
    pop es
    mov di, MODEINFO
    mov ax, 0x4F01
    mov cx, 0x0140
    int 0x10
    cmp ax, 0x004F
    jne vbe_failed
    mov ax, 0x4F02
    mov bx, 0x4140
    int 0x10
    cmp ax, 0x004F
    jne vbe_failed
    cli
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm

vbe_failed:
    mov al, 0x7F
stop:                           ; exit status (al << 1) | 1, then go on
    mov dx, 0x501
    out dx, al
    ret

bits 32
pm:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov edi, [MODEINFO + 0x28]  ; PhysBasePtr
    mov eax, 0x00123456
    mov ecx, 320 * 100
    rep stosd
    mov eax, 0x00ABCDEF
    mov ecx, 320 * 100
    rep stosd
    mov dx, 0x501
    xor al, al
    out dx, al
.halt:
    hlt
    jmp .halt

align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF       ; 0x08: code, flat 4 GiB
    dq 0x00CF92000000FFFF       ; 0x10: data, flat 4 GiB
gdtr:
    dw gdtr - gdt - 1
    dd gdt

    times 510 - ($ - $$) db 0
    dw 0xAA55
    times 1024 * 1024 - ($ - $$) db 0
