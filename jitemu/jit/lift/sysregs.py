"""MOV to and from control registers, LGDT/LIDT/SGDT/SIDT, LMSW/SMSW/CLTS,
CPUID, RDTSC, RDPMC, RDMSR/WRMSR, SYSENTER/SYSEXIT, WBINVD/INVD/INVLPG.  Instructions that can change the
processor mode end the block (the next block is looked up under the new
mode bits)."""
from ..decode import CReg, Mem, Reg
from . import lifts


def lift_mov_control(b, insn):
    if b.privileged():
        return
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
    b.call("void", "helper_cpuid", flags=None)


@lifts("rdtsc")
def lift_rdtsc(b, insn):
    # #GP(0) at CPL > 0 with CR4.TSD (CR4 is not in the block key: the
    # helper checks).
    b.call_may_fault("i32", "helper_rdtsc", timed=True)


@lifts("rdpmc")
def lift_rdpmc(b, insn):
    b.call_may_fault("i32", "helper_rdpmc")  # CR4.PCE and CPL, and ECX: the helper checks


@lifts("rdmsr wrmsr")
def lift_msr(b, insn):
    if b.privileged():
        return
    b.call_may_fault("i32", "helper_" + insn.name, timed=True)  # (the TSC is MSR 0x10)


@lifts("sysenter sysexit")
def lift_sysenter(b, insn):
    """Fast system calls: flat CS and SS from the SYSENTER MSRs, a new
    CPL; the helper checks the mode, CPL and SYSENTER_CS (#GP(0))."""
    b.call_may_fault("i32", "helper_" + insn.name)
    b.exit_keep_eip()


@lifts("lgdt lidt")
def lift_lgdt(b, insn):
    if b.privileged():
        return
    (m,) = insn.ops
    b.call("void", "helper_lgdt", int(insn.name == "lidt"), b.address(m), int(insn.op_size == 4), flags=None)


@lifts("sgdt sidt")
def lift_sgdt(b, insn):
    (m,) = insn.ops
    b.call("void", "helper_sgdt", int(insn.name == "sidt"), b.address(m), flags=None)
    b.needs_exit_check = True


@lifts("lmsw")
def lift_lmsw(b, insn):
    if b.privileged():
        return
    (src,) = insn.ops
    b.call("void", "helper_lmsw", b.zext(b.read(src), 2, 4), flags=None)
    b.end_after = True


@lifts("smsw")
def lift_smsw(b, insn):
    (dst,) = insn.ops
    cr0 = b.load_field("cr", 0)
    b.write(dst, b.trunc(cr0, 4, dst.size) if isinstance(dst, Mem) or dst.size < 4 else cr0)


@lifts("clts")
def lift_clts(b, insn):
    if b.privileged():
        return
    cr0 = b.load_field("cr", 0)
    b.store_field("cr", b.bin("and", 4, cr0, 0xFFFFFFF7), 0)


@lifts("invlpg")
def lift_invlpg(b, insn):
    if b.privileged():
        return
    (m,) = insn.ops
    b.call("void", "helper_invlpg", b.address(m), flags=None)
    b.end_after = True  # the code cache was flushed


@lifts("wbinvd invd")
def lift_cache(b, insn):
    b.privileged()  # no caches are modelled: only the privilege check


def _pm_only(b):
    """Descriptor instructions are #UD in real and virtual-8086 mode."""
    if not b.protected or b.vm86:
        b.fault(6)
        return True
    return False


@lifts("ltr lldt")
def lift_ltr(b, insn):
    if _pm_only(b) or b.privileged():
        return
    (src,) = insn.ops
    b.call_may_fault("i32", "helper_" + insn.name, b.zext(b.read(src), 2, 4))


@lifts("str sldt")
def lift_str(b, insn):
    if _pm_only(b):
        return
    (dst,) = insn.ops
    v = b.load_field("tr_sel" if insn.name == "str" else "ldt_sel")
    b.write(dst, b.trunc(v, 4, dst.size))


@lifts("lar lsl")
def lift_lar(b, insn):
    if _pm_only(b):
        return
    dst, src = insn.ops
    which = 0 if insn.name == "lar" else 1
    v = b.call("i32", "helper_desc_query", which, b.zext(b.read(src), 2, 4))
    # The destination is written only when ZF says the selector was valid.
    old = b.zext(b.get_reg(dst), dst.size, 4)
    b.set_reg(dst, b.trunc(b.select(b.get_flag("zf"), 4, v, old), 4, dst.size))


@lifts("verr verw")
def lift_verr(b, insn):
    if _pm_only(b):
        return
    (src,) = insn.ops
    b.call("i32", "helper_desc_query", 2 if insn.name == "verr" else 3, b.zext(b.read(src), 2, 4))


@lifts("arpl")
def lift_arpl(b, insn):
    if _pm_only(b):
        return
    dst, src = insn.ops
    lin = b.address(dst) if isinstance(dst, Mem) else None
    d = b.read(dst, lin)
    drpl, srpl = b.bin("and", 2, d, 3), b.bin("and", 2, b.read(src), 3)
    lower = b.icmp("ult", 2, drpl, srpl)
    b.set_flag("zf", lower)
    b.write(dst, b.select(lower, 2, b.bin("or", 2, b.bin("and", 2, d, 0xFFFC), srpl), d), lin)
