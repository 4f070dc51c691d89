"""Reset correctness on the PC machine: the QEMU 3.1 reboot race, SeaBIOS's
own reboot path, and every reset source.  No instruction after the one that
requested a reset runs, and no translation made before it runs after it
unless its guest bytes were verified unchanged."""
import io
import os
import threading
import time

from jitemu.pc import build_pc
from romutil import assemble

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, "firmware", "images")
SEABIOS = "/usr/share/seabios/bios.bin"


def test_the_reported_race_through_1000_reboots():
    # firmware/src/reboot.asm: copy the BIOS over its own shadowed code,
    # 0x02 then 0x06 to 0xCF9, INT3; every boot checks the reset state.
    pc = build_pc(bios=os.path.join(IMAGES, "reboot.bin"))
    assert pc.run() == "exit"
    assert pc.console == "reboots 1000 failures 0 stale 0\n"
    assert pc.machine.resets == {"cf9": 1000}
    assert len(pc.machine.reset_ack_seconds) == 1000


def test_seabios_reboots_100_times_through_its_reboot_path():
    # Each boot sector run far jumps to F000:FFF0; SeaBIOS then copies
    # itself back over shadow RAM and resets through 0xCF9 (and INT3).
    log = io.StringIO()
    pc = build_pc(bios=SEABIOS, disk=os.path.join(IMAGES, "disk", "rebootloop.img"), debugcon=log,
                  fixed_time="2024-01-01T00:00:00")
    assert pc.run(max_instructions=5_000_000_000) == "exit"
    text = log.getvalue()
    assert text.count("Booting from Hard Disk...") == 100
    assert [l for l in text.splitlines() if l.startswith("boot ")] == ["boot %d" % n for n in range(1, 100)]
    assert text.rstrip().endswith("REBOOTS-OK 100")
    assert pc.machine.resets == {"cf9": 99}


def _pm_triple_fault_rom():
    """Protected mode with an empty IDT, then INT 20h: #GP, #DF, shutdown."""
    src = """
bits 16
org 0
start:
    cli
    xor ax, ax                  ; count boots in RAM (ROM cannot count)
    mov ds, ax
    inc word [0x600]
    cmp word [0x600], 2
    jae done
    o32 lgdt [cs:gdtr]
    o32 lidt [cs:idtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword 0x08:(0xF0000 + pm)
bits 32
pm: int 0x20
    mov byte [0x601], 1         ; must never run
    hlt
bits 16
done:
    mov dx, 0x501
    mov al, 0
    out dx, al
    hlt
align 8
gdt: dq 0, 0x00CF9B000000FFFF
gdtr: dw 15
      dd 0xF0000 + gdt
idtr: dw 0
      dd 0
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
"""
    return assemble(src)


def test_a_triple_fault_resets_the_machine():
    pc = build_pc(bios=_pm_triple_fault_rom())
    assert pc.run(max_instructions=1_000_000) == "exit"
    m = pc.machine
    assert m.resets == {"triple-fault": 1}
    assert m.read_phys(0x600, 2) == b"\x02\x00"  # booted twice
    assert m.read_phys(0x601, 1) == b"\x00"       # nothing after the fault ran


def test_machine_reset_from_another_thread_while_seabios_boots():
    pc = build_pc(bios=SEABIOS, disk=os.path.join(IMAGES, "disk", "bootok.img"), debugcon=io.StringIO(),
                  fixed_time="2024-01-01T00:00:00")
    m = pc.machine
    t = m.start()
    time.sleep(0.5)
    state = m.reset()
    assert (state["cs"], state["cs_base"], state["eip"]) == (0xF000, 0xFFFF0000, 0xFFF0)
    t.join(60)
    assert m.run_result == "exit" and pc.console.rstrip().endswith("BOOT-SECTOR-OK")
    assert m.resets.get("api") == 1
