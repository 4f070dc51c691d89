"""The x87 FPU (runtime/fpu.c): every escape opcode is one call of
helper_fpu with its 11-bit opcode (a hole in stencils, so one stencil
serves a name's register forms), the memory operand's linear address and
offset, and its segment and operand size.  Before it: #NM when CR0.EM or
CR0.TS is set, and the segment's limit and rights for the whole operand
(the helper checks pages before it changes anything).  WAIT: #NM when
CR0.TS and CR0.MP are both set, else a pending unmasked exception (#MF).
FXSAVE/FXRSTOR: #NM as the escapes, the segment checks for 512 bytes, then
helper_fxsave (alignment, pages, the image)."""
from ...isa.x87 import NAMES, STORES
from ..decode import Mem
from . import lifts

EM, MP, TS = 4, 2, 8


def _raise_by_cr0(b, mask, need_all):
    cr0 = b.load_field("cr", 0)
    bits = b.bin("and", 4, cr0, mask)
    cond = b.icmp("eq", 4, bits, mask) if need_all else b.icmp("ne", 4, bits, 0)
    yes, no = b.new_label("nm"), b.new_label("nonm")
    b.cbr(cond, yes, no)
    b.place(yes)
    b.fault(7)
    b.place(no)


@lifts("x87", *NAMES)
def lift_x87(b, insn):
    _raise_by_cr0(b, EM | TS, need_all=False)
    fop = insn.ops[0].value
    lin = ea = "0"
    segsz = insn.op_size << 8
    if len(insn.ops) > 1 and isinstance(insn.ops[1], Mem):
        m = insn.ops[1]
        ea = b.ea(m)
        b.seg_check(m.seg, ea, m.size)
        b.seg_rights(m.seg, write=insn.name in STORES)
        lin = b.linear(m.seg, ea)
        segsz = b.bin("or", 4, m.seg, segsz)
    # FCOMI writes EFLAGS, FCMOVcc reads them: the helper sees them flushed.
    b.call_may_fault("i32", "helper_fpu", fop, lin, ea, segsz, flags="rw")
    b.needs_exit_check = True  # FERR# may have raised IRQ13


@lifts("wait")
def lift_wait(b, insn):
    _raise_by_cr0(b, TS | MP, need_all=True)
    b.call_may_fault("i32", "helper_fwait", flags="in")


@lifts("fxsave fxrstor")
def lift_fxsave(b, insn):
    _raise_by_cr0(b, EM | TS, need_all=False)
    m = insn.ops[0]
    ea = b.ea(m)
    b.seg_check(m.seg, ea, 512)
    b.seg_rights(m.seg, write=insn.name == "fxsave")
    b.call_may_fault("i32", "helper_fxsave", b.linear(m.seg, ea), int(insn.name == "fxrstor"), flags="in")
    b.needs_exit_check = True  # FXRSTOR may assert FERR#
