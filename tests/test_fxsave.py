"""FXSAVE/FXRSTOR beyond what Unicorn judges (test_diff_fpu.py): the
pointers and FOP in the image, #GP(0) for an operand not 16-byte aligned,
#NM from CR0.TS or CR0.EM, CR4.OSFXSR (settable, and without SSE no MXCSR
or XMM bytes either way), the abridged tag byte, and FXRSTOR's pending
exception reaching FERR#."""
import struct

import pytest

from pmrom import TIERS, machine, pm_rom, real_rom, result

HOLE = 0x50000


def run(code, tier="baseline"):
    m = machine(real_rom(code), tier)
    assert m.run(max_instructions=20_000) == "halt"
    return m


@pytest.mark.parametrize("tier", TIERS)
def test_the_image_has_the_x87_state_and_leaves_the_sse_bytes_alone(tier):
    m = machine(real_rom("""
    mov eax, cr4
    or eax, 0x200               ; OSFXSR: settable, a CPU with FXSR
    mov cr4, eax
    fninit
    fld1
    fldz
    fmul st0, st1               ; FOP 0x0C9 (D8 C9), at this IP
    fxsave [0x1000]
    hlt
"""), tier)
    m.write_phys(0x1000, b"\xA5" * 512)
    assert m.run(max_instructions=20_000) == "halt"
    img = m.read_phys(0x1000, 512)
    cw, sw, tags, fop, fip, fcs = struct.unpack_from("<HHBxHIH", img)
    assert cw == 0x037F and (sw >> 11) & 7 == 6
    assert tags == 0b11000000        # physical registers 6 and 7 hold values
    assert fop == 0x0C9 and fcs == 0xF000 and fip != 0
    assert img[32:42] == bytes(10)   # ST0 = +0
    assert img[48:58] == struct.pack("<QH", 1 << 63, 0x3FFF)
    assert img[24:32] == b"\xA5" * 8 and img[160:] == b"\xA5" * 352  # no MXCSR, no XMM registers
    assert img[42:48] == b"\xA5" * 6  # the slots' reserved bytes


def test_fxrstor_takes_the_image_back():
    m = run("""
    fninit
    fldpi
    fld1
    fldcw [cs:cw]
    fxsave [0x1000]
    fninit
    fxrstor [0x1000]
    fnsave [0x1200]
    hlt
cw: dw 0x0F7F
""")
    cw, sw, tw = struct.unpack_from("<HHH", m.read_phys(0x1200, 6))
    assert cw == 0x0F7F and (sw >> 11) & 7 == 6 and tw == 0x0FFF  # two valid, six empty
    regs = m.read_phys(0x1200 + 14, 20)
    assert regs[:10] == struct.pack("<QH", 1 << 63, 0x3FFF)
    assert regs[10:] == struct.pack("<QH", 0xC90FDAA22168C235, 0x4000)


@pytest.mark.parametrize("op", ["fxsave", "fxrstor"])
def test_an_operand_not_16_byte_aligned_is_gp0(op):
    m = machine(pm_rom("""
    %s [0x2008]
    hlt
""" % op))
    m.run(max_instructions=50_000)
    r = result(m)
    assert r["vector"] == 13 and r["code"] == 0 and r["eip"] == r["mark"]


@pytest.mark.parametrize("bit", [8, 4])  # TS, EM
@pytest.mark.parametrize("op", ["fxsave", "fxrstor"])
def test_cr0_ts_or_em_is_nm(op, bit):
    m = run("""
    mov eax, cr0
    or eax, %d
    mov cr0, eax
    %s [0x1000]
    hlt
""" % (bit, op))
    assert result(m)["vector"] == 7


def test_a_page_fault_on_the_operand_leaves_the_fpu_unchanged():
    # The image's last 256 bytes lie on a page that is not present.
    m = machine(pm_rom("""
    fninit
    fld1
    fxrstor [0x%X]
    hlt
""" % (HOLE - 256), unmapped=[HOLE]))
    m.run(max_instructions=50_000)
    r = result(m)
    assert r["vector"] == 14 and r["cr2"] >= HOLE
    assert m.s.fpu_top == 7 and m.s.fpu_tag == 0x3FFF  # still one value on the stack


def test_fxrstor_of_an_unmasked_exception_asserts_ferr():
    calls = []
    m = machine(real_rom("""
    mov di, 0x1000
    mov cx, 512
    xor al, al
    rep stosb
    mov word [0x1000], 0x037B   ; ZE unmasked
    mov word [0x1002], 0x0004   ; ZE pending
    fxrstor [0x1000]
    hlt
"""))
    m.on_ferr = lambda: calls.append(1)
    assert m.run(max_instructions=20_000) == "halt"
    assert calls == [1] and m.s.fpu_sw & 0x80
