"""SHL SHR SAR ROL ROR inline; RCL RCR SHLD SHRD through helpers."""
from ..decode import Imm, Mem
from . import lifts

IT = {1: "i8", 2: "i16", 4: "i32"}


def _count(b, src):
    """Shift count masked to 5 bits, as i32."""
    c = b.zext(b.read(src), src.size, 4) if not isinstance(src, Imm) else str(src.value)
    return b.bin("and", 4, c, 31)


def _keep_if_zero(b, zero, name, new):
    b.set_flag(name, b.select(zero, 0, b.get_flag(name), new))


@lifts("shl sal shr sar rol ror")
def lift_shift(b, insn):
    dst, src = insn.ops
    size = dst.size
    bits = 8 * size
    lin = b.address(dst) if isinstance(dst, Mem) else None
    x = b.read(dst, lin)
    c = _count(b, src)
    zero = b.icmp("eq", 4, c, 0)
    c64 = b.zext(c, 4, 8)
    name = "shl" if insn.name == "sal" else insn.name
    if name in ("shl", "shr", "sar"):
        cm1 = b.bin("sub", 8, c64, 1)
        if name == "shl":
            wide = b.bin("shl", 8, b.zext(x, size, 8), c64)
            r = b.trunc(wide, 8, size)
            cf = b.bit(wide, 8, bits)
            of = b.bxor(b.msb(r, size), cf)
        else:
            ext = (b.zext if name == "shr" else b.sext)(x, size, 8)
            op = "lshr" if name == "shr" else "ashr"
            r = b.trunc(b.bin(op, 8, ext, c64), 8, size)
            # count >= 1 here when it matters; (c-1) wraps harmlessly otherwise
            cf = b.op("trunc i64 %s to i1" % b.bin(op, 8, ext, b.bin("and", 8, cm1, 63)))
            of = b.msb(x, size) if name == "shr" else "false"
        for fname, v in (("cf", cf), ("of", of), ("af", "false")):
            _keep_if_zero(b, zero, fname, v)
        # S Z P only when count != 0 (their witnesses chosen whole)
        saved = {f: b.flag_word(f) for f in ("sf", "zf", "pf")}
        b.set_szp(size, r)
        for f, old in saved.items():
            b.set_flag_word(f, b.select(zero, 4 if f != "pf" else 1, old, b.flag_word(f)))
    else:
        amt = b.trunc(c, 4, size)
        fn = "fshl" if name == "rol" else "fshr"
        r = b.op("call %s @llvm.%s.%s(%s %s, %s %s, %s %s)" % (IT[size], fn, IT[size], IT[size], x, IT[size], x,
                                                              IT[size], amt))
        if name == "rol":
            cf = b.op("trunc %s %s to i1" % (IT[size], r))
            of = b.bxor(b.msb(r, size), cf)
        else:
            cf = b.msb(r, size)
            of = b.bxor(cf, b.bit(r, size, bits - 2))
        _keep_if_zero(b, zero, "cf", cf)
        _keep_if_zero(b, zero, "of", of)
    r = b.select(zero, size, x, r)
    b.write(dst, r, lin)


@lifts("rcl rcr")
def lift_rotc(b, insn):
    dst, src = insn.ops
    lin = b.address(dst) if isinstance(dst, Mem) else None
    x = b.zext(b.read(dst, lin), dst.size, 4)
    r = b.call("i32", "helper_rotc", int(insn.name == "rcr"), dst.size, x, _count(b, src))
    b.write(dst, b.trunc(r, 4, dst.size), lin)


@lifts("shld shrd")
def lift_shd(b, insn):
    dst, src, cnt = insn.ops
    lin = b.address(dst) if isinstance(dst, Mem) else None
    x = b.zext(b.read(dst, lin), dst.size, 4)
    y = b.zext(b.read(src), src.size, 4)
    r = b.call("i32", "helper_shd", int(insn.name == "shrd"), dst.size, x, y, _count(b, cnt))
    b.write(dst, b.trunc(r, 4, dst.size), lin)
