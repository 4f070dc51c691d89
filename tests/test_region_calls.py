"""Calls, returns and indirect jumps inside a region (jitemu/jit/block.py,
_dispatch_indirect) against Unicorn: a near RET, or a JMP or CALL through a
register or memory, whose target is one of the region's blocks stays in
native code; any other target leaves the region there.  Loops of calls
(nested, RET imm16, through registers and tables, a RET to an address the
guest pushed itself) compiled straight into regions, stopped at every
instruction by the budget, and a loop whose only backward edge is a RET."""
import pytest
from hypothesis import given, strategies as st

import oracle
from romutil import assemble
from test_lazy_flags import compare, machines, run_both, start

# 16-bit code at CS:0100; the stack (SS:SP) and DS:SI, ES:DI are in the window.
LOOP = """bits 16
org 0x%x
top:
 BODY
 loop .again
 jmp .done
.again: jmp near top
.done: hlt
""" % oracle.CODE_IP

FUNCS = """
f1: add ax, bx
 call f2
 xor dx, ax
 ret
f2: rol bx, 3
 adc dx, 7
 ret
f3: push bp
 mov bp, sp
 add ax, [bp+4]
 pop bp
 ret 2
f4: sub bx, dx
 jmp [cs:table + si]
t0: inc ax
 ret
t1: dec dx
 ret
t2: neg bx
 ret
table: dw t0, t1, t2, t0
"""

BODIES = {
    "nested": "call f1\n add si, ax",
    "ret-imm": "push dx\n call f3\n inc bx",
    "through-register": "mov bp, f2\n call bp\n call f1",
    "through-memory": "call [cs:fptr]\n sub ax, dx",
    "jump-table": "and si, 6\n call f4\n add si, 2",
    "pushed-return": "push word .here\n ret\n.here: add dx, 3\n call f2",
    "return-to-caller's-caller": "call .inner\n jmp .after\n.inner: pop bp\n jmp bp\n.after: inc si",
    # 16-bit registers (kept split in the region) through helpers, which
    # see and change the whole registers
    "helpers": "push cx\n mov cx, 3\n rep movsb\n mov cl, 2\n rep stosw\n pop cx\n call f2",
}


def program(body):
    return assemble(LOOP.replace("BODY", body) + FUNCS + "fptr: dw f1\n")


def state(regs, eflags, window, count):
    s = start(regs, eflags, window, count)
    s.regs[4] = (s.regs[4] & ~0xFFFF) | 0x8000  # SP: room to push, no wrap
    return s


regs = st.lists(oracle.u32, min_size=8, max_size=8)


@pytest.mark.parametrize("body", sorted(BODIES))
@oracle.settings(25)
@given(regs=regs, eflags=oracle.u32, window=st.integers(0, 0xFFFF), count=st.integers(1, 40))
def test_a_loop_of_calls_in_a_region_ends_as_unicorn_does(body, regs, eflags, window, count):
    why, a, b = run_both(program(BODIES[body]), state(regs, eflags, window, count), 100_000)
    assert why == "halt"
    compare(a, b)


@pytest.mark.parametrize("body", ["nested", "jump-table", "pushed-return"])
@oracle.settings(25)
@given(regs=regs, eflags=oracle.u32, window=st.integers(0, 0xFFFF), count=st.integers(1, 40),
       budget=st.integers(1, 800))
def test_the_budget_stops_a_loop_of_calls_at_the_exact_instruction(body, regs, eflags, window, count, budget):
    why, a, b = run_both(program(BODIES[body]), state(regs, eflags, window, count), budget)
    compare(a, b)


def test_returns_into_the_region_do_not_go_back_to_the_dispatcher():
    j, u = machines()
    m = j.m
    s = state([0] * 8, 0, 0, 2000)
    before = m.s.block_execs
    why, a, b = run_both(program(BODIES["nested"]), s, 1_000_000)
    assert why == "halt"
    compare(a, b)
    # 2000 passes with three calls and three returns each: native code is
    # entered a few times (the region, the HLT), not once per return.
    assert m.s.block_execs - before < 10


@oracle.settings(20)
@given(regs=regs, eflags=oracle.u32, budget=st.integers(1, 3000))
def test_a_loop_made_only_of_an_indirect_jump_stops_at_its_budget(regs, eflags, budget):
    """`mov bx, top; jmp bx` loops with no constant backward jump: the
    indirect jump back to the region's head passes the same exit check as
    a backward edge."""
    code = assemble("bits 16\norg 0x%x\ntop: inc ax\n mov bx, top\n jmp bx\n" % oracle.CODE_IP)
    why, a, b = run_both(code, state(regs, eflags, 0, 1), budget)
    assert why == "limit"
    compare(a, b)
