"""A small reader for x86-64 ELF relocatable objects (what LLVM's emit_object makes).

Enough for copy-and-patch stencils: each function's bytes and the relocations
inside it, with symbol names.

    obj = read_object(tm.emit_object(module))
    for f in obj.functions.values():
        f.name, f.code, f.relocs      # Reloc(offset in f.code, type, symbol, addend)
    if obj.other_sections: ...       # e.g. ('.rodata.cst16',): code may need data we don't copy

A relocation against a section symbol (a constant pool, a jump table) names
the section, e.g. '.rodata'.  `other_sections` lists the sections besides code
and unwind tables that are loaded or carry relocations, so a caller can reject
objects whose stencils are not self-contained.  Not seen from relocations: a
direct call between two functions of one section that the assembler resolved
itself (LLVM emits a relocation for calls to non-local symbols).
"""
import struct
from dataclasses import dataclass

R_X86_64_64 = 1
R_X86_64_PC32 = 2
R_X86_64_PLT32 = 4
R_X86_64_32 = 10
R_X86_64_32S = 11
R_X86_64_16 = 12
R_X86_64_8 = 14

_SHT_SYMTAB, _SHT_RELA, _SHT_NOBITS, _SHT_REL = 2, 4, 8, 9
_SHF_WRITE, _SHF_ALLOC, _SHF_EXECINSTR = 0x1, 0x2, 0x4
# Writable data (run counters, jump slots) starts on a boundary of its own,
# in no 1 KiB block that holds code: a store into a cache line the CPU
# executes from flushes its pipeline (older CPUs watch 1 KiB blocks), and a
# counter is stored on every run.
DATA_APART = 1024
_STT_FUNC, _STT_SECTION = 2, 3
_SHN_UNDEF, _SHN_LORESERVE = 0, 0xff00
# Unwind tables: loaded, relocated, but not part of any stencil's code.
_IGNORED = (".eh_frame",)


class ElfError(ValueError):
    """Not an x86-64 relocatable object, or a damaged one."""


@dataclass(frozen=True)
class Reloc:
    offset: int  # from the start of the function
    type: int    # R_X86_64_*
    symbol: str  # symbol name; a section symbol gives the section's name
    addend: int


@dataclass(frozen=True)
class Function:
    name: str
    section: str
    offset: int  # in its section
    code: bytes  # st_size bytes: alignment padding after it excluded
    relocs: tuple


@dataclass(frozen=True)
class ObjectFile:
    functions: dict       # name -> Function, in address order
    undefined: frozenset  # symbols the object imports (holes, helpers, ...)
    other_sections: tuple  # loaded or relocated sections that are not code


def read_object(data):
    """Parse an ELF64 little-endian x86-64 ET_REL object; raise ElfError if it is not one."""
    data = bytes(data)
    try:
        return _read(data)
    except (struct.error, IndexError, UnicodeDecodeError) as e:
        raise ElfError("damaged ELF object: %s" % e) from None


def _cstr(data, off):
    end = data.index(b"\0", off)
    return data[off:end].decode()


def _sections(data):
    """Section headers, their names, a body reader and the symbol table
    (name, value, size, type, section index) of an ELF64 x86-64 ET_REL."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ElfError("not an ELF64 little-endian object")
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    if e_type != 1 or e_machine != 62:
        raise ElfError("not an x86-64 relocatable object (type %d, machine %d)" % (e_type, e_machine))
    e_shoff, = struct.unpack_from("<Q", data, 40)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 58)
    if e_shentsize != 64:
        raise ElfError("unexpected section header size %d" % e_shentsize)
    # name, type, flags, addr, offset, size, link, info, addralign, entsize
    sh = [struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * 64) for i in range(e_shnum)]
    for s in sh:
        if s[1] != _SHT_NOBITS and s[4] + s[5] > len(data):
            raise ElfError("section beyond the end of the file")
    strtab_off = sh[e_shstrndx][4]
    names = [_cstr(data, strtab_off + s[0]) for s in sh]

    def body(i):
        s = sh[i]
        return data[s[4]:s[4] + s[5]]

    symtab = [i for i, s in enumerate(sh) if s[1] == _SHT_SYMTAB]
    if len(symtab) != 1:
        raise ElfError("expected one symbol table, found %d" % len(symtab))
    st = sh[symtab[0]]
    sym_strs = sh[st[6]][4]
    syms = []  # (name, value, size, type, shndx)
    raw = body(symtab[0])
    for off in range(0, len(raw) - len(raw) % 24, 24):
        st_name, st_info, _, st_shndx, st_value, st_size = struct.unpack_from("<IBBHQQ", raw, off)
        kind = st_info & 0xf
        name = names[st_shndx] if kind == _STT_SECTION and st_shndx < len(sh) else _cstr(data, sym_strs + st_name)
        syms.append((name, st_value, st_size, kind, st_shndx))
    return sh, names, body, syms


def _relocations(raw, syms):
    """(offset, type, symbol index, addend) of a RELA section's body."""
    out = []
    for o in range(0, len(raw) - len(raw) % 24, 24):
        r_off, r_info, r_add = struct.unpack_from("<QQq", raw, o)
        if r_info >> 32 >= len(syms):
            raise ElfError("relocation names symbol %d of %d" % (r_info >> 32, len(syms)))
        out.append((r_off, r_info & 0xffffffff, r_info >> 32, r_add))
    return out


def _read(data):
    sh, names, body, syms = _sections(data)

    code_sections = {i for i, s in enumerate(sh) if s[2] & _SHF_EXECINSTR}
    relocs = {}  # code section index -> [(offset, type, symbol, addend)]
    other = set()
    for i, s in enumerate(sh):
        if s[1] == _SHT_REL:
            raise ElfError("REL relocations (without addends) are not supported")
        if s[1] == _SHT_RELA:
            target = s[7]
            if target in code_sections:
                relocs[target] = [(r_off, r_type, syms[r_sym][0], r_add)
                                  for r_off, r_type, r_sym, r_add in _relocations(body(i), syms)]
            elif names[target] not in _IGNORED:
                other.add(names[target])
        elif (s[2] & _SHF_ALLOC and i not in code_sections and s[5]
              and names[i] not in _IGNORED):
            other.add(names[i])

    funcs = []
    for name, value, size, kind, shndx in syms:
        if kind != _STT_FUNC or shndx not in code_sections:
            continue
        if value + size > sh[shndx][5]:
            raise ElfError("function %s beyond its section" % name)
        code = body(shndx)[value:value + size]
        mine = tuple(Reloc(o - value, t, sym, a) for o, t, sym, a in relocs.get(shndx, ())
                     if value <= o < value + size)
        funcs.append(Function(name, names[shndx], value, code, mine))
    funcs.sort(key=lambda f: (f.section, f.offset))
    undefined = frozenset(n for n, _, _, kind, shndx in syms[1:]
                          if shndx == _SHN_UNDEF and n)
    return ObjectFile({f.name: f for f in funcs}, undefined, tuple(sorted(other)))


@dataclass(frozen=True)
class Image:
    """An object's loadable sections laid out one after another, as the
    runtime's loader takes them (runtime/objload.c)."""
    data: bytes      # code and data, .bss as zeros
    align: int       # what the image's first byte must be aligned to
    relocs: tuple    # (offset in data, type, external symbol or None, value, addend);
                     # with no symbol, S is the image's address + value
    symbols: dict    # defined function and data symbols -> offset in data


# What the small code model with static relocations produces (and the
# loader applies): absolute 64, PC-relative and PLT calls, 32-bit absolute.
_LOADABLE = (R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32, R_X86_64_32, R_X86_64_32S)
_SHN_ABS = 0xfff1


def layout(data):
    """The Image of an ELF64 x86-64 ET_REL object; ElfError if it is not
    one, or needs what the loader does not do (a GOT, TLS, an absolute or
    common symbol)."""
    data = bytes(data)
    try:
        return _layout(data)
    except (struct.error, IndexError, UnicodeDecodeError) as e:
        raise ElfError("damaged ELF object: %s" % e) from None


def _layout(data):
    sh, names, body, syms = _sections(data)
    place = {}  # loaded section index -> its offset in the image
    out = bytearray()
    align = 1
    loaded = [i for i, s in enumerate(sh) if s[2] & _SHF_ALLOC and names[i] not in _IGNORED and s[5]]
    loaded.sort(key=lambda i: bool(sh[i][2] & _SHF_WRITE))  # (stable: read-only first)
    apart = False
    for i in loaded:
        s = sh[i]
        a = max(1, s[8])
        if a & (a - 1) or a > 4096:
            raise ElfError("section %s aligned to %d" % (names[i], a))
        if s[2] & _SHF_WRITE and not apart and out:
            a, apart = max(a, DATA_APART), True
        align = max(align, a)
        out += bytes(-len(out) % a)
        place[i] = len(out)
        out += bytes(s[5]) if s[1] == _SHT_NOBITS else body(i)
    if apart:  # ... and whatever the arena places next starts in a block of its own
        out += bytes(-len(out) % DATA_APART)
    relocs = []
    for i, s in enumerate(sh):
        if s[1] == _SHT_REL:
            raise ElfError("REL relocations (without addends) are not supported")
        if s[1] != _SHT_RELA or s[7] not in place:
            continue  # (unwind tables: not loaded)
        base = place[s[7]]
        for r_off, r_type, r_sym, r_add in _relocations(body(i), syms):
            name, value, _, kind, shndx = syms[r_sym]
            if r_type not in _LOADABLE:
                raise ElfError("relocation type %d in %s" % (r_type, names[s[7]]))
            if r_off + (8 if r_type == R_X86_64_64 else 4) > sh[s[7]][5]:
                raise ElfError("relocation beyond its section")
            if shndx == _SHN_UNDEF:
                relocs.append((base + r_off, r_type, name, 0, r_add))
            elif shndx in place:
                relocs.append((base + r_off, r_type, None, place[shndx] + value, r_add))
            else:
                raise ElfError("relocation against %s in section %d, which is not loaded" % (name, shndx))
    symbols = {name: place[shndx] + value for name, value, _, kind, shndx in syms
               if name and kind != _STT_SECTION and shndx in place}
    return Image(bytes(out), align, tuple(relocs), symbols)
