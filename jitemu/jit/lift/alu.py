"""ADD ADC SUB SBB CMP AND OR XOR TEST INC DEC NEG NOT, with exact flags."""
from ..decode import Mem
from . import lifts


def arith(b, kind, size, x, y, carry_in=None):
    """x (op) y at `size` bytes; sets all six flags; returns the result."""
    if kind == "add":
        r = b.bin("add", size, x, y)
        if carry_in is not None:
            c = b.op("zext i1 %s to %s" % (carry_in, "i%d" % (8 * size)))
            r = b.bin("add", size, r, c)
            cf = b.select(carry_in, 0, b.icmp("ule", size, r, x), b.icmp("ult", size, r, x))
        else:
            cf = b.icmp("ult", size, r, x)
        of_bits = b.bin("and", size, b.bin("xor", size, x, r), b.bin("xor", size, y, r))
    else:  # sub
        r = b.bin("sub", size, x, y)
        if carry_in is not None:
            c = b.op("zext i1 %s to %s" % (carry_in, "i%d" % (8 * size)))
            r = b.bin("sub", size, r, c)
            cf = b.select(carry_in, 0, b.icmp("ule", size, x, y), b.icmp("ult", size, x, y))
        else:
            cf = b.icmp("ult", size, x, y)
        of_bits = b.bin("and", size, b.bin("xor", size, x, y), b.bin("xor", size, x, r))
    b.set_flag("cf", cf)
    b.set_flag("of", b.msb(of_bits, size))
    b.set_flag("af", b.bit(b.bin("xor", size, b.bin("xor", size, x, y), r), size, 4))
    b.set_szp(size, r)
    return r


def logic_flags(b, size, r):
    b.set_flag("cf", "false")
    b.set_flag("of", "false")
    b.set_flag("af", "false")
    b.set_szp(size, r)


def _operands(b, insn):
    dst, src = insn.ops
    lin = b.address(dst) if isinstance(dst, Mem) else None
    x = b.read(dst, lin)
    y = b.read(src)
    if src.size < dst.size:  # sign-extended imm8 already masked to its size
        y = str(_sext_imm(int(y), src.size, dst.size))
    return dst, lin, x, y


def _sext_imm(v, frm, to):
    if v & (1 << (8 * frm - 1)):
        v -= 1 << (8 * frm)
    return v & ((1 << (8 * to)) - 1)


@lifts("add adc sub sbb cmp")
def lift_arith(b, insn):
    dst, lin, x, y = _operands(b, insn)
    kind = "add" if insn.name in ("add", "adc") else "sub"
    carry = b.get_flag("cf") if insn.name in ("adc", "sbb") else None
    r = arith(b, kind, dst.size, x, y, carry)
    if insn.name != "cmp":
        b.write(dst, r, lin)


@lifts("and or xor test")
def lift_logic(b, insn):
    dst, lin, x, y = _operands(b, insn)
    r = b.bin("and" if insn.name == "test" else insn.name, dst.size, x, y)
    logic_flags(b, dst.size, r)
    if insn.name != "test":
        b.write(dst, r, lin)


@lifts("inc dec")
def lift_incdec(b, insn):
    (dst,) = insn.ops
    lin = b.address(dst) if isinstance(dst, Mem) else None
    x = b.read(dst, lin)
    cf = b.get_flag("cf")
    r = arith(b, "add" if insn.name == "inc" else "sub", dst.size, x, "1")
    b.set_flag("cf", cf)  # INC and DEC leave CF alone
    b.write(dst, r, lin)


@lifts("neg")
def lift_neg(b, insn):
    (dst,) = insn.ops
    lin = b.address(dst) if isinstance(dst, Mem) else None
    x = b.read(dst, lin)
    r = arith(b, "sub", dst.size, "0", x)
    b.write(dst, r, lin)


@lifts("not")
def lift_not(b, insn):
    (dst,) = insn.ops
    lin = b.address(dst) if isinstance(dst, Mem) else None
    b.write(dst, b.bin("xor", dst.size, b.read(dst, lin), -1), lin)
