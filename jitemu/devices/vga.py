"""No VGA adapter: like QEMU with -nodefaults, nothing answers on the VGA
ports and there is no VGA BIOS, so SeaBIOS finds no VGA.  The colour text
buffer at 0xB8000 is plain RAM; text_screen() shows what a guest put there
(code page 437 characters, attributes dropped)."""

TEXT_BASE = 0xB8000


def text_screen(machine, cols=80, rows=25, base=TEXT_BASE, strip=True):
    """The text buffer as `rows` strings of `cols` characters."""
    raw = machine.read_phys(base, cols * rows * 2)
    chars = bytes(b if b else 0x20 for b in raw[0::2])
    text = chars.decode("cp437")
    lines = [text[r * cols:(r + 1) * cols] for r in range(rows)]
    return [ln.rstrip() for ln in lines] if strip else lines
