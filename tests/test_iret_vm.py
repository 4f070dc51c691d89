"""IRET to virtual-8086 mode, which jitemu does not have yet.

At CPL 0 a 32-bit IRET whose EFLAGS image has VM set would return to
virtual-8086 mode (SDM vol. 2, IRET: RETURN-TO-VIRTUAL-8086-MODE).  Until
that mode exists, jitemu raises #GP(0) for it before anything changes
(runtime/protected.c, pm_iret), whatever the CS image holds: without the
check a CS image that happens to be a valid selector returned to protected
mode with VM dropped.  Asserted against that comment, not an oracle
(Unicorn's IRET is QEMU's, which has virtual-8086 mode).
"""
import pytest

from pmrom import machine, pm_rom, result

VM = 0x20000


def _iret_frame(cs, eflags):
    # The frame of an IRET to virtual-8086 mode: EIP CS EFLAGS ESP SS ES DS FS GS.
    return """
    push dword 0                ; GS
    push dword 0                ; FS
    push dword 0                ; DS
    push dword 0                ; ES
    push dword 0x2000           ; SS
    push dword 0x0100           ; ESP
    push dword 0x%X             ; EFLAGS
    push dword 0x%X             ; CS
    push dword 0x0100           ; EIP
    mov [0x700], esp
""" % (eflags, cs)


@pytest.mark.parametrize("cs", [0x1000, 0x0008])  # a real-mode segment; a valid selector
def test_iret_to_vm_at_cpl_0_is_a_gp0_and_changes_nothing(cs):
    m = machine(pm_rom("iretd", setup=_iret_frame(cs, VM | 0x2)))
    assert m.run(max_instructions=100_000) == "halt"
    r = result(m)
    assert (r["vector"], r["code"], r["count"]) == (13, 0, 1)
    assert r["eip"] == r["mark"] and r["cs"] == 0x08       # the IRET faulted, at ring 0
    esp = int.from_bytes(m.read_phys(0x700, 4), "little")
    assert r["esp"] == esp - 12                              # #GP's EIP CS EFLAGS right under its frame
    assert m.read_phys(esp, 12) == (0x100).to_bytes(4, "little") + cs.to_bytes(4, "little") + \
        (VM | 0x2).to_bytes(4, "little")


def test_iret_without_vm_still_returns():
    code = """
    push dword 0x2
    push dword 0x08
    push dword ROM + back
    iretd
back:
    mov dword [0x704], 0x600D
    int 0x40
"""
    m = machine(pm_rom(code))
    assert m.run(max_instructions=100_000) == "halt"
    assert (result(m)["vector"], m.read_phys(0x704, 4)) == (0x40, b"\x0d\x60\x00\x00")
