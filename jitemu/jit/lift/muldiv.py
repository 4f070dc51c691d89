"""MUL IMUL (one, two and three operands) inline; DIV IDIV through a helper
because they fault (#DE)."""
from ..decode import Reg
from . import lifts

WIDE = {1: 2, 2: 4, 4: 8}


def _set_mul_flags(b, size, overflow):
    b.set_flag("cf", overflow)
    b.set_flag("of", overflow)


def _store_wide(b, size, prod):
    """Store a double-width product as AX, DX:AX or EDX:EAX."""
    w = WIDE[size]
    lo = b.trunc(prod, w, size)
    if size == 1:
        b.set_reg(Reg(0, 2), prod)
        return lo, b.trunc(b.bin("lshr", 2, prod, 8), 2, 1)
    hi = b.trunc(b.bin("lshr", w, prod, 8 * size), w, size)
    b.set_reg(Reg(0, size), lo)
    b.set_reg(Reg(2, size), hi)
    return lo, hi


@lifts("mul")
def lift_mul(b, insn):
    (src,) = insn.ops
    size, w = src.size, WIDE[src.size]
    prod = b.bin("mul", w, b.zext(b.get_reg(Reg(0, size)), size, w), b.zext(b.read(src), size, w))
    lo, hi = _store_wide(b, size, prod)
    _set_mul_flags(b, size, b.icmp("ne", size, hi, 0))
    b.set_szp(size, lo)  # undefined; QEMU's choice


@lifts("imul")
def lift_imul(b, insn):
    if len(insn.ops) == 1:
        (src,) = insn.ops
        size, w = src.size, WIDE[src.size]
        prod = b.bin("mul", w, b.sext(b.get_reg(Reg(0, size)), size, w), b.sext(b.read(src), size, w))
        lo, _ = _store_wide(b, size, prod)
    else:
        if len(insn.ops) == 2:
            dst, src = insn.ops
            x = b.get_reg(dst)
            y = b.read(src)
        else:
            dst, src, imm = insn.ops
            x = b.read(src)
            y = str(imm.value)
            if imm.size < dst.size and imm.value & (1 << (8 * imm.size - 1)):
                y = str((imm.value - (1 << (8 * imm.size))) & ((1 << (8 * dst.size)) - 1))
        size, w = dst.size, WIDE[dst.size]
        prod = b.bin("mul", w, b.sext(x, size, w), b.sext(y, size, w))
        lo = b.trunc(prod, w, size)
        b.set_reg(dst, lo)
    overflow = b.icmp("ne", w, b.sext(lo, size, w), prod)
    _set_mul_flags(b, size, overflow)
    b.set_szp(size, lo)


@lifts("div idiv")
def lift_div(b, insn):
    (src,) = insn.ops
    v = b.zext(b.read(src), src.size, 4)
    b.call_may_fault("i32", "helper_div", int(insn.name == "idiv"), src.size, v)
