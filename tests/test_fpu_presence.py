"""Whether the machine has an x87 FPU is decided in one place
(runtime/jitemu.h CPU_HAS_FPU, read as Machine.has_fpu): CPUID reports it
and the PC's CMOS equipment byte (0x14, bit 1: math coprocessor) follows
it.  jitemu has no FPU yet (the escape opcodes raise #NM or #UD), so both
say none; the CMOS bit turns on by itself once the constant does."""
from jitemu.machine import Machine
from jitemu.pc import build_pc
from pmrom import machine, real_rom

COPROCESSOR, PS2_MOUSE = 0x02, 0x04


def cmos(pc, index):
    pc.machine.ports.write(0x70, index, 1)
    return pc.machine.ports.read(0x71, 1)


def test_no_fpu_yet_so_the_equipment_byte_says_no_coprocessor():
    assert Machine.has_fpu is False
    pc = build_pc()
    assert cmos(pc, 0x14) == PS2_MOUSE


def test_the_equipment_byte_follows_the_machine(monkeypatch):
    monkeypatch.setattr(Machine, "has_fpu", True)
    assert cmos(build_pc(), 0x14) == COPROCESSOR | PS2_MOUSE


def test_cpuid_says_what_the_machine_says():
    m = machine(real_rom("mov eax, 1\n    cpuid\n    mov [0x700], edx"))
    assert m.run(max_instructions=10_000) == "halt"
    edx = int.from_bytes(m.read_phys(0x700, 4), "little")
    assert bool(edx & 1) == Machine.has_fpu
    assert edx & 0x38 == 0x38  # PSE TSC MSR, as before
