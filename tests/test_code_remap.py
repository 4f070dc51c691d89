"""Translations are found by linear address but made from physical bytes:
with paging, a CR3 load or INVLPG keeps them (so a kernel's context
switches and page-table edits do not retranslate everything), and a block
runs only while its page still maps the bytes it was made from.  Here the
same linear page is pointed at two different code pages in turn, and
each call must run what the page maps at that moment, in every tier."""
import pytest

from pmrom import TIERS, machine, pm_rom

CODE = """
    mov dword [0x200000], 0x000001B8    ; 200000: mov eax, 1; ret
    mov word [0x200004], 0xC300
    mov dword [0x201000], 0x000002B8    ; 201000: mov eax, 2; ret
    mov word [0x201004], 0xC300
    xor esi, esi
    mov dword [PT + 0x300 * 4], 0x200003  ; linear 300000 -> 200000
    invlpg [0x300000]
    mov ecx, 40
    mov ebx, 0x300000
.one:
    call ebx
    add esi, eax
    loop .one
    mov dword [PT + 0x300 * 4], 0x201003  ; -> 201000, announced by INVLPG
    invlpg [0x300000]
    mov ecx, 40
.two:
    call ebx
    add esi, eax
    loop .two
    mov dword [PT + 0x300 * 4], 0x200003  ; back, announced by a CR3 load
    mov eax, cr3
    mov cr3, eax
    mov ecx, 40
.three:
    call ebx
    add esi, eax
    loop .three
    hlt
"""


@pytest.mark.parametrize("tier", TIERS)
def test_a_remapped_code_page_runs_what_it_maps_now(tier):
    m = machine(pm_rom(CODE, unmapped=[]), tier)
    assert m.run() == "halt"
    assert m.regs.esi == 40 * 1 + 40 * 2 + 40 * 1


def test_a_cr3_load_keeps_the_translations():
    m = machine(pm_rom(CODE, unmapped=[]))
    m.run()
    st = m.stats()
    # Only the remapped page's blocks were made again: the loops' own
    # blocks survived both the INVLPG and the CR3 load.
    assert st["blocks_translated"] < 40, st
