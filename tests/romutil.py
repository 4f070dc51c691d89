"""Tiny ROMs for tests: code at F000:0000 with the reset vector jumping
there (rom_with), or a whole image assembled from nasm source (assemble)."""
import os
import subprocess
import tempfile

INCLUDE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware", "src", "include")


def rom_with(code, size=65536):
    rom = bytearray(b"\xf4" * size)  # stray execution halts
    rom[size - 65536:size - 65536 + len(code)] = code
    rom[size - 16:size - 11] = bytes.fromhex("ea000000f0")  # jmp far F000:0000
    return bytes(rom)


def assemble(source):
    """The flat binary nasm makes of `source` (firmware/src/include on its
    include path)."""
    with tempfile.TemporaryDirectory() as d:
        src, out = os.path.join(d, "t.asm"), os.path.join(d, "t.bin")
        with open(src, "w") as f:
            f.write(source)
        subprocess.run(["nasm", "-f", "bin", "-I", INCLUDE + os.sep, "-o", out, src], check=True)
        with open(out, "rb") as f:
            return f.read()
