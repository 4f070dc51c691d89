"""The screen on the terminal (text) and as a PNG.

    jitemu boot --screen               # redraw on the terminal (stdout a tty)
    jitemu boot --screen=always        # also when stdout is not a tty
    jitemu boot --screenshot out.png   # save the screen at exit

On a terminal the screen is redrawn in place (cursor home) when its text
changed, at most every 100 ms of wall time, between two 80-column rules;
the guest's debug console output shares standard output, so send it
elsewhere (--debugcon FILE) to keep the picture clean.  When standard
output is not a terminal each changed screen is appended the same way.

With a VGA (jitemu boot's default, --vga std) the terminal shows its text
mode's characters and the PNG what the VGA shows, text or graphics, in the
guest's font and palette (devices/vgadraw.py).  Without one (--vga none)
the terminal shows the colour text buffer at 0xB8000 and the PNG is
640x400 (80x25 cells of 8x16 pixels, jitemu's own font, see font.py)
in the 16 CGA colours of each cell's attribute byte (bit 7, blink, is
ignored).  A cell whose attribute is 0 (RAM nobody wrote) is drawn light
grey on black so that text written without attributes shows.
"""
import sys
import time

from ..devices import vgadraw
from ..devices.vga import TEXT_BASE, find_vga, text_screen
from ..png import encode_palette, encode_rgb
from .font import HEIGHT, WIDTH, font

COLS, ROWS = 80, 25
PALETTE = [
    (0x00, 0x00, 0x00), (0x00, 0x00, 0xAA), (0x00, 0xAA, 0x00), (0x00, 0xAA, 0xAA),
    (0xAA, 0x00, 0x00), (0xAA, 0x00, 0xAA), (0xAA, 0x55, 0x00), (0xAA, 0xAA, 0xAA),
    (0x55, 0x55, 0x55), (0x55, 0x55, 0xFF), (0x55, 0xFF, 0x55), (0x55, 0xFF, 0xFF),
    (0xFF, 0x55, 0x55), (0xFF, 0x55, 0xFF), (0xFF, 0xFF, 0x55), (0xFF, 0xFF, 0xFF),
]


def screen_lines(machine):
    """The 25 rows of 80 characters (unstripped)."""
    return text_screen(machine, COLS, ROWS, strip=False)


def framed(lines, title=" jitemu: VGA text screen "):
    """The rows between two rules, all 80 columns wide (so that a frame
    fits an 80-column terminal)."""
    top = title.center(COLS, "-")
    return "\n".join([top] + [ln.ljust(COLS)[:COLS] for ln in lines] + ["-" * COLS]) + "\n"


class Screen:
    """Draws the text screen to `out` when it changes (tick())."""

    def __init__(self, machine, out=None, mode="auto", interval=0.1, clock=time.monotonic):
        self.m = machine
        self.out = out if out is not None else sys.stdout
        try:
            self.tty = self.out.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.enabled = mode == "always" or (mode == "auto" and self.tty)
        self.interval = interval
        self.clock = clock
        self.last = None
        self.last_draw = None
        self.frames = 0

    def tick(self, force=False):
        if not self.enabled:
            return False
        now = self.clock()
        if not force and self.last_draw is not None and now - self.last_draw < self.interval:
            return False
        lines = screen_lines(self.m)
        if lines == self.last:
            return False
        self.last = lines
        self.last_draw = now
        self.draw(lines)
        return True

    def draw(self, lines):
        text = framed(lines)
        if self.tty:
            prefix = "\x1b[H\x1b[2J" if self.frames == 0 else "\x1b[H"
            self.out.write(prefix + text)
        else:
            self.out.write(text)
        self.out.flush()
        self.frames += 1

    def finish(self):
        """The final picture (whatever the 100 ms limit says)."""
        self.tick(force=True)


def render(machine, base=TEXT_BASE):
    """The screen as (width, height, rows of palette indices)."""
    cells = machine.read_phys(base, COLS * ROWS * 2)
    glyphs = font()
    spans = {}  # (bits, fg, bg) -> 8 pixels
    rows = []
    for cy in range(ROWS):
        row_cells = []
        for cx in range(COLS):
            i = 2 * (cy * COLS + cx)
            attr = cells[i + 1] or 0x07
            row_cells.append((glyphs[cells[i]], attr & 0x0F, (attr >> 4) & 0x07))
        for gy in range(HEIGHT):
            line = bytearray()
            for glyph, fg, bg in row_cells:
                key = (glyph[gy], fg, bg)
                span = spans.get(key)
                if span is None:
                    bits = glyph[gy]
                    span = bytes(fg if bits & (0x80 >> x) else bg for x in range(WIDTH))
                    spans[key] = span
                line += span
            rows.append(line)
    return COLS * WIDTH, ROWS * HEIGHT, rows


def screenshot_png(machine):
    """With a VGA: what it shows, in its own font and colours (RGB);
    without one, the text buffer drawn as above."""
    vga = find_vga(machine)
    if vga is not None:
        w, h, rows = vgadraw.render(vga)
        return encode_rgb(w, h, rows)
    w, h, rows = render(machine)
    return encode_palette(w, h, rows, PALETTE)


def save_screenshot(machine, path):
    data = screenshot_png(machine)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)
