"""Whether the machine has an x87 FPU is decided in one place
(runtime/jitemu.h CPU_HAS_FPU, read as Machine.has_fpu): CPUID reports it
and the PC's CMOS equipment byte (0x14, bit 1: math coprocessor) follows
it.  jitemu has the whole 387 instruction set and FXSAVE/FXRSTOR, so both
say there is one, and CPUID reports FXSR too."""
from jitemu.machine import Machine
from jitemu.pc import build_pc
from pmrom import machine, real_rom

COPROCESSOR, PS2_MOUSE = 0x02, 0x04
FPU, FXSR = 1, 1 << 24


def cmos(pc, index):
    pc.machine.ports.write(0x70, index, 1)
    return pc.machine.ports.read(0x71, 1)


def test_the_machine_has_an_fpu_and_the_equipment_byte_says_so():
    assert Machine.has_fpu is True
    pc = build_pc()
    assert cmos(pc, 0x14) == COPROCESSOR | PS2_MOUSE


def test_the_equipment_byte_follows_the_machine(monkeypatch):
    monkeypatch.setattr(Machine, "has_fpu", False)
    assert cmos(build_pc(), 0x14) == PS2_MOUSE


def test_cpuid_reports_the_fpu_and_fxsr():
    m = machine(real_rom("mov eax, 1\n    cpuid\n    mov [0x700], edx"))
    assert m.run(max_instructions=10_000) == "halt"
    edx = int.from_bytes(m.read_phys(0x700, 4), "little")
    assert edx & (FPU | FXSR) == FPU | FXSR
    assert edx & 0x38 == 0x38  # PSE TSC MSR, as before


def test_the_fpu_answers_the_classic_probe():
    # FNINIT, then FNSTSW and FNSTCW read back 0 and 0x037F: what BIOSes test.
    m = machine(real_rom("""
    mov word [0x700], 0x5A5A
    mov word [0x702], 0x5A5A
    fninit
    fnstsw [0x700]
    fnstcw [0x702]
"""))
    assert m.run(max_instructions=10_000) == "halt"
    assert m.read_phys(0x700, 4) == bytes.fromhex("00007f03")
