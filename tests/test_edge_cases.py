"""Hand-written edge cases: #DE through the IVT, shift counts 0/1/31/32,
REP with CX=0, 16-bit address and stack wrap-around.  Each runs in jitemu
with explicit expectations (from the SDM) and, where Unicorn can say, is
also compared against it."""
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

import oracle
from encode import Encoding

CF, PF, AF, ZF, SF, OF, DF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x800, 0x400


def state(**regs):
    s = oracle.State([0] * 8, 0x2, 0, 0)
    for name, v in regs.items():
        if name == "eflags":
            s.eflags = v
        else:
            s.regs[oracle._RN.index(name)] = v
    return s


def case(hexcode, template=""):
    return oracle.make_case(Encoding(bytes.fromhex(hexcode), template))


def run(c, s):
    """jitemu only: (why, snapshot)."""
    j, _ = oracle.machines()
    return j.run(c.code, s)


def stack_words(snap, sp, n):
    lin = (oracle.SEGS["ss"] << 4) + sp - oracle.WIN_LO
    return struct.unpack("<%dH" % n, snap["mem"][lin:lin + 2 * n])


# -- #DE ---------------------------------------------------------------------
DE_CASES = [
    # (code, registers, why)
    ("F6F1", dict(eax=0x1234, ecx=0), "div cl by zero"),
    ("F6F1", dict(eax=0x1000, ecx=2), "div cl: quotient 0x800 > 0xFF"),
    ("F7F1", dict(eax=0, edx=0x10, ecx=0x10), "div cx: quotient 0x10000"),
    ("66F7F1", dict(eax=0, edx=1, ecx=1), "div ecx: quotient 2**32"),
    ("F6F9", dict(eax=0x8000, ecx=0xFF), "idiv cl: -32768 / -1"),
    ("F6F9", dict(eax=0x0080, ecx=0x01), "idiv cl: +128 does not fit"),
    ("F7F9", dict(eax=0, edx=0x8000, ecx=0xFFFF), "idiv cx: -2**31 / -1"),
    ("66F7F9", dict(eax=0, edx=0x80000000, ecx=0xFFFFFFFF), "idiv ecx: -2**63 / -1"),
    ("66F7F9", dict(eax=5, edx=0, ecx=0), "idiv ecx by zero"),
    ("26F737", dict(eax=1, edx=0, ebx=0x10), "div word es:[bx], prefixed, by (planted) zero"),
    ("D400", dict(eax=0x55), "aam 0"),
]


@pytest.mark.parametrize("hexcode,regs,why", DE_CASES, ids=[c[2] for c in DE_CASES])
def test_divide_error_through_ivt(hexcode, regs, why):
    c = case(hexcode)
    s = state(esp=0x1000, eflags=0x2 | CF | ZF, **regs)
    if hexcode == "26F737":
        s.plant((oracle.SEGS["es"] << 4) + 0x10, b"\0\0")
    before = list(s.regs)
    why_stop, a = run(c, s)
    assert why_stop == "halt"
    sel, off = oracle.ivt_target(0)
    # Delivered through IVT entry 0: the handler (HLT) ran at 7000:0100.
    assert a["segs"]["cs"] == sel and a["eip"] == off + 1
    # FLAGS, CS and the IP of the faulting instruction (prefixes included).
    assert a["regs"][4] == 0x1000 - 6
    assert stack_words(a, 0x1000 - 6, 3) == (oracle.CODE_IP, oracle.CODE_SEG, s.eflags)
    # A fault leaves the registers as they were.
    assert a["regs"][:4] + a["regs"][5:] == before[:4] + before[5:]
    assert a["eflags"] & (0x200 | 0x100) == 0
    if not oracle.unicorn_sigfpe(c, s):
        oracle.check(c, s)   # and Unicorn agrees (its #DE goes through the oracle's hook)


# -- shift counts ------------------------------------------------------------
SHIFTS = {"rol": 0, "ror": 1, "rcl": 2, "rcr": 3, "shl": 4, "shr": 5, "sar": 7}
SHIFT_CASES = []
for _name, _d in SHIFTS.items():
    for _count in (0, 1, 31, 32):
        SHIFT_CASES.append("C0%02X%02X" % (0xC0 | _d << 3 | 3, _count))           # r/m8 bl, imm8
        SHIFT_CASES.append("C1%02X%02X" % (0xC0 | _d << 3 | 3, _count))           # bx, imm8
        SHIFT_CASES.append("66C1%02X%02X" % (0xC0 | _d << 3 | 3, _count))         # ebx, imm8
        SHIFT_CASES.append("D3%02X.%d" % (0xC0 | _d << 3 | 3, _count))            # bx, cl
for _op in ("0FA4C3", "0FACC3", "660FA4C3", "660FACC3"):                      # shld/shrd bx|ebx, ax|eax
    for _count in (0, 1, 31, 32):
        if _op[0] == "0" and _count == 31:
            continue  # 16-bit SHLD/SHRD by more than 16 is undefined
        SHIFT_CASES.append("%s%02X" % (_op, _count))


@pytest.mark.parametrize("spec", SHIFT_CASES)
@pytest.mark.parametrize("flags", [0x2, 0x2 | 0x8D5])
def test_shift_counts(spec, flags):
    code, _, cl = spec.partition(".")
    c = case(code)
    count = int(cl) if cl else c.insn.operands[-1].imm
    s = state(eax=0x87654321, ebx=0xC3A5F00F, ecx=0x12345600 | int(cl or 7), eflags=flags)
    why, a = run(c, s)
    assert why == "halt"
    if count & 31 == 0:
        # A masked count of zero changes nothing, flags included.
        assert a["regs"] == s.regs
        assert a["eflags"] == flags
    oracle.check(c, s)


# -- REP with CX = 0 ---------------------------------------------------------
REP_CASES = ["F3A4", "F3A5", "F366A5", "F3A6", "F2A6", "F3AA", "F3AB", "F3AC", "F2AE", "F3AF",
             "F36C", "F36E", "67F3A4", "F2A4"]


@pytest.mark.parametrize("hexcode", REP_CASES)
@pytest.mark.parametrize("flags", [0x2, 0x2 | 0x8D5 | DF])
def test_rep_with_cx_zero(hexcode, flags):
    c = case(hexcode)
    s = state(eax=0x5A5A5A5A, ecx=0xABCD0000, edx=0x80, esi=0x10, edi=0x20, eflags=flags)
    if hexcode.startswith("67"):
        s.regs[1] = 0
    j, _ = oracle.machines()
    j.ports.log = []
    why, a = run(c, s)
    assert why == "halt"
    # No iteration: no register, flag, memory or port changes.
    assert a["regs"] == s.regs
    assert a["eflags"] == flags
    assert a["eip"] == oracle.CODE_IP + len(c.code) + 1
    assert a["ports"] == []
    oracle.check(c, s)


# -- 16-bit wrap-around --------------------------------------------------------
def test_address_wraps_at_64k():
    # mov ax, [bx+si] with bx+si = 0x10010: reads DS:0010, not DS:10010.
    c = case("8B00")
    s = state(ebx=0xFFF0, esi=0x20)
    s.plant((oracle.SEGS["ds"] << 4) + 0x10, b"\x34\x12")
    s.plant((oracle.SEGS["ds"] << 4) + 0x10010, b"\x78\x56")
    why, a = run(c, s)
    assert why == "halt" and a["regs"][0] & 0xFFFF == 0x1234
    oracle.check(c, s)


def test_displacement_wraps_at_64k():
    # mov [bp+0x20], ax with bp = 0xFFF0: writes SS:0010.
    c = case("894620")
    s = state(eax=0xBEEF, ebp=0xFFF0)
    why, a = run(c, s)
    lin = (oracle.SEGS["ss"] << 4) + 0x10 - oracle.WIN_LO
    assert why == "halt" and a["mem"][lin:lin + 2] == b"\xEF\xBE"
    oracle.check(c, s)


def test_address_size_32_does_not_wrap():
    # 67 mov ax, [ebx+esi] with ebx+esi = 0x10010: offset 0x10010 (real
    # mode without limit checks, like QEMU), i.e. DS base + 0x10010.
    c = case("678B0433")
    s = state(ebx=0xFFF0, esi=0x20)
    s.plant((oracle.SEGS["ds"] << 4) + 0x10010, b"\x78\x56")
    why, a = run(c, s)
    assert why == "halt" and a["regs"][0] & 0xFFFF == 0x5678
    oracle.check(c, s)


def test_push_wraps_sp_from_0_to_fffe():
    c = case("50")   # push ax
    s = state(eax=0xCAFE, esp=0xABCD0000)
    why, a = run(c, s)
    assert why == "halt"
    assert a["regs"][4] == 0xABCDFFFE   # only SP moves in a 16-bit stack
    assert stack_words(a, 0xFFFE, 1) == (0xCAFE,)
    oracle.check(c, s)


def test_pop_wraps_sp_from_fffe_to_0():
    c = case("5B")   # pop bx
    s = state(esp=0x1234FFFE)
    s.plant((oracle.SEGS["ss"] << 4) + 0xFFFE, b"\x11\x22")
    why, a = run(c, s)
    assert why == "halt"
    assert a["regs"][4] == 0x12340000 and a["regs"][3] & 0xFFFF == 0x2211
    oracle.check(c, s)


def test_call_pushes_at_wrapped_sp():
    c = case("E80000")   # call next
    s = state(esp=0)
    why, a = run(c, s)
    assert why == "halt" and a["regs"][4] == 0xFFFE
    assert stack_words(a, 0xFFFE, 1) == (oracle.CODE_IP + 3,)
    oracle.check(c, s)


# -- LOOPcc keeps the flags --------------------------------------------------
@pytest.mark.parametrize("loop", ["E105", "E005", "E205"])
def test_loopcc_leaves_flags_alone(loop):
    # add al, bl (1 + 0x0F: AF set); loop*: CX 1 -> 0, falls through.
    # (Unicorn garbles EFLAGS here for LOOPE/LOOPNE, so jitemu only.)
    c = oracle.make_case(Encoding(bytes.fromhex("00D8" + loop), "pair"))
    why, a = run(c, state(eax=1, ebx=0xF, ecx=1))
    assert why == "halt" and a["regs"][1] == 0
    assert a["eflags"] == 0x2 | AF


# -- accesses across a page boundary (the JIT's slow path) --------------------
@pytest.mark.parametrize("hexcode,bx", [
    ("8B07", 0x0FFF), ("668B07", 0x0FFE), ("668B07", 0x0FFD),      # mov ax|eax, [bx]
    ("8907", 0x0FFF), ("668907", 0x0FFD),                          # mov [bx], ax|eax
    ("660107", 0x0FFE), ("F717", 0x1FFF), ("0FAB07", 0x2FFF),       # add, not, bts
])
def test_page_crossing_memory_operand(hexcode, bx):
    c = case(hexcode)
    s = state(eax=0x89ABCDEF, ebx=bx, ecx=0x1357)
    s.window_off = 0x1234
    why, a = run(c, s)
    assert why == "halt"
    oracle.check(c, s)


def test_push_across_a_page_boundary():
    c = case("6650")   # push eax with SP = 0x1002: bytes 0x0FFE..0x1001
    s = state(eax=0xA1B2C3D4, esp=0x1002)
    why, a = run(c, s)
    assert why == "halt" and stack_words(a, 0x0FFE, 2) == (0xC3D4, 0xA1B2)
    oracle.check(c, s)


# -- long REP MOVS/STOS (the helper's host-pointer runs) ----------------------
REP_LONG = {"rep movsb": "F3A4", "rep movsw": "F3A5", "rep movsd": "F366A5",
            "rep stosb": "F3AA", "rep stosw": "F3AB", "rep stosd": "F366AB",
            "rep movsw a32": "F367A5", "rep movsd a32": "F36667A5"}


@pytest.mark.parametrize("name", sorted(REP_LONG))
@oracle.settings(25)
@given(si=st.integers(0, 0xFFFF), di=st.integers(0, 0xFFFF), cx=st.integers(1, 5000),
       near=st.integers(-16, 16), df=st.booleans(), fill=st.integers(0, 0xFFFF))
def test_long_rep_string(name, si, di, cx, near, df, fill):
    """Runs of thousands of elements, up and down, across pages and the
    64 KiB wrap of SI/DI, overlapping (destination `near` the source) or
    not, against an element-by-element model of the SDM's loop (Unicorn's
    instruction guard stops long REPs)."""
    c = case(REP_LONG[name])
    a32 = "a32" in name
    size = {"b": 1, "w": 2, "d": 4}[name.split()[1][4]]
    if a32:  # 32-bit offsets: keep every access inside the compared window (0x3000 bytes either way)
        cx, si, di = min(cx, 0x3000 // size), 0x4000 + si % 0x8000, 0x4000 + di % 0x8000
    if near % 3:
        di = si + near * size // 4 if a32 else (si + near) & 0xFFFF
    s = state(eax=0xA5C3E1F0, ecx=cx, esi=si, edi=di, eflags=0x2 | (DF if df else 0))
    s.window_off = fill
    mem = bytearray(oracle.peek(s, oracle.WIN_LO, oracle.WIN_SIZE))
    mask, step = (0xFFFFFFFF if a32 else 0xFFFF), (-size if df else size)
    ds, es = oracle.SEGS["ds"] << 4, oracle.SEGS["es"] << 4
    for _ in range(cx):
        src = mem[ds + si - oracle.WIN_LO:ds + si - oracle.WIN_LO + size] if "movs" in name \
            else (0xA5C3E1F0).to_bytes(4, "little")[:size]
        mem[es + di - oracle.WIN_LO:es + di - oracle.WIN_LO + size] = src
        si, di = ((si + step) & mask if "movs" in name else si), (di + step) & mask
    why, a = run(c, s)
    assert why == "halt"
    assert a["regs"][1] & mask == 0
    assert (a["regs"][6] & mask, a["regs"][7] & mask) == (si, di)
    assert a["mem"] == bytes(mem)
