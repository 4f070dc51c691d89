"""From guest bytes to IR: the lifting of a block, and of a region (the
blocks around a hot one, in one function).

Lifting reads guest code through a *source*: the Translator itself (live
guest memory, on the vCPU's thread), or a CodeSnapshot, a copy of the code
a region is made from, which the compile worker process lifts and compiles
so that neither capstone's Python binding nor the lifters' Python time nor
LLVM is on the vCPU's path.  A source has code_phys(lin), fetch(pc, phys),
next_phys(pc, phys), tail(lin), breakpoints(), decoder, note_ud(pc, insn,
raw), on_translate and a count insns_translated (Translator's docstrings).
"""
# (The lifters, the IR builder and capstone's Python binding are imported
# where code is lifted: the emulator process of a run whose blocks all come
# from stencils, and whose regions the worker lifts, never loads them.)
MAX_INSNS = 64
MAX_REGION_BLOCKS = 48
HF_CODE32 = 1
HF_PG = 16
HF_TF = 32
HF_STEP = 128
HF_NOREGION = 1 << 20  # first-tier code after a region's side exit (runtime/jitemu.h)


def lift_block(src, b, pc, cs_base, hflags, ident):
    """Lift the block at linear `pc` into builder `b`: returns (the
    [first, last] physical bytes it was made from: one range, or two
    when its last instruction runs onto a page that is not the next
    physical one (paging, A20, the wrap from 4 GiB to 0), constant
    successors), or None when the fetch faulted."""
    from .decode import UndecodableError
    from .lift import LIFTERS
    from ..isa.table import TABLE
    phys0 = src.code_phys(pc)
    if phys0 is None:
        return None
    code, tail_lin = src.fetch(pc, phys0)
    tail_phys = None if tail_lin is not None else src.next_phys(pc, phys0)
    on_page = 4096 - (phys0 & 0xFFF)
    code32 = bool(hflags & HF_CODE32)
    eip = (pc - cs_base) & 0xFFFFFFFF
    b.start_block()
    # A breakpoint ends the block before it: the dispatcher stops there.
    breakpoints = src.breakpoints()
    listing = [] if src.on_translate is not None else None
    off = 0
    end = 1  # bytes from pc the block was made from
    successors = []
    while True:
        insn = None
        window = code[off:off + 15]
        if len(window) < 15 and tail_lin is not None:
            # Paging: the instruction may continue on the next page.
            if _straddles(src.decoder, window, eip, code32):
                if off:
                    b.exit(eip, completed=False)  # start a block there
                    break
                got = src.tail(tail_lin)
                if got is None:
                    return None
                tail, tail_phys = got
                window += tail
        try:
            insn = src.decoder.decode(window[:15], eip, code32)
        except UndecodableError:
            insn = None
        lifter = LIFTERS.get(insn.name) if insn is not None else None
        if insn is None or lifter is None or insn.name not in TABLE:
            src.note_ud((pc + off) & 0xFFFFFFFF, insn, code[off:off + 8])
            b.insn = _AtEip(eip)
            b.fault(6)
            end = max(end, off + 1)
            break
        b.start_insn(insn)
        if listing is not None:
            listing.append(((cs_base + eip) & 0xFFFFFFFF, insn.raw, insn.text))
        lifter(b, insn)
        end = off + insn.length
        src.insns_translated += 1
        if b.terminated:
            successors.extend(_static_targets(insn))
            break
        b.end_checks(insn.next_eip)
        b.end_insn()
        b.icount += 1
        nxt = insn.next_eip
        off += insn.length
        if b.end_after:
            b.exit(nxt, completed=False)  # the mode may have changed: no chaining
            break
        # Stop at the page end, at IP wrap-around, or at the size cap.
        if nxt != eip + insn.length or off >= 4096 - (phys0 & 0xFFF) \
                or b.icount >= (1 if hflags & (HF_TF | HF_STEP) else MAX_INSNS) \
                or (cs_base + nxt) & 0xFFFFFFFF in breakpoints:
            b.exit(nxt, completed=False, chain=True)
            successors.append(nxt)
            break
        eip = nxt
    if listing is not None:
        src.on_translate(pc, cs_base, hflags, ident, listing)
    if end <= on_page or tail_phys == phys0 + on_page:  # (the next page follows physically)
        return [(phys0, phys0 + end - 1)], successors
    return [(phys0, phys0 + on_page - 1), (tail_phys, tail_phys + end - on_page - 1)], successors



def lift_region(src, name, pc, cs_base, hflags):
    """The IR of the region headed by the block at linear `pc`: the blocks
    its constant jumps reach on the same page (up to MAX_REGION_BLOCKS), in
    one function with registers and flags in SSA across them, so loops
    inside it never leave native code.  Returns (IR text, the [first, last]
    physical ranges of guest bytes it was made from, the linear addresses
    where it may be entered, those of all its blocks), or None when a fetch
    faulted (the region is not made)."""
    from .block import BlockBuilder, module_prelude
    split = {}
    counted = src.insns_translated
    while True:
        src.insns_translated = counted  # (a second pass lifts the same instructions)
        blocks = RegionBlocks(pc & ~0xFFF, cs_base, getattr(src, "ran", None))
        b = BlockBuilder(name, hflags, region=blocks, split=split)
        b.begin()
        head = blocks((pc - cs_base) & 0xFFFFFFFF)[0]
        b.br("rentry")
        ranges = []
        for eip in blocks.order:  # grows while blocks are lifted
            blocks.current = blocks.members[eip]
            b.place("blk%d" % blocks.current)
            got = lift_block(src, b, (cs_base + eip) & 0xFFFFFFFF, cs_base, hflags, None)
            if got is None:
                return None
            ranges.extend(got[0])
        # The region may be entered at its calls' return sites too (the
        # translator puts it in place of those that got hot while it was
        # made: a return from a call that leaves the region lands there).
        # (Not at every block: an entry into the middle of a loop costs
        # the loop's code.)
        b.place("rentry")
        cases = " ".join("i32 %d, label %%%s" % (eip, label)
                         for eip, label in blocks.blocks(returns=True) if label != head)
        b.emit("switch i32 %s, label %%%s [%s]" % (b.load_field("eip"), head, cases))
        # Registers the code uses only as 16 bits or their low byte are kept split
        # (BlockBuilder): lifted again with that, once.
        narrow = {i: 1 if sizes == {1} else 2 for i, sizes in enumerate(b.reg_sizes) if sizes and 4 not in sizes}
        if split or not narrow:
            break
        split = narrow
    ir = module_prelude() + b.finish(min(r[0] for r in ranges), max(r[1] for r in ranges))
    linear = [(cs_base + eip) & 0xFFFFFFFF for eip in blocks.order]
    return ir, ranges, [pc] + [lin for lin, eip in zip(linear, blocks.order) if eip in blocks.returns], linear


class RegionBlocks:
    """The blocks of a region: those on its head's linear page that its
    constant jumps reach, and the return sites of its calls, up to
    MAX_REGION_BLOCKS, numbered in the order they are found (and lifted).
    Given `ran` (the linear addresses of the blocks that have run), only
    those: code that has not run yet (a kernel's output, its next phase)
    is not compiled with the loop that got hot, and gets a region of its
    own when it gets hot."""

    def __init__(self, page, cs_base, ran=None):
        self.page, self.cs_base = page, cs_base
        self.ran = frozenset(ran) if ran is not None else None
        self.members, self.order = {}, []
        self.returns = set()  # EIPs of return sites
        self.current = 0  # number of the block being lifted

    def __call__(self, eip):
        """The block at `eip`, added if new: (its label, whether a jump to
        it from the current block goes backward), or None if it is not in
        the region."""
        if (self.cs_base + eip) & 0xFFFFF000 != self.page:
            return None
        if self.ran is not None and self.members and (self.cs_base + eip) & 0xFFFFFFFF not in self.ran:
            return None
        if eip not in self.members:
            if len(self.members) >= MAX_REGION_BLOCKS:
                return None
            self.members[eip] = len(self.members)
            self.order.append(eip)
        return "blk%d" % self.members[eip], self.members[eip] <= self.current

    def return_site(self, eip):
        """The instruction after a CALL: a block of the region, where its RET may land."""
        if self(eip) is not None:
            self.returns.add(eip)

    def blocks(self, returns=False):
        """(EIP, label) of every block, or with returns, of the return sites."""
        return [(eip, "blk%d" % i) for eip, i in self.members.items() if not returns or eip in self.returns]


# The worker's answer for a region it could not lift from its snapshot
# (not a failure: first-tier code goes on).
UNMADE = "unmade: the region runs onto a page its snapshot lacks"


class CodeSnapshot:
    """The guest code a region may be lifted from, copied on the vCPU's
    thread when its head got hot: the physical page holding the head and,
    without paging, the 15 bytes that follow it in the linear space.  With
    paging the next linear page is not probed (walking its page tables
    would set accessed bits, or CR2, that the guest can see): a block that
    starts with an instruction running onto it leaves the region unmade,
    and first-tier code goes on.  Plain data, so that it crosses to the
    worker as fields(), and CodeSnapshot(*fields) there."""

    on_translate = None

    def __init__(self, lin_page, phys_page, page, paging, after_phys=0, after=b"", ran=None):
        self.lin_page, self.phys_page, self.page = lin_page, phys_page, page
        self.paging, self.after_phys, self.after = paging, after_phys, after
        self.ran = ran  # linear addresses of the blocks that have run (None: not known)
        self.insns_translated = 0
        self.notes = []  # (linear address, what could not be lifted there)
        self._decoder = None

    def fields(self):
        return (self.lin_page, self.phys_page, self.page, self.paging, self.after_phys, self.after, self.ran)

    @property
    def decoder(self):
        if self._decoder is None:
            from .decode import Decoder
            self._decoder = Decoder()
        return self._decoder

    def code_phys(self, lin):
        return self.phys_page | (lin & 0xFFF) if lin & ~0xFFF == self.lin_page else None

    def fetch(self, pc, phys):
        off = phys & 0xFFF
        if self.paging:
            return self.page[off:], (pc + 4096 - off) & 0xFFFFFFFF
        return self.page[off:] + self.after, None

    def next_phys(self, pc, phys):
        return self.after_phys

    def tail(self, lin):
        return None

    def breakpoints(self):
        return frozenset()  # (no region is made while there are breakpoints)

    def note_ud(self, pc, insn, raw):
        self.notes.append((pc, undecodable_text(insn, raw)))

    def bytes_of(self, ranges):
        """[(phys, guest bytes)] of ranges inside the snapshot, or None."""
        made = []
        for lo, hi in ranges:
            for start, data in ((self.phys_page, self.page), (self.after_phys, self.after)):
                if start <= lo <= hi < start + len(data):
                    made.append((lo, data[lo - start:hi - start + 1]))
                    break
            else:
                return None
        return made


def undecodable_text(insn, raw):
    return insn.text if insn is not None else "undecodable bytes " + raw.hex(" ")


def _straddles(decoder, window, eip, code32):
    from .decode import UndecodableError
    try:
        insn = decoder.decode(window, eip, code32)
    except UndecodableError:
        return False
    return insn is None


class _AtEip:
    def __init__(self, eip):
        self.eip = eip


def _static_targets(insn):
    """Constant successors of a control transfer (for batching)."""
    from .decode import Imm
    if insn.name.startswith("j") or insn.name in ("call", "loop", "loope", "loopne"):
        out = [insn.next_eip] if insn.name not in ("jmp",) else []
        if insn.ops and isinstance(insn.ops[0], Imm):
            out.append(insn.ops[0].value & (0xFFFF if insn.op_size == 2 else 0xFFFFFFFF))
        return out
    return []
