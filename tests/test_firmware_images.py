"""The project's firmware images (firmware/): built from source, and correct.

(a) The committed images are exactly what `nasm` makes of firmware/src (so
    nasm must be installed: CI installs the Debian package `nasm`).
(b) Run under Unicorn (the oracle, firmware/run_unicorn.py), each image
    prints its recorded firmware/images/<name>.expected; the selftest reports
    no failure; the benchmark answers agree with an independent Python
    computation.
"""

import importlib.util
import os
import re
import subprocess
import sys
import zlib

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
IMAGES = os.path.join(FIRMWARE, "images")
SRC = os.path.join(FIRMWARE, "src")
NAMES = sorted(f[:-4] for f in os.listdir(SRC) if f.endswith(".asm"))
# Images whose source says "; oracle: jitemu-only" use what the Unicorn
# runner cannot deliver (protected-mode interrupts); their .expected text is
# checked by hand and by tests/test_firmware_run.py.
ORACLE_NAMES = [n for n in NAMES
                if "; oracle: jitemu-only" not in open(os.path.join(SRC, n + ".asm")).read()]


def _load_runner():
    try:
        import unicorn  # noqa: F401
    except ImportError:  # pragma: no cover - a setup problem, not a skip
        pytest.fail("the `unicorn` package is needed to run the firmware "
                    "oracle: pip install -e .[test]")
    spec = importlib.util.spec_from_file_location(
        "run_unicorn", os.path.join(FIRMWARE, "run_unicorn.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def unicorn_output():
    runner = _load_runner()
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = runner.run_file(os.path.join(IMAGES, name + ".bin"))
        return cache[name]
    return get


def _read_text(path):
    with open(path, newline="") as f:
        return f.read()


def _repeat(name):
    m = re.search(r"^%define REPEAT (\d+)$", _read_text(
        os.path.join(SRC, name + ".asm")), re.M)
    assert m, f"src/{name}.asm has no default `%define REPEAT n`"
    return int(m.group(1))


def test_images_match_sources():
    proc = subprocess.run([sys.executable,
                           os.path.join(FIRMWARE, "build.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, (
        "firmware/build.py --check failed:\n" + proc.stdout + proc.stderr)


def test_every_image_has_expected_output():
    for name in NAMES:
        assert os.path.exists(os.path.join(IMAGES, name + ".expected")), name


@pytest.mark.parametrize("name", ORACLE_NAMES)
def test_unicorn_output_matches_expected(name, unicorn_output):
    expected = _read_text(os.path.join(IMAGES, name + ".expected"))
    assert unicorn_output(name) == expected


@pytest.mark.parametrize("name,least", [("selftest", 60), ("p6", 10)])
def test_self_checking_images_pass(unicorn_output, name, least):
    text = unicorn_output(name)
    lines = text.splitlines()
    failed = [line for line in lines if line.startswith("FAIL ")]
    assert not failed, failed
    m = re.fullmatch(name + r": (\d+) passed, (\d+) failed", lines[-1])
    assert m, lines[-1]
    passed = int(m.group(1))
    assert m.group(2) == "0"
    assert passed == sum(line.startswith("ok ") for line in lines)
    assert passed >= least


def test_cpuloop_crc_is_right(unicorn_output):
    # Same LCG fill as src/cpuloop.asm; CRC32 over the buffer REPEAT times.
    x, buf = 1, bytearray()
    for _ in range(0x8000):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        buf.append(x >> 24)
    crc = zlib.crc32(bytes(buf) * _repeat("cpuloop"))
    assert unicorn_output("cpuloop") == f"crc32 {crc:08x}\n"


def test_sieve_count_is_right(unicorn_output):
    n = 61440
    is_prime = bytearray([1]) * n
    is_prime[0] = is_prime[1] = 0
    for i in range(2, int(n ** 0.5) + 1):
        if is_prime[i]:
            is_prime[i * i::i] = bytes(len(range(i * i, n, i)))
    assert unicorn_output("sieve") == f"primes {sum(is_prime)}\n"


def _lcg(x):
    return (x * 1103515245 + 12345) & 0xFFFFFFFF


def _rol32(v, n):
    n &= 31
    return ((v << n) | (v >> (32 - n))) & 0xFFFFFFFF


def test_smc_imm_checksum_is_right(unicorn_output):
    # What the routine computes with the immediates src/smc-imm.asm patches
    # into it before each call.
    x, acc = 1, 0x12345678
    for _ in range(_repeat("smc-imm")):
        x = _lcg(x)
        mov_imm = x
        x = _lcg(x)
        add_imm = x
        x = _lcg(x)
        cmp_imm = x & 0xFFFF
        acc = _rol32((acc + mov_imm) & 0xFFFFFFFF, 5)
        acc = (acc + add_imm) & 0xFFFFFFFF
        acc = (acc + ((acc & 0xFFFF) < cmp_imm)) & 0xFFFFFFFF  # cmp bx, imm16; adc ebx, 0
        acc ^= mov_imm
    assert unicorn_output("smc-imm") == f"smc-imm {acc:08x}\n"


def test_smc_gen_checksum_is_right(unicorn_output):
    # The routines src/smc-gen.asm generates, run as they are drawn.
    x, acc = 1, 0x12345678
    for _ in range(_repeat("smc-gen")):
        x = _lcg(x)
        for _ in range(4 + ((x >> 16) & 7)):
            x = _lcg(x)
            t = x >> 16
            if t & 3 == 2:
                acc = _rol32(acc, (t >> 2) & 31)
                continue
            x = _lcg(x)
            acc = [(acc + x) & 0xFFFFFFFF, acc ^ x, None, (acc * x) & 0xFFFFFFFF][t & 3]
    assert unicorn_output("smc-gen") == f"smc-gen {acc:08x}\n"
