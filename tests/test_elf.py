"""jitemu/jit/elf.py on objects LLVM makes, and on damaged input."""
import struct

import llvmlite.binding as llvm
import pytest

from jitemu.jit import elf

llvm.initialize_native_target()
llvm.initialize_native_asmprinter()


def emit(ir):
    mod = llvm.parse_assembly(ir)
    mod.verify()
    tm = llvm.Target.from_default_triple().create_target_machine(opt=2, reloc="static", codemodel="small")
    return tm.emit_object(mod)


SIMPLE = """
@H0 = extern_weak dso_local global i8
declare void @next(ptr)
declare void @helper(ptr, i32)
define void @first(ptr %st) {
  store i32 ptrtoint (ptr @H0 to i32), ptr %st
  musttail call void @next(ptr %st)
  ret void
}
define void @second(ptr %st) {
  call void @helper(ptr %st, i32 7)
  ret void
}
define void @third(ptr %st) section ".text.third" {
  ret void
}
"""


@pytest.fixture(scope="module")
def simple():
    return elf.read_object(emit(SIMPLE))


def test_functions_code_and_relocations(simple):
    assert list(simple.functions) == ["first", "second", "third"]
    first, second, third = simple.functions.values()
    assert (first.section, first.offset) == (".text", 0)
    assert second.section == ".text" and second.offset >= len(first.code)
    assert (third.section, third.offset, third.code, third.relocs) == (".text.third", 0, b"\xc3", ())
    # mov $H0, %eax; mov %eax, (%rdi); jmp next
    assert first.code[0] == 0xb8 and first.code[-5] == 0xe9
    assert first.relocs == (elf.Reloc(1, elf.R_X86_64_32, "H0", 0),
                            elf.Reloc(len(first.code) - 4, elf.R_X86_64_PLT32, "next", -4))
    # Offsets are from the function's start, and relocated bytes are zero.
    (call,) = second.relocs
    assert (call.type, call.symbol, call.addend) == (elf.R_X86_64_PLT32, "helper", -4)
    assert second.code[call.offset - 1] == 0xe8 and second.code[call.offset:call.offset + 4] == bytes(4)
    assert second.code[-1] == 0xc3


def test_undefined_symbols_and_no_other_sections(simple):
    assert simple.undefined == {"H0", "next", "helper"}
    assert simple.other_sections == ()  # .eh_frame has relocations but is not code's business


def test_references_to_data_sections_are_reported():
    obj = elf.read_object(emit("""
@tbl = private unnamed_addr constant [4 x i32] [i32 3, i32 1, i32 4, i32 1]
define i32 @pick(i32 %i) {
  %e = zext i32 %i to i64
  %p = getelementptr [4 x i32], ptr @tbl, i64 0, i64 %e
  %v = load i32, ptr %p
  ret i32 %v
}
"""))
    (r,) = obj.functions["pick"].relocs
    assert r.symbol.startswith(".rodata")  # a section symbol names its section
    assert any(s.startswith(".rodata") for s in obj.other_sections)


def test_jump_tables_are_reported():
    cases = "\n".join("  i32 %d, label %%c%d" % (i, i) for i in range(8))
    bodies = "\n".join("c%d:\n  store i32 %d, ptr %%p\n  ret void" % (i, i * 7 + 1) for i in range(8))
    obj = elf.read_object(emit("""
define void @sw(i32 %%x, ptr %%p) {
  switch i32 %%x, label %%d [
%s
  ]
d:
  ret void
%s
}
""" % (cases, bodies)))
    assert any(s.startswith(".rodata") for s in obj.other_sections)


def test_not_an_object():
    with pytest.raises(elf.ElfError):
        elf.read_object(b"")
    with pytest.raises(elf.ElfError):
        elf.read_object(b"MZ" + bytes(100))
    data = bytearray(emit(SIMPLE))
    wrong = bytearray(data)
    wrong[4] = 1  # ELFCLASS32
    with pytest.raises(elf.ElfError):
        elf.read_object(wrong)
    wrong = bytearray(data)
    wrong[16:18] = struct.pack("<H", 2)  # ET_EXEC
    with pytest.raises(elf.ElfError):
        elf.read_object(wrong)
    wrong = bytearray(data)
    wrong[18:20] = struct.pack("<H", 3)  # EM_386
    with pytest.raises(elf.ElfError):
        elf.read_object(wrong)


def test_damaged_objects_raise_elf_error_only():
    data = emit(SIMPLE)
    for n in (20, 64, 200, len(data) // 2, len(data) - 1):
        try:
            elf.read_object(data[:n])
        except elf.ElfError:
            pass
    # Section headers pointing anywhere.
    shoff, = struct.unpack_from("<Q", data, 40)
    for delta in (1, 8, 1 << 20):
        bad = bytearray(data)
        struct.pack_into("<Q", bad, 40, shoff + delta)
        try:
            elf.read_object(bad)
        except elf.ElfError:
            pass
