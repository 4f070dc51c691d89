"""BT BTS BTR BTC BSF BSR SETcc, and the condition codes Jcc shares."""
from ..decode import Imm, Mem
from . import lifts


CONDITIONS = {  # cc -> (test, negated)
    "o": ("o", False), "no": ("o", True), "b": ("b", False), "ae": ("b", True),
    "e": ("e", False), "ne": ("e", True), "be": ("be", False), "a": ("be", True),
    "s": ("s", False), "ns": ("s", True), "p": ("p", False), "np": ("p", True),
    "l": ("l", False), "ge": ("l", True), "le": ("le", False), "g": ("le", True),
}


def condition(b, cc):
    """The i1 value of condition code `cc` (o, no, b, ae, e, ne, ...)."""
    test, negated = CONDITIONS[cc]
    f = b.get_flag
    if test == "o":
        v = f("of")
    elif test == "b":
        v = f("cf")
    elif test == "e":
        v = f("zf")
    elif test == "be":
        v = b.bor(f("cf"), f("zf"))
    elif test == "s":
        v = f("sf")
    elif test == "p":
        v = f("pf")
    elif test == "l":
        v = b.bxor(f("sf"), f("of"))
    else:
        v = b.bor(f("zf"), b.bxor(f("sf"), f("of")))
    return b.bnot(v) if negated else v


@lifts(*("set" + c for c in CONDITIONS))
def lift_setcc(b, insn):
    (dst,) = insn.ops
    v = b.op("zext i1 %s to i8" % condition(b, insn.name[3:]))
    b.write(dst, v)


@lifts("bt bts btr btc")
def lift_bt(b, insn):
    dst, src = insn.ops
    size = dst.size
    bits = 8 * size
    lin = None
    if isinstance(src, Imm):
        off = b.bin("and", size, b.zext(b.read(src), src.size, size), bits - 1)
        if isinstance(dst, Mem):
            lin = b.address(dst)
    else:
        o = b.read(src)
        off = b.bin("and", size, o, bits - 1)
        if isinstance(dst, Mem):
            # A register bit offset addresses memory beyond the operand:
            # signed offset / operand bits * operand bytes.
            words = b.bin("ashr", size, o, {2: 4, 4: 5}[size])
            delta = b.bin("mul", 4, b.sext(words, size, 4), size)
            ea = b.bin("add", 4, b.ea(dst), delta)
            if dst.addr_size == 2:
                ea = b.bin("and", 4, ea, 0xFFFF)
            lin = b.linear(dst.seg, ea)
    x = b.read(dst, lin)
    maskv = b.bin("shl", size, 1, off)
    b.set_flag("cf", b.icmp("ne", size, b.bin("and", size, x, maskv), 0))
    if insn.name != "bt":
        if insn.name == "bts":
            r = b.bin("or", size, x, maskv)
        elif insn.name == "btr":
            r = b.bin("and", size, x, b.bin("xor", size, maskv, -1))
        else:
            r = b.bin("xor", size, x, maskv)
        b.write(dst, r, lin)


@lifts("bsf bsr")
def lift_bsf(b, insn):
    dst, src = insn.ops
    size = dst.size
    it = "i%d" % (8 * size)
    x = b.read(src)
    zero = b.icmp("eq", size, x, 0)
    b.set_flag("zf", zero)
    if insn.name == "bsf":
        idx = b.op("call %s @llvm.cttz.%s(%s %s, i1 false)" % (it, it, it, x))
    else:
        lz = b.op("call %s @llvm.ctlz.%s(%s %s, i1 false)" % (it, it, it, x))
        idx = b.bin("sub", size, 8 * size - 1, lz)
    # Source zero: the destination is left unchanged (as Intel and QEMU do).
    b.set_reg(dst, b.select(zero, size, b.get_reg(dst), idx))
    for f in ("cf", "of", "sf", "af", "pf"):
        b.set_flag(f, "false")
