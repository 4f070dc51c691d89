"""The baseline tier: a block's code copied together from stencils, one per
instruction form, with the operand values patched in.  (Every differential
test runs on it: it is the tier new code runs on.)"""
import os
import pickle
import re
import subprocess
import sys

import pytest
from romutil import rom_with

from jitemu.devices.debugcon import DebugConsole
from jitemu.jit import baseline, forms
from jitemu.jit.decode import Decoder
from jitemu.jit.lift import LIFTERS
from jitemu.jit.stencil import NotConcrete, lift_stencil, symbolize
from jitemu.machine import Machine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SELFTEST = os.path.join(ROOT, "firmware", "images", "selftest.bin")
JITEMU = [sys.executable, "-m", "jitemu.cli"]
_decoder = Decoder()


def form(hexbytes, eip=0x100, hflags=0):
    insn = _decoder.decode(bytes.fromhex(hexbytes) + bytes(15), eip, bool(hflags & 1))
    return symbolize(insn, hflags)


def test_a_form_leaves_registers_open_as_byte_offsets():
    k1, _, v1 = form("01d8")          # add ax, bx
    k2, _, v2 = form("01ca", 0x200)   # add dx, cx
    assert k1 == k2
    assert v1 == [0x100, 0x102, 0, 0 * 4, 3 * 4]
    assert v2 == [0x200, 0x202, 0, 2 * 4, 1 * 4]
    _, _, v3 = form("88e0")           # mov al, ah: AH is byte 1 of EAX
    assert v3[3:] == [0, 1]


def test_a_form_leaves_immediates_displacements_and_real_mode_segments_open():
    k1, _, v1 = form("83c005")        # add ax, 5
    k2, _, v2 = form("83c0fb")        # add ax, -5
    assert k1 == k2 and (v1[-1], v2[-1]) == (5, 0xFFFB)
    k3, _, v3 = form("8b4706")        # mov ax, [bx+6]
    k4, _, v4 = form("268b4f10")      # mov cx, es:[bx+0x10]
    assert v3[3:] == [0, 3, 3 * 4, 6]            # AX; DS; BX; disp
    assert v4[3:] == [4, 0, 3 * 4, 0x10, 0]      # CX; ES; BX; disp; the override
    assert k3 != k4                               # an override is part of the form, its segment is not


def test_sizes_modes_and_addressing_shapes_make_other_forms():
    assert form("01d8")[0] != form("6601d8")[0]             # 16 and 32-bit operands
    assert form("8b4706")[0] != form("8b06")[0]             # [bx+disp] and [disp]
    assert form("01d8", hflags=0)[0] != form("01d8", hflags=0x47)[0]  # real and flat protected mode


def test_a_lifter_that_needs_an_operand_value_in_python_makes_no_stencil():
    _, sym, _ = form("c8100001")      # enter 0x10, 1: the helper takes the level as a constant
    with pytest.raises(NotConcrete):
        lift_stencil("s", sym, 0, LIFTERS["enter"])


def run_selftest():
    m = Machine()
    m.load_firmware(open(SELFTEST, "rb").read())
    con = m.attach(DebugConsole())
    assert m.run() == "halt"
    return m, con.text


def test_the_selftest_runs_from_stencils():
    m, text = run_selftest()
    assert text.rstrip().endswith(", 0 failed")
    st = m.stats()
    assert st["blocks_baseline"] >= 0.9 * st["blocks_translated"], st


def test_the_llvm_tier_runs_the_selftest_the_same_way(monkeypatch):
    monkeypatch.setenv("JITEMU_BASELINE", "0")
    m, text = run_selftest()
    assert text.rstrip().endswith(", 0 failed") and m.stats()["blocks_baseline"] == 0


def test_the_installed_library_holds_the_listed_forms_and_matches_the_lifters():
    """pip install builds jitemu/jit/stencils.lib from forms.txt; after a
    change to the lifters it no longer matches (reinstall: pip install -e .)."""
    assert os.path.exists(baseline.PACKAGED), "no stencil library: pip install -e . builds it"
    with open(baseline.PACKAGED, "rb") as f:
        saved = pickle.load(f)
    assert saved["digest"] == baseline._digest(), "stencils.lib is older than the lifters: pip install -e ."
    listed = set(forms.forms_of(forms.read_samples()))
    assert listed <= set(pickle.loads(saved["keys"]))
    assert saved["count"] == len(saved["entries"])


def test_a_run_that_makes_no_form_does_not_unpickle_the_keys():
    # The keys name decode's classes (dataclasses, inspect: 20-30 ms of
    # imports); the runtime's decoder needs only the entries and samples.
    code = ("import sys; from jitemu.machine import Machine; m = Machine(); "
            "m.load_firmware(open(%r, 'rb').read()); m.run(max_instructions=2_000_000); "
            "print(m.translator.baseline.library._lazy != [], 'jitemu.jit.decode' in sys.modules)"
            % os.path.join(os.path.dirname(__file__), "..", "firmware", "images", "sieve.bin"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["True", "False"], out.stderr


def summary(stderr):
    m = re.search(r"(\d+) blocks translated \((\d+) from stencils.*\((\d+) new stencils\)", stderr)
    assert m, stderr
    return tuple(int(x) for x in m.groups())


def test_a_form_made_at_run_time_is_kept_for_the_next_run(tmp_path):
    # rcr byte fs:[bx+si+5], cl; then halt: a form no firmware of ours uses
    rom = tmp_path / "rare.bin"
    rom.write_bytes(rom_with(bytes.fromhex("64d25805f4")))
    env = dict(os.environ, JITEMU_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run(JITEMU + ["run", str(rom)], capture_output=True, text=True, env=env, timeout=120)
            for _ in range(2)]
    first, second = (summary(r.stderr) for r in runs)
    assert all(r.returncode == 0 for r in runs)
    assert first[2] >= 1 and second[2] == 0      # made once, then found
    assert second[1] == second[0]                # every block from stencils


def test_a_damaged_library_in_the_cache_is_ignored(tmp_path):
    rom = tmp_path / "rare.bin"
    rom.write_bytes(rom_with(bytes.fromhex("64d25805f4")))
    env = dict(os.environ, JITEMU_CACHE_DIR=str(tmp_path / "cache"))
    first = subprocess.run(JITEMU + ["run", str(rom)], capture_output=True, text=True, env=env, timeout=120)
    (lib_file,) = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path / "cache") for f in fs if f == "stencils"]
    for damage in (b"not a pickle", pickle.dumps({"digest": baseline._digest(), "forms": [(("x",), (b"", [1], 0))]})):
        with open(lib_file, "wb") as f:
            f.write(damage)
        again = subprocess.run(JITEMU + ["run", str(rom)], capture_output=True, text=True, env=env, timeout=120)
        assert again.returncode == first.returncode == 0
        assert "Traceback" not in again.stderr and summary(again.stderr)[2] >= 1  # made again
