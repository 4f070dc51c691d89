"""An instruction whose bytes run past linear FFFFFFFF.

Linear addresses are 32 bits: the fetch goes on at 00000000, as on a
32-bit CPU and as QEMU runs it (checked with qemu-system-i386: a JMP rel8
at F000:FFFF with CS base FFFF0000 takes its displacement from physical 0,
and IP wraps to 16 bits).  (The SDM has a 386 or later raise #GP when a
real-mode instruction runs past the 64 KiB CS limit; like QEMU, and as for
data, jitemu checks no real-mode limits.)  The byte at 0 is part of the
block: writing it drops the translation."""
from jitemu.machine import Machine


def wrapping_rom():
    """The reset vector runs NOPs from F000:FFF0 into a JMP rel8 at FFFF
    (linear FFFFFFFF); a HLT at IP 1 and one at IP 11h show which
    displacement it got."""
    rom = bytearray(b"\x90" * 65536)
    rom[0xFFFF] = 0xEB
    rom[0] = 0x10  # what IP wrapping inside the segment (at FFFF0000) would read
    rom[0x01] = rom[0x11] = 0xF4
    return bytes(rom)


def test_the_fetch_wraps_from_4_gib_to_0_and_ip_to_16_bits():
    m = Machine()
    m.load_firmware(wrapping_rom())
    assert m.run(max_instructions=100) == "halt"
    # RAM at 0 holds 0: jmp $+2 from FFFF lands on IP 1 (not 10001h).
    assert (m.regs.cs_base, m.regs.eip) == (0xFFFF0000, 2)
    assert m.icount == 15 + 1 + 1  # the NOPs, the JMP, the HLT


def test_writing_the_wrapped_byte_drops_the_translation():
    m = Machine()
    m.load_firmware(wrapping_rom())
    assert m.run(max_instructions=100) == "halt" and m.regs.eip == 2
    m.write_phys(0, b"\x10")
    m.regs.eip = 0xFFF0
    assert m.run(max_instructions=100) == "halt"
    assert m.regs.eip == 0x12  # jmp +10h from FFFF: IP 11h


def test_ip_wrapping_inside_a_block_goes_on_at_cs_0():
    """16-bit IP wraps at 64 KiB: after NOPs at 1001:FFFE the next
    instruction is at 1001:0000 (linear 10010h), not the bytes that
    follow (20010h), even in the middle of what would be one block."""
    rom = bytearray(b"\xf4" * 65536)
    rom[0xFFF0:0xFFF5] = bytes.fromhex("eafeff0110")  # jmp far 1001:FFFE
    m = Machine()
    m.load_firmware(bytes(rom))
    m.write_phys(0x2000E, bytes.fromhex("9090f4"))      # nop; nop; then (wrongly) hlt
    m.write_phys(0x10010, bytes.fromhex("b83412f4"))    # mov ax, 1234h; hlt
    assert m.run(max_instructions=100) == "halt"
    assert (m.regs.eax & 0xFFFF, m.regs.eip) == (0x1234, 4)
