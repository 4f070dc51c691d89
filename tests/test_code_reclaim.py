"""The code arena is reclaimed when it outgrows its limit: self-modifying
code makes new blocks without end, and each one used to keep its memory
for the life of the process (smc-imm grew to 255 MB in 5 M instructions).
Like QEMU's flush of a full translation buffer, all code goes and is made
anew; a run that crosses the limit many times gives the same output and
instruction count, and a machine whose code went while it was not running
forgets its table before it runs again."""
import os

import pytest

from jitemu._runtime import lib
from jitemu.devices.debugcon import DebugConsole
from jitemu.machine import Machine

IMAGES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware", "images")
DEFAULT_LIMIT = 64 << 20  # runtime/stencil.c


@pytest.fixture
def small_arena():
    lib.arena_set_limit(48 << 10)
    yield
    lib.arena_set_limit(DEFAULT_LIMIT)


def boot(name, max_instructions=None):
    m = Machine()
    with open(os.path.join(IMAGES, name + ".bin"), "rb") as f:
        m.load_firmware(f.read())
    con = m.attach(DebugConsole())
    return m, con, m.run(max_instructions=max_instructions)


def expected(name):
    with open(os.path.join(IMAGES, name + ".expected"), newline="") as f:
        return f.read()


@pytest.mark.parametrize("name", ["smc-imm", "smc-gen"])
def test_self_modifying_code_over_the_limit_reclaims_and_runs_the_same(name, small_arena):
    m0, con0, why0 = boot(name)  # (the limit is small for this one too)
    epoch = lib.arena_epoch()
    m, con, why = boot(name)
    assert (why, con.text) == (why0, con0.text) == ("halt", expected(name))
    assert m.icount == m0.icount
    assert lib.arena_epoch() - epoch >= 3  # reclaimed again and again


def test_a_machine_whose_code_went_meanwhile_runs_on_correctly(small_arena):
    idle, con, why = boot("sieve", max_instructions=200_000)  # stopped half way
    assert why == "limit"
    epoch = lib.arena_epoch()
    boot("smc-imm")                     # reclaims the arena under it
    assert lib.arena_epoch() > epoch
    idle.flush_code_cache()             # a stale table is forgotten, not cut
    assert idle.run() == "halt"
    assert con.text == expected("sieve")


def test_a_reset_of_a_machine_with_a_stale_table(small_arena):
    m, con, _ = boot("sieve", max_instructions=100_000)
    boot("smc-gen")
    m.reset()
    assert m.run() == "halt" and con.text.endswith(expected("sieve"))


def test_code_kept_for_reuse_is_forgotten_when_another_machine_reclaims_the_arena(small_arena):
    """LLVM-tier code the translator keeps to reinstate (its bytes the
    same again after a flush) was made in the arena that went: it is made
    anew, not jumped to."""
    m = Machine()
    m.translator.baseline = None  # (every block from the LLVM tier, kept for reuse)
    with open(os.path.join(IMAGES, "sieve.bin"), "rb") as f:
        m.load_firmware(f.read())
    con = m.attach(DebugConsole())
    assert m.run(max_instructions=100_000) == "limit"
    epoch = lib.arena_epoch()
    boot("smc-imm")
    assert lib.arena_epoch() > epoch
    m.flush_code_cache()  # its blocks are missed again, and would be reinstated
    assert m.run() == "halt" and con.text == expected("sieve")
