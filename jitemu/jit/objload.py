"""Object code from LLVM, run without LLVM: the first tier's modules and
the regions the compile worker makes (or the persistent cache keeps) are
ELF objects for the small code model with static relocations; this lays
one out (elf.layout) and the runtime places it in its code arena below
2 GiB and applies the relocations (runtime/objload.c).  No JIT linker and
no llvmlite in the emulator process: loading a region costs a copy and a
few patches."""
from .elf import ElfError, layout
from .helpers import CHAIN_RETURN, HELPERS, addresses

LD_KIND_LOCAL, LD_KIND_HELPER = 0, 1
_NAMES = list(HELPERS) + [CHAIN_RETURN]
_INDEX = {name: i for i, name in enumerate(_NAMES)}


class ObjectLoader:
    def __init__(self, ffi, lib):
        self.ffi, self.lib = ffi, lib
        table = addresses(ffi, lib)
        if lib.ld_helpers(ffi.new("uint64_t[]", [table[n] for n in _NAMES]), len(_NAMES)):
            raise RuntimeError("no room for the helpers' trampolines")
        self.objects = 0    # objects placed
        self.functions = 0  # symbols handed out

    def load(self, obj, exports):
        """Place object code and return {name: address} for `exports`;
        RuntimeError for one that cannot be loaded (a corrupt or foreign
        cache entry, a damaged answer from the worker)."""
        try:
            image = layout(obj)
        except ElfError as e:
            raise RuntimeError("object code does not load: %s" % e) from None
        words = []
        for off, rtype, symbol, value, addend in image.relocs:
            if symbol is None:
                kind = LD_KIND_LOCAL
            elif symbol in _INDEX:
                kind, value = LD_KIND_HELPER, _INDEX[symbol]
            else:
                raise RuntimeError("object code needs %r, which is not a helper" % symbol)
            if not -2**31 <= addend < 2**31:
                raise RuntimeError("object code has a relocation addend out of range")
            words += (off, rtype | kind << 8, value, addend & 0xFFFFFFFF)
        missing = [name for name in exports if name not in image.symbols]
        if missing or not image.data:
            raise RuntimeError("object code lacks a block symbol: %s" % ", ".join(missing))
        relocs = self.ffi.new("uint32_t[]", words or [0])
        base = self.lib.ld_place(image.data, len(image.data), image.align, relocs, len(words) // 4)
        if base == self.ffi.NULL:
            raise RuntimeError("object code does not load (a relocation out of reach, or the code arena is full)")
        self.objects += 1
        self.functions += len(exports)
        at = int(self.ffi.cast("uintptr_t", base))
        return {name: at + image.symbols[name] for name in exports}
