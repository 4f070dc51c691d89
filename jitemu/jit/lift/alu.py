"""ADD ADC SUB SBB CMP AND OR XOR TEST INC DEC NEG NOT, with exact flags."""
from ..decode import Mem
from . import lifts


def arith(b, kind, size, x, y, carry_in=None):
    """x (op) y at `size` bytes; sets all six flags; returns the result.
    OF and AF are left as words their bits are read from (block.py's
    witnesses): a loop that never reads them pays an XOR, not a test."""
    if kind == "add":
        r = b.bin("add", size, x, y)
        if carry_in is not None:
            c = b.op("zext i1 %s to %s" % (carry_in, "i%d" % (8 * size)))
            r = b.bin("add", size, r, c)
            cf = b.select(carry_in, 0, b.icmp("ule", size, r, x), b.icmp("ult", size, r, x))
        else:
            cf = b.icmp("ult", size, r, x)
    else:  # sub
        r = b.bin("sub", size, x, y)
        if carry_in is not None:
            c = b.op("zext i1 %s to %s" % (carry_in, "i%d" % (8 * size)))
            r = b.bin("sub", size, r, c)
            cf = b.select(carry_in, 0, b.icmp("ule", size, x, y), b.icmp("ult", size, x, y))
        else:
            cf = b.icmp("ult", size, x, y)
    b.set_flag("cf", cf)
    b.set_of_msb(size, _overflow_bits(b, kind, size, x, y, r, carry_in))
    if _constant(y) and not int(y) & 16:  # (INC, DEC, most immediates)
        b.set_af_bit4(size, b.bin("xor", size, x, r))
    else:
        b.set_af_bit4(size, b.bin("xor", size, b.bin("xor", size, x, y), r))
    b.set_szp(size, r)
    return r


def _constant(y):
    return y.lstrip("-").isdigit()


def _overflow_bits(b, kind, size, x, y, r, carry_in):
    """A word whose top bit is OF.  With a constant y (INC, DEC, CMP with
    an immediate) the sign of y says which way the sign of x can flip:
    one AND-NOT."""
    if carry_in is None and _constant(y):
        negative = int(y) & (1 << (8 * size - 1))
        if (kind == "add") == (not negative):  # the sign can only go from + to -
            return b.bin("and", size, r, b.bin("xor", size, x, -1))
        return b.bin("and", size, x, b.bin("xor", size, r, -1))
    if kind == "add":
        return b.bin("and", size, b.bin("xor", size, x, r), b.bin("xor", size, y, r))
    return b.bin("and", size, b.bin("xor", size, x, y), b.bin("xor", size, x, r))


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
