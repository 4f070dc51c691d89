"""PAE paging (CR4.PAE, SDM vol. 3 4.4) with nasm ROMs (tests/ringrom.py) at
CPL 0: the PDPTEs loaded by MOV to CR3 (and kept: later writes to the
table do not count until the next load), the 3-level walk with 8-byte
entries, 2 MiB pages, reserved bits (#PF with RSVD, error code bit 3;
#GP(0) for a PDPTE at MOV to CR3 or CR0), accessed and dirty bits, global
pages, and physical addresses above 4 GiB (MAXPHYADDR is 36; this
machine has nothing there: reads are all ones, writes go nowhere, a fetch
is #UD).

Tables: PDPT 10000h (PDPTE 0 -> directory 11000h), directory entry 0 ->
table 12000h mapping the first 2 MiB 4 KiB by 4 KiB, identity."""
import logging

import pytest

from jitemu.tools.guest import linear_to_phys
from ringrom import DONE, run_pm

PF, GP, UD = 14, 13, 6
PDPT, PD, PT = 0x10000, 0x11000, 0x12000
MARKS = """
    mov dword [0x40000], 'A'
    mov dword [0x41000], 'B'
"""
TABLES = """
    mov edi, 0x10000
    xor eax, eax
    mov ecx, 0x4000 / 4
    rep stosd
    mov dword [0x10000], 0x11001     ; PDPTE 0 -> directory (P)
    mov dword [0x11000], 0x12003     ; PDE 0 -> table (P RW)
    mov edi, 0x12000
    mov eax, 3
    mov ecx, 512
.map:
    mov [edi], eax
    add eax, 0x1000
    add edi, 8
    loop .map
"""
PAE_ON = """
    mov eax, cr4
    or eax, 0x20
    mov cr4, eax
    mov eax, 0x10000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp paged
paged:
"""
PAGING = MARKS + TABLES + PAE_ON


def entry(addr, value):
    """nasm: the 8-byte paging entry at `addr` := value."""
    return "    mov dword [%#x], %#x\n    mov dword [%#x], %#x\n" % (addr, value & 0xFFFFFFFF, addr + 4, value >> 32)


def pte(page, value):
    return entry(PT + 8 * page, value)


def dword(m, addr):
    return int.from_bytes(m.read_phys(addr, 4), "little")


def qword(m, addr):
    return int.from_bytes(m.read_phys(addr, 8), "little")


def test_4k_pages_and_their_accessed_and_dirty_bits():
    code = PAGING + pte(0x30, 0x40003) + pte(0x31, 0x41003) + """
    mov eax, cr3
    mov cr3, eax
    mov eax, [0x30000]
    mov [0x31004], eax
    mov ebx, [0x31000]
"""
    m, f = run_pm(code)
    assert f.vector == DONE
    assert m.regs.eax == ord("A") and m.regs.ebx == ord("B") and dword(m, 0x41004) == ord("A")
    assert qword(m, PT + 8 * 0x30) == 0x40023        # accessed
    assert qword(m, PT + 8 * 0x31) == 0x41063        # accessed, dirty
    assert qword(m, PD) & 0x20                       # the directory entry: accessed
    assert linear_to_phys(m, 0x30123) == 0x40123 and linear_to_phys(m, 0x31000) == 0x41000


def test_2m_pages_and_other_pdptes():
    # PDE 1 (linear 2-4 MiB) -> physical 0 as a 2 MiB page, whatever
    # CR4.PSE; PDPTE 1 (linear 1 GiB up) -> directory 13000h, whose entry 0
    # is a 2 MiB page at physical 0 too.
    code = MARKS + TABLES + entry(PD + 8, 0x83) + entry(PDPT + 8, 0x13001) + entry(0x13000, 0x83) + PAE_ON + """
    mov eax, [0x240000]
    mov dword [0x241004], 7
    mov ebx, [0x40041000]
"""
    m, f = run_pm(code)
    assert f.vector == DONE
    assert m.regs.eax == ord("A") and m.regs.ebx == ord("B") and dword(m, 0x41004) == 7
    assert qword(m, PD + 8) == 0xE3                   # accessed, dirty, in the PDE
    assert linear_to_phys(m, 0x40041234) == 0x41234


@pytest.mark.parametrize("where,value,write,error", [
    (PT + 8 * 0x30, 0x40003 | 1 << 40, False, 9),       # a PTE address bit above MAXPHYADDR
    (PT + 8 * 0x30, 0x40003 | 1 << 63, True, 0xB),      # NX: reserved without EFER
    (PD + 8, 0x83 | 1 << 13, False, 9),                 # bit 13 of a 2 MiB PDE
    (PD + 8, 0x83 | 1 << 52, True, 0xB),
    (PT + 8 * 0x30, 0x40002, False, 0),                 # not present: no reserved-bit check
    (PT + 8 * 0x30, 0x40001, True, 3),                  # read-only (CR0.WP)
    (PD + 8, 0x12001, True, 3),                         # read-only in the PDE (its table is PDE 0's)
])
def test_page_faults(where, value, write, error):
    lin = 0x30000 if where != PD + 8 else 0x230000
    access = "mov dword [%#x], 1" % lin if write else "mov eax, [%#x]" % lin
    code = PAGING + "    mov dword [0x400], ROM + x\n" + entry(where, value) + """
    mov eax, cr0
    or eax, 0x10000
    mov cr0, eax
    mov eax, cr3
    mov cr3, eax
x:  %s
""" % access
    m, f = run_pm(code)
    assert (f.vector, f.error, f.eip) == (PF, error, dword(m, 0x400))
    assert m.s.cr[2] == lin


def test_a_not_present_pdpte():
    m, f = run_pm(PAGING + "    mov eax, [0x40000000]\n")
    assert (f.vector, f.error) == (PF, 0) and m.s.cr[2] == 0x40000000


@pytest.mark.parametrize("bad", [1 << 1, 1 << 2, 1 << 5, 1 << 8, 1 << 36, 1 << 63])
def test_mov_cr3_with_a_reserved_pdpte_bit_faults_and_changes_nothing(bad):
    code = PAGING + entry(0x14000, 0x11001) + entry(0x14018, 0x13001 | bad) + """
    mov dword [0x400], ROM + x
    mov eax, 0x14000
x:  mov cr3, eax
"""
    m, f = run_pm(code)
    assert (f.vector, f.error, f.eip) == (GP, 0, dword(m, 0x400))
    assert m.s.cr[3] == 0x10000 and m.s.pdpte[3] == 0


def test_a_reserved_bit_in_a_pdpte_that_is_not_present_is_fine():
    code = PAGING + entry(0x14000, 0x11001) + entry(0x14018, 0x13000 | 1 << 5) + """
    mov eax, 0x14000
    mov cr3, eax
    mov ebx, [0x40000]
"""
    m, f = run_pm(code)
    assert f.vector == DONE and m.s.cr[3] == 0x14000 and m.regs.ebx == ord("A")


def test_turning_paging_on_loads_the_pdptes_and_checks_them():
    code = MARKS + TABLES + entry(PDPT + 16, 0x13001 | 1 << 7) + """
    mov eax, cr4
    or eax, 0x20
    mov cr4, eax
    mov eax, 0x10000
    mov cr3, eax                     ; paging off: nothing loaded or checked
    mov dword [0x400], ROM + x
    mov eax, cr0
    or eax, 0x80000000
x:  mov cr0, eax
"""
    m, f = run_pm(code)
    assert (f.vector, f.error, f.eip) == (GP, 0, dword(m, 0x400))
    assert not m.s.cr[0] & 0x80000000


def test_the_pdptes_are_registers():
    # After the load, the PDPT in memory may change: translation goes on
    # with the loaded entries (INVLPG flushes TLB entries, not PDPTEs)
    # until CR3 is loaded again.  PDPTE 1, not present at the load, still
    # is not after memory has it:
    code = PAGING + """
    mov dword [0x10008], 0x11001
    invlpg [0x40000000]
    mov eax, [0x40000000]
"""
    m, f = run_pm(code)
    assert (f.vector, f.error) == (PF, 0) and m.s.cr[2] == 0x40000000
    code = PAGING + """
    mov dword [0x10008], 0x11001
    mov eax, cr3
    mov cr3, eax
    mov eax, [0x40040000]            ; PDPTE 1 -> the same directory: physical 40000h
    mov dword [0x10000], 0           ; PDPTE 0 gone from memory only
    invlpg [0x40000]
    mov ebx, [0x40000]
"""
    m, f = run_pm(code)
    assert f.vector == DONE and m.regs.eax == ord("A") and m.regs.ebx == ord("A")
    assert m.s.pdpte[0] == 0x11001 and m.s.pdpte[1] == 0x11001


def test_global_pages():
    code = PAGING + """
    mov eax, cr4
    or eax, 0x80
    mov cr4, eax
""" + pte(0x30, 0x40103) + pte(0x31, 0x40003) + """
    mov eax, cr3
    mov cr3, eax
    mov eax, [0x30000]
    mov eax, [0x31000]
""" + pte(0x30, 0x41103) + pte(0x31, 0x41003) + """
    mov eax, cr3
    mov cr3, eax
    mov eax, [0x30000]               ; global: the old page
    mov ebx, [0x31000]               ; the new one
"""
    m, f = run_pm(code)
    assert f.vector == DONE and (m.regs.eax, m.regs.ebx) == (ord("A"), ord("B"))


def test_nothing_above_4g(caplog):
    # PTEs to physical 1_0004_0000 (not 40000h: no aliasing) and
    # F_FFFF_F000: reads are all ones, writes go nowhere, also across the
    # page boundary into memory; an instruction fetch there is #UD.
    code = PAGING + pte(0x30, 0x1_0004_0003) + pte(0x31, 0xF_FFFF_F003) + pte(0x32, 0x41003) + """
    mov eax, cr3
    mov cr3, eax
    mov dword [0x30000], 0x12345678
    mov eax, [0x30000]
    mov ebx, [0x31FFE]               ; two bytes of nothing, two of 41000h
    mov dword [0x31FFE], 0x99887766
    mov ecx, [0x32000]
    mov esi, 0x30000
    mov edx, 0x1111
    lock cmpxchg8b [esi]
    mov [0x600], eax
    mov [0x604], edx
    mov eax, 0x30010
    jmp eax
"""
    with caplog.at_level(logging.WARNING, logger="jitemu.jit"):
        m, f = run_pm(code)
    assert (f.vector, f.eip) == (UD, 0x30010)
    assert m.ud_log == [0x30010]
    assert [r.getMessage() for r in caplog.records] == [
        "#UD at 00030010: instruction fetch from above 4 GiB, where there is no memory"]
    assert m.regs.ebx == 0x0042FFFF   # (41000h holds 'B', 42h)
    assert m.regs.ecx == 0x9988       # the half that reached memory
    assert dword(m, 0x40000) == ord("A")
    assert (dword(m, 0x600), dword(m, 0x604)) == (0xFFFFFFFF, 0xFFFFFFFF)
    assert linear_to_phys(m, 0x30010) is None


def test_a_snapshot_keeps_the_pdptes_and_the_p6_msrs():
    # (runtime/snapshot.c: the MSRs the Runtime holds; the PDPTEs are in
    # the CPU state.)  A restored machine goes on translating through the
    # PDPTEs it was given, though the table in memory has changed since.
    from jitemu._runtime import ffi, lib
    from jitemu.machine import Machine
    from jitemu.snapshot import from_bytes, to_bytes
    from ringrom import EPILOGUE, PRELUDE
    from romutil import assemble
    code = PAGING + entry(PDPT + 8, 0x11001) + """
    mov eax, cr3
    mov cr3, eax
    mov dword [0x10008], 0               ; PDPTE 1 gone from memory only
    mov ecx, 0x174
    mov eax, 0x60
    xor edx, edx
    wrmsr
    mov ecx, 0x20F
    mov eax, 0xFF000800
    mov edx, 0xF
    wrmsr
    mov ecx, 0x26A
    mov eax, 0x05050505
    mov edx, 0x06060606
    wrmsr
    mov ecx, 0x10
    mov eax, 0x1000
    wrmsr
    cli
    hlt
"""
    image = assemble(PRELUDE + code + EPILOGUE)
    m = Machine()
    m.load_firmware(image)
    assert m.run(max_instructions=100_000) == "halt"

    def arch(mm):
        a = ffi.new("uint64_t[]", lib.rt_arch_words())
        lib.rt_arch_get(mm.s, a)
        return list(a)

    m2 = Machine()
    m2.load_firmware(image)
    m2.restore(from_bytes(to_bytes(m.snapshot())))
    assert arch(m2) == arch(m)
    assert arch(m2)[5] == 0x60 and arch(m2)[11 + 15] == 0xF_FF00_0800 and arch(m2)[27 + 5] == 0x0606060605050505
    assert [m2.s.pdpte[i] for i in range(4)] == [0x11001, 0x11001, 0, 0]
    assert linear_to_phys(m2, 0x40040000) == 0x40000
