"""Virtual time: timers fire between blocks at their instruction count, HLT
with interrupts enabled skips to the next timer, and a timer that raises
INTR gets the interrupt delivered through the IVT."""
from jitemu.machine import Machine

from romutil import rom_with


class OneShotPic:
    """A stand-in interrupt controller: one request for vector 0x20."""
    def __init__(self, m):
        self.m, self.pending = m, False

    def raise_irq(self):
        self.pending = True
        self.m.set_irq_line(1)

    def ack(self):
        self.m.set_irq_line(0)
        was, self.pending = self.pending, False
        return 0x20 if was else -1


def test_timer_fires_at_its_guest_time():
    m = Machine()
    m.load_firmware(rom_with(bytes.fromhex("40ebfd")))  # l: inc ax; jmp l
    fired = []
    m.clock.call_at(5000, lambda: fired.append(m.clock.now()))
    assert m.run(max_instructions=20000) == "limit"
    assert len(fired) == 1 and 5000 <= fired[0] < 5000 + 64


def test_hlt_waits_for_a_timer_interrupt_and_time_jumps():
    # IVT[0x20] = F000:0100 where "mov bx,0x77; cli; hlt"; main: sti; hlt
    code = bytearray(bytes.fromhex("31c08ed8bc0070" "c7068000" "0001" "c7068200" "00f0" "fb" "f4"))
    code += b"\xf4" * (0x100 - len(code)) + bytes.fromhex("bb7700faf4")
    m = Machine()
    m.load_firmware(rom_with(bytes(code)))
    pic = OneShotPic(m)
    m.interrupt_controller = pic
    m.clock.call_at(10_000_000, pic.raise_irq)  # 10 ms of guest time
    assert m.run() == "halt"
    assert m.regs.bx == 0x77
    assert m.clock.now() >= 10_000_000
    assert m.icount < 100  # the wait cost no instructions
