"""MOV MOVZX MOVSX LEA XCHG XLAT CBW/CWDE/CWD/CDQ BSWAP CMOVcc, and segment loads."""
from ..decode import CReg, Mem, Reg, SReg
from . import lifts
from .bits import CONDITIONS, condition
from .sysregs import lift_mov_control


@lifts("mov")
def lift_mov(b, insn):
    dst, src = insn.ops
    if isinstance(dst, CReg) or isinstance(src, CReg):
        return lift_mov_control(b, insn)
    if isinstance(dst, SReg):
        if dst.index == 1:  # MOV CS is #UD on 386 and later
            return b.fault(6)
        v = b.zext(b.read(src), src.size, 4) if src.size < 4 else b.read(src)
        b.call_may_fault("i32", "helper_load_seg", dst.index, v)
        b.end_after = bool(b.hflags & 4)  # protected mode: SS.B and HF_FLAT may change
        return
    if isinstance(dst, Reg) and isinstance(src, SReg) and dst.size == 4:
        # 32-bit register destination: upper bits are zero on 486+ / QEMU.
        b.set_reg(dst, b.load_field("seg_sel", src.index))
        return
    if isinstance(src, SReg) and dst.size != 2:
        dst = Mem(2, dst.seg, dst.base, dst.index, dst.scale, dst.disp, dst.addr_size) if isinstance(dst, Mem) else dst
    b.write(dst, b.read(src))


@lifts("movzx movsx")
def lift_movx(b, insn):
    dst, src = insn.ops
    v = b.read(src)
    b.set_reg(dst, (b.zext if insn.name == "movzx" else b.sext)(v, src.size, dst.size))


@lifts(*("cmov" + c for c in CONDITIONS))
def lift_cmov(b, insn):
    dst, src = insn.ops
    # The source is read whatever the condition (a memory operand may
    # fault even when nothing moves: SDM CMOVcc, as QEMU); outside 64-bit
    # mode a false condition leaves the destination as it was.
    v = b.read(src)
    b.set_reg(dst, b.select(condition(b, insn.name[4:]), dst.size, v, b.get_reg(dst)))


@lifts("lea")
def lift_lea(b, insn):
    dst, src = insn.ops
    b.set_reg(dst, b.trunc(b.ea(src), 4, dst.size))


@lifts("xchg")
def lift_xchg(b, insn):
    a, c = insn.ops
    if isinstance(a, Mem) or isinstance(c, Mem):
        m, r = (a, c) if isinstance(a, Mem) else (c, a)
        lin = b.address(m)
        mv = b.read(m, lin)
        rv = b.read(r)
        b.write(m, rv, lin)
        b.set_reg(r, mv)
        return
    av, cv = b.read(a), b.read(c)
    b.set_reg(a, cv)
    b.set_reg(c, av)


@lifts("xlatb")
def lift_xlat(b, insn):
    seg = insn.seg_override if insn.seg_override is not None else 3
    asz = insn.addr_size
    base = b.get_reg(Reg(3, asz))
    off = b.bin("add", asz, base, b.zext(b.get_reg(Reg(0, 1)), 1, asz))
    lin = b.linear(seg, b.zext(off, asz, 4))
    b.set_reg(Reg(0, 1), b.read_mem(lin, 1))


@lifts("cbw cwde")
def lift_cbw(b, insn):
    # By operand size, not name: capstone calls 98 "cwde" in 16-bit code too.
    half = insn.op_size // 2
    b.set_reg(Reg(0, 2 * half), b.sext(b.get_reg(Reg(0, half)), half, 2 * half))


@lifts("cwd cdq")
def lift_cwd(b, insn):
    size = insn.op_size  # capstone calls 99 "cdq" in 16-bit code too
    b.set_reg(Reg(2, size), b.bin("ashr", size, b.get_reg(Reg(0, size)), 8 * size - 1))


@lifts("bswap")
def lift_bswap(b, insn):
    (r,) = insn.ops
    if r.size != 4:  # BSWAP r16 is undefined; QEMU and Intel parts give 0
        b.set_reg(r, "0")
        return
    v = b.get_reg(r)
    b.set_reg(r, b.op("call i32 @llvm.bswap.i32(i32 %s)" % v))


@lifts("lds les lfs lgs lss")
def lift_load_far_pointer(b, insn):
    dst, m = insn.ops
    size = dst.size  # capstone reports the memory operand's size as 2
    lin = b.address(m)
    off = b.read_mem(lin, size)
    sel = b.zext(b.read_mem(b.bin("add", 4, lin, size), 2), 2, 4)
    seg = {"les": 0, "lss": 2, "lds": 3, "lfs": 4, "lgs": 5}[insn.name]
    # The segment load may fault; the register is written only after it.
    b.call_may_fault("i32", "helper_load_seg", seg, sel)
    b.set_reg(dst, off)
    b.end_after = bool(b.hflags & 4)
