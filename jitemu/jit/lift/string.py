"""String instructions, one helper call each (runtime/string.c)."""
from ..decode import Reg
from . import lifts

KINDS = {"movs": 0, "cmps": 1, "stos": 2, "lods": 3, "scas": 4, "ins": 5, "outs": 6}
SIZES = {"b": 1, "w": 2, "d": 4}


@lifts(*(k + s for k in KINDS for s in SIZES))
def lift_string(b, insn):
    kind, size = KINDS[insn.name[:-1]], SIZES[insn.name[-1]]
    if kind in (5, 6):
        b.check_io(b.zext(b.get_reg(Reg(2, 2)), 2, 4), size)
    rep = {0: 0, 0xF3: 1, 0xF2: 2}[insn.rep]
    if rep and kind not in (1, 4):
        rep = 1  # REPNE on MOVS/STOS/... repeats like REP
    seg = insn.seg_override if insn.seg_override is not None else 3
    # Only CMPS and SCAS change flags; the others need no flag traffic.
    b.call_may_fault("i32", "helper_string", kind, size, rep, seg, int(insn.addr_size == 4),
                     flags="rw" if kind in (1, 4) else None)
    b.needs_exit_check = True  # may have written code or done port I/O
