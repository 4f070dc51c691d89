"""x87 behaviour the Unicorn comparison (test_diff_fpu.py) cannot judge:
exception flags and C1, #MF at the next waiting instruction (CR0.NE=1),
FERR# (CR0.NE=0) to the PC's IRQ13 and port F0, FPREM against an exact
reference, and reserved encodings raising #UD (logged)."""
import struct
from fractions import Fraction

import pytest

from jitemu.pc import build_pc
from pmrom import TIERS, machine, real_rom, result

BIAS = 16383


def run(code, tier="baseline"):
    m = machine(real_rom(code), tier)
    assert m.run(max_instructions=20_000) == "halt"
    return m


def f80_value(b):
    m, se = struct.unpack("<QH", b)
    e = se & 0x7FFF
    v = Fraction(m, 1 << 63) * Fraction(2) ** (max(e, 1) - BIAS)
    return -v if se & 0x8000 else v


@pytest.mark.parametrize("tier", TIERS)
def test_unmasked_zero_divide_raises_mf_at_the_next_waiting_instruction(tier):
    m = run("""
    mov eax, cr0
    or eax, 0x20                ; NE: #MF, not FERR#
    mov cr0, eax
    fninit
    fldcw [cs:cw]
    fld1
    fldz
    fdivp st1, st0              ; ZE unmasked: ES set, nothing raised yet
    fnstsw [0x700]
    mov word [0x702], 1
mf: fwait
    mov word [0x702], 2
    hlt
cw: dw 0x037B
""", tier)
    r = result(m)
    assert r["vector"] == 16
    sw, = struct.unpack("<H", m.read_phys(0x700, 2))
    assert sw & 0x84 == 0x84  # ES and ZE
    assert m.read_phys(0x702, 2) == b"\x01\x00"  # the FWAIT faulted, before its next instruction


def test_ferr_without_ne_calls_the_board_and_port_f0_clears_it():
    calls = []
    m = machine(real_rom("""
    fninit
    fldcw [cs:cw]
    fld1
    fldz
    fdivp st1, st0
    fwait                       ; NE=0: no #MF
    mov word [0x702], 2
    hlt
cw: dw 0x037B
"""))
    m.on_ferr = lambda: calls.append(1)
    assert m.run(max_instructions=20_000) == "halt"
    assert calls == [1] and m.s.fpu_ferr == 1
    assert m.read_phys(0x702, 2) == b"\x02\x00"
    pc = build_pc()
    pc.machine.on_ferr()
    assert pc.pic.lines & (1 << 13)
    pc.machine.ports.write(0xF0, 0, 1)
    assert not pc.pic.lines & (1 << 13) and pc.machine.s.fpu_ferr == 0


def test_masked_flags_and_c1():
    m = run("""
    fninit
    fld1
    fild word [cs:three]
    fdivp st1, st0              ; 1/3 rounded to nearest: up (...AAAB), PE, C1 = 1
    fnstsw [0x700]
    fstp tword [0x710]
    fldcw [cs:up]
    fld1
    fild word [cs:three]
    fdivp st1, st0              ; toward zero: PE, C1 = 0
    fnstsw [0x704]
    fld tword [cs:big]
    fmul st0, st0               ; overflow, masked, toward zero: the largest finite, OE PE
    fnstsw [0x708]
    fstp tword [0x720]
    hlt
three: dw 3
up: dw 0x0F7F
big: dq 0x8000000000000000
    dw 0x7FF0
""")
    sw1, sw2, sw3 = struct.unpack("<HxxHxxH", m.read_phys(0x700, 10))
    assert sw1 & 0x23F == 0x220
    assert sw2 & 0x23F == 0x20
    assert sw3 & 0x3F == 0x28
    third = f80_value(m.read_phys(0x710, 10))
    assert abs(third - Fraction(1, 3)) < Fraction(1, 2 ** 65)
    assert m.read_phys(0x720, 10) == struct.pack("<QH", (1 << 64) - 1, 0x7FFE)


@pytest.mark.parametrize("a,b", [(Fraction(1234567, 8), Fraction(3, 4)), (Fraction(10 ** 18 + 7), Fraction(7, 3)),
                                 (Fraction(-22, 7), Fraction(1, 3))])
def test_fprem_and_fprem1_are_exact(a, b):
    def f80(x):
        s = x < 0
        x = abs(x)
        e = 0
        while x >= 2:
            x /= 2
            e += 1
        while x < 1:
            x *= 2
            e -= 1
        return struct.pack("<QH", round(x * (1 << 63)), (s << 15) | (BIAS + e))
    m = machine(real_rom("""
    fninit
    fld tword [0x7A0]
    fld tword [0x7B0]
    fprem
    fstp tword [0x700]
    fninit
    fld tword [0x7A0]
    fld tword [0x7B0]
    fprem1
    fstp tword [0x710]
    hlt
"""))
    m.write_phys(0x7A0, f80(b))
    m.write_phys(0x7B0, f80(a))
    bv, av = f80_value(f80(b)), f80_value(f80(a))
    assert m.run(max_instructions=20_000) == "halt"
    q = abs(av / bv).__floor__() * (1 if av * bv > 0 else -1)
    assert f80_value(m.read_phys(0x700, 10)) == av - q * bv
    q1 = round(av / bv)
    assert f80_value(m.read_phys(0x710, 10)) == av - q1 * bv


def test_a_reserved_or_missing_x87_opcode_raises_ud_and_is_logged():
    m = run("""
    fninit
    db 0xD9, 0xD1               ; reserved (D9 D0 is FNOP)
    hlt
""")
    assert result(m)["vector"] == 6
    assert m.ud_log
