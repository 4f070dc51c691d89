"""The baseline tier: a block's native code copied together from stencils.

A miss decodes the block, finds each instruction's form (stencil.py) in the
stencil library and hands the runtime (runtime/stencil.c) the stencil ids
and hole values: it copies and patches them in microseconds.  Usually the
runtime does all of that itself (runtime/baseline.c) and Python never sees
the miss: every library entry carries a sample instruction, whose C
signature the runtime maps to the entry's stencil; Python sees only blocks
with a form C does not know yet.  LLVM only
runs for a form seen for the first time: the missing forms of a block are
lifted and compiled together, once, and the library keeps them for every
later block, machine and (through the cache directory) run.  A block with
anything the tier does not take (an undecodable instruction, a form that
needs its values in Python, an instruction straddling a page) is left to
the LLVM tier, which is always correct.
"""
import atexit
import logging
import os
import pickle
import threading
import time

from .lifting import HF_NOREGION, HF_STEP, HF_TF

# Decoding, lifting and stencils (stencil.py, the lifters, capstone's
# Python binding) are imported where a form is made, not at start: a run
# whose blocks the runtime makes from the library never needs them.

log = logging.getLogger("jitemu.jit")

MAX_INSNS = 64
# Built at install (setup.py: python -m jitemu.jit.forms build) from forms.txt.
PACKAGED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stencils.lib")
# Relocation kinds (runtime/stencil.c).
HOLE, HELPER, CONTINUE, DATA = 0, 1, 2, 3
SUPPORTED_TYPES = {1, 2, 4, 10, 11, 12, 14}  # R_X86_64_64 PC32 PLT32 32 32S 16 8


class StencilLibrary:
    """Every stencil made so far, by form key; loaded into the runtime as
    one table.  Stencils do not depend on the machine, so one library
    serves the whole process.  It starts from the library built at install
    (PACKAGED, from the forms in forms.txt) and adds the forms made since,
    which it keeps in `path` (in the translation cache's directory)."""

    def __init__(self, ffi, lib, helper_names, path=None, packaged=None):
        self.ffi, self.lib = ffi, lib
        self.helpers = list(helper_names)
        self._helper_index = {n: i for i, n in enumerate(self.helpers)}
        self.path = path
        self._by_key = {}    # form key -> stencil id, or None (the form cannot be a stencil)
        # Keys read from files and not unpickled yet: they name decode's
        # classes, whose import a run that makes no form does without.
        self._lazy = []      # (pickled keys, their ids, whether `path` keeps them)
        self._structural = {}  # prologue and exit keys -> id
        # id -> (code bytes, [(offset, type, kind, index, addend)], meta, sample):
        # the sample, (hflags, instruction bytes), is an instance of the form
        # (None for prologues and exits), from which the runtime learns it.
        self.entries = []
        self.compiled = 0    # forms compiled by this process
        self.seconds = 0.0   # ... and the time that took (lifting and LLVM)
        self._extra = []     # (key, entry) made since the packaged library: what `path` keeps
        self._unsaved = 0
        self._loaded = 0     # entries the runtime has
        self._generation = None  # bl_generation() when they were loaded
        self._aliases = []   # (hflags, bytes, id): more instances the runtime knows a form by
        self._lock = threading.Lock()
        self._maker = None
        self.broken = False
        self._digest = _digest()
        for where in (packaged, path):
            if where:
                self._merge_saved(_read(where, self._digest), extra=where is path)

    @property
    def by_key(self):
        if self._lazy:
            self._unpickle_keys()
        return self._by_key

    def _merge(self, pairs, extra):
        for key, entry in pairs:
            if key in self.by_key:
                continue
            if entry is None:
                self._by_key[key] = None
            else:
                self._by_key[key] = len(self.entries)
                self.entries.append(entry)
                if is_structural(key):
                    self._structural[key] = self._by_key[key]
            if extra:
                self._extra.append((key, entry))

    def _merge_saved(self, saved, extra):
        """Entries from a file (_read) join at once, their keys when first
        needed (an entry whose key was made already is a harmless twin)."""
        keys, count, entries, structural = saved
        ids = []
        for entry in entries:
            ids.append(None if entry is None else len(self.entries))
            if entry is not None:
                self.entries.append(entry)
        for pos, key in structural:
            if ids[pos] is not None:
                self._structural.setdefault(key, ids[pos])
        if entries:
            self._lazy.append((keys, count, ids, extra))

    def _unpickle_keys(self):
        lazy, self._lazy = self._lazy, []
        for blob, count, ids, extra in lazy:
            try:
                keys = pickle.loads(blob)
                if not isinstance(keys, list) or len(keys) != count or count != len(ids):
                    raise ValueError("%d keys for %d entries" % (len(keys), len(ids)))
            except Exception as e:  # a damaged file: its forms are made again when met
                log.warning("jitemu: warning: stencil library keys unreadable (%s)", e)
                continue
            for key, sid in zip(keys, ids):
                if key not in self._by_key:
                    self._by_key[key] = sid
                if extra:
                    self._extra.append((key, None if sid is None else self.entries[sid]))

    def save(self):
        """Keep the forms made since the packaged library in `path`."""
        if not self.path or not self._unsaved:
            return
        self._unsaved = 0
        write(self.path, self._extra, self._digest)

    # -- making stencils -----------------------------------------------------------
    def special(self, key):
        """The id of a block-structure stencil (structural_stencil)."""
        sid = self.by_key.get(key)
        if sid is None:
            self.add([(key, structural_stencil(key), None)])
            sid = self.by_key[key]
        return sid

    def add(self, made):
        """Compile [(key, Stencil, sample)] in one module and add those not
        there yet (another machine's thread may have made them meanwhile)."""
        with self._lock:
            made = [m for m in made if m[0] not in self.by_key]
            if made:
                self._add(made)

    def _add(self, made):
        from .compiler import ObjectMaker
        from .elf import read_object
        from .stencil import module_text
        t0 = time.perf_counter()
        if self._maker is None:
            self._maker = ObjectMaker()
        obj = read_object(self._maker.make_stencils(module_text([st for _, st, _ in made])))
        if obj.other_sections:
            raise RuntimeError("stencils need data besides their code: %s" % ", ".join(obj.other_sections))
        self._merge([(key, entry_of(obj.functions[st.name], st, self._helper_index, sample))
                     for key, st, sample in made], extra=True)
        self.compiled += len(made)
        self._unsaved += len(made)
        self.seconds += time.perf_counter() - t0
        if self._unsaved >= 256:
            self.save()

    @property
    def loaded(self):
        """The runtime has every entry (and no other process-wide library
        took their place since: tests load their own)."""
        return self._loaded == len(self.entries) and self._generation == self.lib.bl_generation()

    def load(self):
        """Give the runtime the entries it does not have yet, and what its
        block loop needs to find them (runtime/baseline.c)."""
        if self.loaded or self.broken:
            return
        ffi = self.ffi
        code = bytearray()
        table, rel = [], []
        for body, relocs, _, _ in self.entries:
            table += [len(code), len(body), len(rel) // 4, len(relocs)]
            code += body
            for off, typ, kind, index, addend in relocs:
                rel += [off, typ | kind << 8 | index << 16, addend & 0xFFFFFFFF, 0]
        helpers = [int(ffi.cast("uintptr_t", ffi.addressof(self.lib, n))) for n in self.helpers]
        with self._lock:
            if self.lib.bl_load(bytes(code), len(code), table, len(self.entries), rel, len(rel) // 4,
                                helpers, len(helpers)) != 0:
                # (A damaged library file that still unpickled.)  The runtime
                # keeps no half-loaded table; blocks go to the LLVM tier.
                self.broken = True
                log.warning("jitemu: warning: the stencil library was refused; the baseline tier is off")
                return
            self._generation = self.lib.bl_generation()
            self._loaded = len(self.entries)
            self._teach()

    def _teach(self):
        """Tell the runtime's block loop each stencil's block-ending bits,
        the prologue and exit stencils by mode, and the instruction forms by
        sample (bl_load forgot the old ones)."""
        meta = bytes(t | e << 1 | d << 2 for _, _, (t, e, d), _ in self.entries)
        self.lib.bl_meta(0, len(meta), meta)
        samples = list(self._aliases)
        for key, sid in self._structural.items():
            self.lib.bl_structural(key[1], key[0] == "@exit", key[2], sid)
        for sid, entry in enumerate(self.entries):
            if entry[3] is not None:
                hflags, raw = entry[3]
                samples.append((hflags, raw, sid))
        if samples and decoder_ready(self.lib):
            self._teach_forms(samples)

    def _teach_forms(self, samples):
        ffi = self.ffi
        n = len(samples)
        blob = b"".join(raw[:16].ljust(16, b"\0") for _, raw, _ in samples)
        self.lib.bl_forms(n, ffi.new("uint32_t[]", [h for h, _, _ in samples]), blob,
                          bytes(min(len(raw), 15) for _, raw, _ in samples),
                          ffi.new("uint16_t[]", [sid for _, _, sid in samples]))

    def alias(self, instances):
        """[(hflags, bytes, id)]: instances of known forms that the runtime
        did not recognise (a signature finer than the form key): it will."""
        if not instances or not decoder_ready(self.lib):
            return
        with self._lock:
            self._aliases.extend(instances)
            if self.loaded:
                self._teach_forms(instances)

    def meta(self, sid):
        return self.entries[sid][2]


_decoder = None


def decoder_ready(lib):
    """Open capstone for the runtime (once per process): the library the
    Python binding loads (capstone/lib in its package, or
    $LIBCAPSTONE_PATH), found without importing the binding."""
    global _decoder
    if _decoder is None:
        import importlib.util
        paths = [os.environ.get("LIBCAPSTONE_PATH")]
        spec = importlib.util.find_spec("capstone")
        if spec is not None and spec.submodule_search_locations:
            paths.append(os.path.join(spec.submodule_search_locations[0], "lib"))
        _decoder = False
        for d in paths:
            if d and os.path.exists(os.path.join(d, "libcapstone.so")):
                _decoder = lib.bl_decoder_open(os.path.join(d, "libcapstone.so").encode()) == 0
                break
    return _decoder


def structural_keys(mode):
    """The keys of the stencils every block of a mode needs: prologues
    (counting runs or not) and exits (chaining or not)."""
    return [(kind, mode, flag) for kind in STRUCTURAL for flag in (False, True)]


STRUCTURAL = ("@prologue", "@exit")


def is_structural(key):
    """A prologue's or exit's key (plain data), not an instruction form's."""
    return key[0] in STRUCTURAL


def structural_stencil(key):
    from .stencil import exit_stencil, prologue_stencil
    kind, mode, flag = key
    name = "%s_%x_%d" % (kind[1:], mode, flag)
    return prologue_stencil(name, mode, flag) if kind == "@prologue" else exit_stencil(name, mode, flag)


def entry_of(fn, st, helper_index, sample=None):
    """A library entry for stencil `st` compiled as ELF function `fn`:
    (code, [(offset, type, kind, index, addend)], (terminated, end_after,
    data words), sample), or None when it calls something that is no
    helper (LLVM made up a memcpy) or has a relocation the runtime does not
    patch.  `sample` is (hflags, bytes) of an instruction of the form."""
    from .stencil import MAX_HOLES
    relocs = []
    for r in fn.relocs:
        sym = r.symbol
        if r.type not in SUPPORTED_TYPES:
            return None
        if sym == "CONTINUE":
            kind, index = CONTINUE, 0
        elif sym[0] == "H" and sym[1:].isdigit():
            kind, index = HOLE, int(sym[1:])
        elif sym[0] == "D" and sym[1:].isdigit():
            kind, index = DATA, MAX_HOLES - 1 - int(sym[1:])  # data words sit at the top of the holes
        elif sym in helper_index:
            kind, index = HELPER, helper_index[sym]
        else:
            return None
        relocs.append((r.offset, r.type, kind, index, r.addend))
    return fn.code, relocs, (st.terminated, st.end_after, st.slots), sample


def _digest():
    """The lifters' source (the persistent cache's digest): a library made
    by other lifters is not used."""
    from .cache import _source_digest
    return _source_digest()


def _read(path, digest):
    """What `path` keeps, made by lifters with this `digest`: (pickled
    form keys, their count, entries, [(position, prologue or exit key)]);
    nothing when the file is missing, damaged or from other lifters."""
    nothing = (b"", 0, [], [])
    try:
        with open(path, "rb") as f:
            saved = pickle.load(f)
        if saved["digest"] != digest:
            return nothing
        keys, count, entries, structural = saved["keys"], saved["count"], saved["entries"], saved["structural"]
        if not isinstance(keys, bytes) or count != len(entries):
            raise ValueError
        for entry in entries:
            if entry is not None:
                code, relocs, (terminated, end_after, slots), sample = entry
                if not isinstance(code, bytes) or not all(len(r) == 5 for r in relocs):
                    raise ValueError
                if sample is not None:
                    hflags, raw = sample
                    if not isinstance(hflags, int) or not isinstance(raw, bytes):
                        raise ValueError
        for pos, key in structural:
            if not 0 <= pos < count or not is_structural(key):
                raise ValueError
        return keys, count, entries, structural
    except (OSError, EOFError, ValueError, TypeError, KeyError, pickle.UnpicklingError, AttributeError,
            ImportError, IndexError):
        return nothing


def write(path, pairs, digest=None):
    """Write [(form key, entry)] to `path` (atomically: readers never see
    half a file).  The keys are pickled apart, to be read only when needed."""
    from .cache import write_atomically
    keys = [k for k, _ in pairs]
    saved = {"digest": digest or _digest(), "keys": pickle.dumps(keys, protocol=pickle.HIGHEST_PROTOCOL),
             "count": len(keys), "entries": [e for _, e in pairs],
             "structural": [(i, k) for i, k in enumerate(keys) if is_structural(k)]}
    write_atomically(path, pickle.dumps(saved, protocol=pickle.HIGHEST_PROTOCOL))


class Baseline:
    """Per machine: blocks from the library, through the runtime."""

    def __init__(self, translator, make_library):
        self.t = translator
        self._make_library = make_library
        self._library = None
        self.blocks = 0
        self.fallbacks = 0
        ffi = translator.ffi
        self._ids = ffi.new("uint16_t[]", MAX_INSNS + 2)
        self._holes = ffi.new("uint32_t[]", (MAX_INSNS + 2) * translator.lib.bl_holes())
        self._data = ffi.new("uint64_t[]", 8)
        self._chain_return = int(ffi.cast("uintptr_t", ffi.addressof(translator.lib, "chain_return")))

    @property
    def made(self):
        return self._library is not None

    @property
    def library(self):
        if self._library is None:
            self._library = self._make_library()
        return self._library

    def usable(self, hflags):
        t = self.t
        return not (hflags & (HF_TF | HF_STEP) or t.s.bp_count or t.on_translate is not None)

    def translate(self, pc, cs_base, hflags):
        """Native code for the block at linear `pc`: (fn, phys_lo, phys_hi),
        None to leave it to the LLVM tier, or False when the fetch faulted."""
        from .decode import UndecodableError
        from .lift import LIFTERS
        from .stencil import MODE_BITS, NotConcrete, lift_stencil, symbolize
        from ..isa.table import TABLE
        t = self.t
        phys0 = t.code_phys(pc)
        if phys0 is None:
            return False
        code, _ = t.fetch(pc, phys0)
        page_left = 4096 - (phys0 & 0xFFF)
        code32 = bool(hflags & 1)
        eip_mask = 0xFFFFFFFF if code32 else 0xFFFF
        eip = (pc - cs_base) & 0xFFFFFFFF
        lib = self.library
        insns, missing = [], {}
        off = 0
        end = None  # (next eip, chain) for an exit stencil
        while True:
            window = code[off:off + 15]
            try:
                insn = t.decoder.decode(window, eip, code32)
            except UndecodableError:
                return self._fallback()
            if insn is None or insn.name not in LIFTERS or insn.name not in TABLE:
                return self._fallback()  # #UD (or a straddling fetch): the LLVM tier raises and logs it
            if off + insn.length > page_left:
                return self._fallback()  # continues on the next page (the LLVM tier tracks both pages)
            try:
                key, sym, values = symbolize(insn, hflags)
            except NotConcrete:
                return self._fallback()
            if key not in lib.by_key and key not in missing:
                try:
                    missing[key] = (lift_stencil("f%d" % len(missing), sym, hflags & MODE_BITS, LIFTERS[insn.name]),
                                    (hflags, insn.raw))
                except NotConcrete:
                    lib.by_key[key] = None
                    return self._fallback()
            elif lib.by_key.get(key, 0) is None:
                return self._fallback()
            meta = missing[key][0] if key in missing else None
            terminated, end_after = (meta.terminated, meta.end_after) if meta else lib.meta(lib.by_key[key])[:2]
            values[2] = len(insns)
            insns.append((key, values, insn))
            off += insn.length
            if terminated:
                break
            nxt = insn.next_eip
            if end_after:
                end = (nxt, False)
                break
            if nxt != eip + insn.length or off >= page_left \
                    or len(insns) >= MAX_INSNS:
                end = (nxt, True)
                break
            eip = nxt
        if missing:
            lib.add([(k, st, sample) for k, (st, sample) in missing.items()])
            if any(lib.by_key.get(k) is None for k in missing):
                return self._fallback()
        made = self._assemble(pc, cs_base, hflags, phys0, off, insns, end)
        if made is not None and lib.loaded:
            self._teach(hflags, insns)
        return made

    def _teach(self, hflags, insns):
        """Instances of known forms the runtime's block loop did not
        recognise (its signature may be finer than the form key): next
        time it will."""
        lib, known = self.library, self.t.lib.bl_known
        new = [(hflags, insn.raw, lib.by_key[key]) for key, _, insn in insns
               if known(hflags, insn.raw, len(insn.raw), insn.eip) == -1]
        lib.alias(new)

    def _assemble(self, pc, cs_base, hflags, phys0, length, insns, end):
        from .stencil import MAX_HOLES, MODE_BITS
        lib = self.library
        mode = hflags & MODE_BITS  # (the stencils store it as last_hflags: never NOREGION)
        counted = not hflags & HF_NOREGION
        ids, holes, data = self._ids, self._holes, self._data
        ndata = 0
        n = 0

        def place(sid, values):
            nonlocal n, ndata
            ids[n] = sid
            base = n * MAX_HOLES
            for i, v in enumerate(values):
                holes[base + i] = v & 0xFFFFFFFF
            for k in range(lib.meta(sid)[2]):  # its data words: jump slots, or the run counter
                holes[base + MAX_HOLES - 1 - k] = ndata
                data[ndata] = 0 if (counted and n == 0) else self._chain_return
                ndata += 1
            n += 1

        pro = lib.special(("@prologue", mode, counted))
        phys_hi = phys0 + length - 1
        place(pro, [0, 0, 0, phys0, phys_hi, pc, cs_base])
        for key, values, _ in insns:
            place(lib.by_key[key], values)
        if end is not None:
            nxt, chain = end
            sid = lib.special(("@exit", mode, chain))
            place(sid, [0, nxt, len(insns)])
        lib.load()
        if lib.broken:
            return self._fallback()
        fn = self.t.lib.bl_assemble(n, ids, holes, ndata, data)
        if fn == self.t.ffi.NULL:
            return self._fallback()
        self.blocks += 1
        return fn, phys0, phys_hi

    def _fallback(self):
        self.fallbacks += 1
        return None


_shared = None
_shared_lock = threading.Lock()


def shared_library(ffi, lib, helper_names, path=None):
    """The process's stencil library, read from `path` (in the translation
    cache's directory) when it is first made, and written back there at
    exit; without a cache it lives as long as the process."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = StencilLibrary(ffi, lib, helper_names, path, PACKAGED)
            atexit.register(_shared.save)
        elif path and _shared.path is None:
            _shared.path = path
            _shared._merge_saved(_read(path, _shared._digest), extra=True)
        return _shared
