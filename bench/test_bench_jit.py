"""pytest-benchmark suites for the JIT core.  Run with

    .venv/bin/pytest bench --benchmark-only

Throughput figures (blocks compiled per second, guest MIPS) are in each
result's extra_info; absolute times vary on shared machines, compare ratios.
"""
import os

import pytest

from jitemu.machine import Machine

from .workloads import alu_loop, many_blocks

FIRMWARE = os.path.join(os.path.dirname(__file__), "..", "firmware", "images")


def _run(image, **kw):
    m = Machine()
    m.load_firmware(image)
    assert m.run(**kw) == "halt"
    return m


def test_blocks_compiled_per_second(benchmark):
    image, n = many_blocks()
    m = benchmark.pedantic(_run, args=(image,), rounds=5, iterations=1)
    st = m.stats()
    assert st["blocks_translated"] >= n
    benchmark.extra_info["blocks"] = st["blocks_translated"]
    benchmark.extra_info["blocks_per_second"] = st["blocks_translated"] / benchmark.stats.stats.median


def test_guest_instructions_per_second_alu_loop(benchmark):
    image = alu_loop(outer=64)
    m = benchmark.pedantic(_run, args=(image,), rounds=5, iterations=1)
    benchmark.extra_info["instructions"] = m.icount
    benchmark.extra_info["mips"] = m.icount / benchmark.stats.stats.median / 1e6


@pytest.mark.parametrize("name", ["cpuloop", "sieve"])
def test_guest_instructions_per_second_firmware(benchmark, name):
    path = os.path.join(FIRMWARE, name + ".bin")
    image = open(path, "rb").read()
    m = benchmark.pedantic(_run, args=(image,), rounds=3, iterations=1)
    benchmark.extra_info["instructions"] = m.icount
    benchmark.extra_info["mips"] = m.icount / benchmark.stats.stats.median / 1e6
