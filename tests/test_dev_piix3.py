"""PIIX3: reset control register 0xCF9, port 0x92 (fast A20, reset on a 0->1
edge of bit 0), PIRQ routing, and the PIIX4 PM timer at the programmed PMBASE."""
from jitemu.devices.i440fx import I440FX
from jitemu.devices.pic import PIC
from jitemu.devices.piix3 import PIIX3, PIIX4PM, PM_TIMER_HZ
from jitemu.machine import Machine

from romutil import rom_with


def once_rom(action):
    """First run: set a RAM flag and do `action` (then spin); after the reset: hlt."""
    tail = bytes.fromhex("c606000501") + action + bytes.fromhex("ebfe")
    code = bytes.fromhex("31c08ed8" "803e000500") + bytes([0x75, len(tail)]) + tail + b"\xf4"
    return rom_with(code)


def setup(action):
    m = Machine(memory_mb=1)
    m.load_firmware(once_rom(action))
    host = m.attach(I440FX())
    piix = m.attach(PIIX3(host))
    return m, host, piix


def test_cf9_bit2_resets_and_bit1_is_kept():
    m, host, piix = setup(bytes.fromhex("b006baf90cee"))  # mov al,6; mov dx,0xcf9; out dx,al
    assert m.run(max_instructions=10_000) == "halt"
    assert m.resets == {"cf9": 1}
    assert m.read_phys(0x500, 1) == b"\x01"
    m.ports.write(0xCF9, 0x02, 1)  # soft/hard bit only: no reset
    assert m.ports.read(0xCF9, 1) == 0x02
    assert m.resets == {"cf9": 1}


def test_port92_reset_on_rising_edge_of_bit0_and_bit0_reads_0_after():
    # in al,0x92; or al,1; out 0x92,al
    m, host, piix = setup(bytes.fromhex("e4920c01e692"))
    assert m.run(max_instructions=10_000) == "halt"
    assert m.resets == {"port92": 1}
    assert m.ports.read(0x92, 1) & 1 == 0
    assert m.ports.read(0x92, 1) & 2  # A20 on after reset


def test_port92_fast_a20_and_no_reset_without_an_edge():
    m, host, piix = setup(b"")
    m.ports.write(0x92, 0x00, 1)
    assert not m.a20 and m.ports.read(0x92, 1) == 0
    m.ports.write(0x92, 0x02, 1)
    assert m.a20
    assert m.run(max_instructions=1000) == "limit" and m.resets == {}
    m.ports.write(0x92, 0x03, 1)  # 0 -> 1 edge
    m.ports.write(0x92, 0x03, 1)  # no edge: no second request
    assert m.run(max_instructions=1000) == "halt"
    assert m.resets == {"port92": 1}


def test_pirq_routing_to_the_pic():
    m, host, piix = setup(b"")
    pic = m.attach(PIC())
    piix.set_pirq(0, 1)
    assert pic.irr == 0  # PIRQA disabled (0x80)
    piix.config_write(0x60, 0x0A, 1)  # PIRQA -> IRQ10
    assert pic.irr & (1 << 10)
    piix.set_pirq(0, 0)
    piix.config_write(0x61, 0x0B, 1)
    piix.set_pirq(1, 1)
    assert pic.irr & (1 << 11)


def test_pm_timer_at_pmbase_runs_at_3_58_mhz():
    m = Machine(memory_mb=1)
    m.load_firmware(rom_with(bytes.fromhex("ebfe")))
    host = m.attach(I440FX())
    m.attach(PIIX3(host))
    pm = m.attach(PIIX4PM(host))
    assert pm.config_read(0x5B, 1) == 0x02  # APMC_EN: SeaBIOS skips SMM setup
    pm.config_write(0x40, 0xB001, 4)
    assert m.ports.read(0xB008, 4) == 0xFFFFFFFF  # not enabled yet
    pm.config_write(0x80, 0x01, 1)
    t0 = m.ports.read(0xB008, 4)
    n0 = m.clock.now()
    m.run(max_instructions=1_000_000)
    t1 = m.ports.read(0xB008, 4)
    n1 = m.clock.now()
    assert t1 < 1 << 24
    assert abs((t1 - t0) - (n1 - n0) * PM_TIMER_HZ / 1e9) <= 1
    # moving PMBASE
    pm.config_write(0x40, 0x601, 4)
    assert m.ports.read(0x608, 4) >= t1 and m.ports.read(0xB008, 4) == 0xFFFFFFFF
    # S5 power off through PM1_CNT
    m.ports.write(0x604, 0x2000, 2)
    assert pm.powered_off
