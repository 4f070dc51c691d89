"""The Pentium Pro / Pentium II system instructions Unicorn cannot judge,
checked against the SDM with small nasm ROMs (tests/ringrom.py): CPUID,
the MSRs (SYSENTER, MTRRs, TSC, PAT, MISC_ENABLE, PLATFORM_ID,
BIOS_SIGN_ID, unknown ones), RDTSC with CR4.TSD, RDPMC with CR4.PCE,
SYSENTER/SYSEXIT, UD2, the CPL-0 instructions at CPL 3, CR4's reserved
bits, and CMPXCHG8B/CMPXCHG faults through paging."""
import logging

import pytest

from ringrom import DONE, run_pm, run_real

GP, UD, PF = 13, 6, 14
# FPU PSE TSC MSR PAE CX8 SEP MTRR PGE CMOV FXSR
FEATURES = 1 | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8) | (1 << 11) | (1 << 12) | (1 << 13) | \
    (1 << 15) | (1 << 24)


def note(label, slot):
    """nasm: store the linear address of `label` in dword [slot]."""
    return "    mov dword [%#x], ROM + %s\n" % (slot, label)


def dword(m, addr):
    return int.from_bytes(m.read_phys(addr, 4), "little")


def qword(m, addr):
    return int.from_bytes(m.read_phys(addr, 8), "little")


# -- CPUID ---------------------------------------------------------------------
def _cpuid(leaf):
    m, f = run_pm("    mov eax, %#x\n    mov ecx, 0x5555\n    cpuid\n" % leaf)
    assert f.vector == DONE
    r = m.regs
    return r.eax, r.ebx, r.ecx, r.edx


def test_cpuid_vendor_and_highest_leaf():
    a, b, c, d = _cpuid(0)
    assert a == 2
    assert (b.to_bytes(4, "little") + d.to_bytes(4, "little") + c.to_bytes(4, "little")) == b"GenuineIntel"


def test_cpuid_signature_and_exactly_the_features_implemented():
    a, b, c, d = _cpuid(1)
    assert a == 0x633                 # family 6, model 3, stepping 3: a Pentium II
    assert (b, c) == (0, 0)
    assert d == FEATURES
    assert not d & ((1 << 9) | (1 << 16) | (1 << 17) | (1 << 23) | (1 << 25))   # no APIC, PAT, PSE-36, MMX, SSE


def test_cpuid_leaf_2_and_leaves_above_the_highest_return_leaf_2():
    two = _cpuid(2)
    assert two == (0x03020101, 0, 0, 0x0C040843)
    for leaf in (3, 4, 0x80000000, 0x80000008, 0xFFFFFFFF):
        assert _cpuid(leaf) == two


def test_cpuid_at_cpl3():
    m, f = run_pm("    to_ring3 r3\nr3:\n    mov eax, 1\n    cpuid\n")
    assert f.vector == DONE and f.cs == 0x73 and m.regs.eax == 0x633


# -- MSRs ------------------------------------------------------------------------
def _wrmsr(msr, value):
    return "    mov ecx, %#x\n    mov eax, %#x\n    mov edx, %#x\n    wrmsr\n" % (msr, value & 0xFFFFFFFF, value >> 32)


def _rdmsr(msr, slot):
    return "    mov ecx, %#x\n    rdmsr\n    mov [%#x], eax\n    mov [%#x], edx\n" % (msr, slot, slot + 4)


@pytest.mark.parametrize("msr,value", [
    (0x174, 0x60), (0x175, 0x12345678), (0x176, 0xF00DBEEF),
    (0x1A0, 0x400801), (0x277, 0x0007010600070106),
    (0x2FF, 0xC06), (0x250, 0x0606060606060606), (0x258, 0x0001040500060106), (0x26F, 0x0505050505050505),
    (0x200, 0xF_0000_0006), (0x201, 0xF_FFFF_F800), (0x20F, 0x800), (0x1B, 0xFEE00900),
])
def test_msr_reads_back_what_was_written(msr, value):
    m, f = run_pm(_wrmsr(msr, value) + _rdmsr(msr, 0x600))
    assert f.vector == DONE, f
    assert qword(m, 0x600) == value


@pytest.mark.parametrize("msr,value", [
    (0x10, 0), (0x17, 0), (0x1B, 0xFEE00900), (0x8B, 1 << 32), (0xFE, 0x508),
    (0x174, 0), (0x175, 0), (0x176, 0), (0x1A0, 1), (0x277, 0x0007040600070406),
    (0x2FF, 0), (0x200, 0), (0x20F, 0), (0x250, 0), (0x268, 0),
])
def test_msr_values_after_reset(msr, value):
    m, f = run_pm(_rdmsr(msr, 0x600))
    assert f.vector == DONE, f
    if msr == 0x10:
        assert qword(m, 0x600) < 1000   # the TSC: instructions so far
    else:
        assert qword(m, 0x600) == value


@pytest.mark.parametrize("msr,value", [
    (0x12345, 0), (0xC0000080, 0),      # unknown (EFER: no long mode here)
    (0x186, 0), (0xC1, 0),              # no performance-counter MSRs
    (0x17, 0), (0xFE, 0x508),           # read-only: PLATFORM_ID, MTRRcap
    (0x2FF, 2), (0x2FF, 0x1006),        # a reserved type, a reserved bit
    (0x250, 0x0606060606060603),        # a reserved type in a fixed range
    (0x200, 0x10_0000_0006),            # above MAXPHYADDR (36)
    (0x200, 0x7), (0x200, 0x106),       # a reserved type; bit 8
    (0x201, 0x400),                     # a reserved bit below V
    (0x277, 0x0007040600070402),        # PAT: type 2 is reserved
    (0x277, 0x0007040600070408),
])
def test_msr_writes_that_fault(msr, value):
    m, f = run_pm(note("w", 0x400) + "    mov ecx, %#x\n    mov eax, %#x\n    mov edx, %#x\nw:  wrmsr\n"
                  % (msr, value & 0xFFFFFFFF, value >> 32))
    assert (f.vector, f.error, f.eip) == (GP, 0, dword(m, 0x400))


@pytest.mark.parametrize("msr", [0x12345, 0xC0000080, 0x186, 0xC1, 0x11, 0x2A, 0x179, 0x210, 0x251])
def test_rdmsr_of_an_unknown_msr_faults(msr):
    m, f = run_pm(note("r", 0x400) + "    mov ecx, %#x\n    mov eax, 0x1111\n    mov edx, 0x2222\nr:  rdmsr\n" % msr)
    assert (f.vector, f.error, f.eip) == (GP, 0, dword(m, 0x400))
    assert (m.regs.eax, m.regs.edx) == (0x1111, 0x2222)


@pytest.mark.parametrize("insn", ["rdmsr", "wrmsr", "invd", "wbinvd", "invlpg [0x1000]", "hlt", "mov cr3, eax"])
def test_cpl0_instructions_fault_at_cpl3(insn):
    m, f = run_pm("    mov ecx, 0x10\n    to_ring3 r3\nr3:\n" + note("x", 0x400) + "x:  %s\n" % insn)
    assert (f.vector, f.error, f.cs, f.eip) == (GP, 0, 0x73, dword(m, 0x400))


@pytest.mark.parametrize("insn", ["invd", "wbinvd", "invlpg [0x1000]"])
def test_cache_instructions_run_at_cpl0_and_in_real_mode(insn):
    m, f = run_pm("    %s\n" % insn)
    assert f.vector == DONE
    m, f = run_real("    %s\n" % insn)
    assert f.vector == 0x1F


def test_bios_sign_id_update_protocol():
    # SDM 9.11.7.1: write 0, CPUID 1, and the revision is in EDX.
    m, f = run_pm(_wrmsr(0x8B, 0) + _rdmsr(0x8B, 0x600) + "    mov eax, 1\n    cpuid\n" + _rdmsr(0x8B, 0x608))
    assert f.vector == DONE
    assert qword(m, 0x600) == 0 and qword(m, 0x608) == 1 << 32


def test_tsc_write_sets_the_low_half_and_leaves_the_clock_alone():
    # A P6 clears the TSC's high half on WRMSR.  RDTSC follows the new
    # value; the guest clock (timers, tsc_offset) does not move.
    m, f = run_pm(_wrmsr(0x10, 0x5_0000_1000) + "    rdtsc\n    mov [0x600], eax\n    mov [0x604], edx\n"
                  + _rdmsr(0x10, 0x608))
    assert f.vector == DONE
    # (The TSC counts instructions: the WRMSR itself, then RDTSC mov mov mov.)
    assert qword(m, 0x600) == 0x1001
    assert qword(m, 0x608) == 0x1005
    assert m.s.tsc_offset == 0


def test_msrs_are_reset_with_the_machine():
    m, f = run_pm(_wrmsr(0x174, 0x60) + _wrmsr(0x2FF, 0xC06) + _wrmsr(0x10, 0x80000000))
    assert f.vector == DONE
    m.reset()
    m, f = run_pm(_rdmsr(0x174, 0x600) + _rdmsr(0x2FF, 0x608) + _rdmsr(0x10, 0x610), m=m)
    assert f.vector == DONE
    assert qword(m, 0x600) == 0 and qword(m, 0x608) == 0
    assert qword(m, 0x610) < 0x80000000


# -- RDTSC and RDPMC ------------------------------------------------------------------
TIERS = ["baseline", "llvm", "region"]


def _tier(m, tier):
    if tier != "baseline":
        m.translator.baseline = None
        m.translator.regions_first = tier == "region"


@pytest.mark.parametrize("tier", TIERS)
def test_rdtsc_counts_the_instructions_before_it_in_its_block(tier):
    from jitemu.machine import Machine
    m = Machine()
    _tier(m, tier)
    m, f = run_pm("    rdtsc\n    mov esi, eax\n    nop\n    nop\n    nop\n    rdtsc\n    sub eax, esi\n"
                  "    mov ecx, 0x10\n    mov edi, eax\n    rdmsr\n    mov ebx, eax\n    rdtsc\n    sub eax, ebx\n", m=m)
    assert f.vector == DONE
    assert m.regs.edi == 5          # mov, nop, nop, nop, rdtsc
    assert m.regs.eax == 2          # mov ebx, rdtsc after the RDMSR of the TSC


def test_rdtsc_with_cr4_tsd():
    code = ("    mov eax, cr4\n    or eax, 4\n    mov cr4, eax\n    rdtsc\n    mov [0x600], eax\n"
            "    to_ring3 r3\nr3:\n" + note("t", 0x400) + "t:  rdtsc\n")
    m, f = run_pm(code)
    assert dword(m, 0x600) != 0                                # CPL 0: allowed
    assert (f.vector, f.error, f.cs, f.eip) == (GP, 0, 0x73, dword(m, 0x400))
    m, f = run_pm("    to_ring3 r3\nr3:\n    rdtsc\n")           # TSD clear: allowed at CPL 3
    assert f.vector == DONE and f.cs == 0x73


def test_rdpmc():
    m, f = run_pm("    mov eax, -1\n    mov edx, -1\n    xor ecx, ecx\n    rdpmc\n    mov [0x600], eax\n    mov [0x604], edx\n"
                  "    mov ecx, 1\n    rdpmc\n    mov [0x608], eax\n    mov [0x60C], edx\n"
                  + note("p", 0x400) + "    mov ecx, 2\np:  rdpmc\n")
    assert qword(m, 0x600) == 0 and qword(m, 0x608) == 0       # counters 0 and 1: no events counted
    assert (f.vector, f.error, f.eip) == (GP, 0, dword(m, 0x400))   # a P6 has two counters
    m, f = run_pm("    xor ecx, ecx\n    to_ring3 r3\nr3:\n" + note("p", 0x400) + "p:  rdpmc\n")
    assert (f.vector, f.error, f.cs, f.eip) == (GP, 0, 0x73, dword(m, 0x400))   # CPL 3 without CR4.PCE
    m, f = run_pm("    mov eax, cr4\n    or eax, 0x100\n    mov cr4, eax\n    xor ecx, ecx\n    mov eax, 7\n"
                  "    to_ring3 r3\nr3:\n    rdpmc\n")
    assert f.vector == DONE and f.cs == 0x73 and m.regs.eax == 0
    m, f = run_real("    xor ecx, ecx\n    rdpmc\n")
    assert f.vector == 0x1F


# -- SYSENTER and SYSEXIT ---------------------------------------------------------------
SYSENTER_SETUP = _wrmsr(0x174, 0x60) + _wrmsr(0x175, 0x8000) + "    mov ecx, 0x176\n    mov eax, ROM + kernel\n    xor edx, edx\n    wrmsr\n"


def test_sysenter_from_ring3_and_sysexit_back():
    code = SYSENTER_SETUP + """
    sti
    mov ebp, 0x1234
    to_ring3 user
user:
    mov eax, 0x5678
    stc
    sysenter
kernel:
    pushfd
    pop dword [ss:0x600]
    mov [ss:0x604], cs
    mov [ss:0x608], ss
    mov [ss:0x60C], esp
    mov [ss:0x610], ds
    mov ecx, 0x9100
    mov edx, ROM + back
    sysexit
back:
    mov [0x614], ss
    done
"""
    m, f = run_pm(code)
    fl = dword(m, 0x600)
    assert fl & 0x200 == 0 and fl & 1 == 1                   # IF cleared, CF kept
    assert dword(m, 0x604) & 0xFFFF == 0x60 and dword(m, 0x608) & 0xFFFF == 0x68
    assert dword(m, 0x60C) == 0x8000
    assert dword(m, 0x610) & 0xFFFF == 0x7B                  # DS is left alone
    assert (f.vector, f.cs, f.ss, f.esp) == (DONE, 0x73, 0x7B, 0x9100)
    assert dword(m, 0x614) & 0xFFFF == 0x7B
    assert f.eflags & 1 and not f.eflags & 0x200             # SYSEXIT leaves the flags
    assert (m.regs.eax, m.regs.ebp) == (0x5678, 0x1234)


def test_sysenter_loads_flat_ring0_caches_without_the_gdt():
    # SYSENTER_CS 0x20: the GDT has nothing there, and no descriptor is read.
    code = _wrmsr(0x174, 0x23) + _wrmsr(0x175, 0x8000) + """
    mov ecx, 0x176
    mov eax, ROM + kernel
    xor edx, edx
    wrmsr
    to_ring3 user
user:
    sysenter
kernel:
    cli
    hlt
"""
    m, _ = run_pm(code)
    s = m.s
    assert (s.seg_sel[1], s.seg_base[1], s.seg_limit[1], s.seg_flags[1]) == (0x20, 0, 0xFFFFFFFF, 0x00C09B00)
    assert (s.seg_sel[2], s.seg_base[2], s.seg_limit[2], s.seg_flags[2]) == (0x28, 0, 0xFFFFFFFF, 0x00C09300)
    assert s.hflags & 0x307 == 0x07   # CPL 0, protected mode, 32-bit code and stack
    assert m.regs.esp == 0x8000


def test_sysexit_loads_flat_ring3_caches():
    code = _wrmsr(0x174, 0x60) + """
    mov ecx, 0x9100
    mov edx, ROM + user
    sysexit
user:
    jmp user
"""
    from romutil import assemble
    from ringrom import PRELUDE, EPILOGUE
    from jitemu.machine import Machine
    m = Machine()
    m.load_firmware(assemble(PRELUDE + code + EPILOGUE))
    assert m.run(max_instructions=5000) == "limit"
    s = m.s
    assert (s.seg_sel[1], s.seg_base[1], s.seg_limit[1], s.seg_flags[1]) == (0x73, 0, 0xFFFFFFFF, 0x00C0FB00)
    assert (s.seg_sel[2], s.seg_base[2], s.seg_limit[2], s.seg_flags[2]) == (0x7B, 0, 0xFFFFFFFF, 0x00C0F300)
    assert (s.hflags >> 8) & 3 == 3 and m.regs.esp == 0x9100


@pytest.mark.parametrize("cs", [0, 3])
def test_sysenter_with_a_null_sysenter_cs_faults(cs):
    code = _wrmsr(0x174, cs) + "    to_ring3 user\nuser:\n" + note("x", 0x400) + "x:  sysenter\n"
    m, f = run_pm(code)
    assert (f.vector, f.error, f.cs, f.eip) == (GP, 0, 0x73, dword(m, 0x400))


def test_sysexit_faults_at_cpl3_and_with_a_null_sysenter_cs():
    m, f = run_pm(_wrmsr(0x174, 0x60) + "    to_ring3 user\nuser:\n" + note("x", 0x400) + "x:  sysexit\n")
    assert (f.vector, f.error, f.cs, f.eip) == (GP, 0, 0x73, dword(m, 0x400))
    m, f = run_pm(note("x", 0x400) + "x:  sysexit\n")
    assert (f.vector, f.error, f.cs, f.eip) == (GP, 0, 0x08, dword(m, 0x400))


@pytest.mark.parametrize("insn", ["sysenter", "sysexit"])
def test_sysenter_and_sysexit_fault_in_real_mode(insn):
    m, f = run_real("    mov word [0x400], x\nx:  %s\n" % insn)
    assert (f.vector, f.cs, f.ip) == (GP, 0xF000, int.from_bytes(m.read_phys(0x400, 2), "little"))


# -- UD2 -------------------------------------------------------------------------------
def test_ud2_raises_ud_and_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="jitemu.jit"):
        m, f = run_pm(note("u", 0x400) + "u:  ud2\n")
    assert (f.vector, f.eip) == (UD, dword(m, 0x400))
    assert m.ud_log == [dword(m, 0x400)]
    assert ["#UD at %08x: ud2" % dword(m, 0x400)] == [r.getMessage() for r in caplog.records
                                                       if r.getMessage().startswith("#UD")]


# -- CR4 -------------------------------------------------------------------------------
@pytest.mark.parametrize("bit", [0, 1, 3, 6, 10, 13, 31])  # (9, OSFXSR, is there: FXSR)
def test_mov_cr4_with_a_bit_this_cpu_lacks_faults(bit):
    m, f = run_pm(note("x", 0x400) + "    mov eax, %#x\nx:  mov cr4, eax\n" % (1 << bit))
    assert (f.vector, f.error, f.eip) == (GP, 0, dword(m, 0x400))
    assert m.s.cr[4] == 0


def test_mov_cr4_with_the_bits_this_cpu_has():
    m, f = run_pm("    mov eax, 0x3B4\n    mov cr4, eax\n    mov ebx, cr4\n")   # TSD PSE PAE PGE PCE OSFXSR
    assert f.vector == DONE and m.regs.ebx == 0x3B4


@pytest.mark.parametrize("code", ["0FC7C8", "F00FB1C8", "F00FC1C8", "F00FC7C8"])
def test_register_forms_the_sdm_makes_invalid_raise_ud_and_are_logged(code, caplog):
    # CMPXCHG8B with a register operand; LOCK with a register destination.
    with caplog.at_level(logging.WARNING, logger="jitemu.jit"):
        m, f = run_pm(note("u", 0x400) + "u:  db %s\n" % ", ".join("0x" + code[i:i + 2] for i in range(0, len(code), 2)))
    assert (f.vector, f.eip) == (UD, dword(m, 0x400))
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("#UD")] == [
        "#UD at %08x: undecodable bytes %s" % (dword(m, 0x400), m.read_phys(dword(m, 0x400), 8).hex(" "))]
