"""The PNG chart `jitemu bench --plot` writes: one bar per workload, its
height jitemu's speed relative to QEMU TCG on a log scale (the grey line is
parity, above it jitemu is faster), in the order of the printed table."""
import math

from .png import write_rgb

W, H, MARGIN = 640, 320, 24
BG, GRID, FAST, SLOW = (255, 255, 255), (170, 170, 170), (46, 139, 87), (200, 60, 60)


def ratio_chart(bars, path):
    """bars: [(name, qemu_time / jitemu_time)]."""
    px = [[BG] * W for _ in range(H)]
    lo, hi = math.log10(1 / 100.0), math.log10(10.0)  # 0.01x .. 10x
    y_of = lambda r: int(MARGIN + (hi - math.log10(max(min(r, 10.0), 0.01))) / (hi - lo) * (H - 2 * MARGIN))  # noqa
    for decade in (0.01, 0.1, 1.0, 10.0):
        y = y_of(decade)
        for x in range(MARGIN, W - MARGIN):
            if decade == 1.0 or x % 4 == 0:
                px[y][x] = GRID
    n = max(len(bars), 1)
    slot = (W - 2 * MARGIN) // n
    base = y_of(1.0)
    for i, (_, ratio) in enumerate(bars):
        x0, x1 = MARGIN + i * slot + slot // 5, MARGIN + (i + 1) * slot - slot // 5
        y = y_of(ratio)
        colour = FAST if ratio >= 1 else SLOW
        for yy in range(min(y, base), max(y, base) + 1):
            for xx in range(x0, x1):
                px[yy][xx] = colour
    write_rgb(path, W, H, [bytes(c for p in row for c in p) for row in px])
