"""bl_assemble's cost for a five-stencil block, called from Python with
ready-made cffi arrays (the baseline tier's per-block overhead).

    .venv/bin/pytest bench/test_bench_stencil.py --benchmark-only
"""
from jitemu._runtime import ffi, lib
from tests.test_stencil_patch import HOLES, STENCILS, bl_load, compile_stencils, helper_addresses, tables


def test_assemble_five_stencils(benchmark):
    obj = compile_stencils(STENCILS)
    names = list(STENCILS)
    assert bl_load(*tables(obj, names), helper_addresses()) == 0
    block = ["mov_ri", "exit", "count", "exit_if_zero", "end"]
    holes = [0] * (len(block) * HOLES)
    holes[0:2] = [1, 2]
    holes[HOLES] = 3
    holes[3 * HOLES:3 * HOLES + 2] = [1, 4]
    ids = ffi.new("uint16_t[]", [names.index(n) for n in block])
    holes = ffi.new("uint32_t[]", holes)
    data = ffi.new("uint64_t[]", [0])
    fn = benchmark(lib.bl_assemble, len(block), ids, holes, 1, data)
    assert fn != ffi.NULL
    out = ffi.new("uint64_t[3]")
    lib.bl_stats(out)
    benchmark.extra_info["code_bytes_per_block"] = out[0] // out[2]
