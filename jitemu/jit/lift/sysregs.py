"""MOV to and from control registers, LGDT/LIDT/SGDT/SIDT, LMSW/SMSW/CLTS,
CPUID, RDTSC, RDMSR/WRMSR, WBINVD/INVD.  Instructions that can change the
processor mode end the block (the next block is looked up under the new
mode bits)."""
from ..decode import CReg, Mem, Reg
from . import lifts


def lift_mov_control(b, insn):
    dst, src = insn.ops
    if isinstance(dst, CReg):
        if dst.kind == "dr":
            b.store_field("dr", b.get_reg(Reg(src.index, 4)), dst.index)
            return
        b.call_may_fault("i32", "helper_write_cr", dst.index, b.get_reg(Reg(src.index, 4)))
        b.end_after = True
    elif src.kind == "dr":
        b.set_reg(Reg(dst.index, 4), b.load_field("dr", src.index))
    else:
        b.set_reg(Reg(dst.index, 4), b.load_field("cr", src.index))


@lifts("cpuid")
def lift_cpuid(b, insn):
    b.call("void", "helper_cpuid", flags=False)


@lifts("rdtsc")
def lift_rdtsc(b, insn):
    # The count includes the instructions before this one in the block.
    b._count(b.icount)
    b.call("void", "helper_rdtsc", flags=False)
    b._count(-b.icount)


@lifts("rdmsr wrmsr")
def lift_msr(b, insn):
    b.call_may_fault("i32", "helper_" + insn.name)


@lifts("lgdt lidt")
def lift_lgdt(b, insn):
    (m,) = insn.ops
    b.call("void", "helper_lgdt", int(insn.name == "lidt"), b.address(m), int(insn.op_size == 4), flags=False)


@lifts("sgdt sidt")
def lift_sgdt(b, insn):
    (m,) = insn.ops
    b.call("void", "helper_sgdt", int(insn.name == "sidt"), b.address(m), flags=False)
    b.needs_exit_check = True


@lifts("lmsw")
def lift_lmsw(b, insn):
    (src,) = insn.ops
    b.call("void", "helper_lmsw", b.zext(b.read(src), 2, 4), flags=False)
    b.end_after = True


@lifts("smsw")
def lift_smsw(b, insn):
    (dst,) = insn.ops
    cr0 = b.load_field("cr", 0)
    b.write(dst, b.trunc(cr0, 4, dst.size) if isinstance(dst, Mem) or dst.size < 4 else cr0)


@lifts("clts")
def lift_clts(b, insn):
    cr0 = b.load_field("cr", 0)
    b.store_field("cr", b.bin("and", 4, cr0, 0xFFFFFFF7), 0)


@lifts("invlpg")
def lift_invlpg(b, insn):
    (m,) = insn.ops
    b.call("void", "helper_invlpg", b.address(m), flags=False)
    b.end_after = True  # the code cache was flushed


@lifts("wbinvd invd")
def lift_cache(b, insn):
    pass  # no caches are modelled
