"""The instruction count while a hot loop runs inside a region (one native
function that never returns to the dispatcher): the progress line and the
monitor's `info jit` see it move, exact at a backward edge of the loop
(which publishes its count when another thread reads Machine.icount), and
it is exact at every helper call, at the budget and when the run stops."""
import re
import time

from jitemu.machine import Machine
from jitemu.tools.monitor import Monitor
from jitemu.tools.progress import progress_line

from romutil import rom_with

LOOP = bytes.fromhex("6640ebfc")  # f0000: inc eax; jmp f0000


def hot_machine(code):
    m = Machine()
    m.load_firmware(rom_with(code))
    m.translator.background = False  # the region is compiled at once, on the vCPU's thread
    return m


def wait_until(cond, timeout=60):
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        time.sleep(0.01)
    return cond()


def shown(text):
    return int(re.search(r"([\d,]+) instructions", text).group(1).replace(",", ""))


def test_the_count_moves_while_a_region_loops_and_is_exact_when_it_stops():
    m = hot_machine(LOOP)
    mon = Monitor(m)
    assert mon.execute("cont") == ""
    assert wait_until(lambda: m.stats()["blocks_hot"] >= 1)
    a = m.icount
    time.sleep(0.3)
    b = m.icount
    assert b - a > 10_000_000  # (it used to stay where the region was entered)
    assert shown(progress_line(m, 1.0)) >= b
    assert int(re.search(r"instructions: (\d+)", mon.execute("info jit")).group(1)) >= b
    assert mon.execute("stop") == ""
    # The far jump at the reset vector, then two instructions per pass.
    assert m.regs.ip == 0 and m.icount == 1 + 2 * m.regs.eax


def test_reading_the_count_does_not_make_the_loop_leave_its_region():
    m = hot_machine(LOOP)
    m.start()
    try:
        assert wait_until(lambda: m.stats()["blocks_hot"] >= 1)
        time.sleep(0.05)
        runs = m.s.block_execs  # native code entered from the dispatcher
        counts = []
        for _ in range(50):
            counts.append(m.icount)
            time.sleep(0.002)
        assert counts == sorted(counts) and counts[-1] - counts[0] > 100_000
        assert m.s.block_execs - runs <= 1  # the count came from the loop, which went on
    finally:
        m.halt_vcpu()
    assert m.icount == 1 + 2 * m.regs.eax


def test_a_budget_ends_a_region_loop_at_the_exact_instruction():
    m = hot_machine(LOOP)
    assert m.run(max_instructions=200_001) == "limit" and m.stats()["blocks_hot"] >= 1
    for budget in (1_000_000, 1_000_001, 1, 2, 3, 4095, 3 * 64 * 48 + 1):
        start = m.icount
        assert m.run(max_instructions=budget) == "limit"
        assert m.icount - start == budget
        # Past the far jump, each pass is INC then JMP: at IP 2 the INC of
        # the pass has run, at IP 0 both.
        assert m.icount == 1 + 2 * m.regs.eax - (m.regs.ip == 2)


def test_a_device_sees_the_exact_count_from_inside_a_region():
    # l: inc eax; out 80h, al; jmp l -- the OUT of pass k is instruction 3k - 1.
    # (First-tier code brings the count up to date at its block's end, and
    # for RDTSC; a region before every helper call.)
    m = hot_machine(bytes.fromhex("6640 e680 ebfa"))
    seen, wrong = [], []

    def write(port, value, size):
        if m.translator.blocks_hot:
            seen.append(1)
            if m.icount != 3 * m.regs.eax - 1:
                wrong.append((m.icount, m.regs.eax))
    m.ports.register(0x80, write=write)
    assert m.run(max_instructions=600_000) == "limit"
    assert len(seen) > 50_000 and wrong == []


def test_a_fault_loop_takes_guest_time_and_ends_at_the_budget():
    """#UD at 0000:0000 whose handler (IVT entry 6, zero) is the same
    undecodable instruction: no instruction ever completes, but each
    exception taken counts as guest time, in the first tier and once the
    block is hot and runs as a region, so the budget still ends the run."""
    from jitemu.machine import Machine
    from romutil import rom_with
    m = Machine()
    # mov ax, 2000h; mov ss, ax; mov sp, 0 (the pushes never reach 0); jmp far 0000:0000
    m.load_firmware(rom_with(bytes.fromhex("b80020 8ed0 bc0000 ea00000000")))
    m.write_phys(0, b"\xff\xff")                           # undecodable
    assert m.run(max_instructions=200_000) == "limit"
    assert m.icount >= 200_000 and m.stats()["exceptions"] >= 199_000
