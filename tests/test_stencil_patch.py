"""Copy-and-patch assembly (runtime/stencil.c) with real stencils.

LLVM compiles small stencils here, jitemu/jit/elf.py reads the object, and
the tables go to bl_load; assembled blocks then run on a real CPU state.
The stencil library is process-wide: every test loads its own.
"""
import os

import llvmlite.binding as llvm
import pytest

from jitemu._runtime import ffi, lib
from jitemu.jit import elf
from jitemu.machine import Machine

HOLES = lib.bl_holes()
HOLE, HELPER, CONTINUE, DATA = range(4)
REGS = ffi.offsetof("CPUState", "regs")
TSC = ffi.offsetof("CPUState", "tsc_offset")
EXIT = ffi.offsetof("CPUState", "exit_request")

llvm.initialize_native_target()
llvm.initialize_native_asmprinter()

DECLS = "\n".join(["@H%d = extern_weak dso_local global i8" % i for i in range(4)]
                  + ["@D%d = extern_weak dso_local global i8" % i for i in range(4, 8)]
                  + ["declare void @CONTINUE(ptr)",
                     "declare void @cpu_request_exit(ptr, i32)",
                     "declare void @helper_hlt(ptr)"])

# Holes H0-H3 are operands; D4-D7 name data words (hole slots 4-7 hold
# the word numbers), so no stencil uses one slot for both.
STENCILS = {
    # regs[H0] = H1
    "mov_ri": """
  %i = zext i32 ptrtoint (ptr @H0 to i32) to i64
  %p = getelementptr i32, ptr %%st, i64 %i
  store i32 ptrtoint (ptr @H1 to i32), ptr %p
  musttail call void @CONTINUE(ptr %%st)
  ret void""",
    # regs[H0] += H1
    "add_ri": """
  %i = zext i32 ptrtoint (ptr @H0 to i32) to i64
  %p = getelementptr i32, ptr %%st, i64 %i
  %v = load i32, ptr %p
  %r = add i32 %v, ptrtoint (ptr @H1 to i32)
  store i32 %r, ptr %p
  musttail call void @CONTINUE(ptr %%st)
  ret void""",
    # cpu_request_exit(st, H0): a helper call
    "exit": """
  call void @cpu_request_exit(ptr %%st, i32 ptrtoint (ptr @H0 to i32))
  musttail call void @CONTINUE(ptr %%st)
  ret void""",
    "hlt": """
  call void @helper_hlt(ptr %%st)
  musttail call void @CONTINUE(ptr %%st)
  ret void""",
    # data word D4 += 1: a run counter
    "count": """
  %c = load i64, ptr @D4
  %c1 = add i64 %c, 1
  store i64 %c1, ptr @D4
  musttail call void @CONTINUE(ptr %%st)
  ret void""",
    # regs[H0] = low half of data word D4
    "load_data": """
  %i = zext i32 ptrtoint (ptr @H0 to i32) to i64
  %p = getelementptr i32, ptr %%st, i64 %i
  %v = load i32, ptr @D4
  store i32 %v, ptr %p
  musttail call void @CONTINUE(ptr %%st)
  ret void""",
    # if regs[H0] == 0: request exit H1 and leave; else go on (a jne CONTINUE mid-stencil)
    "exit_if_zero": """
  %i = zext i32 ptrtoint (ptr @H0 to i32) to i64
  %p = getelementptr i32, ptr %%st, i64 %i
  %v = load i32, ptr %p
  %z = icmp eq i32 %v, 0
  br i1 %z, label %out, label %on
out:
  call void @cpu_request_exit(ptr %%st, i32 ptrtoint (ptr @H1 to i32))
  ret void
on:
  musttail call void @CONTINUE(ptr %%st)
  ret void""",
    # tsc_offset = sign-extended H0: an R_X86_64_32S hole
    "tsc_imm": """
  %p = getelementptr i8, ptr %%st, i64 {TSC}
  store i64 ptrtoint (ptr @H0 to i64), ptr %p
  musttail call void @CONTINUE(ptr %%st)
  ret void""",
    # regs[0] = H0 + 16: an R_X86_64_32 hole with an addend
    "plus16": """
  store i32 ptrtoint (ptr getelementptr (i8, ptr @H0, i64 16) to i32), ptr %%st
  musttail call void @CONTINUE(ptr %%st)
  ret void""",
    # a block exit through its jump slot, data word D5
    "jump_slot": """
  %f = load ptr, ptr @D5
  musttail call void %f(ptr %%st)
  ret void""",
    "end": """
  ret void""",
}

HELPERS = ["cpu_request_exit", "helper_hlt"]


def compile_stencils(bodies):
    ir = DECLS + "\n" + "\n".join(
        "define void @%s(ptr %%st) {\n%s\n}" % (name, body.replace("%%", "%").replace("{TSC}", str(TSC)))
        for name, body in bodies.items())
    mod = llvm.parse_assembly(ir)
    mod.verify()
    tm = llvm.Target.from_default_triple().create_target_machine(opt=2, reloc="static", codemodel="small")
    return elf.read_object(tm.emit_object(mod))


def symbol_kind(name, helpers):
    if name == "CONTINUE":
        return CONTINUE, 0
    if name in helpers:
        return HELPER, helpers.index(name)
    if name[0] in "HD" and name[1:].isdigit():
        return (HOLE if name[0] == "H" else DATA), int(name[1:])
    raise KeyError(name)


def tables(obj, names, helpers=HELPERS):
    """bl_load's tables for functions `names` (ids in that order)."""
    code, stencils, relocs = bytearray(), [], []
    for name in names:
        f = obj.functions[name]
        stencils += [len(code), len(f.code), len(relocs) // 4, len(f.relocs)]
        for r in f.relocs:
            kind, index = symbol_kind(r.symbol, helpers)
            relocs += [r.offset, r.type | kind << 8 | index << 16, r.addend & 0xffffffff, 0]
        code += f.code
    return bytes(code), stencils, relocs


def helper_addresses(names=HELPERS):
    return [int(ffi.cast("uintptr_t", ffi.addressof(lib, n))) for n in names]


def bl_load(code, stencils, relocs, helpers):
    return lib.bl_load(code, len(code), ffi.new("uint32_t[]", stencils or [0]), len(stencils) // 4,
                       ffi.new("uint32_t[]", relocs or [0]), len(relocs) // 4,
                       ffi.new("uint64_t[]", helpers or [0]), len(helpers))


def assemble(ids, holes=None, data=()):
    """ids: stencil ids; holes: one {slot: value} per instance."""
    holes = holes or [{}] * len(ids)
    flat = [0] * (len(ids) * HOLES)
    for i, h in enumerate(holes):
        for slot, v in h.items():
            flat[i * HOLES + slot] = v
    addr = lib.bl_assemble(len(ids), ffi.new("uint16_t[]", list(ids) or [0]),
                           ffi.new("uint32_t[]", flat or [0]), len(data),
                           ffi.new("uint64_t[]", list(data) or [0]) if data else ffi.NULL)
    return addr


def stats():
    out = ffi.new("uint64_t[3]")
    lib.bl_stats(out)
    return tuple(out)


def machine():
    m = Machine(memory_mb=1)
    for i in range(8):
        m.s.regs[i] = 0  # EDX holds the CPU signature after reset
    lib.cpu_clear_exit(m.s, 0xffffffff)
    return m


def run(addr, m):
    ffi.cast("void (*)(CPUState *)", addr)(m.s)


@pytest.fixture(scope="module")
def obj():
    return compile_stencils(STENCILS)


@pytest.fixture
def ids(obj):
    """Load the whole library; stencil name -> id."""
    names = list(STENCILS)
    assert bl_load(*tables(obj, names), helper_addresses()) == 0
    return {n: i for i, n in enumerate(names)}


def test_holes_constant_is_shared():
    assert HOLES == 16
    with open(os.path.join(os.path.dirname(__file__), "..", "runtime", "jitemu.h")) as f:
        header = f.read()
    assert "#define BL_HOLES 16" in header
    for name, value in (("HOLE", HOLE), ("HELPER", HELPER), ("CONTINUE", CONTINUE), ("DATA", DATA)):
        assert "#define BL_KIND_%s %d " % (name, value) in header


def test_stencils_have_the_expected_shape(obj):
    # The tests below rely on LLVM's stencil shapes: a trailing jmp CONTINUE
    # (elided), a conditional one in the middle, holes as 32-bit immediates.
    for name in ("mov_ri", "add_ri", "exit", "hlt", "count", "load_data", "tsc_imm", "plus16"):
        f = obj.functions[name]
        assert f.code[-5] == 0xe9, name
        assert elf.Reloc(len(f.code) - 4, elf.R_X86_64_PLT32, "CONTINUE", -4) in f.relocs
    mid = [r for r in obj.functions["exit_if_zero"].relocs if r.symbol == "CONTINUE"]
    assert len(mid) == 1 and mid[0].offset < len(obj.functions["exit_if_zero"].code) - 4
    assert {(r.symbol, r.type) for r in obj.functions["tsc_imm"].relocs} >= {("H0", elf.R_X86_64_32S)}
    assert ("H0", elf.R_X86_64_32, 16) in {(r.symbol, r.type, r.addend) for r in obj.functions["plus16"].relocs}


def test_block_writes_state_with_each_instances_holes(ids):
    m = machine()
    block = [ids["mov_ri"], ids["mov_ri"], ids["add_ri"], ids["mov_ri"], ids["add_ri"], ids["end"]]
    holes = [{0: 0, 1: 5}, {0: 3, 1: 0xdeadbeef}, {0: 0, 1: 37}, {0: 7, 1: 0xffffffff},
             {0: 3, 1: 0x11111111}, {}]
    addr = assemble(block, holes)
    assert addr != ffi.NULL
    assert int(ffi.cast("uintptr_t", addr)) % 16 == 0
    assert int(ffi.cast("uintptr_t", addr)) + 4096 < 1 << 31  # the arena is below 2 GiB
    run(addr, m)
    assert m.s.regs[0] == 42
    assert m.s.regs[3] == 0xdeadbeef + 0x11111111 & 0xffffffff
    assert m.s.regs[7] == 0xffffffff
    assert [m.s.regs[i] for i in (1, 2, 4, 5, 6)] == [0] * 5
    # The same stencils, other holes: an independent copy.
    addr2 = assemble([ids["mov_ri"], ids["end"]], [{0: 1, 1: 99}, {}])
    run(addr2, m)
    run(addr, m)
    assert m.s.regs[1] == 99 and m.s.regs[0] == 42


def test_helper_calls_through_trampolines(ids):
    m = machine()
    addr = assemble([ids["exit"], ids["hlt"], ids["exit"], ids["end"]], [{0: 0x100}, {}, {0: 0x200}, {}])
    assert addr != ffi.NULL
    m.s.halted = 0
    run(addr, m)
    assert m.s.exit_request == 0x300
    assert m.s.halted == 1
    lib.cpu_clear_exit(m.s, 0xffffffff)


def test_data_words_count_runs_and_are_readable(ids):
    m = machine()
    # Two counters; instance 0 and 2 count word 1, instance 1 word 0;
    # load_data copies word 1's initial value plus the counts so far.
    block = [ids["count"], ids["count"], ids["count"], ids["load_data"], ids["end"]]
    holes = [{4: 1}, {4: 0}, {4: 1}, {0: 2, 4: 1}, {}]
    addr = assemble(block, holes, data=[1000, 5000])
    assert addr != ffi.NULL
    data = lib.bl_last_data()
    assert int(ffi.cast("uintptr_t", data)) % 8 == 0
    assert [data[0], data[1]] == [1000, 5000]
    for _ in range(3):
        run(addr, m)
    assert [data[0], data[1]] == [1003, 5006]
    assert m.s.regs[2] == 5006


def test_data_words_start_at_zero_without_initial_values(ids):
    m = machine()
    addr = assemble([ids["count"], ids["load_data"], ids["end"]], [{4: 2}, {0: 5, 4: 2}, {}])
    assert addr == ffi.NULL  # no data words at all
    addr = lib.bl_assemble(3, ffi.new("uint16_t[]", [ids["count"], ids["load_data"], ids["end"]]),
                           ffi.new("uint32_t[]", [0] * 4 + [2] + [0] * 11 + [5, 0, 0, 0, 2] + [0] * 27),
                           3, ffi.NULL)
    assert addr != ffi.NULL
    data = lib.bl_last_data()
    assert [data[i] for i in range(3)] == [0, 0, 0]
    run(addr, m)
    assert m.s.regs[5] == 1 and data[2] == 1
    assert assemble([ids["end"]]) != ffi.NULL
    assert lib.bl_last_data() == ffi.NULL


def test_continuation_jumps_are_elided_and_counted(obj, ids):
    code0, data0, blocks0 = stats()
    block = ["mov_ri", "add_ri", "count", "exit_if_zero", "end"]
    addr = assemble([ids[n] for n in block], [{0: 1, 1: 2}, {0: 1, 1: 3}, {4: 0}, {0: 1, 1: 4}, {}], data=[0])
    assert addr != ffi.NULL
    code1, data1, blocks1 = stats()
    full = sum(len(obj.functions[n].code) for n in block)
    # Three trailing jumps go; exit_if_zero's conditional one and end's ret stay.
    assert code1 - code0 == full - 5 * 3
    assert (data1 - data0, blocks1 - blocks0) == (8, 1)
    # The first stencil runs straight into the second: no jump between.
    first = obj.functions["mov_ri"].code
    second = obj.functions["add_ri"].code
    got = bytes(ffi.buffer(ffi.cast("uint8_t *", addr), len(first) - 5 + 1))
    assert got[-1] == second[0]
    m = machine()
    lib.cpu_clear_exit(m.s, 0xffffffff)
    run(addr, m)
    assert m.s.regs[1] == 5 and m.s.exit_request == 0


def test_conditional_continue_is_patched_to_the_next_instance(ids):
    m = machine()
    block = [ids["exit_if_zero"], ids["mov_ri"], ids["end"]]
    addr = assemble(block, [{0: 6, 1: 0x10}, {0: 5, 1: 77}, {}])
    lib.cpu_clear_exit(m.s, 0xffffffff)
    m.s.regs[6] = 0
    run(addr, m)  # taken: leaves before mov_ri
    assert m.s.exit_request == 0x10 and m.s.regs[5] == 0
    lib.cpu_clear_exit(m.s, 0xffffffff)
    m.s.regs[6] = 1
    run(addr, m)  # not taken: jne lands on mov_ri
    assert m.s.exit_request == 0 and m.s.regs[5] == 77


def test_blocks_chain_through_jump_slots(ids):
    m = machine()
    b = assemble([ids["mov_ri"], ids["end"]], [{0: 0, 1: 7}, {}])
    chain_return = int(ffi.cast("uintptr_t", ffi.addressof(lib, "chain_return")))
    a = assemble([ids["mov_ri"], ids["jump_slot"]], [{0: 1, 1: 1}, {5: 0}], data=[chain_return])
    assert a != ffi.NULL and b != ffi.NULL
    run(a, m)
    assert (m.s.regs[0], m.s.regs[1]) == (0, 1)
    slot = lib.bl_last_data()
    slot[0] = int(ffi.cast("uintptr_t", b))  # what chain_link does
    run(a, m)
    assert m.s.regs[0] == 7


def test_hole_relocation_widths_and_overflow(ids):
    m = machine()
    # 32S: sign-extended; 0x7fffffff fits, 0x80000000 does not.
    addr = assemble([ids["tsc_imm"], ids["end"]], [{0: 0x7fffffff}, {}])
    run(addr, m)
    assert m.s.tsc_offset == 0x7fffffff
    before = stats()
    assert assemble([ids["tsc_imm"], ids["end"]], [{0: 0x80000000}, {}]) == ffi.NULL
    # 32 (zero-extended) with addend 16: 0xffffffef fits, 0xfffffff0 does not.
    addr = assemble([ids["plus16"], ids["end"]], [{0: 0xffffffef}, {}])
    assert addr != ffi.NULL
    run(addr, m)
    assert m.s.regs[0] == 0xffffffff
    mid = stats()
    assert assemble([ids["plus16"], ids["end"]], [{0: 0xfffffff0}, {}]) == ffi.NULL
    assert stats() == mid
    assert before[2] + 1 == mid[2]


def test_pc_relative_hole_overflow():
    # A call to a hole (PLT32): a target beyond +-2 GiB of the arena fails.
    obj = compile_stencils({"call_hole": "  call void @H0(ptr %%st)\n  ret void"})
    assert bl_load(*tables(obj, ["call_hole"]), []) == 0
    assert assemble([0], [{0: 0xffffffff}]) == ffi.NULL
    assert assemble([0], [{0: 0x1000}]) != ffi.NULL  # never run


def test_failed_assembly_leaves_no_trace(ids):
    a = assemble([ids["mov_ri"], ids["end"]])
    size = stats()
    assert assemble([ids["mov_ri"], ids["tsc_imm"], ids["end"]], [{}, {0: 0x80000000}, {}]) == ffi.NULL
    assert stats() == size
    b = assemble([ids["mov_ri"], ids["end"]])
    # The space the failed block used is taken by the next one.
    a_int, b_int = (int(ffi.cast("uintptr_t", x)) for x in (a, b))
    assert 0 < b_int - a_int <= 64


def test_assembly_failures(ids):
    before = stats()
    n = len(STENCILS)
    assert assemble([]) == ffi.NULL                                  # nothing to assemble
    assert assemble([n]) == ffi.NULL                                 # unknown stencil
    assert assemble([ids["end"], n + 100, ids["end"]]) == ffi.NULL
    assert assemble([ids["mov_ri"]]) == ffi.NULL                     # CONTINUE in the last (elided) stencil
    assert assemble([ids["exit_if_zero"]]) == ffi.NULL               # a mid-stencil CONTINUE in the last one
    assert assemble([ids["count"], ids["end"]], [{4: 1}, {}], data=[0]) == ffi.NULL  # data word out of range
    assert assemble([ids["count"], ids["end"]], [{4: 0}, {}]) == ffi.NULL
    assert stats() == before


def test_arena_chunk_limit():
    # One block's code must be contiguous in a 16 MiB chunk.
    big = b"\x90" * ((1 << 20) - 1) + b"\xc3"
    assert bl_load(big, [0, len(big), 0, 0], [], []) == 0
    before = stats()
    assert assemble([0] * 17) == ffi.NULL
    assert stats() == before
    assert assemble([0] * 15) != ffi.NULL
    assert assemble([0] * 15) != ffi.NULL  # in a fresh chunk


def test_synthetic_relocation_types():
    # 64 to a helper, 8 and 16 (truncated holes), 64 to a hole plus addend.
    code = bytes(8 + 2 + 1 + 8) + b"\xc3"
    relocs = [0, 1 | HELPER << 8 | 1 << 16, 0, 0,
              8, 12 | HOLE << 8 | 0 << 16, 0, 0,
              10, 14 | HOLE << 8 | 1 << 16, 1, 0,
              11, 1 | HOLE << 8 | 2 << 16, (-3) & 0xffffffff, 0]
    helpers = helper_addresses()
    assert bl_load(code, [0, len(code), 0, 4], relocs, helpers) == 0
    addr = assemble([0], [{0: 0x12345, 1: 0x1ff, 2: 0x1000}])
    assert addr != ffi.NULL
    got = bytes(ffi.buffer(ffi.cast("uint8_t *", addr), len(code)))
    assert int.from_bytes(got[0:8], "little") == helpers[1]
    assert got[8:10] == (0x2345).to_bytes(2, "little")
    assert got[10] == 0x00  # 0x1ff + 1, low byte
    assert int.from_bytes(got[11:19], "little") == 0x1000 - 3
    assert got[19] == 0xc3


CODE = bytes(16)


@pytest.mark.parametrize("stencils, relocs, helpers", [
    ([0, 16, 0, 1], [0, 42 | HOLE << 8, 0, 0], []),                  # GOTPCRELX: unknown type
    ([0, 16, 0, 1], [0, 3 | HOLE << 8, 0, 0], []),                   # PC64: unknown type
    ([0, 16, 0, 1], [13, 2 | HOLE << 8, 0, 0], []),                  # rel32 past the end
    ([0, 16, 0, 1], [16, 14 | HOLE << 8, 0, 0], []),                 # 8-bit just past the end
    ([0, 8, 0, 1], [8, 14 | HOLE << 8, 0, 0], []),                   # outside a shorter stencil
    ([0, 16, 0, 1], [0, 1 | HOLE << 8 | 16 << 16, 0, 0], []),        # hole slot 16
    ([0, 16, 0, 1], [0, 1 | DATA << 8 | 16 << 16, 0, 0], []),        # data slot 16
    ([0, 16, 0, 1], [0, 1 | HELPER << 8 | 1 << 16, 0, 0], [0x1000]),  # helper 1 of 1
    ([0, 16, 0, 1], [0, 10 | HELPER << 8, 0, 0], [0x1000]),          # 32 to a helper
    ([0, 16, 0, 1], [0, 11 | HELPER << 8, 0, 0], [0x1000]),          # 32S to a helper
    ([0, 16, 0, 1], [0, 12 | DATA << 8, 0, 0], []),                  # 16-bit address
    ([0, 16, 0, 1], [0, 1 | 4 << 8, 0, 0], []),                      # kind 4
    ([0, 17, 0, 0], [], []),                                          # code past the library
    ([16, 1, 0, 0], [], []),
    ([0, 16, 0, 2], [0, 1 | HOLE << 8, 0, 0], []),                   # relocations past the table
    ([0, 16, 1, 1], [0, 1 | HOLE << 8, 0, 0], []),
])
def test_bad_libraries_are_refused(stencils, relocs, helpers, ids):
    assert bl_load(CODE, stencils, relocs, helpers) == -1
    # The library loaded before stays in use.
    assert assemble([ids["mov_ri"], ids["end"]], [{0: 0, 1: 1}, {}]) != ffi.NULL


def test_elided_jump_must_be_the_only_relocation_in_it():
    # A relocation overlapping the trailing jmp CONTINUE would patch bytes
    # that are not copied.
    code = b"\x90" * 3 + b"\xe9" + bytes(4)
    ok = [4, 4 | CONTINUE << 8, (-4) & 0xffffffff, 0]
    assert bl_load(code, [0, 8, 0, 1, 8, 1, 1, 0], ok, []) == -1  # stencil 1 out of range (8+1 > 8)
    assert bl_load(code + b"\xc3", [0, 8, 0, 1, 8, 1, 1, 0], ok, []) == 0
    before = stats()
    assert assemble([0, 1]) != ffi.NULL
    assert stats()[0] - before[0] == 3 + 1
    bad = ok + [5, 14 | HOLE << 8, 0, 0]
    assert bl_load(code + b"\xc3", [0, 8, 0, 2, 8, 1, 2, 0], bad, []) == -1
    # A jmp CONTINUE whose opcode is not e9, or with another addend, stays.
    for c, r in ((b"\x90" * 3 + b"\xe8" + bytes(4), ok), (code, [4, 4 | CONTINUE << 8, (-5) & 0xffffffff, 0])):
        assert bl_load(c + b"\xc3", [0, 8, 0, 1, 8, 1, 1, 0], r, []) == 0
        before = stats()
        assert assemble([0, 1]) != ffi.NULL
        assert stats()[0] - before[0] == 8 + 1


def test_blocks_survive_a_library_reload(obj, ids):
    m = machine()
    addr = assemble([ids["exit"], ids["mov_ri"], ids["end"]], [{0: 0x40}, {0: 4, 1: 44}, {}])
    lib.cpu_clear_exit(m.s, 0xffffffff)
    # Another library, other helpers: the old block keeps its trampolines.
    assert bl_load(*tables(obj, ["hlt", "end"], ["helper_hlt"]), helper_addresses(["helper_hlt"])) == 0
    run(addr, m)
    assert m.s.exit_request == 0x40 and m.s.regs[4] == 44
    lib.cpu_clear_exit(m.s, 0xffffffff)
    m.s.halted = 0
    run(assemble([0, 1]), m)
    assert m.s.halted == 1


def test_got_relocations_are_refused():
    # A function's address from a non-dso_local declaration goes through the
    # GOT (REX_GOTPCRELX): stencil generation must not produce that.
    obj = compile_stencils({"slot_init": """
  %p = getelementptr i8, ptr %%st, i64 8
  store ptr @helper_hlt, ptr %p
  ret void"""})
    types = {r.type for r in obj.functions["slot_init"].relocs}
    assert types - {elf.R_X86_64_64, elf.R_X86_64_PC32, elf.R_X86_64_PLT32, elf.R_X86_64_32,
                    elf.R_X86_64_32S, elf.R_X86_64_16, elf.R_X86_64_8}
    assert bl_load(*tables(obj, ["slot_init"]), helper_addresses()) == -1
