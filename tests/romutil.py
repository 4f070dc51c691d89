"""Tiny real-mode ROMs for tests: code at F000:0000, reset vector jumps there."""


def rom_with(code, size=65536):
    rom = bytearray(b"\xf4" * size)  # stray execution halts
    rom[size - 65536:size - 65536 + len(code)] = code
    rom[size - 16:size - 11] = bytes.fromhex("ea000000f0")  # jmp far F000:0000
    return bytes(rom)
