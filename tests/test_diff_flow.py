"""Jcc JMP CALL RET (near, far, direct, indirect) LOOP LOOPE LOOPNE JCXZ
JECXZ INT INT3 INTO IRET against Unicorn.  Every target lands on HLT
filler: far pointers and popped CS values are kept above the window, and
32-bit targets below 64 KiB (beyond it real mode raises #GP)."""
import pytest
from hypothesis import given, strategies as st

import oracle
from encode import FAR_SEL_HI, FAR_SEL_LO, Encoding

TF = 0x100
MEM_ONLY = ("FF /5", "FF /3")   # far indirect: m16:16 / m16:32 only


def _options(t):
    if t in MEM_ONLY:
        return {"forms": ("mem16", "mem16", "mem32")}
    if t.startswith("FF"):
        return {"forms": ("reg", "mem16", "mem32")}
    if "cb" in t or "cv" in t or "iw" in t or "ib" in t or "ptr" in t:
        return {"n_plain": 2}
    return None


CASES = oracle.table_cases("flow", options=_options, extra=[
    Encoding(bytes([0x67, op, rel]), "%02X cb" % op, addr32=True)
    for op in (0xE0, 0xE1, 0xE2, 0xE3) for rel in (0x10, 0xE0)])


def _far_sel(v):
    return FAR_SEL_LO + v % (FAR_SEL_HI - FAR_SEL_LO)


def _near_target(case, ip):
    """An indirect target off the instruction's own bytes (jumping into
    them runs a different instruction in each machine's view of junk)."""
    end = oracle.CODE_IP + len(case.code)
    return ip ^ 0x8000 if oracle.CODE_IP <= ip <= end else ip


def _fixup(case, s):
    name, op32 = case.name, case.enc.op32
    w = 4 if op32 else 2
    if name in ("jmp", "call") and case.insn.operands[0].type != oracle.X.X86_OP_IMM:
        # (32-bit targets: high half zero)
        oracle.set_operand(case, s, 0, _near_target(case, oracle.operand_value(case, s, 0) & 0xFFFF))
    elif name == "ret":
        ip = _near_target(case, int.from_bytes(oracle.peek(s, oracle.stack_lin(s), 2), "little"))
        s.plant(oracle.stack_lin(s), ip.to_bytes(w, "little"))
    elif name in ("ljmp", "lcall") and case.insn.operands[0].type == oracle.X.X86_OP_MEM:
        lin = s.lin(case.segment(), oracle.ea(case, s))
        off = int.from_bytes(oracle.peek(s, lin, 2), "little")
        s.plant(lin, off.to_bytes(w, "little") + _far_sel(s.mem_value).to_bytes(2, "little"))
    elif name in ("retf", "iret", "iretd"):
        # IP (high half zero), CS above the window, FLAGS without TF.
        sp = s.reg(4, 2)
        if name == "retf" and sp + 2 * w > 0x10000:
            # Unicorn bug: QEMU's real-mode RETF adds the CS slot's offset to
            # the linear address of the IP slot, so SS:FFFE does not wrap to
            # SS:0000 for CS (SDM: each pop wraps SP).  Keep SP clear of it.
            sp = (sp - 2 * w) & 0xFFFF
            s.set_reg(4, sp, 2)
        ip = int.from_bytes(oracle.peek(s, s.lin("ss", sp), 2), "little")
        s.plant(s.lin("ss", sp), ip.to_bytes(w, "little"))
        s.plant(s.lin("ss", (sp + w) & 0xFFFF), _far_sel(s.mem_value).to_bytes(w, "little"))
        if name != "retf":
            lin = s.lin("ss", (sp + 2 * w) & 0xFFFF)
            fl = int.from_bytes(oracle.peek(s, lin, w), "little") & ~TF
            s.plant(lin, fl.to_bytes(w, "little"))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(40)
@given(state=oracle.states(), cx=st.sampled_from([None, 0, 1, 2, 0x10000]))
def test_flow(case, state, cx):
    if cx is not None:   # LOOP and JCXZ edge counts
        state.regs[1] = (state.regs[1] & 0xFFFF0000) | cx if cx < 0x10000 else cx
    oracle.check(case, state, _fixup)
