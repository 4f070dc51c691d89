"""The PC machine description: wiring, CMOS/fw_cfg memory size, debug
console and exit, POST codes, the text screen, and SeaBIOS rebooting itself
(no boot device, etc/boot-fail-wait) through the PIT, PAM and port 0xCF9."""
import io
import os
import struct

import pytest

from jitemu.devices import fw_cfg as F
from jitemu.devices.vga import text_screen
from jitemu.pc import build_pc

from romutil import rom_with

SEABIOS = "/usr/share/seabios/bios.bin"


def test_description_ports_and_memory_size():
    pc = build_pc(bios=rom_with(b"\xf4"), memory_mb=32)
    m = pc.machine
    names = [n for n, _ in pc.description()]
    assert names[:5] == ["PIC", "PIT", "CMOS", "FwCfg", "I440FX"]
    assert m.interrupt_controller is pc.irqs  # the ISA IRQs to the PICs and the I/O APIC
    assert names[-2:] == ["LocalAPIC", "IOAPIC"]
    bare = build_pc(bios=rom_with(b"\xf4"), apic=False)
    assert bare.machine.interrupt_controller is bare.pic and bare.lapic is None
    # CMOS as QEMU sets it for 32 MiB
    def cmos(i):
        m.ports.write(0x70, i, 1)
        return m.ports.read(0x71, 1)
    assert cmos(0x15) | cmos(0x16) << 8 == 640
    assert cmos(0x30) | cmos(0x31) << 8 == 31 * 1024
    assert cmos(0x34) | cmos(0x35) << 8 == (16 << 20) // 65536
    # fw_cfg RAM size and e820
    m.ports.write(0x510, F.RAM_SIZE, 2)
    assert struct.unpack("<Q", bytes(m.ports.read(0x511, 1) for _ in range(8)))[0] == 32 << 20
    sel = pc.fw_cfg.file_selector("etc/e820")
    m.ports.write(0x510, sel, 2)
    assert struct.unpack("<QQI", bytes(m.ports.read(0x511, 1) for _ in range(20))) == (0, 32 << 20, 1)
    # the devices answer where they should
    assert m.ports.read(0x402, 1) == 0xE9
    assert m.ports.read(0x64, 1) == 0x18
    assert m.ports.read(0x1F7, 1) == 0xFF  # no disk on the primary channel
    assert m.ports.read(0x3FD, 1) == 0xFF  # no serial port unless asked for


def test_guest_program_uses_the_devices():
    # out 0x80,0x42; read CMOS 0x15 into al and print it as a byte on 0x402; write 'ok' to B800; exit 3
    code = bytes.fromhex(
        "b042e680"            # mov al,0x42; out 0x80,al
        "b015e670e471"        # mov al,0x15; out 0x70,al; in al,0x71
        "ba0204ee"            # mov dx,0x402; out dx,al
        "b800b88ed8"          # mov ax,0xb800; mov ds,ax
        "c70600006f07c70602006b07"  # mov word [0],0x076f; mov word [2],0x076b
        "b003ba0105ee"        # mov al,3; mov dx,0x501; out dx,al
        "f4")
    out = io.StringIO()
    pc = build_pc(bios=rom_with(code), debugcon=out)
    assert pc.run() == "exit"
    assert pc.exit_status == 7
    assert pc.post.value == 0x42 and pc.post.history == [0x42]
    assert out.getvalue() == "\x80" and pc.console == "\x80"  # 640 & 0xFF
    screen = text_screen(pc.machine)
    assert len(screen) == 25 and screen[0] == "ok" and screen[1] == ""


def test_serial_port_when_asked():
    s = io.StringIO()
    pc = build_pc(bios=rom_with(b"\xf4"), serial=s)
    pc.machine.ports.write(0x3F8, ord("Z"), 1)
    assert s.getvalue() == "Z"


def test_seabios_reboots_itself_when_nothing_boots():
    if not os.path.exists(SEABIOS):
        pytest.fail("Debian's seabios package is needed (apt-get install seabios)")
    log = io.StringIO()
    pc = build_pc(bios=SEABIOS, debugcon=log, fixed_time="2024-01-01T00:00:00", boot_fail_wait=100)
    m = pc.machine
    for _ in range(20):
        pc.run(max_instructions=5_000_000)
        if sum(m.resets.values()) >= 2:
            break
    text = log.getvalue()
    assert "No bootable device.  Retrying in 0 seconds." in text
    assert "Rebooting." in text
    # Each reboot: jump to the reset vector, SeaBIOS's resume path restores
    # its pristine copy into shadow RAM and resets through 0xCF9; POST runs again.
    assert m.resets == {"cf9": 2}
    assert text.count("Attempting a hard reboot") == 2
    assert text.count("Running on QEMU (i440fx)") == 3
