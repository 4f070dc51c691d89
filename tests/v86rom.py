"""Small ROMs that run a piece of code in virtual-8086 mode under a tiny
ring-0 monitor, for tests/test_v86_*.py.

The monitor enters 32-bit protected mode, fills the IDT (vector v -> a
stub at ROM + STUBS + 10 v, 32-bit interrupt gates, DPL 3 so INT n from
the 8086 code reaches them), loads TR with a 32-bit TSS (ring-0 stack
0010:7000, an I/O bitmap allowing every port but DENIED), and IRETDs to
the 8086 code at F000:v86 with IOPL and the segments the test gives.  The
first exception or interrupt ends the run: its stub records, at RESULT
(dwords), the vector, the error code (NO_CODE when none), the handler's ESP,
the count of entries, the data segment selectors the handler found
(DS ES FS GS), its CS and EFLAGS, and the nine dwords of the frame from the
saved EIP up (EIP CS EFLAGS ESP SS ES DS FS GS); then it halts.  The 8086
code usually ends with HLT, which is #GP(0) at CPL 3.
"""
import struct

from pmrom import machine  # noqa: F401  (the tests build their machines with it)
from romutil import assemble

RESULT = 0x600
NO_CODE = 0xFFFFFFFF
DENIED = (0x80, 0x3F8, 0x402 + 0x100)   # ports the I/O bitmap refuses
FIELDS = ("vector", "code", "esp", "count", "ds", "es", "fs", "gs", "cs", "eflags", "cr2")
FRAME = ("eip", "cs", "eflags", "esp", "ss", "es", "ds", "fs", "gs")
VM, IF, IOPL3 = 0x20000, 0x200, 0x3000

_SRC = r"""
bits 16
org 0
%include "pm32.inc"
RESULT equ 0x600
R_VEC equ RESULT
R_ERR equ RESULT + 4
R_ESP equ RESULT + 8
R_COUNT equ RESULT + 12
R_SEGS equ RESULT + 16
R_CS equ RESULT + 32
R_FL equ RESULT + 36
R_CR2 equ RESULT + 40
R_FRAME equ RESULT + 44
ROM equ 0xF0000
STUBS equ 0x8000
IDT equ 0x30000
TSS equ 0x31000
PD equ 0x20000
PT equ 0x21000
start:
    enter_pm gdtr_rom, 0, pm32
bits 32
pm32:
    flat_data 0x7000
    gdt_in_ram gdt, gdt_end, 0x1000, gdtr_ram
    idt_stubs IDT, stubs, 0xEE00    ; DPL 3: INT n from the 8086 code reaches them
    lidt [ROM + idtr]
    mov edi, TSS                ; the TSS: zero, then SS0:ESP0, the bitmap offset
    xor eax, eax
    mov ecx, (0x68 + 0x2000 + 4) / 4
    rep stosd
    mov dword [TSS + 4], 0x7000
    mov dword [TSS + 8], 0x10
    mov word [TSS + 0x66], 0x68
%assign i 0
%rep @NDENIED@
    mov eax, denied_%[i]
    bts [TSS + 0x68], eax
%assign i i + 1
%endrep
    mov byte [TSS + 0x68 + 0x2000], 0xFF
    mov ax, 0x18
    ltr ax
    xor eax, eax
    mov edi, RESULT
    mov ecx, 20
    rep stosd
@SETUP@
    push dword @GS@
    push dword @FS@
    push dword @DS@
    push dword @ES@
    push dword @SS@
    push dword @SP@
    push dword @EFLAGS@
    push dword 0xF000
    push dword v86
    iretd

record:                         ; [esp]: vector, (error code), the frame
    mov [ss:R_SEGS], ds
    mov [ss:R_SEGS + 4], es
    mov [ss:R_SEGS + 8], fs
    mov [ss:R_SEGS + 12], gs
    mov [ss:R_CS], cs
    push eax
    pushfd
    pop eax
    mov [ss:R_FL], eax
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    pop eax
    pop dword [R_VEC]
    mov dword [R_ERR], 0xFFFFFFFF
    cmp dword [R_VEC], 8
    je .code
    cmp dword [R_VEC], 17
    je .code
    cmp dword [R_VEC], 10
    jb .nocode
    cmp dword [R_VEC], 14
    ja .nocode
.code:
    pop dword [R_ERR]
.nocode:
    mov [R_ESP], esp
    mov esi, esp
    mov edi, R_FRAME
    mov ecx, 9
    rep movsd
    mov eax, cr2
    mov [R_CR2], eax
    inc dword [R_COUNT]
    cli
    hlt
@EXTRA32@
bits 16
v86:
@CODE@
    hlt
@EXTRA16@
    times STUBS-($-$$) db 0xF4
bits 32
stubs:
    vector_stubs record
align 8
gdt:
    gdt_flat_tss TSS, 0x68 + 0x2000   ; 0x08 code, 0x10 data, 0x18 the TSS with its I/O bitmap
    dq 0x00CF9F000000FFFF       ; 0x20 code, conforming, ring 0
    dq 0x00CFDB000000FFFF       ; 0x28 code, ring 2
@GDT@
gdt_end:
    gdt_pointers 0x1000
idtr:
    dw 0x7FF
    dd IDT
bits 16
    times 0xFFE0-($-$$) db 0xF4
    dw here
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
"""


def v86_rom(code, eflags=VM | 0x2, ss=0x2000, sp=0xFFF0, ds=0x1000, es=0x3000, fs=0x4000, gs=0x5000,
            setup="", extra16="", extra32="", gdt="", denied=DENIED):
    """The ROM: `setup` runs at ring 0 before the IRETD to `code` (16-bit,
    at F000:v86); `extra16`/`extra32` are placed after it; `gdt` adds
    descriptors from selector 30h on."""
    if "here:" not in code:
        code = "here:\n" + code
    src = _SRC
    for k, v in (("@NDENIED@", str(len(denied))), ("@SETUP@", setup), ("@CODE@", code),
                 ("@EXTRA16@", extra16), ("@EXTRA32@", extra32), ("@GDT@", gdt),
                 ("@EFLAGS@", "0x%X" % eflags), ("@SS@", "0x%X" % ss), ("@SP@", "0x%X" % sp),
                 ("@DS@", "0x%X" % ds), ("@ES@", "0x%X" % es), ("@FS@", "0x%X" % fs), ("@GS@", "0x%X" % gs)):
        src = src.replace(k, v)
    src = "".join("denied_%d equ 0x%X\n" % (i, p) for i, p in enumerate(denied)) + src
    return assemble(src)


def result(m):
    vals = struct.unpack("<11I", m.read_phys(RESULT, 44))
    r = dict(zip(FIELDS, vals))
    r["frame"] = dict(zip(FRAME, struct.unpack("<9I", m.read_phys(RESULT + 44, 36))))
    return r


def here(image):
    """The offset (IP in F000) of the code's `here:` label (its start when
    the code has none)."""
    return struct.unpack_from("<H", image, 0xFFE0)[0]
