"""CMPXCHG XADD CMPXCHG8B: the 486 and Pentium exchange instructions.

One vCPU: a LOCK prefix needs no more than the plain instruction (capstone
refuses LOCK with a register destination, which raises #UD).  A memory
destination is always written back, as the SDM's locked read-modify-write
cycle does even when the comparison fails (a read-only page faults either
way), and before any register changes, so a fault leaves the instruction
restartable."""
from ..decode import Mem, Reg
from . import lifts
from .alu import arith


@lifts("cmpxchg")
def lift_cmpxchg(b, insn):
    dst, src = insn.ops
    size = dst.size
    lin = b.address(dst) if isinstance(dst, Mem) else None
    old = b.read(dst, lin)
    new = b.read(src)
    acc = Reg(0, size)
    cmpv = b.get_reg(acc)
    arith(b, "sub", size, cmpv, old)  # flags as CMP accumulator, destination
    equal = b.icmp("eq", size, cmpv, old)
    stored = b.select(equal, size, new, old)
    if lin is not None:
        b.write(dst, stored, lin)
        b.set_reg(acc, old)
    else:
        # The accumulator first: CMPXCHG EAX, r with EAX equal to itself
        # leaves r in EAX (SDM: DEST <- SRC).
        b.set_reg(acc, old)
        b.set_reg(dst, stored)


@lifts("xadd")
def lift_xadd(b, insn):
    dst, src = insn.ops
    size = dst.size
    lin = b.address(dst) if isinstance(dst, Mem) else None
    old = b.read(dst, lin)
    total = arith(b, "add", size, old, b.read(src))
    if lin is not None:
        b.write(dst, total, lin)
        b.set_reg(src, old)
    else:
        # SRC <- DEST, then DEST <- sum: XADD EAX, EAX doubles EAX.
        b.set_reg(src, old)
        b.set_reg(dst, total)


@lifts("cmpxchg8b")
def lift_cmpxchg8b(b, insn):
    (m,) = insn.ops
    lin = b.address(m)
    b.seg_rights(m.seg, write=True)  # written back in both cases: a writable segment
    old = b.read_mem(lin, 8)
    eax, edx, ebx, ecx = (b.get_reg(Reg(i, 4)) for i in (0, 2, 3, 1))
    cmpv = b.bin("or", 8, b.bin("shl", 8, b.zext(edx, 4, 8), 32), b.zext(eax, 4, 8))
    new = b.bin("or", 8, b.bin("shl", 8, b.zext(ecx, 4, 8), 32), b.zext(ebx, 4, 8))
    equal = b.icmp("eq", 8, cmpv, old)
    b.write_mem(lin, 8, b.select(equal, 8, new, old))
    b.set_flag("zf", equal)  # the other flags are left alone
    # EDX:EAX <- the memory operand (its own value when equal).
    b.set_reg(Reg(0, 4), b.trunc(old, 8, 4))
    b.set_reg(Reg(2, 4), b.trunc(b.bin("lshr", 8, old, 32), 8, 4))
