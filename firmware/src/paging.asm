; paging: 32-bit protected mode with paging, from reset.  Prints to 0x402:
;   E  - paging enabled (identity-mapped 4 MiB of 4 KiB pages, CR0.PG=1)
;   A  - a write through linear 0x00400000 (mapped to physical 0x00200000)
;        lands in physical memory, and sets the PTE's accessed and dirty bits
;   F  - a read of the not-present page 0x00800000 raises #PF with CR2 =
;        0x00800123 and error code 0 (not present, read, supervisor); the
;        handler maps the page and the read restarts and succeeds
;   W  - with CR0.WP=1 a supervisor write to a read-only page raises #PF
;        with error code 3 (present, write); the handler makes it writable
;   B  - a 4 MiB PSE page (CR4.PSE) maps linear 0x00C00000 to physical 0
;   I  - INVLPG makes a changed PTE visible
;   S  - code rewritten through a second mapping of its page runs new bytes
; oracle: jitemu-only (the Unicorn runner delivers real-mode interrupts only)
bits 16
org 0
%include "pm32.inc"
PD      equ 0x10000         ; page directory
PT0     equ 0x11000         ; page table for 0-4 MiB
PT1     equ 0x12000         ; page table for 4-8 MiB
PT2     equ 0x13000         ; page table for 8-12 MiB
ROMBASE equ 0xF0000
start:
    enter_pm gdtr, idtr, pm32
bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x9000
    ; page directory: PT0, PT1, PT2 present+writable
    mov edi, PD
    xor eax, eax
    mov ecx, 3072
    rep stosd                       ; clear PD, PT0, PT1
    mov dword [PD + 0], PT0 | 3
    mov dword [PD + 4], PT1 | 3
    mov dword [PD + 8], PT2 | 3
    ; PT0: identity map 0-4 MiB
    mov edi, PT0
    mov eax, 3
    mov ecx, 1024
.fill:
    stosd
    add eax, 0x1000
    loop .fill
    ; PT1: linear 0x400000 -> physical 0x200000
    mov dword [PT1], 0x200000 | 3
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp .paged
.paged:
    putc 'E'
    ; --- A: write through a remapped page
    mov dword [0x400010], 0xCAFEF00D
    cmp dword [0x200010], 0xCAFEF00D
    jne .no_a
    mov eax, [PT1]
    and eax, 0x60
    cmp eax, 0x60                   ; accessed and dirty
    jne .no_a
    putc 'A'
.no_a:
    ; --- F: not-present page, mapped by the #PF handler
    mov dword [0x300123], 0x5EED     ; physical 0x300123 (identity mapped)
    mov dword [pf_count], 0
    mov eax, [0x800123]              ; PT2 is empty -> #PF
    cmp eax, 0x5EED
    jne .no_f
    cmp dword [pf_cr2], 0x800123
    jne .no_f
    cmp dword [pf_err], 0
    jne .no_f
    cmp dword [pf_count], 1
    jne .no_f
    putc 'F'
.no_f:
    ; --- W: write-protect in supervisor mode
    mov eax, cr0
    or eax, 0x10000                  ; WP
    mov cr0, eax
    mov dword [PT1 + 4], 0x201000 | 1  ; 0x401000 read-only
    invlpg [0x401000]
    mov dword [pf_count], 0
    mov dword [0x401000], 0x77       ; #PF, handler sets R/W and returns
    cmp dword [pf_err], 3
    jne .no_w
    cmp dword [pf_cr2], 0x401000
    jne .no_w
    cmp dword [0x201000], 0x77
    jne .no_w
    putc 'W'
.no_w:
    ; --- B: 4 MiB page
    mov eax, cr4
    or eax, 0x10                     ; PSE
    mov cr4, eax
    mov dword [PD + 12], 0x00000083  ; 0xC00000 -> 0, 4 MiB, writable
    mov eax, cr3
    mov cr3, eax
    mov eax, [0xC00000 + 0x200010]
    cmp eax, 0xCAFEF00D
    jne .no_b
    putc 'B'
.no_b:
    ; --- I: INVLPG
    mov eax, [0x400010]              ; cached translation -> 0x200010
    mov dword [PT1], 0x300000 | 3    ; now -> 0x300000
    mov dword [0x300010], 0x1234
    invlpg [0x400000]
    cmp dword [0x400010], 0x1234
    jne .no_i
    putc 'I'
.no_i:
    ; --- S: self-modifying code through an alias mapping
    ; copy a tiny routine to 0x250000, map linear 0x402000 -> 0x250000,
    ; run it at 0x250000, patch it through 0x402000, run it again.
    mov esi, ROMBASE + smc_routine
    mov edi, 0x250000
    mov ecx, smc_end - smc_routine
    rep movsb
    mov dword [PT1 + 8], 0x250000 | 3
    invlpg [0x402000]
    mov eax, 0x250000
    call eax
    mov ebx, eax                      ; 1
    mov byte [0x402001], 2            ; patch the immediate through the alias
    mov eax, 0x250000
    call eax
    cmp ebx, 1
    jne .no_s
    cmp eax, 2
    jne .no_s
    putc 'S'
.no_s:
    putc 10
    cli
    hlt

smc_routine:
    mov eax, 1
    ret
smc_end:

pf_handler:
    push eax
    push ebx
    mov eax, [esp + 8]               ; error code
    mov [pf_err], eax
    mov eax, cr2
    mov [pf_cr2], eax
    inc dword [pf_count]
    cmp dword [pf_count], 2
    jae .give_up                     ; never loop forever
    test dword [pf_err], 1
    jnz .make_writable
    ; not present: map 0x800000 -> 0x300000
    mov dword [PT2], 0x300000 | 3
    jmp .done
.make_writable:
    or dword [PT1 + 4], 2
.done:
    invlpg [eax]
    pop ebx
    pop eax
    add esp, 4                       ; drop the error code
    iretd
.give_up:
    putc '!'
    cli
    hlt

pf_err   equ 0x8000
pf_cr2   equ 0x8004
pf_count equ 0x8008

align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF   ; 0x08 code32 flat
    dq 0x00CF93000000FFFF   ; 0x10 data32 flat
gdtr:
    dw 23
    dd ROMBASE + gdt
idt:
%rep 14
    dq 0
%endrep
    dw (pf_handler - $$) & 0xFFFF
    dw 0x08
    dw 0x8E00
    dw 0x000F
idtr:
    dw 15*8-1
    dd ROMBASE + idt
bits 16
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
