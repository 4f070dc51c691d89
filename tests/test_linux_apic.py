"""Debian's i386 kernel on the PC with its local APIC and I/O APIC (the
default): it switches to symmetric I/O mode, finds the PIT on I/O APIC pin
2 (its check_timer line, as under QEMU), runs on the local APIC timer and
reaches the busybox shell; /proc/interrupts, printed by /init, shows where
the interrupts came from.  With `apic=False` it keeps the 8259s, as
before.  Campaign tests (a few billion guest instructions each: a minute
or more); .ci/run downloads the kernel and busybox into .ci/cache."""
import io

import pytest

from jitemu.bench import linux_files
from jitemu.pc import build_pc
from jitemu.tools import initramfs

SEABIOS = "/usr/share/seabios/bios.bin"
DONE = "JITEMU-INTERRUPTS-SHOWN"
INIT = initramfs.INIT.replace("exec setsid", "cat /proc/interrupts\necho %s\nexec setsid" % DONE)
STEP = 250_000_000
LIMIT = 12_000_000_000


def boot(apic):
    files = linux_files()
    if files is None:
        pytest.fail("missing Debian's i386 kernel and busybox in .ci/cache/root (see tests/test_linux_boot.py)")
    kernel_path, busybox = files
    with open(kernel_path, "rb") as f:
        kernel = f.read()
    with open(busybox, "rb") as f:
        initrd = initramfs.build(f.read(), init=INIT)
    serial = io.StringIO()
    pc = build_pc(bios=SEABIOS, memory_mb=128, serial=serial, fixed_time="2024-01-01T00:00:00", cache=True,
                  kernel=kernel, initrd=initrd, append="console=ttyS0", apic=apic)
    while DONE not in serial.getvalue() and pc.machine.icount < LIMIT:
        pc.run(max_instructions=STEP)
    return pc, serial.getvalue()


@pytest.mark.campaign
def test_linux_uses_the_apics_and_reaches_its_shell():
    pc, out = boot(apic=True)
    assert initramfs.MARKER in out and DONE in out, out[-3000:]
    assert "Enabling APIC mode:  Flat.  Using 1 I/O APICs" in out
    assert "..TIMER: vector=0x30 apic1=0 pin1=2 apic2=-1 pin2=-1" in out  # as under QEMU
    assert "Keep in PIC mode" not in out and "APIC timer disabled" not in out
    assert "iret exception" not in out and "Oops" not in out
    interrupts = out[out.index(initramfs.MARKER):out.index(DONE)]
    local_timer = next(line for line in interrupts.splitlines() if line.strip().startswith("LOC:"))
    assert int(local_timer.split()[1]) > 10  # the local APIC timer ticks
    assert "IO-APIC" in interrupts and "8259" not in interrupts
    assert pc.lapic.enabled and pc.ioapic.delivered > 0


@pytest.mark.campaign
def test_linux_without_the_apics_keeps_the_pics():
    pc, out = boot(apic=False)
    assert DONE in out, out[-3000:]
    assert "Local APIC disabled by BIOS" in out and "APIC: Keep in PIC mode(8259)" in out
    interrupts = out[out.index(initramfs.MARKER):out.index(DONE)]
    assert "XT-PIC" in interrupts and "IO-APIC" not in interrupts
