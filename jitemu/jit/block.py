"""Building the LLVM IR of one translated block, or of a region.

A block is `void @name(ptr %s)` over the CPU state struct.  Guest registers
are read and written in the struct; the six arithmetic flags live in allocas
for the length of the block (SROA makes them SSA values and dead flag
computations disappear) and are written back to EFLAGS before every exit
and every helper call.  Every block starts by testing `exit_request`.

A region (the hot tier) is several blocks in one function: the registers
live in allocas too, its backward edges test `exit_request` and the budget,
and an access the TLB cannot serve leaves it (a side exit).
"""
from ..cpu.layout import FIELD_INDEX, llvm_struct
from .decode import Imm, Mem, Reg, SReg
from .helpers import llvm_declarations

FLAG_BITS = {"cf": 0, "pf": 2, "af": 4, "zf": 6, "sf": 7, "of": 11}
# What each flag's local holds (BlockBuilder.get_flag decodes it): CF
# itself; ZF: an i32 that is zero iff ZF is set; SF, OF: an i32 whose sign
# bit is the flag; PF: the byte whose parity it is; AF: a byte whose bit 4
# it is.
FLAG_TYPES = {"cf": "i1", "pf": "i8", "af": "i8", "zf": "i32", "sf": "i32", "of": "i32"}
HOT_THRESHOLD = 65536  # runs before a block heads a region (boot code rarely pays back an -O2 compile; kernels do)
EXIT_HOT = 32
EXIT_WARM = 128
EXIT_SYNC = 256  # a reader on another thread wants `icount` exact (Machine.icount)
WARM_THRESHOLD = HOT_THRESHOLD // 16  # runs before the compile worker is started
ARITH_MASK = 0x8D5
ITYPE = {0: "i1", 1: "i8", 2: "i16", 4: "i32", 8: "i64"}  # (0: a flag)
# Type-based alias tags: guest memory never overlaps the CPU state or the
# TLB arrays, so a guest store does not force LLVM to reload segment bases,
# TLB pointers or the budget inside a loop.
HOST, GUEST = ", !tbaa !3", ", !tbaa !4"
TBAA = [
    '!0 = !{!"jitemu"}',
    '!1 = !{!"host", !0, i64 0}',
    '!2 = !{!"guest", !0, i64 0}',
    '!3 = !{!1, !1, i64 0}',
    '!4 = !{!2, !2, i64 0}',
    '!5 = !{!"branch_weights", i32 1, i32 1000000}',
]
COLD = ", !prof !5"  # a branch whose first target is rarely taken


def module_prelude():
    return "\n".join([
        llvm_struct(),
        "declare i8 @llvm.ctpop.i8(i8)",
        "declare i32 @llvm.bswap.i32(i32)",
        *("declare i%d @llvm.fshl.i%d(i%d, i%d, i%d)" % ((b,) * 5) for b in (8, 16, 32)),
        *("declare i%d @llvm.fshr.i%d(i%d, i%d, i%d)" % ((b,) * 5) for b in (8, 16, 32)),
        *("declare i%d @llvm.cttz.i%d(i%d, i1)" % ((b,) * 3) for b in (16, 32)),
        *("declare i%d @llvm.ctlz.i%d(i%d, i1)" % ((b,) * 3) for b in (16, 32)),
        *llvm_declarations(),
        *TBAA,
        "",
    ])


_HIGH = {1: 0xFFFFFF00, 2: 0xFFFF0000}  # the part of a split register kept apart from its low piece


class BlockBuilder:
    """Emits IR for one block; lifters call its methods per instruction."""

    def __init__(self, fname, hflags, hot_key=None, region=None, split=None):
        """hot_key (pc, cs_base) makes a first-tier block that counts its
        runs and asks to be recompiled optimised once it is hot.  `region`
        (lifting.RegionBlocks: called with a constant target EIP, None or
        (label, whether the edge goes backward in lifting order); blocks(),
        every (EIP, label) it holds) makes a
        region: several blocks in one function, the guest registers and
        flags kept in locals across them (SSA after SROA), and exits whose
        target is in the region become branches inside the function.
        A region keeps each register in `split` (index: width 2 or 1; the
        ones it never uses whole) as its low 16 bits or low byte and the
        rest apart, so 16- and 8-bit code does not merge pieces on every
        write; reg_sizes says which sizes of each register the lifted code
        used (1, 2, 4, "h" for AH CH DH BH)."""
        self.fname = fname
        self.region = region
        self.split = split or {}
        self.reg_sizes = [set() for _ in range(8)]
        self.hot_key = hot_key
        self.hflags = hflags
        self.stack32 = bool(hflags & 2)
        self.lines = []
        self.n = 0
        self.icount = 0          # instructions completed before the current one
        self.insn = None         # the instruction being lifted
        self.terminated = False  # current code position is unreachable
        self.needs_exit_check = False
        self.slow_write = False    # the instruction wrote through the slow path
        self.end_after = False     # the instruction may change the mode bits
        self._exits = []           # (eip, instructions, label, slot) of each exit
        # A region's indirect exits: {whether a RET: [(target eip, instructions, label)]}
        self._indirect = {}
        self._slots = []           # jump slots of chainable exits
        self._written = set()      # arithmetic flags the block has set
        self._used = set()         # ... or read
        self._insn_saved = {}      # flags before the current instruction set them
        self._globals = []         # module-level definitions (counters)
        self._addresses = {}       # GEP text -> its value, defined in the entry block
        self.label = "entry"

    # -- raw emission -------------------------------------------------
    def tmp(self):
        self.n += 1
        return "%%v%d" % self.n

    def new_label(self, hint="L"):
        self.n += 1
        return "%s%d" % (hint, self.n)

    def emit(self, line):
        self.lines.append("  " + line)

    def op(self, text):
        t = self.tmp()
        self.lines.append("  %s = %s" % (t, text))
        return t

    def place(self, label):
        self.lines.append("%s:" % label)
        self.label = label
        self.terminated = False

    def br(self, label):
        self.emit("br label %%%s" % label)

    def cbr(self, cond, yes, no):
        self.emit("br i1 %s, label %%%s, label %%%s" % (cond, yes, no))

    # -- state fields -------------------------------------------------
    def _address(self, text):
        """A constant address (a field of the state, a local register):
        computed once, in the entry block, and reused (less IR to parse)."""
        p = self._addresses.get(text)
        if p is None:
            p = self._addresses[text] = "%%p%d" % len(self._addresses)
        return p

    def field(self, name, index=None):
        f = FIELD_INDEX[name]
        if index is None:
            return self._address("getelementptr inbounds %%State, ptr %%s, i32 0, i32 %d" % f)
        return self._address("getelementptr inbounds %%State, ptr %%s, i32 0, i32 %d, i32 %d" % (f, index))

    def load_field(self, name, index=None, ty="i32", volatile=False):
        p = self.field(name, index)
        return self.op("load %s%s, ptr %s%s" % ("volatile " if volatile else "", ty, p, HOST))

    def store_field(self, name, value, index=None, ty="i32"):
        p = self.field(name, index)
        self.emit("store %s %s, ptr %s%s" % (ty, value, p, HOST))

    # -- registers ----------------------------------------------------
    def _reg_ptr(self, reg):
        if self.region:
            p = self._local_reg(reg.index)
        else:
            p = self.field("regs", reg.index)
        if reg.high:
            p = self._address("getelementptr inbounds i8, ptr %s, i32 1" % p)
        return p

    def get_reg(self, reg):
        if self.region:
            self.reg_sizes[reg.index].add("h" if reg.high else reg.size)
            width = self.split.get(reg.index)
            if width:
                lo = self.op("load %s, ptr %s" % (ITYPE[width], self._local_lo(reg.index, width)))
                if reg.size == 4:
                    return self.bin("or", 4, self.op("load i32, ptr %s" % self._local_reg(reg.index)),
                                    self.zext(lo, width, 4))
                if reg.size < width:
                    return self.trunc(self.bin("lshr", 2, lo, 8) if reg.high else lo, 2, 1)
                return lo
        if self.region and reg.size < 4:
            # Regions access each register as a whole i32 (AL, AX and EAX
            # alike), so SROA keeps one SSA value per register instead of
            # byte pieces that are put back together on every use.
            v = self.op("load i32, ptr %s" % self._local_reg(reg.index))
            if reg.high:
                v = self.bin("lshr", 4, v, 8)
            return self.trunc(v, 4, reg.size)
        return self.op("load %s, ptr %s%s" % (ITYPE[reg.size], self._reg_ptr(reg), HOST))

    def set_reg(self, reg, value):
        if self.region:
            self.reg_sizes[reg.index].add("h" if reg.high else reg.size)
        width = self.split.get(reg.index) if self.region else None
        if width:
            lo = self._local_lo(reg.index, width)
            if reg.size == 4:
                self.emit("store i32 %s, ptr %s" % (self.bin("and", 4, value, _HIGH[width]), self._local_reg(reg.index)))
                value = self.trunc(value, 4, width)
            elif reg.size < width:
                shift = 8 if reg.high else 0
                old = self.bin("and", 2, self.op("load i16, ptr %s" % lo), 0xFFFF ^ (0xFF << shift))
                v = self.zext(value, 1, 2)
                value = self.bin("or", 2, old, self.bin("shl", 2, v, shift) if shift else v)
            self.emit("store %s %s, ptr %s" % (ITYPE[width], value, lo))
            return
        if self.region and reg.size < 4:
            shift = 8 if reg.high else 0
            keep = 0xFFFFFFFF ^ (((1 << 8 * reg.size) - 1) << shift)
            old = self.bin("and", 4, self.op("load i32, ptr %s" % self._local_reg(reg.index)), keep)
            v = self.zext(value, reg.size, 4)
            if shift:
                v = self.bin("shl", 4, v, shift)
            value, reg = self.bin("or", 4, old, v), Reg(reg.index, 4)
        self.emit("store %s %s, ptr %s%s" % (ITYPE[reg.size], value, self._reg_ptr(reg), HOST))

    # -- integer helpers ----------------------------------------------
    def zext(self, v, frm, to):
        if frm == to:
            return v
        return self.op("zext %s %s to %s" % (ITYPE[frm], v, ITYPE[to]))

    def sext(self, v, frm, to):
        if frm == to:
            return v
        return self.op("sext %s %s to %s" % (ITYPE[frm], v, ITYPE[to]))

    def trunc(self, v, frm, to):
        if frm == to:
            return v
        return self.op("trunc %s %s to %s" % (ITYPE[frm], v, ITYPE[to]))

    def bin(self, opname, size, a, b):
        return self.op("%s %s %s, %s" % (opname, ITYPE[size], a, b))

    def icmp(self, pred, size, a, b):
        return self.op("icmp %s %s %s, %s" % (pred, ITYPE[size], a, b))

    def select(self, cond, size, a, b):
        ty = "i1" if size == 0 else ITYPE[size]
        return self.op("select i1 %s, %s %s, %s %s" % (cond, ty, a, ty, b))

    def i1(self, v):
        return self.op("xor i1 %s, false" % v)

    def bnot(self, v):
        return self.op("xor i1 %s, true" % v)

    def band(self, a, b):
        return self.op("and i1 %s, %s" % (a, b))

    def bor(self, a, b):
        return self.op("or i1 %s, %s" % (a, b))

    def bxor(self, a, b):
        return self.op("xor i1 %s, %s" % (a, b))

    def bit(self, v, size, n):
        """Bit n of v as i1."""
        s = self.bin("lshr", size, v, n)
        return self.op("trunc %s %s to i1" % (ITYPE[size], s))

    def msb(self, v, size):
        return self.icmp("slt", size, v, 0)

    # -- flags --------------------------------------------------------
    # Each flag's local holds a *witness* it is decoded from where it is
    # read (FLAG_TYPES): a flag is computed only where a reader or an exit
    # needs it, so a loop whose flags are overwritten before they are read
    # carries the result it already has, not parities and overflow bits.
    def flag_word(self, name):
        """The flag's witness, undecoded (FLAG_TYPES[name])."""
        self._used.add(name)
        return self.op("load %s, ptr %%f_%s" % (FLAG_TYPES[name], name))

    def set_flag_word(self, name, word):
        self._used.add(name)
        self._written.add(name)
        if name not in self._insn_saved:
            # The value before this instruction, for a fault exit later in
            # it: a faulting instruction leaves EFLAGS as they were.
            self._insn_saved[name] = self.flag_word(name)
        self.emit("store %s %s, ptr %%f_%s" % (FLAG_TYPES[name], word, name))

    def get_flag(self, name):
        w = self.flag_word(name)
        if name == "cf":
            return w
        if name == "zf":
            return self.icmp("eq", 4, w, 0)
        if name in ("sf", "of"):
            return self.icmp("slt", 4, w, 0)
        if name == "af":
            return self.bit(w, 1, 4)
        odd = self.op("trunc i8 %s to i1" % self.op("call i8 @llvm.ctpop.i8(i8 %s)" % w))
        return self.bnot(odd)  # PF: an even number of set bits

    def set_flag(self, name, value):
        """Set a flag from an i1."""
        self.set_flag_word(name, self._witness(name, value))

    def _witness(self, name, v):
        """A witness of the i1 `v` for flag `name`."""
        if name == "cf":
            return v
        if v in ("true", "false"):
            on = v == "true"
            return {"zf": 1 - on, "pf": 1 - on, "af": 16 * on, "sf": -(1 << 31) * on, "of": -(1 << 31) * on}[name]
        if name in ("zf", "pf"):
            return self.zext(self.bnot(v), 0, 1 if name == "pf" else 4)
        if name == "af":
            return self.bin("shl", 1, self.zext(v, 0, 1), 4)
        return self.bin("shl", 4, self.zext(v, 0, 4), 31)

    def _top(self, v, size):
        """v (`size` bytes) as an i32 with the same top bit, zero iff v is
        (a sign extension: one MOVSX, shared by ZF and SF)."""
        return self.sext(v, size, 4)

    def set_szp(self, size, r):
        """ZF SF PF of the result r: r itself is their witness."""
        top = self._top(r, size)
        self.set_flag_word("zf", top)
        self.set_flag_word("sf", top)
        self.set_flag_word("pf", self.trunc(r, size, 1))

    def set_of_msb(self, size, v):
        """OF = the top bit of v (`size` bytes)."""
        self.set_flag_word("of", self._top(v, size))

    def set_af_bit4(self, size, v):
        """AF = bit 4 of v (`size` bytes)."""
        self.set_flag_word("af", self.trunc(v, size, 1))

    def load_flags(self, names=FLAG_BITS):
        """Copy EFLAGS' arithmetic bits into the allocas."""
        ef = self.load_field("eflags")
        for name in names:
            w = self._witness(name, self.bit(ef, 4, FLAG_BITS[name]))
            self.emit("store %s %s, ptr %%f_%s" % (FLAG_TYPES[name], w, name))

    def flush_flags(self):
        """Write the allocas back into EFLAGS: only the flags this block has
        written so far (the others are still in EFLAGS as they were)."""
        names = [n for n in FLAG_BITS if n in self._written]
        if not names:
            return
        mask = sum(1 << FLAG_BITS[n] for n in names)
        acc = self.bin("and", 4, self.load_field("eflags"), 0xFFFFFFFF & ~mask)
        for name in names:
            z = self.op("zext i1 %s to i32" % self.get_flag(name))
            acc = self.bin("or", 4, acc, self.bin("shl", 4, z, FLAG_BITS[name]))
        self.store_field("eflags", acc)

    def eflags_update(self, and_mask, or_mask):
        """Change EFLAGS bits the allocas do not hold (DF, IF, ...)."""
        ef = self.load_field("eflags")
        self.store_field("eflags", self.bin("or", 4, self.bin("and", 4, ef, and_mask), or_mask))

    # -- helpers ------------------------------------------------------
    def call(self, ret, name, *args, flags="rw", timed=False):
        """Call a C helper with the state pointer first.  `flags` says what
        the helper does with the arithmetic flags: "rw" reads or changes
        them (allocas flushed before, reloaded after), "in" reads them or
        pushes EFLAGS when it raises an exception (flushed before), None
        leaves them alone.  `timed`: the helper reads or sets guest time (a
        device, the TSC), so `icount` counts the instructions before this
        one in the block during the call (a region's always does): what
        the guest sees must not depend on where its block began."""
        if flags == "rw" and self.insn is not None:
            # The helper may change flags, and the instruction may still
            # fault or side-exit after it: keep the values from before it,
            # so that exit can put them back (and write them to EFLAGS).
            for flag in FLAG_BITS:
                if flag not in self._insn_saved:
                    self._insn_saved[flag] = self.flag_word(flag)
                    self._written.add(flag)
        if flags:
            self.flush_flags()
        self.regs_out()
        self.sync_icount()
        if timed and not self.region:
            self.count_before(1)
        argtext = ", ".join(["ptr %s"] + ["i32 " + str(a) for a in args])
        if ret == "void":
            self.emit("call void @%s(%s)" % (name, argtext))
            result = None
        else:
            result = self.op("call %s @%s(%s)" % (ret, name, argtext))
        if timed and not self.region:
            self.count_before(-1)  # the block's exit adds them
        if flags == "rw":
            self.load_flags()
        self.regs_in()
        if self.region:  # a helper that raised an exception counted it in `icount`
            self.emit("store i64 %s, ptr %%icb" % self.bin("sub", 8, self.load_field("icount", ty="i64"), self.icount))
        self._fault_check()  # helpers touch memory through the same TLB
        return result

    def count_before(self, sign):
        """First-tier block: add (sign 1) or take back (-1) the
        instructions before this one to `icount`."""
        self._count(sign * self.icount)

    def sync_icount(self):
        """Region: bring `icount` up to this instruction before a helper
        or device runs (guest time, RDTSC and timers read it; a loop that
        never leaves the region must still see time pass)."""
        if self.region:
            self.store_field("icount", self._region_count(self.icount, keep=False), ty="i64")

    def regs_out(self):
        """Region: the registers back into the state (a helper reads them,
        or the function returns)."""
        if self.region:
            for i in range(8):
                v = self.op("load i32, ptr %s" % self._local_reg(i))
                width = self.split.get(i)
                if width:
                    lo = self.op("load %s, ptr %s" % (ITYPE[width], self._local_lo(i, width)))
                    v = self.bin("or", 4, v, self.zext(lo, width, 4))
                self.store_field("regs", v, i)

    def regs_in(self):
        """Region: the registers from the state (a helper may have changed them)."""
        if self.region:
            for i in range(8):
                v = self.load_field("regs", i)
                width = self.split.get(i)
                if width:
                    lo = self._local_lo(i, width)
                    self.emit("store %s %s, ptr %s" % (ITYPE[width], self.trunc(v, 4, width), lo))
                    v = self.bin("and", 4, v, _HIGH[width])
                self.emit("store i32 %s, ptr %s" % (v, self._local_reg(i)))

    def _local_reg(self, i):
        """A region's register (a split one's high half, low bits zero)."""
        return self._address("getelementptr inbounds [8 x i32], ptr %%regs, i32 0, i32 %d" % i)

    def _local_lo(self, i, width):
        """A split register's low 16 bits (width 2) or low byte (width 1)."""
        if width == 1:
            return self._address("getelementptr inbounds [8 x i8], ptr %%regs_b, i32 0, i32 %d" % i)
        return self._address("getelementptr inbounds [8 x i16], ptr %%regs_lo, i32 0, i32 %d" % i)

    # -- exits --------------------------------------------------------
    def _count(self, n):
        """Add n (may be negative) to the instruction counter."""
        if n:
            c = self.load_field("icount", ty="i64")
            self.store_field("icount", self.op("add i64 %s, %d" % (c, n)), ty="i64")

    def exit(self, eip, completed=True, chain=False, indirect=False):
        """Leave the block with EIP = eip (an i32 value or constant).  With
        completed, the current instruction counts as executed.  Every exit
        goes through one epilogue, which writes the flags back once.  With
        chain (a constant target, nothing that needs the dispatcher), the
        exit jumps through its own slot straight to the next block once the
        dispatcher has linked it (runtime/chain.c).  With indirect ("ret"
        for a near RET, else true for a near JMP or CALL through a register
        or memory: same CS, same mode), a region goes on at the target
        when it is one of its blocks (_dispatch_indirect)."""
        if not completed:
            self._restore_insn_flags()
        count = self.icount + (1 if completed else 0)
        if self.region and indirect and not isinstance(eip, int):
            self._indirect.setdefault(indirect == "ret", []).append(
                (eip, self._region_count(count, keep=False), self.label))
            self.br("rret" if indirect == "ret" else "rjmp")
            self.terminated = True
            return
        if self.region:
            inside = self.region(eip) if chain and isinstance(eip, int) else None
            if inside is not None and inside[1]:
                self._region_edge(eip, self._region_count(count, keep=False), inside[0])
                return
            count = self._region_count(count, keep=inside is not None)
            if inside is not None:  # a forward edge cannot loop: no check needed
                self.br(inside[0])
                self.terminated = True
                return
        slot = "null"
        if chain and not self.hflags & (32 | 128):  # not while single-stepping
            slot = "@%s_s%d" % (self.fname, len(self._slots))
            self._slots.append(slot)
        self._exits.append((str(eip), count, self.label, slot))
        self.br("epilogue")
        self.terminated = True

    def _region_count(self, n, keep):
        """Region: the instruction count after the first n instructions of
        the current block (%icb is the count where that block started: a
        region only ever adds to `icount`, so its value lives in SSA and is
        stored, never loaded, in loops; a helper call, which may take an
        exception and count it, reloads it);
        with keep, the next block starts there."""
        total = self.bin("add", 8, self.op("load i64, ptr %icb"), n)
        if keep:
            self.emit("store i64 %s, ptr %%icb" % total)
        return total

    def _must_stop(self):
        """i1: another thread asked the vCPU to leave (exit_request), or the
        instruction budget is spent."""
        req = self.load_field("exit_request", volatile=True)
        return self.bor(self.icmp("ne", 4, req, 0),
                        self.icmp("uge", 8, self.load_field("icount", ty="i64"), self._limit()))

    def _limit(self):
        """The instruction budget (`icount_limit`).  It does not change
        while native code runs (run() sets it between cpu_run calls), so
        a region reads it once, on entry."""
        if self.region:
            return self._address("load i64, ptr %s%s" % (self.field("icount_limit"), HOST))
        return self.load_field("icount_limit", ty="i64")

    def _region_edge(self, eip, count, label):
        """A backward branch to a block of the region (every loop has one):
        it stops at this instruction boundary when another thread asks
        (exit_request) or the budget (`count`: the instruction count here)
        is spent, as a chained block's prologue would.  When the only
        request is EXIT_SYNC (Machine.icount read on another thread: the
        progress line, the monitor), the count goes into `icount` and the
        loop goes on, so a loop that never leaves the region is counted
        exactly at a backward edge; the hot path stores nothing (a store
        on every backward edge cost the tightest loops a few per cent)."""
        self.emit("store i64 %s, ptr %%icb" % count)
        asked, budget, sync = self.new_label("rreq"), self.new_label("rbudget"), self.new_label("rsync")
        out = self.new_label("rx")
        req = self.load_field("exit_request", volatile=True)
        self.emit("br i1 %s, label %%%s, label %%%s%s" % (self.icmp("ne", 4, req, 0), asked, budget, COLD))
        self.place(budget)
        self.cbr(self.icmp("uge", 8, count, self._limit()), out, label)
        self.place(asked)
        self.cbr(self.icmp("eq", 4, req, EXIT_SYNC), sync, out)
        self.place(sync)
        # Monotonic, with the state's alias tag: an access LLVM would take
        # for a barrier makes it reload segment bases and TLB pointers in
        # every pass of the loop.  (x86 keeps the store before the RMW.)
        self.emit("store atomic i64 %s, ptr %s monotonic, align 8%s" % (count, self.field("icount"), HOST))
        self.emit("atomicrmw and ptr %s, i32 %d monotonic%s" % (self.field("exit_request"), ~EXIT_SYNC & 0xFFFFFFFF, HOST))
        self.br(budget)
        self.place(out)
        self._exits.append((str(eip), count, self.label, "null"))
        self.br("epilogue")
        self.terminated = True

    def _dispatch_indirect(self, ret):
        """A region's indirect transfers meet here: the target is compared
        with the region's blocks (a switch on EIP; they were lifted from
        the code the region covers, so the guess is checked against the
        real target), and a hit stays in native code.  A RET is compared
        with the return sites of the region's calls only.  A return into
        the loop that made the call is a backward edge, so this is one:
        the same exit request and budget check."""
        at = "rret" if ret else "rjmp"
        sites = self._indirect[ret]
        self.place(at)
        target = self.op("phi i32 " + ", ".join("[%s, %%%s]" % (e, lab) for e, _, lab in sites))
        count = self.op("phi i64 " + ", ".join("[%s, %%%s]" % (n, lab) for _, n, lab in sites))
        self._region_edge(target, count, at + "go")
        self.place(at + "go")
        cases = " ".join("i32 %d, label %%%s" % (eip, label) for eip, label in self.region.blocks(returns=ret))
        self.emit("switch i32 %s, label %%%smiss [%s]" % (target, at, cases))
        self.place(at + "miss")
        self._exits.append((target, count, at + "miss", "null"))
        self.br("epilogue")
        self.terminated = True

    def exit_keep_eip(self, completed=True):
        """Leave the block; a helper already set EIP (and maybe CS)."""
        self.exit(self.load_field("eip"), completed)

    def exit_if(self, cond, eip=None, completed=True):
        """Exit when `cond` (i1) holds, else continue here."""
        yes, no = self.new_label("x"), self.new_label("c")
        self.cbr(cond, yes, no)
        self.place(yes)
        if eip is None:
            self.exit_keep_eip(completed)
        else:
            self.exit(eip, completed)
        self.place(no)

    def check_exit_request(self, next_eip):
        req = self.load_field("exit_request", volatile=True)
        self.exit_if(self.icmp("ne", 4, req, 0), next_eip)

    def end_checks(self, next_eip):
        """After an instruction that did I/O, called a helper that may have
        written code, or wrote memory through the slow path: leave before
        the next one if exit_request is set."""
        if self.needs_exit_check:
            self.check_exit_request(next_eip)
        elif self.slow_write:
            chk, cont = self.new_label("wchk"), self.new_label("wcont")
            self.cbr(self.op("load i1, ptr %wslow"), chk, cont)
            self.place(chk)
            self.emit("store i1 false, ptr %wslow")
            self.check_exit_request(next_eip)
            self.br(cont)
            self.place(cont)
        self.needs_exit_check = self.slow_write = False

    def set_eip(self, eip):
        self.store_field("eip", eip)

    def fault(self, vector, code=None):
        """Raise exception `vector` (with error `code`, if given) at the
        current instruction and leave."""
        self.set_eip(self.insn.eip)
        self._restore_insn_flags()  # the exception pushes EFLAGS as before it
        if code is None:
            self.call("void", "helper_raise", vector, flags="in")
        else:
            self.call("void", "helper_raise_err", vector, code, flags="in")
        self.exit_keep_eip(completed=False)

    @property
    def protected(self):
        return bool(self.hflags & 4)

    @property
    def vm86(self):
        """Virtual-8086 mode (HF_VM; protected is set too, CPL is 3)."""
        return bool(self.hflags & 8)

    @property
    def cpl(self):
        return (self.hflags >> 8) & 3

    def privileged(self):
        """For CPL-0 instructions: True (after emitting #GP(0)) when the
        block runs at CPL > 0.  CPL is part of the block's key."""
        if self.cpl:
            self.fault(13, 0)
            return True
        return False

    def check_io(self, port, size):
        """For IN, OUT, INS, OUTS at CPL > 0: IOPL, then the TSS's I/O
        permission bitmap (runtime/io.c), may refuse the port: #GP(0)."""
        if self.cpl:
            self.call_may_fault("i32", "helper_io_check", port, size)

    def check_iopl(self):
        """For CLI and STI: #GP(0) when CPL > IOPL (in virtual-8086 mode,
        CPL 3, also PUSHF POPF INT n IRET: IOPL < 3 traps to the monitor)."""
        if not self.cpl:
            return
        iopl = self.bin("lshr", 4, self.bin("and", 4, self.load_field("eflags"), 0x3000), 12)
        yes, no = self.new_label("gp"), self.new_label("iopl")
        self.cbr(self.icmp("ult", 4, iopl, self.cpl), yes, no)
        self.place(yes)
        self.fault(13, 0)
        self.place(no)

    def check_ip(self, target, size):
        """Virtual-8086 mode: a near transfer beyond CS's 64 KiB limit (an
        operand-size prefix gives 32-bit targets) is #GP(0) before it
        happens (SDM JMP, Jcc, CALL, RET, LOOP).  (Real mode goes on with
        the 32-bit EIP, as QEMU does.)"""
        if not self.vm86 or size != 4:
            return
        bad, good = self.new_label("ip"), self.new_label("inip")
        self.cbr(self.icmp("ugt", 4, target, 0xFFFF), bad, good)
        self.place(bad)
        self.fault(13, 0)
        self.place(good)

    def call_may_fault(self, ret, name, *args, flags="in", timed=False):
        """A helper returning nonzero when it delivered an exception or did
        not finish (EIP then points where execution resumes)."""
        self.set_eip(self.insn.eip)
        r = self.call(ret, name, *args, flags=flags, timed=timed)
        self.exit_if(self.icmp("ne", 4, r, 0), completed=False)
        return r

    # -- memory -------------------------------------------------------
    def seg_base(self, seg):
        return self.load_field("seg_base", seg)

    def ea(self, m):
        """Effective address (offset in segment), masked to address size."""
        acc = str(m.disp)
        if m.base is not None:
            b = self.get_reg(Reg(m.base.index, m.addr_size))
            acc = self.bin("add", m.addr_size, b, acc)
        if m.index is not None:
            i = self.get_reg(Reg(m.index.index, m.addr_size))
            if m.scale != 1:
                i = self.bin("mul", m.addr_size, i, m.scale)
            acc = self.bin("add", m.addr_size, acc, i)
        if m.base is None and m.index is None:
            return str(m.disp)
        return self.zext(acc, m.addr_size, 4)

    def _flat(self, seg):
        """CS DS ES SS are base 0 and limit 4 GiB (HF_FLAT in the key)."""
        return bool(self.hflags & 64) and seg <= 3

    def linear(self, seg, offset):
        if self._flat(seg):
            return offset
        return self.bin("add", 4, self.seg_base(seg), offset)

    def _page(self, table, lin, size):
        """Host pointer for linear [lin, lin+size) from the software TLB if
        one page holds it, else null (A20, paging, MMIO: slow path)."""
        idx = self.op("zext i32 %s to i64" % self.bin("lshr", 4, lin, 12))
        tbl = self.load_field(table, ty="ptr")
        pp = self.op("getelementptr inbounds ptr, ptr %s, i64 %s" % (tbl, idx))
        page = self.op("load ptr, ptr %s%s" % (pp, HOST))
        off = self.bin("and", 4, lin, 4095)
        ok = self.band(self.op("icmp ne ptr %s, null" % page), self.icmp("ule", 4, off, 4096 - size))
        return page, off, ok

    def _fault_check(self):
        """With paging on, a slow-path access may have recorded a #PF: leave
        with EIP on this instruction; the dispatcher delivers it."""
        if not self.hflags & 16:
            return
        f = self.load_field("fault_pending")
        yes, no = self.new_label("pf"), self.new_label("nopf")
        self.cbr(self.icmp("ne", 4, f, 0), yes, no)
        self.place(yes)
        self.exit(self.insn.eip, completed=False)
        self.place(no)

    def read_mem(self, lin, size):
        page, off, ok = self._page("rd_page", lin, size)
        fast, slow, join = self.new_label("rf"), self.new_label("rs"), self.new_label("rj")
        self.cbr(ok, fast, slow)
        self.place(fast)
        hp = self.op("getelementptr inbounds i8, ptr %s, i32 %s" % (page, off))
        v1 = self.op("load %s, ptr %s, align 1%s" % (ITYPE[size], hp, GUEST))
        self.br(join)
        self.place(slow)
        if self.region:
            self._side_exit()
            self.place(join)
            return v1
        self.sync_icount()  # a device may read the clock
        if size == 8:  # (CMPXCHG8B: both pages translated before a byte is read)
            v2 = self.op("call i64 @mem_read_slow8(ptr %%s, i32 %s)" % lin)
        else:
            w = self.op("call i32 @mem_read_slow(ptr %%s, i32 %s, i32 %d)" % (lin, size))
            v2 = self.trunc(w, 4, size)
        self._fault_check()
        slow = self.label  # the fault check may have started a new block
        self.br(join)
        self.place(join)
        return self.op("phi %s [%s, %%%s], [%s, %%%s]" % (ITYPE[size], v1, fast, v2, slow))

    def _side_exit(self):
        """Region: an access the TLB cannot serve (a device, a code page,
        a page not yet in the TLB, a page-crossing access) leaves the
        region before this instruction did anything (every lifter reads
        and checks before it writes back, as a #PF restart needs); the
        first-tier block there runs it with the slow path (side_exit makes
        the dispatcher pick that one, not this region again).  So a
        region's loops call no memory helper, and LLVM keeps registers,
        segment bases and TLB pointers in host registers across them."""
        self.store_field("side_exit", 1)
        self.exit(self.insn.eip, completed=False)

    def write_mem(self, lin, size, value):
        page, off, ok = self._page("wr_page", lin, size)
        fast, slow, join = self.new_label("wf"), self.new_label("ws"), self.new_label("wj")
        self.cbr(ok, fast, slow)
        self.place(fast)
        hp = self.op("getelementptr inbounds i8, ptr %s, i32 %s" % (page, off))
        self.emit("store %s %s, ptr %s, align 1%s" % (ITYPE[size], value, hp, GUEST))
        self.br(join)
        self.place(slow)
        if self.region:
            self._side_exit()
            self.place(join)
            return
        # The slow path may hit translated code (self-modifying code) or a
        # device: the instruction ends with a check of exit_request (only
        # when it took this path: the fast path can do neither).
        self.sync_icount()
        if size == 8:  # (both pages translated before a byte is written: restartable)
            hi = self.trunc(self.bin("lshr", 8, value, 32), 8, 4)
            self.emit("call void @mem_write_slow8(ptr %%s, i32 %s, i32 %s, i32 %s)"
                      % (lin, self.trunc(value, 8, 4), hi))
        else:
            self.emit("call void @mem_write_slow(ptr %%s, i32 %s, i32 %s, i32 %d)"
                      % (lin, self.zext(value, size, 4), size))
        self.emit("store i1 true, ptr %wslow")
        self._fault_check()
        self.slow_write = True
        self.br(join)
        self.place(join)

    # -- operands -----------------------------------------------------
    def address(self, m):
        ea = self.ea(m)
        self.seg_check(m.seg, ea, m.size)
        return self.linear(m.seg, ea)

    def seg_check(self, seg, offset, size):
        """Protected mode: the access [offset, offset+size) must lie inside
        the segment's limit (above it, for expand-down data) and the
        segment must not be null: else #SS(0) for the stack segment and
        #GP(0) for the others.  Real mode checks nothing, as QEMU.
        Virtual-8086 segments are all 64 KiB (v86.c), so there the limit
        is a constant (QEMU checks nothing there either)."""
        if not self.protected or self._flat(seg):
            return
        if self.vm86:
            end = self.bin("add", 8, self.op("zext i32 %s to i64" % offset), size - 1)
            bad, good = self.new_label("lim"), self.new_label("inlim")
            self.cbr(self.icmp("ugt", 8, end, 0xFFFF), bad, good)
            self.place(bad)
            self.fault(12 if seg == 2 else 13, 0)
            self.place(good)
            return
        lim = self.op("zext i32 %s to i64" % self.load_field("seg_limit", seg))
        fl = self.load_field("seg_flags", seg)
        start = self.op("zext i32 %s to i64" % offset)
        end = self.bin("add", 8, start, size - 1)
        present = self.icmp("ne", 4, self.bin("and", 4, fl, 0x8000), 0)
        expand_down = self.icmp("eq", 4, self.bin("and", 4, fl, 0x1C00), 0x1400)
        big = self.icmp("ne", 4, self.bin("and", 4, fl, 0x400000), 0)
        upper = self.select(big, 8, 0xFFFFFFFF, 0xFFFF)
        inside_up = self.icmp("ule", 8, end, lim)
        inside_down = self.band(self.icmp("ugt", 8, start, lim), self.icmp("ule", 8, end, upper))
        ok = self.band(present, self.select(expand_down, 0, inside_down, inside_up))
        bad, good = self.new_label("lim"), self.new_label("inlim")
        self.cbr(ok, good, bad)
        self.place(bad)
        self.fault(12 if seg == 2 else 13, 0)
        self.place(good)

    def _restore_insn_flags(self):
        """Undo the current instruction's flag changes (it faulted)."""
        for name, before in self._insn_saved.items():
            self.emit("store %s %s, ptr %%f_%s" % (FLAG_TYPES[name], before, name))

    def start_block(self):
        """A new guest block starts here (regions hold several)."""
        self.icount = 0
        self.terminated = False
        self.needs_exit_check = self.slow_write = False
        self.end_after = False
        self._insn_saved = {}

    def start_insn(self, insn):
        self.insn = insn
        self._insn_saved = {}

    def end_insn(self):
        """The instruction completed: later exits keep the flags it set."""
        self._insn_saved = {}

    def seg_rights(self, seg, write):
        """Protected mode: a write needs a writable data segment, a read a
        data or readable code segment, else #GP(0) (#SS(0) for SS).
        Virtual-8086 segments are all writable data."""
        if not self.protected or self.vm86 or (self._flat(seg) and seg != 1):
            return
        kind = self.bin("and", 4, self.load_field("seg_flags", seg), 0xA00)  # code bit, W/R bit
        if write:
            bad = self.icmp("ne", 4, kind, 0x200)
        else:
            bad = self.icmp("eq", 4, kind, 0x800)
        yes, no = self.new_label("acc"), self.new_label("accok")
        self.cbr(bad, yes, no)
        self.place(yes)
        self.fault(12 if seg == 2 else 13, 0)
        self.place(no)

    def read(self, o, lin=None):
        """Value of operand `o` (for Mem, `lin` may be a precomputed address)."""
        if isinstance(o, Reg):
            return self.get_reg(o)
        if isinstance(o, Imm):
            return str(o.value)
        if isinstance(o, SReg):
            return self.trunc(self.load_field("seg_sel", o.index), 4, 2)
        if isinstance(o, Mem):
            if lin is None:
                lin = self.address(o)
            self.seg_rights(o.seg, write=False)
            return self.read_mem(lin, o.size)
        raise TypeError(o)

    def write(self, o, value, lin=None):
        if isinstance(o, Reg):
            self.set_reg(o, value)
        elif isinstance(o, Mem):
            if lin is None:
                lin = self.address(o)
            self.seg_rights(o.seg, write=True)
            self.write_mem(lin, o.size, value)
        else:
            raise TypeError(o)

    # -- stack --------------------------------------------------------
    def _sp_size(self):
        return 4 if self.stack32 else 2

    def push(self, value, size):
        sps = self._sp_size()
        sp_reg = Reg(4, sps)
        sp = self.bin("sub", sps, self.get_reg(sp_reg), size)
        off = self.zext(sp, sps, 4)
        self.seg_check(2, off, size)
        self.write_mem(self.linear(2, off), size, value)
        self.set_reg(sp_reg, sp)

    def pop(self, size, release=True):
        """Read the top of stack and (unless `release` is false: the
        caller adjusts SP once nothing can fault) release it; returns the
        value."""
        sps = self._sp_size()
        sp_reg = Reg(4, sps)
        sp = self.get_reg(sp_reg)
        off = self.zext(sp, sps, 4)
        self.seg_check(2, off, size)
        v = self.read_mem(self.linear(2, off), size)
        if release:
            self.set_reg(sp_reg, self.bin("add", sps, sp, size))
        return v

    def adjust_sp(self, delta):
        sps = self._sp_size()
        sp_reg = Reg(4, sps)
        self.set_reg(sp_reg, self.bin("add", sps, self.get_reg(sp_reg), delta))

    # -- assembling the function --------------------------------------
    def begin(self):
        """The prologue: leave at once if another thread asked (exit_request)
        or the instruction budget is spent (timers), then note which code
        runs, so a write into it ends it (self-modifying code)."""
        self.lines.append("define void @%s(ptr %%s) {" % self.fname)
        self.lines.append("entry:")
        self.flag_locals()
        if self.region:
            self.emit("%regs = alloca [8 x i32]")
            self.emit("%regs_lo = alloca [8 x i16]")
            self.emit("%regs_b = alloca [8 x i8]")
            self.emit("%icb = alloca i64")
            # Flags live across blocks and loops: every flush writes all.
            self._written.update(FLAG_BITS)
            self._used.update(FLAG_BITS)
        self._address_at = len(self.lines)  # the addresses go here (finish)
        self.cbr(self._must_stop(), "early", "body")
        self.lines.append("early:")
        self.emit("ret void")
        self.place("body")
        self._phys_stores = len(self.lines)  # cur_phys_lo/hi go here (finish)
        if self.hot_key is not None:
            self._count_runs()

    def flag_locals(self):
        for name in FLAG_BITS:
            self.emit("%%f_%s = alloca %s" % (name, FLAG_TYPES[name]))
        self.emit("%wslow = alloca i1")

    def _entry_state(self, phys_lo, phys_hi):
        """In the prologue: the physical bytes this block was made from
        (unless None), and the entry value of each flag the block reads or
        writes (a flag it never touches costs nothing; one it writes needs
        its entry value on the exits taken before the write)."""
        body = self.lines
        self.lines = []
        if phys_lo is not None:
            self.store_field("cur_phys_lo", phys_lo)
            self.store_field("cur_phys_hi", phys_hi)
        self.emit("store i1 false, ptr %wslow")
        if self._used:
            self.load_flags([n for n in FLAG_BITS if n in self._used])
        if self.region:
            self.regs_in()
            self.emit("store i64 %s, ptr %%icb" % self.load_field("icount", ty="i64"))
        body[self._phys_stores:self._phys_stores] = self.lines
        self.lines = body

    def _epilogue(self):
        """The one exit of the function: EIP, the instruction count and the
        flags go back to the state, then a jump through the exit's slot
        (chained) or a return to the dispatcher."""
        self.lines.append("epilogue:")
        self.label = "epilogue"
        eips = ", ".join("[%s, %%%s]" % (e, lab) for e, _, lab, _ in self._exits)
        counts = ", ".join("[%s, %%%s]" % (n, lab) for _, n, lab, _ in self._exits)
        slots = ", ".join("[%s, %%%s]" % (sl, lab) for _, _, lab, sl in self._exits)
        eip = self.op("phi i32 " + eips)
        n = self.op("phi i64 " + counts)
        slot = self.op("phi ptr " + slots)
        self.flush_flags()
        self.regs_out()
        self.store_field("eip", eip)
        if not self.region:  # (a region's exits carry the whole count)
            n = self.op("add i64 %s, %s" % (self.load_field("icount", ty="i64"), n))
        self.store_field("icount", n, ty="i64")
        self.store_field("last_slot", slot, ty="ptr")
        self.store_field("last_hflags", self.hflags)
        self.cbr(self.op("icmp eq ptr %s, null" % slot), "leave", "chain")
        self.lines.append("chain:")
        target = self.op("load ptr, ptr %s" % slot)
        self.emit("musttail call void %s(ptr %%s)" % target)
        self.emit("ret void")
        self.lines.append("leave:")
        self.emit("ret void")

    def _place_addresses(self):
        """The constant addresses the body used, computed in the entry block."""
        self.lines[self._address_at:self._address_at] = [
            "  %s = %s" % (p, text) for text, p in self._addresses.items()]

    def _count_runs(self, counter=None):
        """Count the block's runs in `counter` (a global of its own unless
        given): name it hot, or start the compile worker, at thresholds."""
        if counter is None:
            counter = "@%s_runs" % self.fname
            self._globals.append("%s = internal global i32 0" % counter)
        n = self.bin("add", 4, self.op("load i32, ptr %s" % counter), 1)
        self.emit("store i32 %s, ptr %s" % (n, counter))
        hot, warm, cold = self.new_label("hot"), self.new_label("warm"), self.new_label("cold")
        self.emit("switch i32 %s, label %%%s [i32 %d, label %%%s i32 %d, label %%%s]"
                  % (n, cold, WARM_THRESHOLD, warm, HOT_THRESHOLD, hot))
        self.place(warm)  # code is warming up: have the compile worker ready
        self.emit("atomicrmw or ptr %s, i32 %d seq_cst" % (self.field("exit_request"), EXIT_WARM))
        self.br(cold)
        self.place(hot)
        pc, cs_base = self.hot_key
        self.store_field("hot_pc", pc)
        self.store_field("hot_cs_base", cs_base)
        self.store_field("hot_hflags", self.hflags)
        req = self.field("exit_request")
        self.emit("atomicrmw or ptr %s, i32 %d seq_cst" % (req, EXIT_HOT))
        self.br(cold)
        self.place(cold)

    def finish(self, phys_lo=0, phys_hi=0):
        for ret in sorted(self._indirect):
            self._dispatch_indirect(ret)
        self._entry_state(phys_lo, phys_hi)
        self._epilogue()
        self.lines.append("}")
        self._place_addresses()
        globals_ = ["%s = internal global ptr @chain_return" % sl for sl in self._slots]
        return "\n".join(self._globals + globals_ + self.lines)
