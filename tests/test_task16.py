"""A task switch to a 16-bit TSS (type 1, the 286 format): the TSS holds
the general registers' low words only, and the SDM says the upper halves
"are modified and not maintained" (vol. 3, 7.6, "16-Bit Task-State
Segment").  jitemu sets them to FFFFh, as a 386 does and Bochs emulates
(runtime/protected.c, task_switch).  Not against Unicorn: QEMU keeps the
upper halves, which that sentence rules out."""
import struct

from pmrom import machine, pm_rom, result

TSS32, TSS16 = 0x40000, 0x40100
LOW = (0x1111, 0x2222, 0x3333, 0x4444, 0x6000, 0x6666, 0x7777, 0x8888)  # AX CX DX BX SP BP SI DI
SAVED = 0x710

GDT = """
    dq 0x00409B0F0000FFFF       ; 0x20 code, 32-bit, base F0000, limit FFFF
    dq 0x0000890400000067       ; 0x28 32-bit TSS at 40000 (the first task)
    dq 0x000081040100002B       ; 0x30 16-bit TSS at 40100
"""

SETUP = """
    mov ax, 0x28
    ltr ax
    mov edi, 0x%X
    xor eax, eax
    mov ecx, 11
    rep stosd
    mov word [0x%X + 0x0E], task16          ; IP (in the 0x20 segment)
    mov word [0x%X + 0x10], 0x0002          ; FLAGS
%s
    mov word [0x%X + 0x22], 0x10            ; ES
    mov word [0x%X + 0x24], 0x20            ; CS
    mov word [0x%X + 0x26], 0x10            ; SS
    mov word [0x%X + 0x28], 0x10            ; DS
    mov eax, 0xA5A50000                     ; upper halves that are not FFFF
    mov ecx, 0xA5A50001
    mov edx, 0xA5A50002
    mov ebx, 0xA5A50003
    mov ebp, 0xA5A50005
    mov esi, 0xA5A50006
    mov edi, 0xA5A50007
""" % ((TSS16,) * 3 + ("\n".join("    mov word [0x%X + 0x%X], 0x%X" % (TSS16, 0x12 + 2 * i, v)
                                  for i, v in enumerate(LOW)),) + (TSS16,) * 4)

TASK16 = """
bits 32
task16:
    mov [0x%X], eax
    mov [0x%X + 4], ecx
    mov [0x%X + 8], edx
    mov [0x%X + 12], ebx
    mov [0x%X + 16], esp
    mov [0x%X + 20], ebp
    mov [0x%X + 24], esi
    mov [0x%X + 28], edi
    mov ax, cs
    mov [0x%X + 32], ax
    cli
    hlt
""" % ((SAVED,) * 9)


def test_a_task_switch_to_a_16_bit_tss_sets_the_upper_halves_to_ffff():
    m = machine(pm_rom("jmp 0x30:0", setup=SETUP, gdt=GDT, extra=TASK16))
    assert m.run(max_instructions=100_000) == "halt"
    assert result(m)["count"] == 0  # no exception on the way
    regs = struct.unpack("<8IH", m.read_phys(SAVED, 34))
    assert regs[8] == 0x20          # the new task runs
    assert list(regs[:8]) == [0xFFFF0000 | v for v in LOW]
