"""The baseline tier's block loop in C (runtime/baseline.c) against Python's
(jitemu/jit/decode.py and stencil.py's symbolize()).

C finds an instruction's stencil by a signature computed from capstone's
detail, learnt from one sample instruction per form; it must be at least
as fine as the form key (one signature, one key) and give the same hole
values, for any bytes both decoders take."""
import io
import os
import random
import subprocess
import sys

from hypothesis import HealthCheck, given, settings, strategies as st

from encode import encode, parse
from jitemu._runtime import ffi, lib
from jitemu.jit import baseline
from jitemu.jit.decode import Decoder, UndecodableError
from jitemu.jit.forms import read_samples
from jitemu.jit.lift import LIFTERS
from jitemu.jit.stencil import NotConcrete, symbolize
from jitemu.isa.table import TABLE
from jitemu.pc import build_pc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEABIOS = "/usr/share/seabios/bios.bin"
DISK = os.path.join(ROOT, "firmware", "images", "disk", "bootok.img")

assert baseline.decoder_ready(lib), "capstone's C library could not be opened"
SIG = lib.bl_sig_size()
_decoder = Decoder()

PREFIXES = [0x66, 0x67, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65]
# hflags: real mode, virtual-8086, 16-bit and 32-bit protected mode, flat
# (ring 0 and ring 3)
MODES = [0x0, 0x0C | 0x300, 0x4, 0x4 | 0x2, 0x7, 0x47, 0x47 | 0x300]
TEMPLATES = sorted({t for row in TABLE.values() for t in row.encodings})

# Over every example: signature -> Python's form key (or why Python refused
# an instruction C took).
_seen = {}


def python_side(code, eip, hflags):
    """(form key, hole values), or a string saying why Python has none."""
    try:
        insn = _decoder.decode(code, eip, bool(hflags & 1))
    except UndecodableError:
        return "undecodable"
    if insn is None:
        return "none"
    if insn.name not in LIFTERS or insn.name not in TABLE:
        return "unlifted " + insn.name
    try:
        key, _, values = symbolize(insn, hflags)
    except NotConcrete:
        return "not concrete"
    return key, [v & 0xFFFFFFFF for v in values]


def c_side(code, eip, hflags):
    sig = ffi.new("uint8_t[]", SIG)
    values = ffi.new("uint32_t[]", 32)
    n = lib.bl_signature(hflags, code, len(code), eip, sig, values)
    if n < 0:
        return None
    return bytes(ffi.buffer(sig, SIG)), list(values[0:n])


def check(code, eip, hflags):
    py = python_side(code, eip, hflags)
    c = c_side(code, eip, hflags)
    if c is None:
        return
    sig, values = c
    # What C takes, capstone decoded and Python classifies every operand of.
    assert py not in ("undecodable", "none", "not concrete"), (code.hex(), hflags, py)
    what = py if isinstance(py, str) else py[0]
    assert _seen.setdefault(sig, what) == what, (code.hex(), hflags, _seen[sig], what)
    if not isinstance(py, str):
        assert values == py[1], (code.hex(), hex(hflags), values, py[1])


def instruction(template, rnd, hflags):
    code32 = bool(hflags & 1)
    _, _, modrm, _ = parse(template)
    form = "" if modrm is None else rnd.choice(["reg", "mem16", "mem32"] if modrm != "m" else ["mem16", "mem32"])
    return encode(template, rnd, op32=rnd.random() < 0.5, form=form, code32=code32).code


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(template=st.sampled_from(TEMPLATES), seed=st.integers(0, 2**32 - 1),
       prefixes=st.lists(st.sampled_from(PREFIXES), max_size=3), hflags=st.sampled_from(MODES),
       eip=st.integers(0, 2**32 - 1), tail=st.binary(min_size=0, max_size=8))
def test_c_and_python_agree_on_encodings_from_the_table(template, seed, prefixes, hflags, eip, tail):
    code = bytes(prefixes) + instruction(template, random.Random(seed), hflags) + tail
    check((code + bytes(15))[:15], eip if hflags & 1 else eip & 0xFFFF, hflags)


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(prefixes=st.lists(st.sampled_from(PREFIXES), max_size=3), body=st.binary(min_size=1, max_size=15),
       hflags=st.sampled_from(MODES), eip=st.integers(0, 2**32 - 1), short=st.booleans())
def test_c_and_python_agree_on_random_bytes(prefixes, body, hflags, eip, short):
    code = (bytes(prefixes) + body)[:15]
    if not short:  # (a window cut short, as at the end of a page)
        code = (code + bytes(15))[:15]
    check(code, eip if hflags & 1 else eip & 0xFFFF, hflags)


def test_the_listed_samples_have_signatures_no_two_forms_share():
    by_sig = {}
    taken = 0
    for hflags, raw in read_samples():
        code = (raw + bytes(15))[:15]
        c = c_side(code, 0x1000, hflags)
        py = python_side(code, 0x1000, hflags)
        if c is None or isinstance(py, str):
            continue
        taken += 1
        assert by_sig.setdefault(c[0], py[0]) == py[0], (raw.hex(), hflags)
        assert c[1] == py[1]
    assert taken >= 0.95 * len(read_samples())


def test_the_implicit_count_of_d0_d1_is_an_immediate_of_one_byte():
    # rcl byte [bx], 1: capstone gives the 1 size 0; decode.py makes it 1
    assert c_side(bytes.fromhex("d017") + bytes(13), 0x100, 0)[1] == python_side(
        bytes.fromhex("d017") + bytes(13), 0x100, 0)[1]


def test_far_indirect_transfers_are_lcall_and_ljmp_whatever_capstone_calls_them():
    for raw, code32 in (("66ff1e0010", 0), ("ff1e0010", 0), ("66ff1d00100000", 1), ("ff2d00100000", 1)):
        hflags = 0x47 if code32 else 0
        code = (bytes.fromhex(raw) + bytes(15))[:15]
        check(code, 0x1000, hflags)
        assert c_side(code, 0x1000, hflags) is not None


def test_seabios_boots_with_almost_every_block_made_in_c():
    pc = build_pc(bios=SEABIOS, disk=DISK, memory_mb=16, debugcon=io.StringIO(), fixed_time="2024-01-01T00:00:00")
    assert pc.run(max_instructions=100_000_000) == "exit"
    st = pc.machine.stats()
    assert st["blocks_baseline_c"] >= 0.97 * st["blocks_translated"], st
    assert st["blocks_baseline"] >= st["blocks_baseline_c"]


def test_the_block_loop_is_off_for_a_tracer_of_new_blocks_and_breakpoints():
    from jitemu.machine import Machine
    from jitemu.devices.debugcon import DebugConsole
    selftest = os.path.join(ROOT, "firmware", "images", "selftest.bin")

    class Tracer:
        def __init__(self):
            self.blocks = 0

        def translated(self, *args):
            self.blocks += 1

    m = Machine()
    m.load_firmware(open(selftest, "rb").read())
    con = m.attach(DebugConsole())
    tracer = Tracer()
    m.set_tracer(tracer, in_asm=True)
    assert m.run() == "halt" and con.text.rstrip().endswith(", 0 failed")
    assert m.stats()["blocks_baseline_c"] == 0 and tracer.blocks > 0

    m = Machine()
    m.load_firmware(open(selftest, "rb").read())
    con = m.attach(DebugConsole())
    m.add_breakpoint(0xFFFFFFF0 + 0x10)  # nowhere the selftest goes: breakpoints are on
    assert m.run() == "halt" and con.text.rstrip().endswith(", 0 failed")
    assert m.stats()["blocks_baseline_c"] == 0


def test_a_warm_boot_never_imports_capstones_python_binding(tmp_path):
    # Hot regions are lifted in Python: compiled at once (no worker), the
    # first boot caches every one, and the second finds them there.
    env = dict(os.environ, JITEMU_CACHE_DIR=str(tmp_path), JITEMU_COMPILE_WORKER="0")
    cmd = [sys.executable, "-X", "importtime", "-m", "jitemu.cli", "boot", "--disk", DISK, "--quiet"]
    for _ in range(2):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 1, r.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "capstone" not in imported


def test_blocks_made_in_c_run_the_selftest_as_blocks_made_in_python(monkeypatch):
    from jitemu.jit.translator import Translator
    from jitemu.machine import Machine
    from jitemu.devices.debugcon import DebugConsole
    selftest = open(os.path.join(ROOT, "firmware", "images", "selftest.bin"), "rb").read()

    def run():
        m = Machine()
        m.load_firmware(selftest)
        con = m.attach(DebugConsole())
        assert m.run() == "halt"
        return m, con.text, m.regs.snapshot()

    m_c, text_c, regs_c = run()
    original = Translator.sync_baseline

    def python_only(self):
        original(self)
        self._c_on = False
        self.lib.rt_set_baseline(self.s, 0)

    monkeypatch.setattr(Translator, "sync_baseline", python_only)
    m_py, text_py, regs_py = run()
    assert m_c.stats()["blocks_baseline_c"] > 0.9 * m_c.stats()["blocks_baseline"]
    assert m_py.stats()["blocks_baseline_c"] == 0 and m_py.stats()["blocks_baseline"] > 0
    assert text_c.rstrip().endswith(", 0 failed") and text_c == text_py
    assert regs_c == regs_py and m_c.icount == m_py.icount


def test_tzcnt_and_lzcnt_encodings_are_bsf_and_bsr_in_c_too():
    # decode.NO_BMI: without BMI1/ABM the F3 prefix is ignored
    for raw in ("0fbcc8", "0fbd07", "0fbc442408"):
        plain = (bytes.fromhex(raw) + bytes(15))[:15]
        prefixed = (b"\xf3" + plain)[:15]
        check(prefixed, 0x1000, 0x47)
        c_plain, c_prefixed = c_side(plain, 0x1000, 0x47), c_side(prefixed, 0x1000, 0x47)
        assert c_prefixed is not None and c_prefixed[0] == c_plain[0]
        assert c_prefixed[1][2:] == c_plain[1][2:]  # the same operands; only the next EIP differs
