"""A string instruction whose memory operand faults does nothing visible
for that element (SDM Vol. 1 7.3.9 and Vol. 3 6.5: a fault leaves the state
as before the faulting iteration): OUTS reads its source before it writes
the port, so a #PF on the source sends no byte."""
import io

import pytest
from ringrom import run_pm
from test_p6_paging import PAGING, pte

from jitemu.devices.debugcon import DebugConsole
from jitemu.machine import Machine


@pytest.mark.parametrize("rep", ["rep ", ""])
def test_outs_from_a_page_that_is_not_present_sends_nothing_for_that_byte(rep):
    code = """
    mov dword [0x20FFE], 0x4241      ; 'A' 'B' end the present page
""" + PAGING + pte(0x21, 0) + """
    mov eax, cr3
    mov cr3, eax
    mov esi, 0x20FFE
    mov ecx, 4
    mov dx, 0x402
    cld
    outsb                            ; 'A'
    outsb                            ; 'B'
    %soutsb                          ; the next page: #PF
    done
""" % rep
    out = io.StringIO()
    m = Machine()
    m.attach(DebugConsole(out=out))
    m, f = run_pm(code, m=m)
    assert (f.vector, f.error) == (14, 0)        # not present, a supervisor read
    assert m.s.cr[2] == 0x21000
    assert m.regs.esi == 0x21000 and m.regs.ecx == 4
    m.ports.drain()
    assert out.getvalue() == "AB"
