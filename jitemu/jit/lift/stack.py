"""PUSH POP (registers, memory, immediates, segment registers), PUSHA POPA,
PUSHF POPF, ENTER LEAVE."""
from ..decode import Imm, Mem, Reg, SReg
from . import lifts


@lifts("push")
def lift_push(b, insn):
    (src,) = insn.ops
    size = insn.op_size
    if isinstance(src, SReg):
        v = b.load_field("seg_sel", src.index)
        # A 32-bit push of a segment register writes only the low word on
        # 486+ parts and QEMU; the stack pointer still moves by 4.
        if size == 4:
            sps = 4 if b.stack32 else 2
            sp_reg = Reg(4, sps)
            sp = b.bin("sub", sps, b.get_reg(sp_reg), 4)
            b.write_mem(b.linear(2, b.zext(sp, sps, 4)), 2, b.trunc(v, 4, 2))
            b.set_reg(sp_reg, sp)
            return
        v = b.trunc(v, 4, 2)
    elif isinstance(src, Imm):
        val = src.value
        if src.size < size and val & (1 << (8 * src.size - 1)):
            val -= 1 << (8 * src.size)
        v = str(val & ((1 << (8 * size)) - 1))
    else:
        size = src.size
        v = b.read(src)  # PUSH SP pushes the value before the decrement
    b.push(v, size)


@lifts("pop")
def lift_pop(b, insn):
    (dst,) = insn.ops
    if isinstance(dst, SReg):
        # ESP moves only once the load succeeded: a faulting POP Sreg
        # leaves it as it was (SDM: faults are restartable).  The stack
        # size is the one before the load, also for POP SS.
        v = b.pop(insn.op_size, release=False)
        b.call_may_fault("i32", "helper_load_seg", dst.index, b.zext(v, insn.op_size, 4))
        b.adjust_sp(insn.op_size)
        b.end_after = b.protected  # SS.B and HF_FLAT may change
        return
    if not isinstance(dst, Mem):
        b.write(dst, b.pop(dst.size))
        return
    # POP to memory addresses with the incremented stack pointer, but ESP
    # moves only once the write succeeded (a fault or a region's side exit
    # restarts the instruction).
    sp_reg = Reg(4, b._sp_size())
    old = b.get_reg(sp_reg)
    v = b.pop(dst.size, release=False)
    b.adjust_sp(dst.size)
    lin = b.address(dst)
    b.set_reg(sp_reg, old)
    b.write(dst, v, lin)
    b.adjust_sp(dst.size)


@lifts("pushal pushaw popal popaw")
def lift_pusha(b, insn):
    fn = "helper_pusha" if insn.name.startswith("push") else "helper_popa"
    b.call("void", fn, int(insn.name.endswith("l")), flags=None)
    b.needs_exit_check = True


@lifts("pushf pushfd")
def lift_pushf(b, insn):
    if b.vm86:
        b.check_iopl()
    b.call("void", "helper_pushf", int(insn.name == "pushfd"), flags="in")
    b.needs_exit_check = True


@lifts("popf popfd")
def lift_popf(b, insn):
    if b.vm86:
        b.check_iopl()
    b.call("void", "helper_popf", int(insn.name == "popfd"))
    b.needs_exit_check = True  # IF may now let a pending interrupt in
    b.end_after = True  # TF (single-step) is part of the block key


@lifts("enter")
def lift_enter(b, insn):
    size, level = insn.ops
    # The frame size is an unsigned imm16 (capstone reads it signed: with
    # a 32-bit stack, ENTER 0xD7B1 must not grow ESP by 0x284F).  The
    # helper checks the whole frame and the final ESP before it changes
    # anything, and raises #SS or #PF itself (EIP on the instruction).
    b.call_may_fault("i32", "helper_enter", int(insn.op_size == 4), size.value & 0xFFFF, level.value & 31)
    b.needs_exit_check = True


@lifts("leave")
def lift_leave(b, insn):
    b.call("void", "helper_leave", int(insn.op_size == 4), flags=None)
