"""Lazy flags (jitemu/jit/block.py: each flag's local holds a witness that
is decoded where the flag is read) against Unicorn, in loops compiled as
regions: every reader of every deferred flag (PUSHF, LAHF, Jcc, SETcc,
ADC, SBB) and every way out of a region (a fault, a side exit to the
first tier, the instruction budget, an interrupt, a reset request)."""
import functools
import time

import pytest
from hypothesis import given, strategies as st
from unicorn import x86_const as U

import oracle
from romutil import assemble

# Flag producers (all six flags defined), every size, the forms whose OF
# and AF witnesses are made differently (a constant second operand of
# either sign, bit 4 set or clear), and INC/DEC, which keep CF.
PRODUCERS = ["add eax, ebx", "adc ax, dx", "sub al, bl", "sbb ebx, edx", "cmp ax, bx", "inc eax",
             "dec bl", "neg ax", "add ax, 0x17", "sub eax, -3", "cmp al, 0x80", "add bl, 0x7f",
             "sub dh, 0x10", "dec dx", "adc eax, 0x80000000", "inc bh"]
ALL_SIX = [p for p in PRODUCERS if not p.startswith(("inc", "dec"))]
CONDITIONS = ["o", "b", "z", "s", "p", "be", "l", "le"]  # OF CF ZF SF PF and the combined ones

# (The readers' stores stay on one page, and the stack is word-aligned:
# no access crosses a page, so these loops never side-exit.)
READERS = {
    "pushf": lambda i: "pushf",
    "lahf": lambda i: "lahf\n mov [di], ah\n inc di\n and di, 0x7ff",
    "setcc": lambda i: "\n".join("set%s [di+%d]" % (c, k) for k, c in enumerate(CONDITIONS)) + "\n add di, 8\n and di, 0x7f8",
    "jcc": lambda i: "j%s .t%d\n lea bp, [bp+%d]\n.t%d:" % (CONDITIONS[i % 8] if i < 8 else "n" + CONDITIONS[i % 8],
                                                            i, 1 << i, i),
    "adc-sbb": lambda i: "adc esi, edx" if i % 2 else "sbb si, bx",
}

_pair = {}


def machines():
    """A jitemu machine that compiles every block as a region at once (no
    worker, no baseline tier), and a Unicorn."""
    if not _pair:
        j = oracle.Jitemu()
        j.m.translator.baseline = None
        j.m.translator.regions_first = True
        j.m.translator.background = False
        _pair["j"], _pair["u"] = j, oracle.Unicorn()
    return _pair["j"], _pair["u"]


@functools.lru_cache(maxsize=None)
def program(body, tail="loop .again\n jmp .done\n.again: jmp near top\n.done: pushf\n hlt"):
    """A loop of `body` (LOOP's reach is short: it reaches a near JMP)."""
    return assemble("bits 16\norg 0x%x\ntop:\n %s\n %s\n" % (oracle.CODE_IP, body, tail))


def reading(reader):
    return program("\n ".join("%s\n %s" % (p, READERS[reader](i)) for i, p in enumerate(PRODUCERS)))


def start(regs, eflags, window, count):
    s = oracle.State(list(regs), 0x2 | (eflags & oracle.ARITH), window, 0)
    s.regs[1] = (s.regs[1] & ~0xFFFF) | count  # CX: the loop's passes
    s.regs[4] &= ~1  # SP
    s.regs[7] &= ~0xF807  # DI
    return s


def compare(a, b, flags=oracle.ARITH | oracle.DF | 0x200):
    diffs = []
    for i in range(8):
        if a["regs"][i] != b["regs"][i]:
            diffs.append("%s: jitemu %08x unicorn %08x" % (oracle._RN[i], a["regs"][i], b["regs"][i]))
    if a["eip"] != b["eip"]:
        diffs.append("eip: jitemu %08x unicorn %08x" % (a["eip"], b["eip"]))
    if (a["eflags"] ^ b["eflags"]) & flags:
        diffs.append("eflags: jitemu %08x unicorn %08x (%s)" % (
            a["eflags"], b["eflags"], oracle._flag_names((a["eflags"] ^ b["eflags"]) & flags)))
    if a["segs"] != b["segs"]:
        diffs.append("segments: jitemu %s unicorn %s" % (a["segs"], b["segs"]))
    if a["mem"] != b["mem"]:
        diffs.append(oracle._mem_diff(a["mem"], b["mem"]))
    assert not diffs, "\n".join(diffs)


def run_both(code, state, limit):
    j, u = machines()
    why, a = j.run(code, state, limit)
    err, b = u.run(code, state, limit)
    assert err is None, err
    return why, a, b


regs = st.lists(oracle.u32, min_size=8, max_size=8)
windows = st.integers(0, 0xFFFF)


@pytest.mark.parametrize("reader", sorted(READERS))
@oracle.settings(30)
@given(regs=regs, eflags=oracle.u32, window=windows, count=st.integers(1, 40))
def test_each_reader_sees_each_producers_flags_in_a_region_loop(reader, regs, eflags, window, count):
    why, a, b = run_both(reading(reader), start(regs, eflags, window, count), 100_000)
    assert why == "halt"
    compare(a, b)


@pytest.mark.parametrize("reader", ["pushf", "setcc"])
@oracle.settings(40)
@given(regs=regs, eflags=oracle.u32, window=windows, count=st.integers(1, 40), budget=st.integers(1, 1500))
def test_a_run_stopped_by_its_budget_mid_loop_has_the_exact_flags(reader, regs, eflags, window, count, budget):
    """The budget ends a region at a backward edge, the last instructions
    run one block at a time: EFLAGS are those after exactly `budget`."""
    why, a, b = run_both(reading(reader), start(regs, eflags, window, count), budget)
    compare(a, b)


@pytest.mark.parametrize("producer", ALL_SIX)
@oracle.settings(12)
@given(regs=regs, eflags=oracle.u32, window=windows, count=st.integers(1, 30), data=st.data())
def test_a_divide_error_in_a_region_pushes_the_flags_of_the_instruction_before(producer, regs, eflags,
                                                                                window, count, data):
    """DIV by a zero byte on pass k: #DE pushes FLAGS as the producer left
    them (the faulting DIV changes none), and the handler starts with them
    (IF and TF cleared)."""
    code = program("%s\n movzx ax, al\n div byte [si]\n lea si, [si+1]" % producer, "loop .again\n jmp .done\n.again: jmp near top\n.done: hlt")
    s = start(regs, eflags | 0x200, window, count)
    si = s.reg(6, 2)
    k = data.draw(st.integers(0, count - 1))
    if si + count > 0xFFFF:
        si = s.regs[6] = 0x1000
    s.plant(s.lin("ds", si), bytes([1 + (si + i) % 255 for i in range(count)]))
    s.plant(s.lin("ds", si + k), b"\0")
    why, a, b = run_both(code, s, 100_000)
    assert why == "halt" and a["segs"]["cs"] == oracle.IVT_SEL
    compare(a, b)


@oracle.settings(30)
@given(regs=regs, eflags=oracle.u32, window=windows, count=st.integers(1, 30),
       at=st.integers(0, len(PRODUCERS) - 1), passes=st.integers(0, 29))
def test_a_side_exit_hands_the_flags_to_first_tier_code(regs, eflags, window, count, at, passes):
    """A word read across a page boundary leaves the region (the TLB serves
    one page); the first-tier block there takes the flags from EFLAGS and
    pushes them.  DI is chosen so that the read after producer `at`
    crosses on pass `passes` (others may cross too)."""
    body = "\n ".join("%s\n mov bp, [di+%d]\n pushf" % (p, 2 * i) for i, p in enumerate(PRODUCERS))
    code = program(body + "\n lea di, [di+%d]" % (2 * len(PRODUCERS)))
    s = start(regs, eflags, window, count)
    s.set_reg(7, (0xFFF - 2 * at - 2 * len(PRODUCERS) * passes) & 0xFFFF, 2)
    why, a, b = run_both(code, s, 100_000)
    assert why == "halt"
    compare(a, b)


@pytest.mark.parametrize("rmw", ["add [cs:0xf00], al", "sbb word [cs:0xf02], dx", "neg dword [cs:0xf04]",
                                 "dec byte [cs:0xf08]"])
@oracle.settings(15)
@given(regs=regs, eflags=oracle.u32, window=windows, count=st.integers(1, 30))
def test_an_instruction_that_leaves_the_region_after_setting_flags_leaves_them_as_they_were(
        rmw, regs, eflags, window, count):
    """A read-modify-write of the region's own code page (past its code):
    the read is served, the flags are set, then the write needs the slow
    path (it may change translated code), so the region leaves before the
    instruction and first-tier code runs it again: the flags it set must
    be put back."""
    body = "\n ".join("%s\n %s\n pushf" % (p, rmw) for p in PRODUCERS[:6])
    s = start(regs, eflags, window, count)
    s.plant(oracle.CODE_LIN - oracle.CODE_IP + 0xF00, bytes(range(0x90, 0x9C)))  # (not what the last example left)
    why, a, b = run_both(program(body), s, 100_000)
    assert why == "halt"
    compare(a, b)


# -- exits another thread asks for, while the region loops ------------------
SPIN = "\n ".join(PRODUCERS[:-1] + ["lea esi, [esi+eax]", PRODUCERS[-1]])


def spinning(regs, eflags, last):
    """A fresh machine on its vCPU thread, in a region that loops for ever
    (the last producer before the backward edge is `last`), and the
    Unicorn that replays it."""
    j = oracle.Jitemu()
    j.m.translator.baseline = None
    j.m.translator.regions_first = True
    j.m.translator.background = False
    code = program(SPIN.replace(PRODUCERS[-1], last) if last != PRODUCERS[-1] else SPIN, "jmp top")
    s = oracle.State(list(regs), 0x202 | (eflags & oracle.ARITH), 0, 0)
    m = j.m
    m.write_phys(oracle.CODE_LIN, code)
    for i in range(8):
        m.s.regs[i] = s.regs[i]
    m.s.eflags = s.eflags
    for n in oracle.SEG_NAMES:
        setattr(m.regs, n, s.segs[n])
    m.s.eip = oracle.CODE_IP
    ram = oracle.lib.rt_ram(m.s)
    oracle.ffi.memmove(ram + oracle.WIN_LO, oracle._POOL[:oracle.WIN_SIZE], oracle.WIN_SIZE)
    m.start(max_instructions=10**12)
    deadline = time.monotonic() + 30
    while m.icount < 20_000:  # the region is compiled and looping
        assert time.monotonic() < deadline and m.vcpu_running
        time.sleep(0.001)
    return j, code, s


def replay(code, s, n):
    """Unicorn after exactly n instructions of the same run."""
    u = oracle.Unicorn()
    u.uc.mem_write(oracle.CODE_LIN, code)
    u.uc.mem_write(oracle.WIN_LO, oracle._POOL[:oracle.WIN_SIZE])
    err, b = u._execute(s, oracle.CODE_LIN, n)
    assert err is None, err
    return u, b


class OneInterrupt:
    """The interrupt controller: vector 0x20 once; notes the instruction
    count it was taken at."""

    def __init__(self, m):
        self.m, self.at = m, []

    def ack(self):
        self.m.set_irq_line(0)
        self.at.append(self.m.s.icount)
        return 0x20


@pytest.mark.parametrize("last", ["dec bl", "inc eax", "sub al, bl", "adc eax, 0x80000000"])
@oracle.settings(2)
@given(regs=regs, eflags=oracle.u32)
def test_an_interrupt_while_a_region_loops_pushes_exact_flags(last, regs, eflags):
    j, code, s = spinning(regs, eflags, last)
    m = j.m
    m.interrupt_controller = ctl = OneInterrupt(m)
    m.set_irq_line(1)  # from this thread: the region leaves at a backward edge
    assert m.wait_vcpu(30) and m.run_result == "halt"
    (n,) = ctl.at
    a = j.snapshot()
    u, _ = replay(code, s, n)
    u._intr(u.uc, 0x20, None)  # (Unicorn leaves real-mode delivery to the hook)
    uc = u.uc  # then the handler's first instruction, HLT
    uc.emu_start(uc.reg_read(U.UC_X86_REG_CS) * 16 + uc.reg_read(U.UC_X86_REG_EIP), 0xFFFFF000, count=1)
    compare(a, u._snapshot())


@pytest.mark.parametrize("last", ["dec bl", "neg ax"])
@oracle.settings(2)
@given(regs=regs, eflags=oracle.u32)
def test_a_reset_request_while_a_region_loops_leaves_exact_flags_then_the_reset_value(last, regs, eflags):
    j, code, s = spinning(regs, eflags, last)
    m = j.m
    before = []
    reset = m._do_reset

    def noting():  # the state the region left, just before the reset loads its own
        before.append((m.s.icount, j.snapshot()))
        reset()
        m.stop()
    m._do_reset = noting
    m.request_reset()
    assert m.wait_vcpu(30) and m.run_result == "stop"
    assert m.s.eflags == 0x2 and m.s.eip == 0xFFF0  # (SDM vol. 3 9.1.1)
    (n, a), = before
    _, b = replay(code, s, n)
    compare(a, b)
