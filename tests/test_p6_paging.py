"""Paging and the P6 instructions (SDM vol. 3 ch. 4), with nasm ROMs
(tests/ringrom.py) at CPL 0, the first 4 MiB identity-mapped (PD 10000h,
PT 11000h):

- CMPXCHG8B and CMPXCHG write their destination back whether or not it
  matched, and a fault (a read-only or missing page, the second page of a
  page-crossing operand too) leaves memory and registers as they were;
- global pages (CR4.PGE, G in a PTE or a 4 MiB PDE): a CR3 load keeps
  their TLB entries (so a stale global mapping stays visible until INVLPG
  or a CR4 write that changes PGE), flushes the others; without CR4.PGE
  the G bit means nothing."""
import pytest

from jitemu.machine import Machine
from ringrom import DONE, STACK3, run_pm

PF = 14
PT = 0x11000
PAGING = """
    paging_identity_4m 0x10000, 0x11000
    jmp paged
paged:
"""


def pte(page, value):
    """nasm: the PTE of linear page `page` (first 4 MiB) := value."""
    return "    mov dword [%#x], %#x\n" % (PT + 4 * page, value)


def qword(m, addr):
    return int.from_bytes(m.read_phys(addr, 8), "little")


# -- CMPXCHG8B and CMPXCHG --------------------------------------------------------
FILL = """
    mov dword [0x20FFC], 0x11111111
    mov dword [0x21000], 0x22222222
    mov dword [0x21004], 0x33333333
"""


@pytest.mark.parametrize("equal", [True, False])
@pytest.mark.parametrize("second", [0x21001, 0x21000])   # read-only, not present
def test_cmpxchg8b_across_a_page_faulting_on_the_second_page(equal, second):
    code = FILL + PAGING + """
    mov eax, cr0
    or eax, 0x10000          ; WP: read-only pages are read-only at CPL 0 too
    mov cr0, eax
""" + pte(0x21, second) + """
    mov eax, %s
    mov edx, 0x22222222
    mov ebx, 0xAAAAAAAA
    mov ecx, 0xBBBBBBBB
    mov esi, 0x20FFC
    mov dword [0x400], ROM + x
x:  lock cmpxchg8b [esi]
""" % ("0x11111111" if equal else "0x11111112")
    m, f = run_pm(code)
    assert f.vector == PF and f.eip == int.from_bytes(m.read_phys(0x400, 4), "little")
    # Written back in both cases: a read-only page faults as a write (P W);
    # a missing one faults on the read (its second half).
    assert f.error == (3 if second & 1 else 0)
    assert m.s.cr[2] == 0x21000
    assert qword(m, 0x20FFC) == 0x2222222211111111       # nothing written
    assert (m.regs.eax, m.regs.edx) == ((0x11111111 if equal else 0x11111112), 0x22222222)


def test_cmpxchg8b_across_a_page():
    code = FILL + PAGING + """
    mov esi, 0x20FFC
    mov eax, 0x11111111
    mov edx, 0x22222222
    mov ebx, 0xAAAAAAAA
    mov ecx, 0xBBBBBBBB
    cmpxchg8b [esi]
    setz [0x600]
    cmpxchg8b [esi]          ; not equal now: EDX:EAX := memory
    setz [0x601]
"""
    m, f = run_pm(code)
    assert f.vector == DONE
    assert qword(m, 0x20FFC) == 0xBBBBBBBBAAAAAAAA
    assert m.read_phys(0x600, 2) == b"\x01\x00"
    assert (m.regs.eax, m.regs.edx) == (0xAAAAAAAA, 0xBBBBBBBB)


def test_cmpxchg8b_of_a_rom_page_goes_through_the_slow_path():
    # ROM: the write is dropped; the comparison still sees the ROM bytes.
    code = """
    mov esi, ROM + 0x10
    mov eax, [esi]
    mov edx, [esi + 4]
    mov ebx, 0x12345678
    mov ecx, 0x9ABCDEF0
    lock cmpxchg8b [esi]
    setz [0x600]
    mov edi, [esi]
"""
    m, f = run_pm(code)
    assert f.vector == DONE and m.read_phys(0x600, 1) == b"\x01"
    assert m.regs.edi == m.regs.eax and m.regs.edi != 0x12345678


@pytest.mark.parametrize("insn", ["lock cmpxchg [esi], ecx", "cmpxchg [esi], ecx", "xadd [esi], ecx"])
def test_a_read_only_destination_faults_even_when_the_comparison_fails(insn):
    code = PAGING + """
    mov eax, cr0
    or eax, 0x10000
    mov cr0, eax
""" + pte(0x30, 0x30001) + """
    mov esi, 0x30000
    mov ebx, [esi]
    lea eax, [ebx + 1]       ; not equal
    mov ecx, 0x77
    stc
x:  %s
""" % insn
    m, f = run_pm(code)
    assert (f.vector, f.error) == (PF, 3) and m.s.cr[2] == 0x30000
    assert m.regs.eax == m.regs.ebx + 1 and m.regs.ecx == 0x77   # registers as they were
    assert f.eflags & 1                                          # and the flags


# -- global pages -------------------------------------------------------------------
MARKS = """
    mov dword [0x40000], 'A'
    mov dword [0x41000], 'a'
    mov dword [0x42000], 'B'
    mov dword [0x43000], 'b'
"""


def _global(pge, g=0x100):
    cr4 = "    mov eax, cr4\n    or eax, 0x80\n    mov cr4, eax\n" if pge else ""
    return MARKS + PAGING + cr4 + pte(0x30, 0x40003 | g) + pte(0x31, 0x41003 | g) + """
    mov eax, cr3             ; the new PTEs in force
    mov cr3, eax
    mov eax, [0x30000]       ; (both pages in the TLB now)
    mov eax, [0x31000]
""" + pte(0x30, 0x42003 | g) + pte(0x31, 0x43003) + """
    mov eax, cr3
    mov cr3, eax
    mov eax, [0x30000]
    mov [0x600], eax
    mov eax, [0x31000]
    mov [0x604], eax
    invlpg [0x30000]
    mov eax, [0x30000]
    mov [0x608], eax
"""


def _marks(m, *addrs):
    return "".join(chr(m.read_phys(a, 1)[0]) for a in addrs)


def test_a_cr3_load_keeps_global_entries():
    m, f = run_pm(_global(True))
    assert f.vector == DONE
    # Both entries were made from PTEs with G: both outlive the CR3 load
    # (the new PTE of 31000 has no G, but the TLB has not read it); INVLPG
    # drops 30000's.
    assert _marks(m, 0x600, 0x604, 0x608) == "AaB"


def test_without_cr4_pge_the_g_bit_means_nothing():
    m, f = run_pm(_global(False))
    assert f.vector == DONE
    assert _marks(m, 0x600, 0x604, 0x608) == "BbB"


def test_with_cr4_pge_entries_of_pages_without_g_go():
    m, f = run_pm(_global(True, g=0))
    assert f.vector == DONE
    assert _marks(m, 0x600, 0x604, 0x608) == "BbB"


@pytest.mark.parametrize("toggle", ["and eax, ~0x80\n    mov cr4, eax\n    or eax, 0x80\n    mov cr4, eax",
                                    "and eax, ~0x10\n    mov cr4, eax"])
def test_a_cr4_write_that_changes_pge_or_pse_flushes_global_entries(toggle):
    code = MARKS + PAGING + "    mov eax, cr4\n    or eax, 0x90\n    mov cr4, eax\n" + pte(0x30, 0x40103) + """
    mov eax, cr3
    mov cr3, eax
    mov eax, [0x30000]
""" + pte(0x30, 0x42103) + """
    mov eax, cr4
    %s
    mov eax, [0x30000]
    mov [0x600], eax
""" % toggle
    m, f = run_pm(code)
    assert f.vector == DONE and _marks(m, 0x600) == "B"


def test_a_cr4_write_that_keeps_pge_keeps_global_entries():
    code = MARKS + PAGING + "    mov eax, cr4\n    or eax, 0x80\n    mov cr4, eax\n" + pte(0x30, 0x40103) + """
    mov eax, cr3
    mov cr3, eax
    mov eax, [0x30000]
""" + pte(0x30, 0x42103) + """
    mov eax, cr4
    or eax, 0x100            ; PCE: nothing to do with the TLB
    mov cr4, eax
    mov eax, [0x30000]
    mov [0x600], eax
"""
    m, f = run_pm(code)
    assert f.vector == DONE and _marks(m, 0x600) == "A"


def test_global_entries_survive_a_cr3_load_when_the_tlb_overflowed_its_list():
    # 9000 pages read through 4 MiB PSE pages (more than the runtime lists
    # for a cheap flush: TLB_FILL_MAX, 8192), one of them global: the CR3
    # load then scans every entry.
    code = MARKS + """
    mov edi, 0x10000
    xor eax, eax
    mov ecx, 1024
    rep stosd
    mov eax, 0x83            ; 4 MiB pages, identity, the first 40 MiB
    mov edi, 0x10000
    mov ecx, 10
.pd:
    stosd
    add eax, 0x400000
    loop .pd
    mov dword [0x10000 + 4 * 20], 0x00000183   ; linear 80 MiB: global, -> 0
    mov eax, cr4
    or eax, 0x90
    mov cr4, eax
    mov eax, 0x10000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp paged
paged:
    mov eax, [0x5040000]     ; 80 MiB + 0x40000: 'A'
    mov esi, 0x100000
    mov ecx, 9000
.touch:
    mov eax, [esi]
    add esi, 0x1000
    loop .touch
    mov dword [0x10000 + 4 * 20], 0x00400183   ; now -> 4 MiB
    mov eax, cr3
    mov cr3, eax
    mov eax, [0x5040000]     ; still the global entry: 'A'
    mov [0x600], eax
    mov eax, [0x100000]      ; not global: walked again (and still identity)
    invlpg [0x5040000]
    mov eax, [0x5040000]     ; 4 MiB + 0x40000: zero
    mov [0x604], eax
"""
    m = Machine(memory_mb=64)
    m, f = run_pm(code, m=m, max_instructions=200_000)
    assert f.vector == DONE
    assert int.from_bytes(m.read_phys(0x600, 4), "little") == ord("A")
    assert int.from_bytes(m.read_phys(0x604, 4), "little") == 0


def test_sysenter_and_sysexit_between_user_and_supervisor_pages():
    # As a kernel runs them: ring-3 code and stack in user pages, the entry
    # point and its data in supervisor pages.  SYSENTER reaches the
    # supervisor page, SYSEXIT returns to CPL 3, where that page faults.
    code = """
    mov dword [0x20000], 0x5EC2E7
""" + PAGING + """
    mov edi, 0x11000 + 4 * 0xF0  ; the ROM's pages: user, but the kernel's
    mov ecx, 16
.u: or dword [edi], 4
    add edi, 4
    loop .u
    and dword [0x11000 + 4 * ((ROM + kernel - $$) >> 12)], ~4
    or dword [0x11000 + 4 * 8], 4    ; the user stack (STACK3 - 0x1000)
    or dword [0x10000], 4
    mov eax, cr3
    mov cr3, eax
    mov ecx, 0x174
    mov eax, 0x60
    xor edx, edx
    wrmsr
    inc ecx
    mov eax, 0x7000
    wrmsr
    inc ecx
    mov eax, ROM + kernel
    wrmsr
    to_ring3 user
user:
    push dword 0x1234            ; (the user stack is writable)
    sysenter
back:
    mov ebx, [0x20000]           ; a supervisor page: #PF (P U)
    done
align 4096
kernel:
    mov esi, [0x20000]           ; CPL 0 reads it
    mov ecx, STACK3 - 4
    mov edx, ROM + back
    sysexit
"""
    m, f = run_pm(code)
    assert (f.vector, f.error, f.cs) == (14, 5, 0x73)
    assert m.s.cr[2] == 0x20000 and m.regs.esi == 0x5EC2E7 and f.esp == STACK3 - 4
