"""From guest code to registered native blocks.

On a miss the dispatcher returns here with the block's key; the block is
decoded and lifted, and so are the blocks its direct jumps lead to (up to a
batch), so that one LLVM module compiles many blocks (compiles are much
cheaper per block in batches).  Blocks end at control transfers, at a page
boundary (self-modifying code is tracked per page) or after MAX_INSNS.
A block that gets hot heads a region (translate_hot), compiled by the
background worker and swapped in by install_ready.
"""
import logging
import os
import queue
import time

from .lifting import (HF_NOREGION, HF_PG, HF_STEP, HF_TF, UNMADE, CodeSnapshot, lift_block, lift_region,
                      undecodable_text)

log = logging.getLogger("jitemu.jit")

BATCH = 24
MAX_RAN = 1024  # blocks of a page a region snapshot lists as run (more: all may be lifted)


def _page_key(pc, cs_base, hflags):
    """Regions on one page with the same CS base and mode: one compiles at a time."""
    return pc & ~0xFFF, cs_base, hflags


class Translator:
    def __init__(self, ffi, lib, state):
        self.ffi, self.lib, self.s = ffi, lib, state
        self._decoder = None    # capstone's Python binding, made when first needed
        self._c_on = None       # what the runtime was told (rt_set_baseline)
        self._compiler = None  # the LLVM tier's, made when first needed (llvmlite loads then)
        self._loader = None    # places object code (runtime/objload.c): no LLVM needed
        self.load_seconds = 0.0
        self.next_id = 0
        self.blocks_translated = 0
        self.blocks_reused = 0
        self.blocks_cached = 0  # taken from the persistent cache
        self.blocks_hot = 0     # regions made by the second, optimising tier
        # Hot regions compile on the background worker process (else on
        # the vCPU's thread, synchronously: JITEMU_COMPILE_WORKER=0).
        self.background = os.environ.get("JITEMU_COMPILE_WORKER", "1") != "0"
        # Every block is compiled as a region at once, skipping the first
        # tier (tests of the region compiler).
        self._regions_first = False
        self.on_ready = None    # called (any thread) when a region is ready
        self._pending = {}      # id -> region being compiled by the worker
        self._deferred = {}     # (page, CS base, hflags) -> heads waiting for its pending region
        self._ready = queue.Queue()

        self._cache = None      # a jitemu.jit.cache.CodeCache, or None
        # The baseline tier (copy-and-patch stencils, baseline.py) makes a
        # block without LLVM; the LLVM tier takes what it cannot.
        self.baseline = None
        if os.environ.get("JITEMU_BASELINE", "1") != "0":
            from .baseline import Baseline, shared_library
            from .helpers import HELPERS
            self.baseline = Baseline(self, lambda: shared_library(
                ffi, lib, HELPERS, os.path.join(self.cache.dir, "stencils") if self.cache is not None else None))
        # key -> ([(phys, guest bytes)], native code, id, is a region): code
        # to reinstate when the bytes it was made from are the same again.
        self._done = {}
        self._epoch = lib.arena_epoch()  # the code arena's, when _done was last valid
        # on_translate(pc, cs_base, hflags, block_id, [(addr, bytes, text)])
        # sees every block's guest instructions (tracing: in_asm).
        self._on_translate = None
        self.insns_translated = 0
        # Linear address -> what the translator could not lift there; the
        # warning waits until the guest runs it (executed_ud).
        self._undecodable = {}
        self._logged_ud = set()
        self._buf = ffi.new("uint8_t[]", 4096 + 16)
        self._phys = ffi.new("uint32_t *")

    @property
    def decoder(self):
        if self._decoder is None:
            from .decode import Decoder  # (capstone's Python binding: only for blocks C left)
            self._decoder = Decoder()
        return self._decoder

    # The runtime makes baseline blocks on a miss by itself (runtime/baseline.c)
    # unless the translator must see every block (a tracer of new blocks,
    # regions first) or the tier is off; breakpoints, tracing and
    # single-stepping it checks itself.
    @property
    def on_translate(self):
        return self._on_translate

    @on_translate.setter
    def on_translate(self, fn):
        self._on_translate = fn
        self.sync_baseline()

    @property
    def regions_first(self):
        return self._regions_first

    @regions_first.setter
    def regions_first(self, on):
        self._regions_first = on
        self.sync_baseline()

    @property
    def cache(self):
        return self._cache

    @cache.setter
    def cache(self, cache):
        self._cache = cache
        # Misses of keys with a cached region come here, to reinstate it;
        # other cached blocks are made again in C (as cheap as loading).
        for pc, cs_base, hflags in (cache.keys(regions=True) if cache is not None else ()):
            self.lib.rt_defer(self.s, pc, cs_base, hflags)

    def sync_baseline(self):
        b = self.baseline
        on = bool(b is not None and b.made and b.library.loaded and not b.library.broken
                  and self._on_translate is None and not self._regions_first)
        if on != self._c_on:
            self._c_on = on
            self.lib.rt_set_baseline(self.s, on)

    @property
    def compiler(self):
        if self._compiler is None:
            from .compiler import Compiler
            self._compiler = Compiler(self.loader)
        return self._compiler

    @property
    def loader(self):
        if self._loader is None:
            from .objload import ObjectLoader
            self._loader = ObjectLoader(self.ffi, self.lib)
        return self._loader

    @property
    def compile_seconds(self):
        """Time spent making code: LLVM for the LLVM tier and new stencils,
        and loading object code (regions, the persistent cache)."""
        stencils = self.baseline.library.seconds if self.baseline is not None and self.baseline.made else 0.0
        return (self._compiler.seconds if self._compiler is not None else 0.0) + stencils + self.load_seconds

    def code_phys(self, lin):
        """Physical address of code at linear `lin`, or None after the
        fetch recorded a #PF, or the #UD of a fetch from nothing (the
        dispatcher delivers it)."""
        if self.lib.cpu_code_phys(self.s, lin, self._phys):
            return None
        return self._phys[0]

    def fetch(self, pc, phys):
        """Bytes from `phys` to the end of its page, plus up to 15 from the
        next linear page for an instruction that straddles the boundary
        (its linear address is returned when paging must translate it
        first, else None).  Linear addresses wrap at 4 GiB as on a 32-bit
        CPU (and as QEMU fetches): after FFFFFFFF comes 00000000."""
        n = 4096 - (phys & 0xFFF)
        self.lib.phys_read_bytes(self.s, phys, self._buf, n)
        code = bytes(self.ffi.buffer(self._buf, n))
        nxt = (pc + n) & 0xFFFFFFFF
        if self.s.cr[0] & 0x80000000:
            return code, nxt  # the next page is translated only if needed
        self.lib.phys_read_bytes(self.s, self.next_phys(pc, phys), self._buf, 15)
        return code + bytes(self.ffi.buffer(self._buf, 15)), None

    def next_phys(self, pc, phys):
        """Paging off: the physical address of the linear page after the
        one holding `pc` (at `phys`)."""
        return ((pc + 4096 - (phys & 0xFFF)) & 0xFFFFFFFF) & self.s.a20_mask

    def tail(self, lin):
        """The first 15 bytes of the linear page at `lin` (paging on) and
        its physical address, or None when the fetch faulted."""
        phys = self.code_phys(lin)
        if phys is None:
            return None
        self.lib.phys_read_bytes(self.s, phys, self._buf, 15)
        return bytes(self.ffi.buffer(self._buf, 15)), phys

    def translate(self, pc, cs_base, hflags):
        """Translate the block at linear `pc` and its direct successors."""
        if self._c_on is None and self.baseline is not None:
            # The first miss: give the runtime the stencil library, and
            # let its block loop take this block too (cpu_run tries again).
            self.baseline.library.load()
            self.sync_baseline()
            if self._c_on:
                return
        if self.regions_first and not hflags & HF_NOREGION:
            self.translate_hot(pc, cs_base, hflags)
            if self.lib.bt_contains(self.s, pc, cs_base, hflags) or self.s.fault_pending:
                return
        todo = [pc]
        seen = set()
        parts, exports, regs = [], [], []
        while todo and len(exports) < BATCH:
            p = todo.pop(0)
            if p in seen or (p != pc and self.lib.bt_contains(self.s, p, cs_base, hflags)):
                continue
            seen.add(p)
            reused = self._reuse(p, cs_base, hflags)
            if reused is None:  # the fetch faulted
                break
            if reused:
                continue
            if self.baseline is not None and self.baseline.usable(hflags):
                if p != pc and self._c_on:
                    # A successor: the runtime's block loop makes it if it
                    # can (the miss itself was left here by it).
                    got = self.lib.bl_translate(self.s, p, cs_base, hflags)
                    if got < 0:
                        break
                    if got > 0:
                        continue
                made = self.baseline.translate(p, cs_base, hflags)
                if made is False:  # the fetch faulted
                    break
                if made is not None:
                    self._register(p, cs_base, hflags, *made)
                    continue
                if p != pc:
                    continue  # a successor: it may still be a stencil block when it runs
            name = "b%d" % self.next_id
            lifted = self._lift(name, p, cs_base, hflags)
            if lifted is None:  # the fetch faulted
                break
            self.next_id += 1
            ir, ranges, successors = lifted
            if hflags & (HF_PG | HF_NOREGION):
                successors = []  # a fetch ahead could fault; a side exit needs one block
            parts.append(ir)
            exports.append(name)
            regs.append((p, ranges, name))
            todo.extend((cs_base + e) & 0xFFFFFFFF for e in successors)
        if not parts:
            self.sync_baseline()
            return
        from .block import module_prelude
        addrs, obj = self.compiler.compile(module_prelude() + "\n\n".join(parts), exports)
        made = [(p, [(lo, self._read(lo, hi - lo + 1)) for lo, hi in ranges], name) for p, ranges, name in regs]
        if self.cache is not None:
            self.cache.store(obj, [(p, cs_base, hflags, code, name) for p, code, name in made])
        for p, code, name in made:
            fn = self.ffi.cast("void *", addrs[name])
            self._install(p, cs_base, hflags, code, fn, int(name[1:]))
            self._done[(p, cs_base, hflags)] = (code, fn, int(name[1:]), False)
        self.blocks_translated += len(regs)
        self.sync_baseline()

    def _register(self, pc, cs_base, hflags, fn, lo, hi):
        """Put a baseline block in the block table."""
        ident = self.next_id
        self.next_id += 1
        self.lib.bt_insert(self.s, pc, cs_base, hflags, lo, hi, fn, ident)
        self._done[(pc, cs_base, hflags)] = ([(lo, self._read(lo, hi - lo + 1))], fn, ident, False)
        self.blocks_translated += 1

    def _from_cache(self, pc, cs_base, hflags):
        """Native code for this block from the persistent cache, if a
        cached translation was made from the same guest bytes."""
        # A tracer of new blocks must see every block lifted.
        if self.cache is None or self.on_translate is not None:
            return False
        candidates = self.cache.candidates(pc, cs_base, hflags)
        if not candidates:
            return False
        phys = self.code_phys(pc)
        if phys is None:
            return None
        for ranges, digest, obj_id, symbol in reversed(candidates):  # newest (regions) first
            region = symbol.startswith("r")
            if region and self._no_regions():
                continue
            # (Regions never come back while there are breakpoints.)
            if ranges[0][0] != phys or self._crosses_breakpoint(pc, ranges[0][1]):
                continue
            made = [(lo, self._read(lo, n)) for lo, n in ranges]
            if self.cache.digest(b"".join(code for _, code in made)) != digest:
                continue
            t0 = time.perf_counter()
            fn = self.cache.function(obj_id, symbol, self.loader)
            self.load_seconds += time.perf_counter() - t0
            if fn is None:
                continue
            ident = self.next_id
            self.next_id += 1
            fn = self.ffi.cast("void *", fn)
            self._install(pc, cs_base, hflags, made, fn, ident)
            self._done[(pc, cs_base, hflags)] = (made, fn, ident, region)
            self.blocks_cached += 1
            return True
        return False

    def _crosses_breakpoint(self, pc, length):
        """Code made before a breakpoint existed may run across it: a block
        may only start at a breakpoint, never contain one further in."""
        s = self.s
        return any(0 < (s.bp[i] - pc) & 0xFFFFFFFF < length for i in range(s.bp_count))

    def _unchanged(self, pc, made):
        """Code made from `made` ([(phys, guest bytes)], the first at linear
        `pc`) may run again: the bytes are the same and no breakpoint lies
        inside it.  (A region has several ranges; it is never reinstated
        while there are breakpoints, see _no_regions.)"""
        return not self._crosses_breakpoint(pc, len(made[0][1])) \
            and all(self._read(lo, len(code)) == code for lo, code in made)

    def forget(self):
        """Drop the native code kept for reuse: every block is lifted anew."""
        self._done.clear()

    def forget_native(self):
        """The code arena was reclaimed: no address of code made before is
        valid (code kept for reuse, objects loaded from the cache)."""
        self._done.clear()
        if self.cache is not None:
            self.cache.forget_loaded()

    def _read(self, phys, n):
        buf = self.ffi.new("uint8_t[]", n)
        self.lib.phys_read_bytes(self.s, phys, buf, n)
        return bytes(self.ffi.buffer(buf, n))

    def _reuse(self, pc, cs_base, hflags):
        """Reinstate native code made earlier for this key when the guest
        bytes it was made from are the same again (after a write that only
        touched data on its page, or after a reset): True if reinstated,
        False if it must be translated, None if fetching faulted."""
        epoch = self.lib.arena_epoch()
        if epoch != self._epoch:
            # Another machine took the code arena back while this one was
            # idle (Machine._reclaim_code): nothing made before is there.
            self._epoch = epoch
            self.forget_native()
        done = self._done.get((pc, cs_base, hflags))
        if done is None:
            return self._from_cache(pc, cs_base, hflags)
        ranges, fn, ident, region = done
        if region and self._no_regions():
            return False
        phys = self.code_phys(pc)
        if phys is None:
            return None
        if ranges[0][0] != phys or not self._unchanged(pc, ranges):
            return False
        if self.s.cr[0] & 0x80000000 and any((lo ^ phys) >> 12 for lo, _ in ranges):
            # Code from a second page, which may map other bytes now: made
            # anew, the fetch decides (the dispatcher checks the first page).
            return False
        self._install(pc, cs_base, hflags, ranges, fn, ident)
        self.blocks_reused += 1
        return True

    def _install(self, pc, cs_base, hflags, ranges, fn, ident):
        # Code the C block loop does not make: its key's misses come here,
        # where _reuse may reinstate it.
        self.lib.rt_defer(self.s, pc, cs_base, hflags)
        lo = min(r[0] for r in ranges)
        hi = max(r[0] + len(r[1]) - 1 for r in ranges)
        self.lib.bt_register(self.s, pc, cs_base, hflags, lo, hi, fn, ident)
        for r_lo, code in ranges:
            self.lib.bt_add_code(self.s, pc, cs_base, hflags, r_lo, r_lo + len(code) - 1)

    def translate_hot(self, pc, cs_base, hflags):
        """A block got hot: make the region around it (lifting.lift_region)
        with the full optimiser and put it in place of the block's
        first-tier code (chains into the old code are cut).  The compile
        worker lifts and compiles it from a snapshot of its code page while
        the vCPU runs on (install_ready swaps it in); only without a worker
        (or for regions_first) is it made here, at once."""
        if hflags & (HF_TF | HF_STEP | HF_NOREGION) or self._no_regions():
            return  # the dispatcher must see every block, or a side exit's block
        worker = None if self.regions_first else self._worker()
        if worker is not None:
            page = _page_key(pc, cs_base, hflags)
            if any(_page_key(*p[:3]) == page for p in self._pending.values()):
                # All the blocks of a loop get hot together: the region
                # already being made on this page may well hold this one.
                self._deferred.setdefault(page, set()).add(pc)
                return
            snap = self._snapshot(pc, cs_base, hflags)
            if snap is None:
                self.s.fault_pending = 0  # the head's page does not translate now: stay on tier 1
                return
            name = "r%d" % self.next_id
            self.next_id += 1
            self._pending[int(name[1:])] = (pc, cs_base, hflags, name, snap)
            job = ("region", name, pc, cs_base, hflags, snap.fields(),
                   self.cache.base if self.cache is not None and self.cache.writable else None)
            if worker.submit(int(name[1:]), job, self._finished):
                return
            del self._pending[int(name[1:])]
        name = "r%d" % self.next_id
        lifted = lift_region(self, name, pc, cs_base, hflags)
        if lifted is None:
            self.s.fault_pending = 0  # a fetch that faults now: stay on tier 1
            return
        self.next_id += 1
        ir, ranges, _, _ = lifted
        made = [(r_lo, self._read(r_lo, r_hi - r_lo + 1)) for r_lo, r_hi in ranges]
        addrs, obj = self.compiler.compile(ir, [name], hot=True)
        self._install_region((pc, cs_base, hflags, name, made), addrs[name], obj)

    def _snapshot(self, pc, cs_base, hflags):
        """A CodeSnapshot of the page holding linear `pc` and the blocks
        there that have run, or None when it does not translate (a #PF is
        then recorded)."""
        phys = self.code_phys(pc)
        if phys is None:
            return None
        page = phys & ~0xFFF
        code = self._read(page, 4096)
        out = self.ffi.new("uint32_t[]", MAX_RAN)
        n = self.lib.bt_page_pcs(self.s, page >> 12, cs_base, hflags, out, MAX_RAN)
        ran = tuple(out[i] for i in range(n)) if n <= MAX_RAN else None
        if self.s.cr[0] & 0x80000000:
            return CodeSnapshot(pc & ~0xFFF, page, code, True, ran=ran)
        after = self.next_phys(pc, phys)
        return CodeSnapshot(pc & ~0xFFF, page, code, False, after, self._read(after, 15), ran)

    def warm(self):
        """Code is warming up (a block ran WARM_THRESHOLD times): start the
        compile worker now, so it is ready when the block gets hot.  Short
        runs, and runs whose hot code comes from the cache, never start it."""
        if not self.regions_first:
            self._worker()

    def _no_regions(self):
        """Breakpoints and tracing need the dispatcher between blocks."""
        return bool(self.s.bp_count or self.s.trace_flags or self.on_translate is not None)

    def _worker(self):
        if not self.background:
            return None
        from .worker import shared_worker
        return shared_worker()

    def _finished(self, ident, result, error):
        """On the worker's reader thread: queue the result (a region's
        object code, the ranges of guest bytes it was made from, what could
        not be lifted), wake the vCPU."""
        self._ready.put((ident, result, error))
        if self.on_ready is not None:
            self.on_ready()

    def install_ready(self):
        """On the vCPU's thread, between blocks: load the regions the worker
        finished and put each in place of its head's first-tier code, if
        that code is still live and made from the same bytes (else the
        guest changed them, or the mapping, while it compiled: dropped)."""
        while True:
            try:
                ident, result, error = self._ready.get_nowait()
            except queue.Empty:
                return
            pending = self._pending.pop(ident, None)
            if pending is None:
                continue
            page = _page_key(*pending[:3])
            installed = self._install_ready(pending, result, error)
            # Heads that got hot on this page meanwhile: the region is
            # entered at each that is one of its entries (lift_region); the
            # others get their own regions, unless the region holds them
            # (blocks of its loops: entered from it now).
            entries = set(result[3]) if installed else set()
            held = set(result[4]) if installed else set()
            for pc in sorted(self._deferred.pop(page, set())):
                if pc in entries and self._enter_also(pc, *installed):
                    continue
                if pc not in held:
                    self.translate_hot(pc, page[1], page[2])

    def _enter_also(self, pc, head, made, fn, ident):
        """Put the region installed at `head` in place of the first-tier
        block at `pc` too, if that block is live and made from the same
        page (the region's code there is the same bytes)."""
        _, cs_base, hflags = head
        if self.lib.bt_phys(self.s, pc, cs_base, hflags) != (made[0][0] & ~0xFFF) | (pc & 0xFFF):
            return False
        self._install(pc, cs_base, hflags, made, fn, ident)
        return True

    def _install_ready(self, pending, result, error):
        """Load one region from the worker and put it in place (if still
        wanted): (its key, its bytes, its code, its id), or None."""
        if result is None:
            if error != UNMADE:
                log.warning("hot region compile failed (staying on tier 1): %s", error)
            return None
        pc, cs_base, hflags, name, snap = pending
        if not isinstance(result, tuple):
            log.warning("the compile worker answered a region with bare object code (staying on tier 1)")
            return None
        obj, ranges, notes, _, _ = result
        for at, what in notes:
            self._undecodable.setdefault(at, what)
        made = snap.bytes_of(ranges)
        if made is None or made[0][0] != snap.phys_page | (pc & 0xFFF):
            log.warning("hot region from the compile worker names bytes it was not given (staying on tier 1)")
            return None
        region = (pc, cs_base, hflags, name, made)
        if self._no_regions() or self.lib.bt_phys(self.s, pc, cs_base, hflags) != made[0][0] \
                or not self._unchanged(pc, made):
            return None
        t0 = time.perf_counter()
        try:
            addr = self.loader.load(obj, [name])[name]
        except RuntimeError as e:  # a damaged object from the worker
            log.warning("hot region from the compile worker does not load (staying on tier 1): %s", e)
            return None
        finally:
            self.load_seconds += time.perf_counter() - t0
        self._install_region(region, addr, obj, store=False)  # (the worker stored it)
        return (pc, cs_base, hflags), made, self.ffi.cast("void *", addr), int(name[1:])

    def _install_region(self, region, addr, obj, store=True):
        pc, cs_base, hflags, name, made = region
        if self.cache is not None and store:
            self.cache.store(obj, [(pc, cs_base, hflags, made, name)])
        fn = self.ffi.cast("void *", addr)
        self._install(pc, cs_base, hflags, made, fn, int(name[1:]))
        self._done[(pc, cs_base, hflags)] = (made, fn, int(name[1:]), True)
        self.blocks_hot += 1

    def _lift(self, name, pc, cs_base, hflags):
        from .block import BlockBuilder
        b = BlockBuilder(name, hflags, hot_key=None if hflags & HF_NOREGION else (pc, cs_base))
        b.begin()
        got = lift_block(self, b, pc, cs_base, hflags, int(name[1:]))
        if got is None:
            return None
        ranges, successors = got
        return b.finish(min(r[0] for r in ranges), max(r[1] for r in ranges)), ranges, successors

    def breakpoints(self):
        """Linear addresses a block must not run across: it ends before one."""
        return {self.s.bp[i] for i in range(self.s.bp_count)}

    def note_ud(self, pc, insn, raw):
        """Bytes at linear `pc` that raise #UD when run: noted, not logged
        (a batch lifts successors the guest may never reach)."""
        self._undecodable[pc] = undecodable_text(insn, raw)

    def executed_ud(self, pc):
        """The guest ran into #UD at linear `pc`: one warning per address,
        for the bytes the translator could not lift, for UD2 (lifted, by
        any tier, into code that raises #UD), and for a fetch from nothing
        (a PAE page above 4 GiB)."""
        if pc in self._logged_ud:
            return
        what = self._undecodable.get(pc)
        if what is None:
            what = self._ud2_at(pc)
        if what is not None:
            self._logged_ud.add(pc)
            log.warning("#UD at %08x: %s", pc, what)

    def _ud2_at(self, pc):
        """"ud2" when the instruction at linear `pc` (which just raised
        #UD, so its page is mapped) is UD2, what a fetch found when there
        is nothing at its physical address, else None."""
        s = self.s
        saved = s.fault_pending, s.fault_error, s.cr[2]
        phys = self.code_phys(pc)
        nothing = phys is None and s.fault_pending == 6  # (runtime/memory.c: cpu_code_phys)
        s.fault_pending, s.fault_error, s.cr[2] = saved  # a look, not an access the guest made
        if nothing:
            return "instruction fetch from above 4 GiB, where there is no memory"
        if phys is None:
            return None
        # By its bytes (0F 0B after legacy prefixes): no decoder to load.
        code = self._read(phys, min(15, 4096 - (phys & 0xFFF))).lstrip(LEGACY_PREFIXES)
        return "ud2" if code.startswith(b"\x0f\x0b") else None


LEGACY_PREFIXES = bytes((0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65))

