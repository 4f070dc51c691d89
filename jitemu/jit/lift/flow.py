"""Jcc JMP CALL RET, far JMP/CALL/RETF, LOOP*, JCXZ/JECXZ, INT INT3 INTO IRET.

Every control transfer ends the block.  Targets are masked to the operand
size (16-bit code wraps IP at 64 KiB)."""
from ..decode import Imm, Reg
from .bits import CONDITIONS, condition
from . import lifts


def _target(insn, imm):
    return imm.value & (0xFFFF if insn.op_size == 2 else 0xFFFFFFFF)


def _branch(b, insn, cond):
    """Leave to the operand's target when `cond` holds, else fall through;
    both exits chain."""
    taken, fall = b.new_label("t"), b.new_label("f")
    b.cbr(cond, taken, fall)
    b.place(taken)
    b.check_ip(_target(insn, insn.ops[0]), insn.op_size)
    b.exit(_target(insn, insn.ops[0]), chain=True)
    b.place(fall)
    b.exit(insn.next_eip, chain=True)


@lifts(*("j" + c for c in CONDITIONS))
def lift_jcc(b, insn):
    cond = condition(b, insn.name[1:])
    _branch(b, insn, cond)


def _indirect(b, insn, o):
    v = b.read(o)
    return b.zext(v, o.size, 4)


@lifts("jmp")
def lift_jmp(b, insn):
    (o,) = insn.ops
    target = _target(insn, o) if isinstance(o, Imm) else _indirect(b, insn, o)
    b.check_ip(target, insn.op_size)
    b.exit(target, chain=isinstance(o, Imm), indirect=not isinstance(o, Imm))


@lifts("call")
def lift_call(b, insn):
    (o,) = insn.ops
    size = insn.op_size
    target = _target(insn, o) if isinstance(o, Imm) else _indirect(b, insn, o)
    b.check_ip(target, size)
    b.push(str(insn.next_eip), size)
    if b.region:
        b.region.return_site(insn.next_eip)
    b.exit(target, chain=isinstance(o, Imm), indirect=not isinstance(o, Imm))


@lifts("ret")
def lift_ret(b, insn):
    size = insn.op_size
    ip = b.zext(b.pop(size, release=False), size, 4)
    b.check_ip(ip, size)
    b.adjust_sp(size)
    if insn.ops:
        b.adjust_sp(insn.ops[0].value)
    b.exit(ip, indirect="ret")


def _far_pointer(b, insn, o):
    """(selector, offset) as i32 values from an m16:16 or m16:32 operand."""
    osz = o.size - 2
    lin = b.address(o)
    off = b.zext(b.read_mem(lin, osz), osz, 4)
    sel = b.zext(b.read_mem(b.bin("add", 4, lin, osz), 2), 2, 4)
    return sel, off


@lifts("ljmp lcall")
def lift_far(b, insn):
    if isinstance(insn.ops[0], Imm):
        sel, off = str(insn.ops[0].value), str(insn.ops[1].value)
    else:
        sel, off = _far_pointer(b, insn, insn.ops[0])
    if insn.name == "ljmp":
        # A far transfer may switch tasks, which loads a new EFLAGS.
        b.call_may_fault("i32", "helper_ljmp", sel, off, insn.next_eip, flags="rw")
    else:
        b.call_may_fault("i32", "helper_lcall", sel, off, int(insn.op_size == 4), insn.next_eip, flags="rw")
    b.exit_keep_eip()


@lifts("retf")
def lift_retf(b, insn):
    imm = insn.ops[0].value if insn.ops else 0
    b.call_may_fault("i32", "helper_retf", int(insn.op_size == 4), imm, flags="rw")
    b.exit_keep_eip()


@lifts("iret iretd")
def lift_iret(b, insn):
    b.call_may_fault("i32", "helper_iret", int(insn.name == "iretd"), insn.next_eip, flags="rw")
    b.exit_keep_eip()


@lifts("loop loope loopne")
def lift_loop(b, insn):
    cx = Reg(1, insn.addr_size)
    n = b.bin("sub", insn.addr_size, b.get_reg(cx), 1)
    b.set_reg(cx, n)
    cond = b.icmp("ne", insn.addr_size, n, 0)
    if insn.name == "loope":
        cond = b.band(cond, b.get_flag("zf"))
    elif insn.name == "loopne":
        cond = b.band(cond, b.bnot(b.get_flag("zf")))
    _branch(b, insn, cond)


@lifts("jcxz jecxz")
def lift_jcxz(b, insn):
    size = 4 if insn.name == "jecxz" else 2
    cond = b.icmp("eq", size, b.get_reg(Reg(1, size)), 0)
    _branch(b, insn, cond)


def _software_interrupt(b, insn, vector):
    b.set_eip(insn.next_eip)
    b.call("void", "helper_int", vector, insn.eip, flags="in")
    b.exit_keep_eip()


@lifts("int")
def lift_int(b, insn):
    if b.vm86:  # INT n, not INT3 or INTO: IOPL-sensitive there
        b.check_iopl()
    _software_interrupt(b, insn, insn.ops[0].value)


@lifts("int3")
def lift_int3(b, insn):
    _software_interrupt(b, insn, 3)


@lifts("int1")
def lift_int1(b, insn):
    """INT1 (ICEBP): a debug exception (#DB, vector 1) taken as a trap,
    after the instruction.  Unlike INT 1 it is not a software interrupt:
    no gate DPL check in protected mode (SDM vol. 2, INT n/INTO/INT3/INT1),
    and it counts as an exception (so no single-step #DB follows it)."""
    b.set_eip(insn.next_eip)
    b.call("void", "helper_raise", 1, flags="in")
    b.exit_keep_eip()


@lifts("into")
def lift_into(b, insn):
    yes, no = b.new_label("t"), b.new_label("f")
    b.cbr(b.get_flag("of"), yes, no)
    b.place(yes)
    _software_interrupt(b, insn, 4)
    b.place(no)


@lifts("bound")
def lift_bound(b, insn):
    """#BR (vector 5) when the signed index lies outside [lower, upper]."""
    idx, m = insn.ops
    size = idx.size
    lin = b.address(m)
    lower = b.read_mem(lin, size)
    upper = b.read_mem(b.bin("add", 4, lin, size), size)
    v = b.get_reg(idx)
    out = b.bor(b.icmp("slt", size, v, lower), b.icmp("sgt", size, v, upper))
    yes, no = b.new_label("br"), b.new_label("inb")
    b.cbr(out, yes, no)
    b.place(yes)
    b.fault(5)
    b.place(no)
