"""String instructions.  A single MOVS, CMPS, STOS, LODS or SCAS (no REP)
is lifted inline: its accesses take the memory fast path like any MOV, so
`lodsb` in a loop costs what `mov al, [si]` does.  REP forms and INS/OUTS
are one helper call (runtime/string.c): they loop, are interruptible
between iterations and may do port I/O."""
from ..decode import Mem, Reg
from . import lifts
from .alu import arith

KINDS = {"movs": 0, "cmps": 1, "stos": 2, "lods": 3, "scas": 4, "ins": 5, "outs": 6}
SIZES = {"b": 1, "w": 2, "d": 4}
ES = 0


@lifts(*(k + s for k in KINDS for s in SIZES))
def lift_string(b, insn):
    kind, size = KINDS[insn.name[:-1]], SIZES[insn.name[-1]]
    if not insn.rep and kind < 5:
        _inline(b, insn, kind, size)
        return
    if kind in (5, 6):
        b.check_io(b.zext(b.get_reg(Reg(2, 2)), 2, 4), size)
    rep = {0: 0, 0xF3: 1, 0xF2: 2}[insn.rep]
    if rep and kind not in (1, 4):
        rep = 1  # REPNE on MOVS/STOS/... repeats like REP
    seg = insn.seg_override if insn.seg_override is not None else 3
    # Only CMPS and SCAS change flags; the others need no flag traffic.
    b.call_may_fault("i32", "helper_string", kind, size, rep, seg, int(insn.addr_size == 4),
                     flags="rw" if kind in (1, 4) else None, timed=kind in (5, 6))
    b.needs_exit_check = True  # may have written code or done port I/O


def _inline(b, insn, kind, size):
    am = insn.addr_size
    seg = insn.seg_override if insn.seg_override is not None else 3
    src = Mem(size, seg, Reg(6, am), None, 1, 0, am)  # [seg:(E)SI]
    dst = Mem(size, ES, Reg(7, am), None, 1, 0, am)   # [ES:(E)DI], no override
    acc = Reg(0, size)
    # Every access is checked before anything is written back, so a fault
    # leaves the registers as they were.
    if kind == 0:    # MOVS
        b.write(dst, b.read(src))
    elif kind == 1:  # CMPS: flags of [SI] - [DI]
        x = b.read(src)
        arith(b, "sub", size, x, b.read(dst))
    elif kind == 2:  # STOS
        b.write(dst, b.get_reg(acc))
    elif kind == 3:  # LODS
        b.set_reg(acc, b.read(src))
    else:            # SCAS: flags of AL/AX/EAX - [DI]
        arith(b, "sub", size, b.get_reg(acc), b.read(dst))
    df = b.op("trunc i32 %s to i1" % b.bin("lshr", 4, b.load_field("eflags"), 10))
    step = b.select(df, am, str(-size & ((1 << 8 * am) - 1)), str(size))
    if kind in (0, 1, 3):
        _advance(b, Reg(6, am), step)
    if kind in (0, 1, 2, 4):
        _advance(b, Reg(7, am), step)


def _advance(b, reg, step):
    b.set_reg(reg, b.bin("add", reg.size, b.get_reg(reg), step))
