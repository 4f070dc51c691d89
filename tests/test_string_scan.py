"""Long REPE/REPNE SCAS and CMPS, and REP LODS, against Unicorn: counts
of thousands of elements that run across 4 KiB pages (runtime/string.c
scans a page at a time on host memory and takes the element loop where a
page or the element does not allow it), buffers holding the element that
ends the repetition at drawn places or nowhere, DF both ways, 16-bit
address size with offsets that wrap at 0xFFFF, and ECX = 0.  In real mode
and 32-bit protected mode, on the baseline tier and in regions (the LLVM
tier's run is a campaign, as in tests/test_tier_oracle.py)."""
import array
import dataclasses
import random

import pytest
from hypothesis import given, strategies as st

import oracle
import oracle32
from encode import Encoding
from ringrom import run_pm
from test_p6_paging import PAGING, pte

MAX_BYTES = 0x1800          # a run covers up to 6 KiB: one or two page crossings
REPE, REPNE = 0xF3, 0xF2
SIZE = {"b": 1, "w": 2, "d": 4}


def _encodings(code32):
    """Every size of SCAS CMPS LODS with REPE and REPNE (LODS: REP), both
    address sizes, and a source segment override for CMPS and LODS."""
    out = []
    for op in (0xAE, 0xA6, 0xAC):
        for size in (1, 2, 4):
            opsize = b"" if size == 1 or (size == 4) == code32 else b"\x66"
            for rep in ((REPE,) if op == 0xAC else (REPE, REPNE)):
                for other_asize in (False, True):
                    for seg in ((None, 0x64) if op != 0xAE else (None,)):
                        pfx = bytes(p for p in (seg, rep) if p) + opsize + (b"\x67" if other_asize else b"")
                        code = pfx + bytes([op + (size > 1)])
                        out.append(Encoding(code, "%02X" % op, size == 4, other_asize != code32, code32=code32))
    return out


CASES = oracle.cases(_encodings(False)) + oracle32.cases(_encodings(True))
TIERS = ("baseline", "region", pytest.param("llvm", marks=pytest.mark.campaign))


def _params():
    out = []
    for tier in TIERS:
        name = tier if isinstance(tier, str) else tier.values[0]
        marks = () if isinstance(tier, str) else tier.marks
        for case in CASES:
            tiered = dataclasses.replace(case, mode=oracle.tier_mode(case.mode, name))
            out.append(pytest.param(tiered, id="%s-%s" % (name, case.id), marks=marks))
    return out


@dataclasses.dataclass
class Run:
    """What a test draws besides the start state."""
    count: int              # elements (ECX), before it is bounded by MAX_BYTES
    pages: tuple            # (destination, source): the page boundary each starts near
    deltas: tuple           # ... and how far from it (bytes)
    end_at_page: bool       # the destination's last element ends exactly at its page boundary
    hits: list              # elements that end the repetition (indices; some just past the count)
    seed: int               # the buffer's other contents


def _run(seed):
    """A Run from a seed: hypothesis's own integers favour small values,
    and most runs here should be long ones."""
    r = random.Random(seed)
    count = r.choice((0, r.randint(1, 40), r.randint(41, MAX_BYTES), r.randint(41, MAX_BYTES)))
    return Run(count, (r.randint(0, 16), r.randint(0, 16)), (r.randint(-80, 80), r.randint(-80, 80)),
               r.random() < 0.25, [r.randint(0, count + 3) for _ in range(r.randint(0, 3))], seed)


runs = st.integers(0, 2**32 - 1).map(_run)


def _span(start, count, step):
    """(lowest, highest) byte offset of `count` elements from `start`
    (unwrapped)."""
    size = abs(step)
    last = start + (max(count, 1) - 1) * step
    return min(start, last), max(start, last) + size - 1


def _place(case, run, which, count, step):
    """The offset a run of `count` elements starts at: near a page boundary
    (16-bit addresses: anywhere, the boundary at 0x10000 being the offset's
    wrap), inside what the mode lets it reach."""
    size = abs(step)
    if case.insn.addr_size == 2:
        boundary = run.pages[which] * 0x1000
        lo, hi = -0x10000, 0x1FFFF          # wraps are fine
    elif case.mode.code32:
        boundary = 0x20000 + run.pages[which] * 0x2000
        lo, hi = oracle32.HIGH_LO, oracle32.HIGH_HI
    else:
        boundary = run.pages[which] * 0x1000
        lo, hi = 0, 0xFFFF                  # real mode: inside the 64 KiB limit
    if run.end_at_page and which == 0 and count:
        start = boundary - count * size if step > 0 else boundary + (count - 1) * size
    else:
        start = boundary + run.deltas[which]
    a, b = _span(start, count, step)
    start += max(0, lo - a) - max(0, b - hi)
    if case.insn.addr_size == 2:
        a, b = _span(start, count, step)
        if (a < 0 or b > 0xFFFF) and start % size:
            start -= start % size           # no element straddles the wrap (the CPU would fault)
        start &= 0xFFFF
    return start


def _plant(case, s, seg, start, step, buf):
    """Plant the elements of `buf` (in the order the instruction meets
    them), the first at seg:start, stepping by `step` (an offset wraps at
    the address size), off the protected-mode code."""
    size = abs(step)
    data = bytes(buf)
    if step < 0:    # in address order
        data = array.array({1: "B", 2: "H", 4: "I"}[size], data)
        data.reverse()
        data = data.tobytes()
    lo = start if step > 0 else start - (len(data) - size)
    am = 0xFFFF if case.insn.addr_size == 2 else 0xFFFFFFFF
    hole = oracle32.CODE_HOLE if case.mode.code32 else (0, 0)
    i = 0
    while i < len(data):
        off = (lo + i) & am
        n = min(len(data) - i, am + 1 - off)
        lin = s.lin(seg, off)
        for a, b in ((lin, min(lin + n, hole[0])), (max(lin, hole[1]), lin + n)):
            if a < b:
                s.plant(a, data[i + a - lin:i + b - lin])
        i += n


def _xor(x, y):
    return (int.from_bytes(x, "little") ^ int.from_bytes(y, "little")).to_bytes(len(x), "little")


def _fixup(run):
    def fix(case, s):
        size = SIZE[case.name[-1]]
        kind = case.name[:4]
        rep = REPNE if REPNE in case.code else REPE
        step = -size if s.eflags & oracle.DF else size
        count = min(run.count, MAX_BYTES // size)
        am = 0xFFFF if case.insn.addr_size == 2 else 0xFFFFFFFF
        s.regs[1] = (s.regs[1] & ~am) | count
        src = "fs" if 0x64 in case.code[:2] else "ds"
        di, si = _place(case, run, 0, count, step), _place(case, run, 1, count, step)
        s.regs[7] = (s.regs[7] & ~am) | di
        s.regs[6] = (s.regs[6] & ~am) | si
        rng = random.Random(run.seed)
        hits = {h * (count + 4) // (run.count + 4) for h in run.hits}   # (the same share of a bounded count)
        n = max(count, 1)

        def differing():        # n elements, none zero: XOR one in, and an element changes
            d = bytearray(rng.randbytes(n * size))
            d[::size] = d[::size].replace(b"\0", b"\1")
            return bytes(d)

        def at(k):
            return slice(k * size, (k + 1) * size)

        a = rng.randbytes(n * size)     # the source (CMPS, LODS), or SCAS's random elements
        if kind == "lods":
            _plant(case, s, src, si, step, a)
            return None
        if kind == "scas":
            acc = s.reg(0, size).to_bytes(size, "little")
            same = acc * n
            if rep == REPE:
                b, ends = bytearray(same), _xor(same, differing())
            else:
                b, ends = bytearray(_xor(same, differing())), same
        else:
            _plant(case, s, src, si, step, a)
            if rep == REPE:
                b, ends = bytearray(a), _xor(a, differing())
            else:
                b, ends = bytearray(_xor(a, differing())), a
        for k in hits:
            if k < n:
                b[at(k)] = ends[at(k)]
        _plant(case, s, "es", di, step, b)
        return None
    return fix


@pytest.mark.parametrize("case", _params())
@oracle.settings(6)
@given(data=st.data(), run=runs)
def test_long_string_scan(case, data, run):
    state = data.draw(oracle32.states() if case.mode.code32 else oracle.states(), label="state")
    oracle.check(case, state, _fixup(run), unicorn_limit=oracle.LIMIT + MAX_BYTES)


@pytest.mark.parametrize("down", [False, True])
def test_repne_scasb_into_a_page_that_is_not_present_faults_at_that_element(down):
    """The scan covers the present page on host memory, then the element
    loop takes the #PF (SDM Vol. 3 6.5: a fault leaves the registers at the
    faulting iteration, so the instruction restarts there)."""
    start, steps = (0x22100, 0x101) if down else (0x20F00, 0x100)   # bytes before page 0x21
    code = PAGING + pte(0x21, 0) + """
    mov eax, cr3
    mov cr3, eax
    mov edi, 0x20F00
    mov ecx, 0x100
    xor eax, eax
    rep stosb                        ; zeros up to page 0x21
    mov edi, 0x22000
    mov ecx, 0x200
    rep stosb                        ; zeros from page 0x22 on
    mov al, 0xAA                     ; not there: the scan runs on into page 0x21
    mov edi, %#x
    mov ecx, 0x300
    %s
    repne scasb
    done
""" % (start, "std" if down else "cld")
    m, f = run_pm(code)
    assert (f.vector, f.error) == (14, 0)        # not present, a supervisor read
    assert m.s.cr[2] == (0x21FFF if down else 0x21000)
    assert m.regs.edi == (0x21FFF if down else 0x21000)
    assert m.regs.ecx == 0x300 - steps
