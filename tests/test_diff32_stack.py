"""PUSH POP (registers, memory, immediates, segment registers) PUSHA POPA
PUSHF POPF ENTER LEAVE against Unicorn in 32-bit protected mode, on a
32-bit stack (SS.B = 1).  POP to a segment register takes selectors of the
oracle's GDT, good and faulting."""
import pytest
from hypothesis import given, strategies as st

import oracle
import oracle32

TF, NT, RF, VM = 0x100, 0x4000, 0x10000, 0x20000


def _options(t):
    if "+r" in t or t.startswith("C8"):
        return {"n_plain": 3}
    return None


CASES = oracle32.table_cases("stack", options=_options)
SREGS = {getattr(oracle.X, "X86_REG_" + n) for n in ("ES", "CS", "SS", "DS", "FS", "GS")}


def _fixup(sel):
    def fix(case, s):
        ops = case.insn.operands
        size = 2 if "16" in case.insn.op_str or case.insn.mnemonic.endswith("w") or \
            (case.name in ("popf", "pushf")) else 4
        if case.name in ("popf", "popfd"):
            # A popped TF would trap after the next instruction: keep it clear.
            lin = oracle.stack_lin(s)
            v = int.from_bytes(oracle.peek(s, lin, size), "little") & ~TF
            s.plant(lin, v.to_bytes(size, "little"))
        if case.name in ("enter", "leave"):
            # EBP in the window: LEAVE pops from it, ENTER copies frame
            # pointers from below it.
            s.regs[5] = oracle32.HIGH_LO + 0x100 + s.regs[5] % 0x40000
        if case.name == "enter" and case.enc.code.startswith(b"\x66"):
            # 16-bit ENTER on a 32-bit stack: the SDM (and Bochs) write
            # FrameTemp to BP only; QEMU writes all of EBP (gen_enter moves
            # it at the stack's address size).  The upper half is not compared.
            return {5: 0xFFFF}
        if case.name == "pop" and ops[0].type == oracle.X.X86_OP_REG and ops[0].reg in SREGS:
            s.plant(oracle.stack_lin(s), sel.to_bytes(2, "little"))
        if case.name == "push" and ops[0].type == oracle.X.X86_OP_REG and ops[0].reg in SREGS and \
                not case.enc.code.startswith(b"\x66"):
            # SDM PUSH: a 32-bit push of a segment register either
            # zero-extends (QEMU, so Unicorn) or moves 16 bits, leaving the
            # upper word alone (recent Intel cores, jitemu): not compared.
            return {"mem": [(oracle.stack_lin(s, -4) + 2, 2)]}
    return fix


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(20)
@given(state=oracle32.states(), sel=st.sampled_from(oracle32.DATA_SELECTORS))
def test_stack32(case, state, sel):
    oracle.check(case, state, _fixup(sel))
