"""Debian's SeaBIOS boots our disk on jitemu's PC, going through its POST
phases in the same order as under QEMU 7.2, to our boot sector's line.
The reference log (tests/reference/) is what QEMU's SeaBIOS printed booting
the same disk; tests/reference/make_seabios_reference.sh regenerates it."""
import io
import os

import pytest

from jitemu.pc import build_pc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEABIOS = "/usr/share/seabios/bios.bin"
DISK = os.path.join(ROOT, "firmware", "images", "disk", "bootok.img")
REFERENCE = os.path.join(ROOT, "tests", "reference", "seabios-1.16.2-qemu-7.2-debugcon.log")

# POST phases, as SeaBIOS announces them, in the order QEMU's run shows.
PHASES = [
    "SeaBIOS (version", "BUILD:", "Running on QEMU (i440fx)", "Found QEMU fw_cfg",
    "QEMU fw_cfg DMA interface supported", "qemu/e820:", "Relocating init from",
    "=== PCI bus & bridge init ===", "=== PCI device probing ===", "Found 4 PCI devices",
    "=== PCI new allocation pass #1 ===", "=== PCI new allocation pass #2 ===",
    "PCI: init bdf=00:00.0 id=8086:1237", "PCI: init bdf=00:01.0 id=8086:7000",
    "PIIX3/PIIX4 init", "PCI: init bdf=00:01.1 id=8086:7010", "PCI: init bdf=00:01.3 id=8086:7113",
    "Using pmtimer", "PCI: No VGA devices found", "Copying PIR", "Copying MPTABLE", "Copying SMBIOS",
    "Scan for VGA option rom", "No VGA found, scan for other display", "Turning on vga text mode console",
    "SeaBIOS (version", "PS2 keyboard initialized", "All threads complete.", "Scan for option roms",
    "e820 map has", "enter handle_19:", "Booting from Hard Disk...", "Booting from 0000:7c00",
]


def phases(text):
    """The PHASES in the order the log shows them."""
    out, pos = [], 0
    lines = text.splitlines()
    for phase in PHASES:
        for i in range(pos, len(lines)):
            if lines[i].startswith(phase):
                out.append(phase)
                pos = i + 1
                break
    return out


@pytest.fixture(scope="module")
def boot():
    if not os.path.exists(SEABIOS):
        pytest.fail("Debian's seabios package is needed (apt-get install seabios); .ci/run installs it")
    log = io.StringIO()
    pc = build_pc(bios=SEABIOS, disk=DISK, memory_mb=16, debugcon=log, fixed_time="2024-01-01T00:00:00")
    why = pc.run(max_instructions=100_000_000)
    return pc, why, log.getvalue()


def test_the_reference_log_has_every_phase():
    with open(REFERENCE) as f:
        assert phases(f.read()) == PHASES


def test_post_phases_come_in_qemus_order(boot):
    _, _, text = boot
    assert phases(text) == PHASES


def test_the_boot_sector_runs_and_ends_the_run(boot):
    pc, why, text = boot
    assert "Booting from Hard Disk..." in text
    assert text.rstrip().endswith("BOOT-SECTOR-OK")
    assert why == "exit" and pc.exit_status == 1


def test_boots_with_3_gib_of_ram():
    """Guest RAM this large once put translated code out of reach of the
    runtime's helpers (LLVM asserted on a 32-bit relocation)."""
    log = io.StringIO()
    pc = build_pc(bios=SEABIOS, disk=DISK, memory_mb=3072, debugcon=log, fixed_time="2024-01-01T00:00:00")
    why = pc.run(max_instructions=100_000_000)
    text = log.getvalue()
    assert "qemu/e820: addr 0x0000000000000000 len 0x00000000c0000000 [RAM]" in text
    assert text.rstrip().endswith("BOOT-SECTOR-OK") and why == "exit"


def test_seabios_counts_its_one_cpu_through_the_apic_as_under_qemu(boot):
    """SeaBIOS's smp_setup enables the local APIC, sets LINT0 to ExtINT and
    LINT1 to NMI and broadcasts INIT and SIPI: nobody else answers."""
    pc, _, text = boot
    with open(REFERENCE) as f:
        assert "Found 1 cpu(s) max supported 1 cpu(s)" in f.read()
    assert "Found 1 cpu(s) max supported 1 cpu(s)" in text
    assert pc.lapic.enabled and pc.lapic.ignored == 2  # (the INIT and the SIPI)


def test_without_the_apic_seabios_finds_none():
    log = io.StringIO()
    pc = build_pc(bios=SEABIOS, disk=DISK, memory_mb=16, debugcon=log, fixed_time="2024-01-01T00:00:00",
                  apic=False)
    assert pc.run(max_instructions=100_000_000) == "exit"
    text = log.getvalue()
    assert "No apic - only the main cpu is present." in text
    assert text.rstrip().endswith("BOOT-SECTOR-OK")
