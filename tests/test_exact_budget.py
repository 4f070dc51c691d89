"""The instruction budget is exact: a run stops, and a timer interrupt
arrives, at the same instruction whatever the shape of the code cache
(blocks, hot regions compiled at once, runs cut into pieces, a restored
snapshot).  Guest-visible time must not depend on where a block began."""
import random

import pytest

from jitemu.machine import Machine
from jitemu.pc import build_pc
from romutil import assemble

# IRQ0 every 50 PIT ticks (~42,000 instructions) interrupts a tight loop
# (which becomes a region); each tick stores the loop counter, and a value
# read from the PIT itself, in RAM.
TICKER = """
bits 16
org 0
start:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    mov ds, ax
    mov word [8 * 4], tick
    mov word [8 * 4 + 2], 0xF000
    mov al, 0x11
    out 0x20, al
    mov al, 0x08
    out 0x21, al
    mov al, 0x04
    out 0x21, al
    mov al, 0x01
    out 0x21, al
    mov al, 0xFE
    out 0x21, al
    mov al, 0x34
    out 0x43, al
    mov al, 50
    out 0x40, al
    mov al, 0
    out 0x40, al
    mov di, 0x1000
    xor eax, eax
    sti
spin:
    inc eax
    add ebx, eax
    jmp spin
tick:
    mov [di], eax
    push ax
    mov al, 0
    out 0x43, al            ; latch channel 0
    in al, 0x40
    mov [di + 4], al
    in al, 0x40
    mov [di + 5], al
    mov al, 0x20
    out 0x20, al
    pop ax
    add di, 8
    and di, 0x7FFF
    or di, 0x1000
    iret
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
"""


@pytest.fixture(scope="module")
def ticker():
    return assemble(TICKER)


def trace(image, shape):
    pc = build_pc(bios=image)
    m = pc.machine
    if shape == "regions-first":
        m.translator.regions_first = True
        m.translator.background = False
    elif shape == "synchronous-regions":
        m.translator.background = False
    total = 3_000_000
    if shape == "pieces":
        rng = random.Random(5)
        while m.icount < total:
            m.run(min(rng.randrange(1, 90_000), total - m.icount))
    else:
        assert m.run(total) == "limit"
    assert m.icount == total
    return m.read_phys(0x1000, 0x7000), m.regs.snapshot()


def test_timer_interrupts_land_on_the_same_instruction_in_every_shape(ticker):
    shapes = ["plain", "synchronous-regions", "regions-first", "pieces"]
    got = {s: trace(ticker, s) for s in shapes}
    ram, regs = got["plain"]
    assert ram.count(b"\0" * 8) < len(ram) // 8 - 60  # about 70 ticks recorded
    for s in shapes[1:]:
        assert got[s] == (ram, regs), s


@pytest.mark.parametrize("budget", [1, 2, 63, 64, 65, 3071, 3072, 3073, 10_000, 123_457])
def test_a_run_stops_at_exactly_its_budget(ticker, budget):
    pc = build_pc(bios=ticker)
    m = pc.machine
    m.translator.background = False
    m.run(500_000)
    start = m.icount
    assert m.run(budget) == "limit" and m.icount == start + budget


def test_the_budget_constants_match_the_translator():
    from jitemu import machine
    from jitemu.jit import baseline, lifting
    assert machine._SLACK_BLOCK == lifting.MAX_INSNS == baseline.MAX_INSNS
    assert machine._SLACK_REGION == lifting.MAX_REGION_BLOCKS * lifting.MAX_INSNS


def test_at_icount_calls_on_the_exact_instruction_in_order():
    m = Machine()
    m.load_firmware(assemble(TICKER.replace("    sti\n", "")))
    seen = []
    for n in (5, 70_001, 70_001, 3, 200_000):
        m.at_icount(n, lambda n=n: seen.append((n, m.icount)))
    m.run(250_000)
    assert seen == [(3, 3), (5, 5), (70_001, 70_001), (70_001, 70_001), (200_000, 200_000)]
