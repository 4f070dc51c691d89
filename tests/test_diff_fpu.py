"""x87 instructions against Unicorn (QEMU's softfloat floatx80), in real mode.

Each case runs FRSTOR (an FPU state drawn by hypothesis: eight register
values, TOP, RC and PC, all exceptions masked, ST7 empty so loads have
room), the instruction, FNSAVE, HLT.  Compared: the saved image (control
word, status word, tag word, the eight registers), the memory operand, the
GPRs (FNSTSW AX) and EFLAGS (FCOMI's ZF PF CF).  Not compared: the
instruction and data pointers (QEMU does not keep them), the condition
codes the SDM leaves undefined after each instruction (jitemu/isa/x87.py
UNDEFINED_CC), and the status word's exception flags, ES, B and C1
(round-up): QEMU 5's x87 (Unicorn 2) does not carry softfloat's flags
into the status word; tests/test_fpu.py checks them against an exact
reference.  Values are finite (or zero or infinity): QEMU 5 differs from
the SDM for NaNs, denormals, stack faults and unsupported encodings, which
test_fpu.py covers."""
import struct
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

import oracle
from encode import Encoding
from jitemu.isa import x87
from jitemu.isa.table import TABLE

FRSTOR = bytes.fromhex("dd260000")   # frstor [0x0000]  (DS = 2000: linear 20000)
FNSAVE = bytes.fromhex("dd368000")   # fnsave [0x0080]
IMG, OUT, OPND = 0x20000, 0x20080, 0x20200
SKIP = {"fldenv", "frstor", "fnsave", "fnstenv", "fninit", "fnclex", "wait", "x87", "ffree", "fincstp",
        "fdecstp", "fnop287", "fxam", "fbld", "fbstp", "fprem", "fprem1", "fxtract", "fscale", "frndint"} | x87.TRANSCENDENTAL
# (FBLD/FBSTP: QEMU 5 converts through host int64 and doubles; FPREM,
# FPREM1, FSCALE, FXTRACT, FRNDINT: through host doubles.  FXAM reads
# tags QEMU does not keep.  test_fpu.py checks them exactly.)


def _cases(names):
    out = []
    for name in names:
        for t in TABLE[name].encodings:
            parts = t.split()
            esc = int(parts[0], 16)
            if parts[1].startswith("/"):
                reg = int(parts[1][1:])
                code = bytes([esc, (reg << 3) | 6, 0x00, 0x02])      # [0x0200]
            elif parts[1].endswith("+r"):
                code = bytes([esc, int(parts[1][:2], 16) + 3])       # st(3)
            else:
                code = bytes([esc, int(parts[1], 16)])
            c = oracle.Case(Encoding(FRSTOR + code + FNSAVE, "pair"), None, name)
            out.append(c)
    return out


CASES = _cases(n for n in x87.NAMES if n not in SKIP)

BIAS = 16383


@st.composite
def f80(draw):
    kind = draw(st.integers(0, 19))
    sign = draw(st.integers(0, 1)) << 15
    if kind == 0:
        return struct.pack("<QH", 0, sign)
    if kind == 1:
        return struct.pack("<QH", 1 << 63, sign | 0x7FFF)
    if kind < 5:  # small integers (exact conversions, FIST)
        v = draw(st.integers(1, 40000))
        e = v.bit_length() - 1
        return struct.pack("<QH", v << (63 - e), sign | (BIAS + e))
    exp = BIAS + draw(st.integers(-70, 70)) if kind < 18 else draw(st.integers(1, 0x7FFE))
    return struct.pack("<QH", (1 << 63) | draw(st.integers(0, (1 << 63) - 1)), sign | exp)


@st.composite
def fpu_states(draw):
    regs = [draw(f80()) for _ in range(7)] + [bytes(10)]
    top = draw(st.integers(0, 7))
    cw = 0x7F | (draw(st.sampled_from([0, 2, 3])) << 8) | (draw(st.integers(0, 3)) << 10)
    tw = 0
    for i in range(8):
        phys = (top + i) & 7
        if i == 7:
            t = 3
        else:
            m, se = struct.unpack("<QH", regs[i])
            t = 1 if m == 0 else 2 if se & 0x7FFF == 0x7FFF else 0
        tw |= t << (2 * phys)
    image = struct.pack("<HHH", cw, top << 11, tw) + bytes(8) + b"".join(regs)
    operand = draw(f80()) if draw(st.booleans()) else draw(st.binary(min_size=10, max_size=10))
    # memory forms of 4 or 8 bytes take the low bytes: make those floats plausible too
    if draw(st.booleans()):
        operand = struct.pack("<d", draw(st.floats(allow_nan=False, allow_subnormal=False, width=64))) + b"\0\0"
    elif draw(st.booleans()):
        operand = struct.pack("<f", draw(st.floats(allow_nan=False, allow_subnormal=False, width=32))) + bytes(6)
    return image, operand


CONSTANTS = {"fldpi", "fldl2e", "fldl2t", "fldlg2", "fldln2"}
FCOMI = {"fcomi", "fcomip", "fucomi", "fucomip"}


def run_both(case, state, plants, regs=None):
    """The case on jitemu and on Unicorn with `plants` in memory: both snapshots."""
    s = state.copy()
    s.plants = plants
    s.segs = dict(oracle.SEGS)
    if regs:
        s.regs = list(s.regs)
        for i, v in regs.items():
            s.regs[i] = v
    j, u = case.mode.machines()
    why, a = j.run(case.code, s)
    assert why == "halt", "%s: jitemu stopped with %r" % (case.id, why)
    err, b = u.run(case.code, s)
    assert err is None, "%s: unicorn: %s" % (case.id, err)
    return a, b


def saved_image(snap, sw_mask):
    """The FNSAVE image at OUT, as compared: the status word masked, the
    instruction and data pointers cleared (QEMU does not keep them), and
    the control word's reserved bits 6, 7 and 13-15 (6 reads as 1 in jitemu
    and Bochs, 7 and 13-15 as 0; QEMU keeps what was loaded)."""
    img = bytearray(snap["mem"][OUT - oracle.WIN_LO:OUT - oracle.WIN_LO + 94])
    struct.pack_into("<H", img, 2, struct.unpack_from("<H", img, 2)[0] & sw_mask)
    img[6:14] = bytes(8)
    img[0] &= ~0xC0
    img[1] &= 0x1F
    return img


def check(case, state, image, operand):
    if case.name in CONSTANTS:
        # QEMU 5 rounds the constants to nearest whatever RC says; the SDM
        # (and jitemu) round them per RC: compared with RC = nearest only.
        image = bytes([image[0], image[1] & 0xF3]) + image[2:]
    a, b = run_both(case, state, [(IMG, image), (OPND, operand)])
    sw_mask = ~(0x3F | 0x80 | 0x8000 | x87.C1 | x87.UNDEFINED_CC.get(case.name, 0)) & 0xFFFF

    def view(snap):
        img = saved_image(snap, sw_mask)
        mem = snap["mem"][OPND - oracle.WIN_LO:OPND - oracle.WIN_LO + 10]
        # FCOMI: ZF PF CF; the SDM clears OF SF AF, QEMU 5 leaves them
        flags = snap["eflags"] & (0x45 if case.name in FCOMI else 0xFFFFFFFF)
        return img.hex(), mem.hex(), snap["regs"], flags

    va, vb = view(a), view(b)
    assert va == vb, "%s: state %s operand %s\n  jitemu  %s\n  unicorn %s" % (
        case.id, image.hex(), operand.hex(), va, vb)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(25)
@given(state=oracle.states(), fpu=fpu_states())
def test_fpu(case, state, fpu):
    check(case, state, *fpu)


# -- the transcendentals ------------------------------------------------------
# QEMU 5 computes them in host doubles (libm), so its results carry about
# 53 good bits where jitemu's are rounded from ~128 (tests/test_fpu.py checks
# those against mpmath to half an ulp).  So: operands that are exact doubles
# (QEMU's conversion loses nothing), in each instruction's domain, and the
# values compared to within 2^-49 of the result (8 ulps of a double: libm's
# error, QEMU's extra roundings, such as log(x)/log(2), and the final
# widening) -- or of 1 where QEMU's formula cancels: 2^x - 1 and
# log(1 + x) lose absolute, not relative, precision -- or of 2^-1022 where
# QEMU's double is subnormal (atan2 of a tiny y).  Everything else is
# exact: the stack (TOP, which registers are empty, which changed), the control word
# and C2 (FSIN FCOS FSINCOS FPTAN clear it; |x| >= 2^63 sets it and changes
# nothing; QEMU takes exactly 2^63 as in range, the SDM does not).
TRANS_CASES = _cases(sorted(x87.TRANSCENDENTAL))
DOUBLE_TINY = Fraction(2) ** -1022  # below it QEMU's double result is subnormal: absolute precision only
TRIG = {"fsin", "fcos", "fsincos", "fptan"}
ABSOLUTE = {"f2xm1", "fyl2xp1"}


def _double(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _domain(name):
    """Strategies for ST0 (x) and ST1 (y)."""
    if name in TRIG:
        x = st.one_of(_double(-8, 8), _double(-1e6, 1e6), st.sampled_from([2.0 ** 65, -2.0 ** 64, 1e300]))
        if name == "fptan":  # away from the poles, where a double's argument error is amplified
            x = _double(-1.5, 1.5)
        return x, _double(-1e6, 1e6)
    if name == "f2xm1":
        return _double(-1, 1), _double(-1e6, 1e6)
    if name == "fyl2xp1":
        return _double(-0.29, 0.29), _double(-1e6, 1e6)
    if name == "fyl2x":
        return st.one_of(_double(1e-300, 1e300), _double(0.5, 2)), _double(-1e6, 1e6)
    return _double(-1e6, 1e6), _double(-1e6, 1e6)  # fpatan


def _f80_of(d):
    """An exact double as an 80-bit register image."""
    if d == 0:
        return struct.pack("<QH", 0, 0x8000 if str(d).startswith("-") else 0)
    b, = struct.unpack("<Q", struct.pack("<d", d))
    e = (b >> 52) & 0x7FF
    return struct.pack("<QH", (1 << 63) | ((b & ((1 << 52) - 1)) << 11), ((b >> 63) << 15) | (e - 1023 + BIAS))


def _value(reg):
    m, se = struct.unpack("<QH", reg)
    e = se & 0x7FFF
    if e == 0x7FFF:
        return None
    v = Fraction(m, 1 << 63) * Fraction(2) ** (max(e, 1) - BIAS)
    return -v if se & 0x8000 else v


@st.composite
def trans_states(draw, name):
    xs, ys = _domain(name)
    x, y = draw(xs), draw(ys)
    regs = [_f80_of(x), _f80_of(y)] + [draw(f80()) for _ in range(4)] + [bytes(10)] * 2
    top = draw(st.integers(0, 7))
    cw = 0x7F | (draw(st.sampled_from([0, 2, 3])) << 8) | (draw(st.integers(0, 3)) << 10)
    sw = draw(st.sampled_from([0, x87.C2]))  # C2 left set by an earlier FPREM
    tw = 0
    for i in range(8):
        m, se = struct.unpack("<QH", regs[i])
        t = 3 if i >= 6 else 1 if m == 0 else 2 if se & 0x7FFF == 0x7FFF else 0
        tw |= t << (2 * ((top + i) & 7))
    image = struct.pack("<HHH", cw, sw | (top << 11), tw) + bytes(8) + b"".join(regs)
    return image, abs(y) if name in ABSOLUTE else 0


def check_transcendental(case, state, image, scale):
    a, b = run_both(case, state, [(IMG, image)])
    sw_mask = ~(0x3F | 0x80 | 0x8000 | x87.C1 | x87.UNDEFINED_CC[case.name]) & 0xFFFF
    ja, ub = (bytes(snap["mem"][OUT - oracle.WIN_LO:OUT - oracle.WIN_LO + 94]) for snap in (a, b))
    what = "%s: state %s\n  jitemu  %s\n  unicorn %s" % (case.id, image.hex(), ja.hex(), ub.hex())
    for off, mask in ((0, 0x1F3F), (2, sw_mask)):  # CW (reserved bits aside), SW
        va, vb = (struct.unpack_from("<H", img, off)[0] & mask for img in (ja, ub))
        assert va == vb, what
    # which registers are empty (a value within the tolerance may be a zero on one side)
    empties = [[(struct.unpack_from("<H", img, 4)[0] >> (2 * p)) & 3 == 3 for p in range(8)] for img in (ja, ub)]
    assert empties[0] == empties[1], what
    for i in range(8):
        ra, rb = ja[14 + 10 * i:24 + 10 * i], ub[14 + 10 * i:24 + 10 * i]
        if ra == rb:
            continue
        va, vb = _value(ra), _value(rb)
        assert va is not None and vb is not None, what
        tol = max(abs(vb), 1 if case.name == "f2xm1" else scale, DOUBLE_TINY) / 2 ** 49
        assert abs(va - vb) <= tol, "%s\n  ST%d differs by %.3g of the tolerance" % (what, i, float(abs(va - vb) / tol))


def _trans_test(name):
    @pytest.mark.parametrize("case", [c for c in TRANS_CASES if c.name == name], ids=lambda c: c.id)
    @oracle.settings(30)
    @given(state=oracle.states(), fpu=trans_states(name))
    def test(case, state, fpu):
        check_transcendental(case, state, *fpu)
    return test


test_fsin = _trans_test("fsin")
test_fcos = _trans_test("fcos")
test_fsincos = _trans_test("fsincos")
test_fptan = _trans_test("fptan")
test_fpatan = _trans_test("fpatan")
test_f2xm1 = _trans_test("f2xm1")
test_fyl2x = _trans_test("fyl2x")
test_fyl2xp1 = _trans_test("fyl2xp1")


# -- FXSAVE / FXRSTOR -------------------------------------------------------------
# FRSTOR (a drawn state), FXSAVE to [0x0200] or FXRSTOR from it (a drawn
# 512-byte image), FNSAVE.  Compared: the FNSAVE image as above, and the
# whole 512 bytes at the operand, except FOP and the pointers (bytes 6-23:
# QEMU 5 writes zeros for FIP FCS FDP FDS and leaves FOP alone).  With
# CR4.OSFXSR clear QEMU neither stores nor loads MXCSR and the XMM
# registers, which is what jitemu does whatever OSFXSR says, having no SSE.
FX_CASES = [oracle.Case(Encoding(FRSTOR + code + FNSAVE, "pair"), None, name)
            for name, code in (("fxsave", bytes.fromhex("0fae060002")), ("fxrstor", bytes.fromhex("0fae0e0002")),
                               ("fxsave", bytes.fromhex("0fae460010")))]   # fxsave [bp+0x10]: SS 4000


def _fx_at(case):
    """Where the case's operand is: DS:0200, or SS:0200 for [bp+0x10] (BP = 01F0)."""
    return 0x40200 if case.code[len(FRSTOR) + 2] == 0x46 else OPND


@st.composite
def fxrstor_images(draw):
    regs = b"".join(draw(f80()) + draw(st.binary(min_size=6, max_size=6)) for _ in range(8))
    cw = draw(st.integers(0, 0xFFFF)) | 0x3F  # exceptions masked: no FERR# from the image
    head = struct.pack("<HHBB", cw, draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 255)), 0) + \
        draw(st.binary(min_size=26, max_size=26))
    return head + regs + draw(st.binary(min_size=352, max_size=352))


@pytest.mark.parametrize("case", FX_CASES, ids=lambda c: c.id)
@oracle.settings(25)
@given(state=oracle.states(), fpu=fpu_states(), image=fxrstor_images())
def test_fxsave_fxrstor(case, state, fpu, image):
    operand = image if case.name == "fxrstor" else fpu[1]
    a, b = run_both(case, state, [(IMG, fpu[0]), (_fx_at(case), operand)], regs={5: 0x01F0})
    sw_mask = ~(0x3F | 0x80 | 0x8000 | x87.C1) & 0xFFFF

    def view(snap):
        img = saved_image(snap, sw_mask)
        at = _fx_at(case)
        fx = bytearray(snap["mem"][at - oracle.WIN_LO:at - oracle.WIN_LO + 512])
        fx[6:24] = bytes(18)
        return img.hex(), fx.hex(), snap["regs"]

    va, vb = view(a), view(b)
    assert va == vb, "%s: state %s\n  jitemu  %s\n  unicorn %s" % (case.id, fpu[0].hex(), va, vb)
