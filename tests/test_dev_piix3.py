"""PIIX3: reset control register 0xCF9, port 0x92 (fast A20, reset on a 0->1
edge of bit 0), PIRQ routing, and the PIIX4 PM timer at the programmed PMBASE."""
from jitemu.devices.i440fx import I440FX
from jitemu.devices.pic import PIC
from jitemu.devices.piix3 import PIIX3, PIIX4PM, PM_TIMER_HZ
from jitemu.machine import Machine

from romutil import assemble, rom_with


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


def test_acpi_enable_through_the_smi_command_port_sets_sci_en_at_once():
    # The FADT names port 0xB2 and ACPI_ENABLE 0xF1; the OS then polls
    # PM1_CNT.SCI_EN (Linux for up to 3 s) for the switch to ACPI mode.
    m = Machine(memory_mb=1)
    m.load_firmware(rom_with(bytes.fromhex("ebfe")))
    host = m.attach(I440FX())
    m.attach(PIIX3(host))
    pm = m.attach(PIIX4PM(host))
    pm.config_write(0x40, 0x601, 4)
    pm.config_write(0x80, 0x01, 1)
    assert m.ports.read(0x604, 2) & 1 == 0
    m.ports.write(0xB2, 0xF1, 1)
    assert m.ports.read(0x604, 2) & 1 == 1
    assert m.ports.read(0xB2, 1) == 0xF1
    m.ports.write(0xB3, 0x5A, 1)  # the status port is a scratch byte
    assert m.ports.read(0xB3, 1) == 0x5A
    m.ports.write(0xB2, 0xF0, 1)  # ACPI_DISABLE
    assert m.ports.read(0x604, 2) & 1 == 0
    m.ports.write(0xB2, 0xF1, 1)
    m.reset()
    assert pm.pm1_cnt == 0 and m.ports.read(0xB2, 1) == 0


# -- what the runtime serves in C (ports.py fast_*) ------------------------------

def pm_machine(rom, memory_mb=1):
    m = Machine(memory_mb=memory_mb)
    m.load_firmware(rom)
    host = m.attach(I440FX())
    m.attach(PIIX3(host))
    pm = m.attach(PIIX4PM(host))
    pm.config_write(0x40, 0xB001, 4)
    pm.config_write(0x80, 0x01, 1)
    return m, pm


PM_LOOP = r"""
bits 16
org 0
N equ 2048
start:
    xor ax, ax
    mov ds, ax
    mov bp, 40                   ; 40 passes: the loop gets hot and becomes a region
.pass:
    mov di, 0x1000
    mov dx, 0xB008
    jmp .l
.l: in eax, dx                   ; first in its block (see the test)
    mov [di], eax
    rdtsc                        ; now, two instructions after the IN
    mov [di+4], eax
    mov dx, 0xB008
    add di, 8
    cmp di, 0x1000 + 8*N
    jne .l
    dec bp
    jnz .pass
    hlt
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
"""


def pm_samples(m, n):
    raw = m.read_phys(0x1000, 8 * n)
    return [(int.from_bytes(raw[i:i + 4], "little"), int.from_bytes(raw[i + 4:i + 8], "little"))
            for i in range(0, len(raw), 8)]


def run_pm_loop(in_c):
    """PM_LOOP's samples after its first pass and at its end, and whether
    a region had run by then; in_c=False sends every timer read to the
    device in Python."""
    m, pm = pm_machine(assemble(PM_LOOP))
    if not in_c:
        m.ports.fast_clear(range(0xB008, 0xB00C))
    m.translator.background = False  # the region is compiled at once: the same run every time
    assert m.run(max_instructions=10 * 2048) == "limit"
    first, hot_first = pm_samples(m, 2048), m.stats()["blocks_hot"]
    assert m.run() == "halt"
    return pm, first, hot_first, pm_samples(m, 2048), m.stats()["blocks_hot"]


def test_a_guest_polling_the_pm_timer_reads_what_the_device_would_answer():
    pm, first, hot_first, last, hot = run_pm_loop(in_c=True)
    assert hot_first == 0 and hot >= 1  # the first pass ran in the baseline tier, the last in a region
    assert len({t for t, tsc in last}) > 50  # it moved: 3.58 counts per 1000 instructions, 16384 a pass
    # The clock the IN saw is the RDTSC's two instructions before, or up to
    # that RDTSC's (baseline blocks count their instructions at the block's
    # end, and their RDTSC reads the count at the block's start).
    for t, tsc in first + last:
        assert pm.timer(tsc - 2) <= t <= pm.timer(tsc)
    assert (first, last) == run_pm_loop(in_c=False)[1:4:2]


def test_pm_timer_reads_of_each_size_and_offset_agree_with_the_device():
    m, pm = pm_machine(rom_with(bytes.fromhex("fbf4ebfd")))  # sti; l: hlt; jmp l
    m.clock.call_at(2_345_678_901, m.stop)  # the halted guest's clock skips there
    assert m.run() == "stop"
    t = pm.timer()
    assert t >> 16 and t == m.ports.read(0xB008, 4) == pm._read(0xB008, 4)
    for port, size in ((0xB008, 1), (0xB009, 1), (0xB00A, 1), (0xB00B, 1), (0xB008, 2), (0xB009, 2),
                       (0xB00A, 2), (0xB009, 3)):
        off = port - 0xB008
        assert m.ports.read(port, size) == (t >> (8 * off)) & ((1 << (8 * size)) - 1) == pm._read(port, size)
        assert m.ports.is_fast(port)
    # Past the register's end: the device answers (open bus above PMBASE+11).
    assert m.ports.read(0xB00A, 4) == 0xFFFF0000 | (t >> 16) == pm._read(0xB00A, 4)
    # The PM1 registers stay with the device.
    assert not m.ports.is_fast(0xB004) and m.ports.read(0xB004, 2) == 0


def test_pm_timer_follows_pmbase_and_is_gone_after_reset():
    m, pm = pm_machine(rom_with(bytes.fromhex("ebfe")))
    assert m.run(max_instructions=100_000) == "limit"
    pm.config_write(0x40, 0x601, 4)  # PMBASE 0x600
    assert not m.ports.is_fast(0xB008) and m.ports.read(0xB008, 4) == 0xFFFFFFFF
    assert m.ports.is_fast(0x608) and m.ports.read(0x608, 4) == pm.timer()
    pm.config_write(0x80, 0x00, 1)  # disabled
    assert not m.ports.is_fast(0x608) and m.ports.read(0x608, 4) == 0xFFFFFFFF
    pm.config_write(0x80, 0x01, 1)
    assert m.ports.read(0x608, 4) == pm.timer()
    m.reset()  # PMBASE and its enable bit back to 0
    assert pm.base is None and not m.ports.is_fast(0x608) and m.ports.read(0x608, 4) == 0xFFFFFFFF


PORT92 = r"""
bits 16
org 0
start:
    xor ax, ax
    mov ds, ax
    in al, 0x92
    mov [0x500], al              ; A20 on at power-on
    mov al, 0x00
    out 0x92, al
    in al, 0x92
    mov [0x501], al              ; A20 off
    mov al, 0x02
    out 0x92, al
    in al, 0x92
    mov [0x502], al
    mov al, 0xDD                 ; the 8042's command: A20 off
    out 0x64, al
    in al, 0x92
    mov [0x503], al              ; port 0x92 keeps its own bit (QEMU's port92)
    in ax, 0x92
    mov [0x504], ax              ; a word read: the device answers
    mov al, 0x00
    out 0x92, al
    hlt
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
"""


def test_port92_reads_follow_writes_and_reset_and_not_the_8042():
    from jitemu.devices.kbc import KBC
    m = Machine(memory_mb=1)
    m.load_firmware(assemble(PORT92))
    host = m.attach(I440FX())
    piix = m.attach(PIIX3(host))
    m.attach(KBC())
    assert m.ports.is_fast(0x92)
    assert m.run(max_instructions=1000) == "halt"
    assert list(m.read_phys(0x500, 6)) == [0x02, 0x00, 0x02, 0x02, 0x02, 0x00]
    assert not m.a20 and piix.port92 == 0x00 and m.ports.read(0x92, 1) == 0x00
    m.reset()
    assert m.a20 and m.ports.read(0x92, 1) == 0x02 == piix.port92
    assert m.run(max_instructions=1000) == "halt"
    assert list(m.read_phys(0x500, 4)) == [0x02, 0x00, 0x02, 0x02]
