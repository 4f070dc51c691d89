"""IN OUT HLT: the instructions that talk to the machine; UD2."""
from ..decode import Imm, Reg
from . import lifts


def _port(b, o):
    return str(o.value) if isinstance(o, Imm) else b.zext(b.get_reg(Reg(2, 2)), 2, 4)


@lifts("in")
def lift_in(b, insn):
    dst, port = insn.ops
    p = _port(b, port)
    b.check_io(p, dst.size)
    v = b.call("i32", "helper_in", p, dst.size, flags=None, timed=True)
    b.set_reg(dst, b.trunc(v, 4, dst.size))
    b.needs_exit_check = True


@lifts("out")
def lift_out(b, insn):
    port, src = insn.ops
    p = _port(b, port)
    b.check_io(p, src.size)
    v = b.zext(b.get_reg(src), src.size, 4)
    # Devices see the guest's EIP at the next instruction, like a trap.
    b.set_eip(insn.next_eip)
    b.call("void", "helper_out", p, v, src.size, flags=None, timed=True)
    b.needs_exit_check = True


@lifts("hlt")
def lift_hlt(b, insn):
    if b.privileged():
        return
    b.set_eip(insn.next_eip)
    b.call("void", "helper_hlt", flags=None)
    b.exit(insn.next_eip)


@lifts("ud2")
def lift_ud2(b, insn):
    b.fault(6)  # defined to raise #UD (the translator logs it when the guest runs it)
