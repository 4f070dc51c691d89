"""Synthetic firmware for benchmarks, built in Python so the numbers do not
depend on an assembler.  Every image is a 64 KiB real-mode ROM that starts
at F000:FFF0 and ends with CLI; HLT."""

RESET_JMP = bytes.fromhex("ea000000f0")  # jmp far F000:0000


def _rom(code):
    rom = bytearray(b"\x90" * 65536)
    rom[0:len(code)] = code
    rom[0xFFF0:0xFFF5] = RESET_JMP
    return bytes(rom)


def many_blocks(n=400):
    """n distinct blocks of six ALU instructions, each jumping to the next:
    a workload that is all translation and no reuse."""
    code = bytearray()
    for i in range(n):
        body = bytes.fromhex("01d8" "31c2" "d1e3" "83d3%02x" % (i & 0x7F) + "4e" "21f0")
        code += body + bytes.fromhex("eb00")  # jmp to the next block
    return _rom(bytes(code) + bytes.fromhex("faf4")), n


def alu_loop(outer=256):
    """A hot loop: 65,536 iterations x `outer` of eight instructions
    (ALU, shift, store, index update, branch)."""
    code = bytes.fromhex(
        "bf%02x%02x" % (outer & 0xFF, outer >> 8)  # mov di, outer
        + "b90000"                                   # mov cx, 0 (65536 iterations)
        + "01d8" "31c2" "d1e3" "83d300" "8904" "46" "81e6ff00" "49" "75ef"
        + "4f" "75e8" "faf4")
    return _rom(code)
