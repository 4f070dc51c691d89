"""The persistent translation cache: a second run links cached object code
instead of compiling, and a corrupt or foreign cache is ignored, never
fatal; nor is an unusable directory or a full disk, and runs sharing one
cache append each entry once."""
import errno
import logging
import os
import subprocess
import sys

import pytest
from romutil import rom_with

from jitemu.devices.debugcon import DebugConsole
from jitemu.jit.cache import CodeCache
from jitemu.machine import Machine

IMAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware", "images",
                     "selftest.bin")


@pytest.fixture(autouse=True)
def _llvm_tier(monkeypatch):
    """The cache keeps the LLVM tier's object code (baseline blocks are
    copied from stencils each run, not cached): these tests run that tier."""
    monkeypatch.setenv("JITEMU_BASELINE", "0")


def run(cache_dir):
    m = Machine(cache=cache_dir)
    m.load_firmware(open(IMAGE, "rb").read())
    con = m.attach(DebugConsole())
    assert m.run() == "halt"
    return m.stats(), con.text, m.translator.cache


def test_a_second_run_takes_its_blocks_from_the_cache(tmp_path):
    cold, text1, _ = run(str(tmp_path))
    warm, text2, cache = run(str(tmp_path))
    assert text1 == text2 and text1.rstrip().endswith(", 0 failed")
    assert cold["blocks_from_cache"] == 0 and cold["blocks_translated"] > 100
    assert warm["blocks_from_cache"] >= cold["blocks_translated"] // 2
    assert warm["blocks_translated"] < cold["blocks_translated"] // 4
    assert cache.ignored == 0


def test_corrupt_objects_and_index_lines_are_ignored(tmp_path):
    run(str(tmp_path))
    vdir = CodeCache(str(tmp_path)).dir
    objects = os.path.join(vdir, "objects")
    names = sorted(os.listdir(objects))
    for i, name in enumerate(names):
        path = os.path.join(objects, name)
        if i % 3 == 0:
            with open(path, "wb") as f:
                f.write(b"\x7fELF not really")         # wrong content for its hash
        elif i % 3 == 1:
            os.remove(path)                            # missing
    with open(os.path.join(vdir, "index"), "a") as f:
        f.write("garbage line\nf0000 zz 0 0 0 0 0 0\n\x00\x01\x02\n")
    stats, text, cache = run(str(tmp_path))
    assert text.rstrip().endswith(", 0 failed")       # still right
    assert cache.ignored > 0
    assert stats["blocks_from_cache"] > 0             # the intact third still helps


def test_an_object_that_does_not_link_is_ignored(tmp_path):
    run(str(tmp_path))
    cache = CodeCache(str(tmp_path))
    objects = os.path.join(cache.dir, "objects")
    # A well-named file whose bytes are not object code: rename garbage to
    # its own hash, and point one index entry at it.
    import hashlib
    junk = b"not an object file at all" * 10
    name = hashlib.sha256(junk).hexdigest()[:32]
    with open(os.path.join(objects, name + ".o"), "wb") as f:
        f.write(junk)
    with open(os.path.join(cache.dir, "index")) as f:
        first = f.readline().split()
    first[6] = name
    with open(os.path.join(cache.dir, "index"), "w") as f:  # only the bad entry
        f.write(" ".join(first) + "\n")
    stats, text, cache = run(str(tmp_path))
    assert text.rstrip().endswith(", 0 failed")
    assert cache.ignored == 1 and stats["blocks_from_cache"] == 0


def test_a_hot_region_is_cached_and_reused_by_the_next_run(tmp_path):
    """A region (the hot tier's code) is kept with every block's bytes and
    links at once in the next run, which then compiles nothing."""
    sieve = os.path.join(os.path.dirname(IMAGE), "sieve.bin")

    def run_sieve():
        m = Machine(cache=str(tmp_path))
        m.translator.background = False  # compile the region now, not on the worker
        m.load_firmware(open(sieve, "rb").read())
        con = m.attach(DebugConsole())
        assert m.run() == "halt"
        return m.stats(), con.text

    cold, text1 = run_sieve()
    warm, text2 = run_sieve()
    assert text1 == text2 == "primes 6179\n"
    assert cold["blocks_hot"] >= 1
    assert warm["blocks_hot"] == 0 and warm["blocks_translated"] == 0
    with open(os.path.join(CodeCache(str(tmp_path)).dir, "index")) as f:
        regions = [line.split() for line in f if line.split()[7].startswith("r")]
    assert regions and all(len(r) == 9 for r in regions)  # with their blocks' ranges



def test_a_run_that_ends_before_its_region_is_ready_leaves_it_to_the_next_run(tmp_path):
    """The worker lifts, compiles and stores a region after the run that
    asked for it has ended (a boot is shorter than the worker's start):
    the next run takes it from the cache."""
    import time
    sieve = os.path.join(os.path.dirname(IMAGE), "sieve.bin")
    env = dict(os.environ, JITEMU_CACHE_DIR=str(tmp_path), JITEMU_BASELINE="1")
    # 3 million instructions: the sieve's loop gets hot, and the run ends
    # a few milliseconds later, long before a worker can be ready.
    short = subprocess.run(JITEMU + ["run", sieve, "--max-instructions", "3000000"], capture_output=True,
                           text=True, timeout=120, env=env)
    assert "limit after 3000000 instructions" in short.stderr and "0 optimised" in short.stderr, short.stderr
    index = os.path.join(CodeCache(str(tmp_path)).dir, "index")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if os.path.exists(index) and any(line.split()[7].startswith("r") for line in open(index)):
            break
        time.sleep(0.2)
    else:
        pytest.fail("the worker stored no region")
    full = subprocess.run(JITEMU + ["run", sieve], capture_output=True, text=True, timeout=120, env=env)
    assert full.stdout == "primes 6179\n"
    assert " 0 from the cache" not in full.stderr and "from the cache" in full.stderr, full.stderr

# -- an unusable cache, a full disk, concurrent runs, the corrupt-entries line --

JITEMU = [sys.executable, "-m", "jitemu.cli"]
# mov dx,0x402; mov al,'o'; out dx,al; mov al,'k'; out dx,al; hlt
OK_ROM = rom_with(bytes.fromhex("ba0204b06feeb06bee") + b"\xf4")


def entry(i, symbol=None):
    """A block for CodeCache.store: (pc, cs_base, hflags, [(phys, bytes)], symbol)."""
    return (0xF0000 + 16 * i, 0xF0000, 0, [(0xF0000 + 16 * i, bytes([i & 0xFF]) * 16)], symbol or "b%d" % i)


def index_lines(cache):
    with open(cache.index_path) as f:
        return f.read().splitlines()


def cache_warnings(caplog):
    return [r.getMessage() for r in caplog.records
            if r.name == "jitemu.jit.cache" and r.levelno == logging.WARNING]


def unusable(kind, tmp_path):
    """A cache directory that cannot be made or used, even by root."""
    plain = tmp_path / "plain-file"
    plain.write_text("not a directory")
    return {"regular file": str(plain), "under a regular file": str(plain / "cache"),
            "/dev/null": "/dev/null", "under /dev/null": "/dev/null/cache",
            "under /proc": "/proc/jitemu-cache"}[kind]


@pytest.mark.parametrize("kind", ["regular file", "under a regular file", "/dev/null", "under /dev/null",
                                  "under /proc"])
def test_an_unusable_directory_warns_once_and_the_cache_stays_empty(kind, tmp_path, caplog):
    path = unusable(kind, tmp_path)
    cache = CodeCache(path)
    cache.store(b"object code", [entry(1)])
    cache.store(b"more object code", [entry(2)])
    assert cache_warnings(caplog) == [
        "jitemu: warning: translation cache disabled: %s: %s" % (path, "No such file or directory"
                                                                 if kind == "under /proc" else "Not a directory")]
    assert not cache.writable and cache.candidates(*entry(1)[:3]) is None


def test_an_index_that_cannot_be_opened_disables_storing_at_the_first_store(tmp_path, caplog):
    cache = CodeCache(str(tmp_path))
    os.mkdir(cache.index_path)
    cache.store(b"object code", [entry(1)])
    cache.store(b"more object code", [entry(2)])
    assert cache_warnings(caplog) == ["jitemu: warning: translation cache disabled: %s: Is a directory"
                                      % cache.index_path]


def test_a_run_with_an_unusable_cache_says_so_in_one_line_and_goes_on(tmp_path):
    rom = tmp_path / "ok.bin"
    rom.write_bytes(OK_ROM)
    p = subprocess.run(JITEMU + ["run", str(rom)], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, JITEMU_CACHE_DIR="/dev/null"))
    assert (p.stdout, p.returncode) == ("ok", 0)
    warnings = [line for line in p.stderr.splitlines() if "warning" in line]
    assert warnings == ["jitemu: warning: translation cache disabled: /dev/null: Not a directory"]
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EROFS])
def test_a_full_or_read_only_disk_while_storing_stops_storing_with_one_warning(error, tmp_path, caplog,
                                                                               monkeypatch):
    cache = CodeCache(str(tmp_path))
    cache.store(b"first object", [entry(1)])
    real_write = os.write

    def failing_write(fd, data):
        if fd == cache._fd:
            raise OSError(error, os.strerror(error))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", failing_write)
    cache.store(b"second object", [entry(2)])
    cache.store(b"third object", [entry(3)])
    assert cache_warnings(caplog) == ["jitemu: warning: translation cache disabled: %s: %s"
                                      % (cache.index_path, os.strerror(error))]
    assert not cache.writable
    assert len(index_lines(cache)) == 1
    assert CodeCache(str(tmp_path)).candidates(*entry(1)[:3])  # what was stored is still good
    assert not any(name.endswith(".tmp") for name in os.listdir(cache.objects_dir))


STORER = """
import os, sys, time
sys.path.insert(0, sys.argv[3])
from test_cache import entry
from jitemu.jit.cache import CodeCache
cache = CodeCache(sys.argv[1])
while not os.path.exists(sys.argv[2]):
    time.sleep(0.001)
for batch in range(20):  # every process stores the same 20 modules of 10 blocks
    cache.store(b"object %d" % batch, [entry(10 * batch + i) for i in range(10)])
"""


def test_concurrent_runs_storing_the_same_blocks_append_each_entry_once(tmp_path):
    go = tmp_path / "go"
    cache_dir = tmp_path / "cache"
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    procs = [subprocess.Popen([sys.executable, "-c", STORER, str(cache_dir), str(go), tests_dir])
             for _ in range(4)]
    go.write_text("")
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    cache = CodeCache(str(cache_dir))
    lines = index_lines(cache)
    assert len(lines) == len(set(lines)) == 200
    assert all(len(cache.candidates(*entry(i)[:3])) == 1 for i in range(200))


def test_a_region_from_the_same_bytes_as_a_block_is_a_new_entry(tmp_path):
    cache = CodeCache(str(tmp_path))
    cache.store(b"first tier", [entry(1)])
    cache.store(b"first tier again", [entry(1)])
    cache.store(b"hot tier", [entry(1, symbol="r9")])
    assert [line.split()[7] for line in index_lines(cache)] == ["b1", "r9"]


def test_a_run_that_ignored_corrupt_entries_says_how_many(tmp_path):
    rom = tmp_path / "ok.bin"
    rom.write_bytes(OK_ROM)
    cache_dir = tmp_path / "cache"
    index = CodeCache(str(cache_dir)).index_path
    with open(index, "w") as f:
        f.write("garbage line\nf0000 zz 0 0 0 0 0 0\n\x00\x01\x02\n")
    p = subprocess.run(JITEMU + ["run", str(rom)], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, JITEMU_CACHE_DIR=str(cache_dir)))
    assert (p.stdout, p.returncode) == ("ok", 0)
    assert [line for line in p.stderr.splitlines() if "cache:" in line] == [

        "jitemu: cache: 3 entries ignored (corrupt)"]
