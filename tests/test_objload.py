"""LLVM's object code runs without LLVM in the process: the runtime places
an object (small code model, static relocations) in its code arena and
applies the relocations itself (jitemu/jit/objload.py, runtime/objload.c).
A region from the worker (which also lifts it) or the persistent cache
therefore needs neither LLJIT nor llvmlite, nor capstone's Python binding,
and an object the loader cannot place is refused with a RuntimeError,
never run."""
import json
import os
import subprocess
import sys

import pytest

from jitemu.jit import elf
from jitemu.jit.compiler import ObjectMaker
from jitemu.jit.helpers import llvm_declarations
from jitemu.jit.objload import ObjectLoader
from jitemu.machine import Machine, ffi, lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, "firmware", "images")
SEABIOS = "/usr/share/seabios/bios.bin"


@pytest.fixture(scope="module")
def maker():
    return ObjectMaker()


def module(body):
    return "\n".join(llvm_declarations()) + "\n" + body


def test_a_function_calling_a_helper_runs_from_the_arena(maker):
    """helper_rdtsc is in the shared library, out of rel32 reach: the call
    goes through the loader's trampoline and does what the helper does."""
    m = Machine(memory_mb=1)
    m.s.icount, m.s.tsc_offset = 0x1_2345_6789, 0x10
    obj = maker.make(module("define void @f(ptr %s) {\n  call i32 @helper_rdtsc(ptr %s)\n  ret void\n}"))
    f = ObjectLoader(ffi, lib).load(obj, ["f"])["f"]
    assert f < 1 << 31  # the arena is below 2 GiB, as the small code model needs
    ffi.cast("void (*)(CPUState *)", f)(m.s)
    assert (m.s.regs[0], m.s.regs[2]) == (0x2345_6799, 0x1)


def test_a_jump_table_and_a_constant_pool_are_relocated(maker):
    """-O2 turns a dense switch into a jump table in .rodata and a vector
    constant into a pool: both are other sections the code reaches through
    relocations against them."""
    cases = "\n".join("    i32 %d, label %%c%d" % (i, i) for i in range(8))
    blocks = "\n".join("c%d:\n  ret i32 %d" % (i, 1000 + 37 * i * i) for i in range(8))
    ir = module("""
define i32 @pick(i32 %x) {
  switch i32 %x, label %other [
""" + cases + """
  ]
other:
  ret i32 -1
""" + blocks + """
}
define void @fill(ptr %p) {
  store <4 x i32> <i32 11, i32 22, i32 33, i32 44>, ptr %p, align 4
  ret void
}""")
    obj = maker.make(ir, hot=True)
    image = elf.layout(obj)
    assert any(symbol is None and image.symbols["pick"] != value for _, _, symbol, value, _ in image.relocs)
    got = ObjectLoader(ffi, lib).load(obj, ["pick", "fill"])
    pick = ffi.cast("int32_t (*)(int32_t)", got["pick"])
    assert [pick(i) for i in range(-1, 9)] == [-1] + [1000 + 37 * i * i for i in range(8)] + [-1]
    out = ffi.new("int32_t[4]")
    ffi.cast("void (*)(int32_t *)", got["fill"])(out)
    assert list(out) == [11, 22, 33, 44]


def test_objects_the_loader_cannot_place_are_refused(maker):
    loader = ObjectLoader(ffi, lib)
    good = maker.make(module("define void @f(ptr %s) {\n  call i32 @helper_rdtsc(ptr %s)\n  ret void\n}"))
    with pytest.raises(RuntimeError, match="does not load"):
        loader.load(good[:len(good) // 2], ["f"])  # truncated
    with pytest.raises(RuntimeError, match="does not load"):
        loader.load(b"\x7fELF" + bytes(60), ["f"])
    with pytest.raises(RuntimeError, match="lacks a block symbol: g"):
        loader.load(good, ["g"])
    # A symbol that is not one of the runtime's helpers: never bound to
    # whatever the host has by that name.
    stranger = maker.make("declare void @system(ptr)\n"
                          "define void @f(ptr %s) {\n  call void @system(ptr %s)\n  ret void\n}")
    with pytest.raises(RuntimeError, match="'system', which is not a helper"):
        loader.load(stranger, ["f"])


def test_position_independent_code_through_a_got_is_refused():
    """What the loader does not do (a GOT) is named, not guessed at."""
    import llvmlite.binding as llvm
    ObjectMaker()  # initialises the native target
    target = llvm.Target.from_default_triple()
    tm = target.create_target_machine(reloc="pic", codemodel="small")
    mod = llvm.parse_assembly("@ext = external global i32\n"
                              "define i32 @f() {\n  %v = load i32, ptr @ext\n  ret i32 %v\n}")
    with pytest.raises(RuntimeError, match="relocation type"):
        ObjectLoader(ffi, lib).load(tm.emit_object(mod), ["f"])


def run_in_child(code):
    """Run `code` in a fresh interpreter (whose imports we want to see) and
    return the JSON it prints last."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


SIEVE_RUN = """
import json, sys
from jitemu.machine import Machine
from jitemu.devices.debugcon import DebugConsole
m = Machine(cache=%r)
m.translator.background = %r
m.load_firmware(open(%r, "rb").read())
con = m.attach(DebugConsole())
assert m.run() == "halt"
st = m.stats()
print(json.dumps({"text": con.text, "hot": st["blocks_hot"], "cached": st["blocks_from_cache"],
                  "llvm": "llvmlite.binding" in sys.modules}))
"""


def test_a_warm_run_takes_its_region_from_the_cache_without_loading_llvm(tmp_path):
    sieve = os.path.join(IMAGES, "sieve.bin")
    cold = run_in_child(SIEVE_RUN % (str(tmp_path), False, sieve))
    warm = run_in_child(SIEVE_RUN % (str(tmp_path), True, sieve))
    assert cold["text"] == warm["text"] == "primes 6179\n"
    assert cold["hot"] >= 1 and cold["llvm"]  # compiled in that process (no worker)
    assert warm["hot"] == 0 and warm["cached"] >= 1
    assert not warm["llvm"]

def test_a_seabios_boot_loads_neither_llvm_nor_capstones_python_binding():
    """The boot's blocks come from stencils (the runtime decodes with
    capstone's C library) and its regions from the worker process."""
    if not os.path.exists(SEABIOS):
        pytest.fail("Debian's seabios package is needed (apt-get install seabios); .ci/run installs it")
    got = run_in_child("""
import io, json, sys
from jitemu.pc import build_pc
pc = build_pc(bios=%r, disk=%r, debugcon=io.StringIO(), snapshot=True)
why = pc.run(max_instructions=100_000_000)
print(json.dumps({"why": why, "ok": "BOOT-SECTOR-OK" in pc.console,
                  "modules": sorted(n for n in sys.modules if n.split(".")[0] in ("llvmlite", "capstone"))}))
""" % (SEABIOS, os.path.join(IMAGES, "disk", "bootok.img")))
    assert got["why"] == "exit" and got["ok"]
    assert got["modules"] == []
