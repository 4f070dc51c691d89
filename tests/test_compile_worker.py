"""The background compile worker (a separate process) turns a region's IR
into object code, reports a module that does not compile as an error
instead of dying, and a machine swaps a region it made in while running."""
import os
import threading
import time

from jitemu.devices.debugcon import DebugConsole
from jitemu.jit.block import module_prelude
from jitemu.jit.worker import CompileWorker
from jitemu.machine import Machine

SIEVE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware", "images",
                     "sieve.bin")


def compile_on(worker, ir):
    done, got = threading.Event(), []
    assert worker.submit("key", ir, lambda *result: (got.append(result), done.set()))
    assert done.wait(120)
    return got[0]


def test_the_worker_returns_object_code_and_survives_bad_ir():
    w = CompileWorker()
    try:
        key, obj, error = compile_on(w, module_prelude() + "define void @r1(ptr %s) {\n  ret void\n}\n")
        assert key == "key" and error is None and obj[:4] == b"\x7fELF"
        key, obj, error = compile_on(w, "this is not LLVM IR")
        assert obj is None and "error" in error.lower()
        key, obj, error = compile_on(w, module_prelude() + "define void @r2(ptr %s) {\n  ret void\n}\n")
        assert error is None and obj[:4] == b"\x7fELF"  # still serving
    finally:
        w.close()


def test_a_region_made_by_the_worker_is_swapped_in_while_the_guest_runs():
    m = Machine()
    t = m.translator
    worker = t._worker()
    deadline = time.time() + 240
    while not worker.ready and time.time() < deadline:  # so the region goes to the worker
        time.sleep(0.01)
    m.load_firmware(open(SIEVE, "rb").read())
    con = m.attach(DebugConsole())
    assert m.run() == "halt" and con.text == "primes 6179\n"
    # The worker was ready, so every region went to it; one still compiling
    # when the guest halted is swapped in as soon as it is back.
    while m.stats()["blocks_hot"] == 0 and time.time() < deadline:
        t.install_ready()
        time.sleep(0.01)
    assert m.stats()["blocks_hot"] >= 1


def test_a_head_that_gets_hot_while_its_pages_region_compiles_waits_and_is_dropped_if_held():
    """The blocks of a loop get hot together; one region is made for the
    page at a time; a head it holds gets none, and the region is entered
    there too if it is a return site (a return from a call that left it)."""
    from romutil import assemble
    from jitemu._runtime import lib
    from jitemu.jit.compiler import ObjectMaker
    from jitemu.jit.worker import _do
    m = Machine()
    code = assemble("bits 16\norg 0\ntop: call f\nback: loop top\n hlt\nf: inc ax\n ret\nother: dec bx\n jmp other\n")
    back, f, other = 3, code.index(b"\x40\xc3"), code.index(b"\x4b\xeb")  # loop / inc ax; ret / dec bx; jmp
    m.write_phys(0x10000, code)
    m.regs.cs = 0x1000
    lib.cpu_update_hflags(m.s)
    m.translator.baseline = None
    for pc in (0, back, f, other):  # first-tier blocks there, as hot heads have
        m.translator.translate(0x10000 + pc, 0x10000, m.s.hflags)
    t, jobs = m.translator, []

    class Worker:
        ready = True

        def submit(self, key, job, callback):
            jobs.append((key, job, callback))
            return True
    t._worker = lambda: Worker()
    for pc in (0, back, f, other):
        t.translate_hot(0x10000 + pc, 0x10000, m.s.hflags)
    assert [job[2] for _, job, _ in jobs] == [0x10000]
    key, job, callback = jobs[0]
    result, error = _do(ObjectMaker(), job, {})
    assert error is None and result[3] == [0x10000, 0x10000 + back] and 0x10000 + f in result[4]
    callback(key, result, error)
    t.install_ready()
    assert [job[2] for _, job, _ in jobs] == [0x10000, 0x10000 + other]
    assert m.stats()["blocks_hot"] == 1
    # The return site's entry runs the region: 2000 passes of the loop
    # from there stay in it (a first access of the stack's page leaves it
    # for first-tier code once: the TLB is filled there).
    m.s.regs[0], m.s.regs[1], m.s.regs[4] = 0, 2000, 0x8000
    m.regs.ss = 0
    m.s.eip = back
    before = m.s.block_execs
    assert m.run(max_instructions=1_000_000) == "halt"
    assert m.s.regs[0] & 0xFFFF == 1999 and m.s.block_execs - before < 10


def test_a_region_leaves_out_code_that_has_not_run_when_it_got_hot():
    """A kernel's next phase (here: the code after the loop) is not
    compiled with the loop that got hot; it gets its own region later."""
    from romutil import assemble
    from jitemu._runtime import lib
    from jitemu.jit.lifting import lift_region
    m = Machine()
    code = assemble("bits 16\norg 0\ntop: dec cx\n jnz top\nnext: inc ax\n jmp next\n")
    nxt = code.index(b"\x40\xeb")
    m.write_phys(0x10000, code)
    m.regs.cs = 0x1000
    m.s.regs[1], m.s.eip = 60000, 0
    lib.cpu_update_hflags(m.s)
    hflags = m.s.hflags
    assert m.run(max_instructions=50_000) == "limit" and m.s.regs[1] & 0xFFFF > 0  # still in the loop
    snap = m.translator._snapshot(0x10000, 0x10000, hflags)
    assert 0x10000 in snap.ran and 0x10000 + nxt not in snap.ran
    _, _, _, blocks = lift_region(snap, "r9", 0x10000, 0x10000, hflags)
    assert blocks == [0x10000]
    snap.ran = None  # (nothing known: everything its jumps reach)
    _, _, _, blocks = lift_region(snap, "r9", 0x10000, 0x10000, hflags)
    assert sorted(blocks) == [0x10000, 0x10000 + nxt]
