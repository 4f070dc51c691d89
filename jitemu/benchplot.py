"""The PNG chart `jitemu bench --plot` writes: one labelled bar per workload,
in the order of the printed table, its length jitemu's speed relative to
QEMU TCG on a log scale from the parity line (right of it, green: jitemu is
faster), with the ratio written beside it.  Text uses the 8x16 font of the
VGA screenshots."""
import math

from .png import write_rgb
from .tools.font import font

W, H = 640, 320
BG, GRID, TEXT, FAST, SLOW = (255, 255, 255), (170, 170, 170), (40, 40, 40), (46, 139, 87), (200, 60, 60)
NAME_W, PLOT_L, PLOT_R = 21 * 8, 176, 560  # name column, plot area
TOP, BOTTOM = 24, H - 20
LO, HI = 0.01, 10.0


def _text(px, x, y, s, colour):
    glyphs = font()
    for i, ch in enumerate(s):
        glyph = glyphs[ord(ch) & 0xFF]
        for gy, bits in enumerate(glyph):
            row = px[y + gy] if 0 <= y + gy < H else None
            for gx in range(8):
                if row is not None and bits & (0x80 >> gx) and 0 <= x + 8 * i + gx < W:
                    row[x + 8 * i + gx] = colour


def _x_of(ratio):
    r = max(min(ratio, HI), LO)
    return int(PLOT_L + (math.log10(r) - math.log10(LO)) / (math.log10(HI) - math.log10(LO)) * (PLOT_R - PLOT_L))


def ratio_chart(bars, path):
    """bars: [(name, qemu_time / jitemu_time)]."""
    px = [[BG] * W for _ in range(H)]
    _text(px, 4, 2, "jitemu speed / QEMU TCG speed (log scale; right of 1x: jitemu faster)", TEXT)
    for tick in (0.01, 0.1, 1.0, 10.0):
        x = _x_of(tick)
        for y in range(TOP, BOTTOM):
            if tick == 1.0 or y % 4 == 0:
                px[y][x] = GRID
        label = "%gx" % tick
        _text(px, x - 4 * len(label), BOTTOM + 2, label, TEXT)
    n = max(len(bars), 1)
    row_h = min(28, (BOTTOM - TOP) // n)
    base = _x_of(1.0)
    for i, (name, ratio) in enumerate(bars):
        y0 = TOP + i * row_h + (row_h - 16) // 2
        _text(px, 4, y0, name[:NAME_W // 8], TEXT)
        x = _x_of(ratio)
        colour = FAST if ratio >= 1 else SLOW
        for yy in range(y0 + 2, y0 + 14):
            for xx in range(min(x, base), max(x, base) + 1):
                px[yy][xx] = colour
        _text(px, PLOT_R + 8, y0, ("%.2fx" % ratio)[:9], TEXT)
    write_rgb(path, W, H, [bytes(c for p in row for c in p) for row in px])
