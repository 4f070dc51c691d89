"""Copy-and-patch stencils: the baseline tier's code, made by the lifters.

A *form* is every instruction that lifts to the same IR once its operand
values are left open: the same name, operand kinds and sizes, prefixes and
CPU mode.  `symbolize(insn, hflags)` gives an instruction's form key, a
symbolic copy of it whose operand values are *holes*, and the hole values
of this instance.  The lifters lift the symbolic copy into a *stencil*: one
function per form, in which every hole is an external symbol (`@H<n>`),
so LLVM leaves a relocation wherever the value goes.  At run time the
runtime (runtime/stencil.c) copies the stencils of a block end to end and
patches the holes with each instruction's values: no LLVM and no lifting
per block, and x86 is still written once, in the lifters.

Holes of every instruction stencil: H0 its EIP, H1 the next EIP, H2 the
instructions the block completed before it; operand holes follow.  A
register operand's hole is its byte offset in `regs` (AH is 1, CH 5, ...);
an immediate's is its value; a memory operand has holes for its base and
index registers, its displacement, and in real mode its segment.  Data
words (`@D<n>`) are the block's jump slots and run counter.

A lifter that needs an operand's value in Python (`int(hole)`, `hole ==
1`, ...) gets NotConcrete: that form has no stencil and its blocks stay on
the LLVM tier, which is always correct.
"""
import re

from .block import BlockBuilder, ITYPE, module_prelude
from .decode import CReg, Imm, Insn, Mem, Reg, SReg

# hflags bits that change a block's IR (runtime/jitemu.h): CODE32 SS32 PE
# VM PG FLAT and CPL.  TF/STEP blocks (one instruction, the dispatcher
# between them) stay on the LLVM tier.
MODE_BITS = 1 | 2 | 4 | 8 | 16 | 64 | 0x300
HF_TF, HF_STEP, HF_NOREGION = 32, 128, 1 << 20
EIP, NEXT, ICOUNT = 0, 1, 2
FIRST_OPERAND_HOLE = 3
MAX_HOLES = 16


class NotConcrete(TypeError):
    """A lifter asked for a hole's value: the form cannot be a stencil."""


class Hole:
    """An operand value a stencil leaves open.  In IR text it is a token
    that `resolve_holes` turns into `ptrtoint (ptr @H<n> to <type>)` once
    the instruction around it says which type it has."""
    __slots__ = ("n", "bits")

    def __init__(self, n, bits=32):
        self.n, self.bits = n, bits

    def __str__(self):
        return "HOLE#%d" % self.n

    __repr__ = __str__

    def __and__(self, mask):
        # Masking to the hole's own width (a jump target masked to the
        # operand size) changes nothing: the value was masked when taken.
        if mask & ((1 << self.bits) - 1) == (1 << self.bits) - 1:
            return self
        raise NotConcrete("%s & %#x" % (self, mask))

    __rand__ = __and__

    def _refuse(self, *args):
        raise NotConcrete("the value of %s" % self)

    __int__ = __index__ = __bool__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __or__ = __ror__ = __xor__ = __mul__ = _refuse
    __lshift__ = __rshift__ = __neg__ = __invert__ = __mod__ = __floordiv__ = _refuse
    __hash__ = object.__hash__


class SymInsn(Insn):
    """An instruction whose EIP and next EIP are holes."""

    @property
    def next_eip(self):
        return Hole(NEXT)


def symbolize(insn, hflags):
    """(form key, symbolic instruction, hole values) of a decoded
    instruction in a block with mode bits `hflags`."""
    mode = hflags & MODE_BITS
    real = not mode & 4  # (virtual-8086 code checks limits: segments stay in the key)
    values = [insn.eip, insn.next_eip, 0]
    holes = [FIRST_OPERAND_HOLE]

    def hole(value, bits=32):
        n = holes[0]
        holes[0] += 1
        values.append(value)
        return Hole(n, bits)

    def reg(r):
        return Reg(hole(r.index * 4 + (1 if r.high else 0)), r.size)

    ops, sig = [], []
    for o in insn.ops:
        if isinstance(o, Reg):
            ops.append(reg(o))
            sig.append(("r", o.size))
        elif isinstance(o, Imm):
            ops.append(Imm(hole(o.value, 8 * o.size), o.size))
            sig.append(("i", o.size))
        elif isinstance(o, Mem):
            seg = hole(o.seg) if real else o.seg
            base = Reg(hole(o.base.index * 4), o.base.size) if o.base is not None else None
            index = Reg(hole(o.index.index * 4), o.index.size) if o.index is not None else None
            disp = hole(o.disp, 8 * o.addr_size)
            ops.append(Mem(o.size, seg, base, index, o.scale, disp, o.addr_size))
            sig.append(("m", o.size, "h" if real else o.seg, base is not None, index is not None,
                        o.scale if index is not None else 0, o.addr_size))
        elif isinstance(o, (SReg, CReg)):
            ops.append(o)
            sig.append(("s", o))
        else:
            raise NotConcrete(repr(o))
    seg_override = insn.seg_override
    if seg_override is not None and real:
        seg_override = hole(seg_override)
    key = (insn.name, insn.op_size, insn.addr_size, insn.rep, insn.mode16,
           "h" if isinstance(seg_override, Hole) else seg_override, mode, tuple(sig))
    sym = SymInsn(eip=Hole(EIP), length=insn.length, name=insn.name, text=insn.name, ops=ops,
                  op_size=insn.op_size, addr_size=insn.addr_size, rep=insn.rep,
                  seg_override=seg_override, raw=b"", mode16=insn.mode16)
    if len(values) > MAX_HOLES - 2:  # the top two are the exits' jump slots (data words)
        raise NotConcrete("%d holes" % len(values))
    return key, sym, values


# -- IR -----------------------------------------------------------------------
_BINOP = re.compile(r"= (?:add|sub|mul|and|or|xor|shl|lshr|ashr|udiv|sdiv|urem|srem)(?: nuw| nsw| exact)* (i\d+) ")
_ICMP = re.compile(r"= icmp \w+ (i\d+) ")
_PHI = re.compile(r"= phi (i\d+) ")
_TYPED = re.compile(r"(i\d+) HOLE#(\d+)")
_TOKEN = re.compile(r"HOLE#(\d+)")


def resolve_holes(line):
    """Give every hole token in one line of IR the type the line gives it."""
    if "HOLE#" not in line:
        return line
    line = _TYPED.sub(lambda m: "%s ptrtoint (ptr @H%s to %s)" % (m.group(1), m.group(2), m.group(1)), line)
    if "HOLE#" not in line:
        return line
    m = _BINOP.search(line) or _ICMP.search(line) or _PHI.search(line)
    if m is None:
        raise NotConcrete("untyped hole in: " + line.strip())
    ty = m.group(1)
    return _TOKEN.sub(lambda t: "ptrtoint (ptr @H%s to %s)" % (t.group(1), ty), line)


class StencilBuilder(BlockBuilder):
    """Emits one stencil: a function for one instruction form that runs
    the instruction on the state, keeps the flags in EFLAGS between
    stencils, and either falls through (`musttail` to @CONTINUE, which the
    runtime drops: the next stencil follows) or leaves the block through
    its own epilogue (EIP, the instruction count from H2, the jump slot)."""

    def __init__(self, fname, hflags):
        super().__init__(fname, hflags)
        self.icount = 0

    def field(self, name, index=None):
        if isinstance(index, Hole):  # a segment register chosen by a hole
            base = super().field(name, 0)
            return self._address("getelementptr inbounds i32, ptr %s, i32 %s" % (base, index))
        return super().field(name, index)

    def _reg_ptr(self, reg):
        if isinstance(reg.index, Hole):
            return self._address("getelementptr inbounds i8, ptr %s, i32 %s" % (self.field("regs", 0), reg.index))
        return super()._reg_ptr(reg)

    def begin(self):
        self.lines.append("define void @%s(ptr %%s) #0 {" % self.fname)
        self.lines.append("entry:")
        self.flag_locals()
        self._address_at = len(self.lines)
        self.br("body")
        self.place("body")
        self._phys_stores = len(self.lines)

    def exit(self, eip, completed=True, chain=False, indirect=False):  # (indirect: regions only)
        if not completed:
            self._restore_insn_flags()
        count = self.op("add i64 %s, %d" % (Hole(ICOUNT), self.icount + (1 if completed else 0)))
        slot = "null"
        if chain and not self.hflags & (HF_TF | HF_STEP):
            slot = "@D%d" % len(self._slots)
            self._slots.append(slot)
        self._exits.append((str(eip), count, self.label, slot))
        self.br("epilogue")
        self.terminated = True

    def count_before(self, sign):
        # A stencil's place in its block is a hole (ICOUNT).
        c = self.load_field("icount", ty="i64")
        self.store_field("icount", self.op("%s i64 %s, %s" % ("add" if sign > 0 else "sub", c, Hole(ICOUNT))),
                         ty="i64")

    def fall_through(self):
        """The instruction completed: on to the next stencil."""
        self.flush_flags()
        self.emit("musttail call void @CONTINUE(ptr %s)")
        self.emit("ret void")
        self.terminated = True

    def finish_stencil(self):
        """The function's text (holes still tokens; see resolve_holes)."""
        self._entry_state(None, None)
        if self._exits:
            self._epilogue()
        self.lines.append("}")
        self._place_addresses()
        return "\n".join(self.lines)


class Stencil:
    """What the translator needs to know of a form besides its code."""
    __slots__ = ("name", "ir", "terminated", "end_after", "slots", "needs")

    def __init__(self, name, ir, terminated, end_after, slots):
        self.name, self.ir = name, ir
        self.terminated, self.end_after, self.slots = terminated, end_after, slots


def lift_stencil(name, sym, hflags, lifter):
    """The IR function of one instruction form, or NotConcrete."""
    b = StencilBuilder(name, hflags)
    b.begin()
    b.start_block()
    b.start_insn(sym)
    lifter(b, sym)
    terminated, end_after = b.terminated, b.end_after
    if not terminated:
        b.end_checks(sym.next_eip)
        b.end_insn()
        b.fall_through()
    ir = b.finish_stencil()
    return Stencil(name, "\n".join(resolve_holes(line) for line in ir.split("\n")),
                   terminated, end_after, len(b._slots))


def exit_stencil(name, hflags, chain):
    """Leaves the block to H1 after H2 instructions (a block that ends
    without a control transfer: the page end, the size cap, a mode
    change), chaining through D0 when `chain`."""
    b = StencilBuilder(name, hflags)
    b.begin()
    b.exit(Hole(NEXT), completed=False, chain=chain)
    ir = b.finish_stencil()
    return Stencil(name, "\n".join(resolve_holes(line) for line in ir.split("\n")), True, False, len(b._slots))


PROLOGUE_PHYS_LO, PROLOGUE_PHYS_HI, PROLOGUE_PC, PROLOGUE_CS_BASE = 3, 4, 5, 6


def prologue_stencil(name, hflags, count_runs):
    """A block's first stencil: leave at once when another thread asked
    (exit_request) or the budget is spent, note the block's physical bytes
    (self-modifying code), and count runs (D0) to name hot blocks, as the
    LLVM tier's prologue does (BlockBuilder.begin)."""
    b = StencilBuilder(name, hflags)
    b.lines.append("define void @%s(ptr %%s) #0 {" % name)
    b.lines.append("entry:")
    b._address_at = len(b.lines)
    b.cbr(b._must_stop(), "early", "body")
    b.lines.append("early:")
    b.emit("ret void")
    b.place("body")
    b.store_field("cur_phys_lo", Hole(PROLOGUE_PHYS_LO))
    b.store_field("cur_phys_hi", Hole(PROLOGUE_PHYS_HI))
    if count_runs:
        b.hot_key = (Hole(PROLOGUE_PC), Hole(PROLOGUE_CS_BASE))
        b._count_runs(counter="@D0")
    b.emit("musttail call void @CONTINUE(ptr %s)")
    b.emit("ret void")
    b.lines.append("}")
    b._place_addresses()
    ir = "\n".join(resolve_holes(line) for line in b.lines)
    return Stencil(name, ir, False, False, 1 if count_runs else 0)


def module_text(stencils):
    """One LLVM module holding `stencils`, with the holes, data words and
    the continuation declared."""
    used = set()
    for st in stencils:
        used.update(re.findall(r"@([HD]\d+)\b", st.ir))
    decls = ["@%s = extern_weak dso_local global i8" % n for n in sorted(used)]
    decls.append("declare void @CONTINUE(ptr)")
    # No jump tables or other read-only data: a stencil is its code.
    decls.append('attributes #0 = { nounwind "no-jump-tables"="true" }')
    return module_prelude() + "\n".join(decls) + "\n\n" + "\n\n".join(st.ir for st in stencils) + "\n"
