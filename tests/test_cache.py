"""The persistent translation cache: a second run links cached object code
instead of compiling, and a corrupt or foreign cache is ignored, never
fatal."""
import os

from jitemu.devices.debugcon import DebugConsole
from jitemu.jit.cache import CodeCache
from jitemu.machine import Machine

IMAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware", "images",
                     "selftest.bin")


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
