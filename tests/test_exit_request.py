"""Leaving translated code on request, and self-modifying code.

A device handler that calls m.request_exit() during a port write stops the
guest before the next instruction: run() returns 'exit' with EIP on that
instruction, and the next run() resumes there.  Guest code that rewrites
instructions (already executed, or about to be) runs the new bytes.
"""
from jitemu.machine import Machine

CS, IP, PORT = 0x1000, 0x0100, 0x80


def machine(code, **regs):
    m = Machine(memory_mb=1)
    m.write_phys((CS << 4) + IP, bytes.fromhex(code))
    m.regs.cs, m.regs.eip, m.regs.ss, m.regs.esp = CS, IP, 0x2000, 0x1000
    m.regs.ds = m.regs.es = 0x3000
    for name, v in regs.items():
        setattr(m.regs, name, v)
    return m


def exit_on_write(m, after=1):
    """Log port writes; ask for an exit on write number `after`."""
    log = []

    def write(port, value, size):
        log.append(value)
        if len(log) == after:
            m.request_exit()
    m.ports.register(PORT, write=write)
    return log


def test_out_dx_then_exit_before_next_instruction():
    m = machine("EE 40 F4", dx=PORT, ax=0x1234)        # out dx, al; inc ax; hlt
    log = exit_on_write(m)
    assert m.run() == "exit"
    assert log == [0x34]
    assert m.regs.ax == 0x1234          # the INC has not run
    assert m.regs.eip == IP + 1         # EIP on the INC
    assert m.run() == "halt"            # and it resumes there
    assert m.regs.ax == 0x1235 and m.regs.eip == IP + 3


def test_out_imm_inside_a_loop_block():
    # mov cx, 3; L: out 80h, al; inc ax; loop L; hlt
    m = machine("B9 0300  E6 80  40  E2 FB  F4", ax=0)
    log = exit_on_write(m, after=2)
    assert m.run() == "exit"
    assert log == [0, 1]
    assert m.regs.ax == 1 and m.regs.cx == 2 and m.regs.eip == IP + 5
    assert m.run() == "halt"
    assert log == [0, 1, 2] and m.regs.ax == 3 and m.regs.cx == 0


def test_rep_outsb_stops_between_iterations():
    m = machine("F3 6E  F4", dx=PORT, cx=5, si=0)      # rep outsb; hlt
    m.write_phys(0x30000, bytes([10, 11, 12, 13, 14]))
    log = exit_on_write(m, after=2)
    assert m.run() == "exit"
    assert log == [10, 11]
    assert m.regs.cx == 3 and m.regs.si == 2 and m.regs.eip == IP   # still on the REP
    assert m.run() == "halt"
    assert log == [10, 11, 12, 13, 14] and m.regs.cx == 0


def test_rewrite_an_executed_instruction_in_the_same_block():
    code = ("B8 1111"             # 100: L: mov ax, 0x1111
            "01 C2"               # 103: add dx, ax
            "2E C7 06 0101 2222"  # 105: mov word [cs:0x101], 0x2222
            "43"                  # 10C: inc bx
            "83 FB 02"            # 10D: cmp bx, 2
            "75 EE"               # 110: jne L
            "F4")                 # 112: hlt
    m = machine(code, bx=0, dx=0)
    assert m.run() == "halt"
    assert m.regs.dx == 0x3333 and m.regs.ax == 0x2222 and m.regs.bx == 2


def test_rewrite_the_next_instruction():
    m = machine("2E C6 06 0701 42  B0 00  F4")      # mov byte [cs:0x107], 0x42; mov al, 0; hlt
    assert m.run() == "halt"
    assert m.regs.al == 0x42


def test_rewrite_a_subroutine_between_calls():
    code = ("E8 0A00"             # 100: call sub
            "2E C6 06 0E01 07"    # 103: mov byte [cs:0x10E], 7
            "E8 0100"             # 109: call sub
            "F4"                  # 10C: hlt
            "B0 05"               # 10D: sub: mov al, 5
            "00 C4"               # 10F: add ah, al
            "C3")                 # 111: ret
    m = machine(code, ax=0)
    assert m.run() == "halt"
    assert m.regs.ah == 5 + 7


def test_rewrite_through_a_data_segment_alias():
    # DS = CS: a plain [disp16] store rewrites code, REP STOSB too.
    code = ("C6 06 1001 42"       # 100: mov byte [0x110], 0x42
            "BF 1101"             # 105: mov di, 0x111
            "B0 90"               # 108: mov al, 0x90 (NOP)
            "B9 0200"             # 10A: mov cx, 2
            "F3 AA"               # 10D: rep stosb: NOPs over the JMP
            "B4 00"               # 10F: mov ah, 0 (imm at 0x110)
            "EB 01"               # 111: jmp 0x114
            "F4"                  # 113: hlt (reached through the NOPs)
            "F4")                 # 114: hlt
    m = machine(code, ds=CS, es=CS)
    assert m.run() == "halt"
    assert m.regs.ah == 0x42 and m.regs.eip == 0x114   # halted at 0x113


def test_rewrite_the_second_page_of_a_straddling_instruction():
    # mov ax, 0x1234 at CS:0FFF straddles two pages: its immediate is in
    # the second one.  The host rewrites it between runs (as DMA would).
    m = machine("")
    lin = (CS << 4) + 0x0FFF
    m.write_phys(lin, bytes.fromhex("B8 3412 F4"))
    m.regs.eip = 0x0FFF
    assert m.run() == "halt" and m.regs.ax == 0x1234
    m.write_phys(lin + 2, b"\x56")            # the high byte, in the second page
    m.regs.eip, m.s.halted = 0x0FFF, 0
    assert m.run() == "halt" and m.regs.ax == 0x5634


def test_guest_rewrites_the_second_page_of_a_straddling_instruction():
    # The same, by the guest: a loop at CS:0FF0 whose MOV straddles the page.
    m = machine("")
    code = bytes.fromhex(
        "B8 0000"            # FF0: mov ax, 0 (filler so the next MOV straddles)
        "90 90 90 90 90 90 90 90 90 90 90 90"  # FF3..FFE
        "B9 1111"            # FFF: L: mov cx, 0x1111 (imm at 0x1000-0x1001)
        "01 CA"              # 1002: add dx, cx
        "2E C6 06 0110 22"   # 1004: mov byte [cs:0x1001], 0x22
        "43"                 # 100A: inc bx
        "83 FB 02"           # 100B: cmp bx, 2
        "75 EF"              # 100E: jne L
        "F4")                # 1010: hlt
    m.write_phys((CS << 4) + 0x0FF0, code)
    m.regs.eip, m.regs.bx, m.regs.dx = 0x0FF0, 0, 0
    assert m.run() == "halt"
    assert m.regs.dx == 0x1111 + 0x2211 and m.regs.bx == 2
