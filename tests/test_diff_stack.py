"""PUSH POP (registers, memory, immediates, segment registers) PUSHA POPA
PUSHF POPF ENTER LEAVE against Unicorn, with SP anywhere (so wrapping at
0 and at 0xFFFF happens)."""
import pytest
from hypothesis import given

import oracle

TF = 0x100


def _options(t):
    if "+r" in t or t.startswith("C8"):
        return {"n_plain": 3}
    return None


CASES = oracle.table_cases("stack", options=_options)


def _fixup(case, s):
    if case.name in ("popf", "popfd"):
        # A popped TF would trap after the next instruction: keep it clear.
        size = 4 if case.name == "popfd" else 2
        lin = oracle.stack_lin(s)
        v = int.from_bytes(oracle.peek(s, lin, size), "little") & ~TF
        s.plant(lin, v.to_bytes(size, "little"))
    ops = case.insn.operands
    if case.name == "push" and case.enc.op32 and ops[0].type == oracle.X.X86_OP_REG and \
            ops[0].reg in SREGS:
        # SDM PUSH: a 32-bit push of a segment register either zero-extends
        # (QEMU, so Unicorn) or moves 16 bits, leaving the upper word alone
        # (recent Intel cores, jitemu).  The upper word is not compared.
        # (A dword access does not wrap inside itself: the upper word of a
        # push at SS:FFFE is at linear SS base + 0x10000.)
        return {"mem": [(oracle.stack_lin(s, -4) + 2, 2)]}
    if case.name == "enter" and case.enc.op32:
        # 32-bit ENTER on a 16-bit stack: per the SDM (and Bochs) FrameTemp
        # is ESP after pushing EBP, upper half included, and EBP gets all
        # of it.  QEMU pushes ESP-4 computed without the 16-bit wrap and
        # writes only BP.  Compare the low halves of both.
        level = ops[1].imm & 31
        ignore = []
        if level:
            ignore.append((oracle.stack_lin(s, -4 * (level + 1)) + 2, 2))
        return {5: 0xFFFF, "mem": ignore}


SREGS = {getattr(oracle.X, "X86_REG_" + n) for n in ("ES", "CS", "SS", "DS", "FS", "GS")}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(60)
@given(state=oracle.states())
def test_stack(case, state):
    oracle.check(case, state, _fixup)
