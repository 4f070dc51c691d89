"""What a VGA (vga.py) shows, as RGB rows, from its registers and VRAM:

    text modes     characters from plane 0, attributes from plane 1, glyphs
                   from the font the guest loaded into plane 2 (character
                   map select, 8 or 9 dots, line-graphics 9th column),
                   colours through the attribute palette and the DAC;
                   blinking characters and the cursor (CR0A-CR0F) are
                   drawn in their visible phase
    256 colours    (GC 5 bit 6: mode 13h, chain-4) a byte per pixel
    16 colours     (planar, mode 12h and kin) a bit per pixel in each plane
    DISPI          the VBE mode's framebuffer at 8, 15, 16, 24 or 32 bpp
                   (4 bpp as planar)

render(vga) -> (width, height, rows of width*3 bytes)."""
from . import dispi as D

FONT_MAPS = (0x0000, 0x4000, 0x8000, 0xC000, 0x2000, 0x6000, 0xA000, 0xE000)


def dac_rgb(vga):
    """The 256 DAC entries as 3-byte RGB, through the pixel mask."""
    d = vga.dac
    if vga.dac_8bit:
        full = [bytes(d[3 * i:3 * i + 3]) for i in range(256)]
    else:
        full = [bytes(((c << 2) | (c >> 4)) & 0xFF for c in d[3 * i:3 * i + 3]) for i in range(256)]
    return [full[i & vga.dac_mask] for i in range(256)]


def attr_to_dac(vga, c):
    """A 4-bit colour through the attribute controller's palette (AR0-F,
    AR10 bit 7 and AR14 colour select) to a DAC index."""
    ar = vga.ar
    v = ar[c & 0xF] & 0x3F
    if ar[0x10] & 0x80:
        v = (v & 0x0F) | ((ar[0x14] & 0x03) << 4)
    return v | ((ar[0x14] & 0x0C) << 4)


def render(vga):
    vga.sync()
    if vga.dispi.enabled:
        return _dispi(vga)
    if vga.gc[6] & 1:
        return _chain4(vga) if vga.gc[5] & 0x40 else _planar(vga)
    return _text(vga)


def _display_lines(vga):
    cr = vga.crtc
    vde = cr[0x12] | ((cr[7] & 0x02) << 7) | ((cr[7] & 0x40) << 3)
    scan = (cr[9] & 0x1F) + 1
    if cr[9] & 0x80:
        scan *= 2
    return vde + 1, scan


def _text(vga):
    cols, rows, char_h, start, stride = vga.text_geometry()
    char_w = 8 if vga.seq[1] & 1 else 9
    ar10 = vga.ar[0x10]
    s3 = vga.seq[3]
    map_a = FONT_MAPS[((s3 >> 3) & 4) | ((s3 >> 2) & 3)]
    map_b = FONT_MAPS[((s3 >> 2) & 4) | (s3 & 3)]
    pal = dac_rgb(vga)
    colours = [pal[attr_to_dac(vga, c)] for c in range(16)]
    vram = vga.vram
    cells = vga.text_cells(cols, rows)
    spans = {}
    out = []
    for row in cells:
        for gy in range(char_h):
            line = bytearray()
            for ch, attr in row:
                font = map_a if attr & 0x08 else map_b
                bits = vram[4 * (font + ch * 32 + gy) + 2]
                fg, bg = attr & 0x0F, attr >> 4
                if ar10 & 0x08:
                    bg &= 7  # bit 7 blinks instead
                ninth = char_w == 9 and ar10 & 0x04 and 0xC0 <= ch <= 0xDF and bits & 1
                key = (bits, fg, bg, ninth)
                span = spans.get(key)
                if span is None:
                    f, b = colours[fg], colours[bg]
                    span = b"".join(f if bits & (0x80 >> x) else b for x in range(8))
                    if char_w == 9:
                        span += f if ninth else b
                    spans[key] = span
                line += span
            out.append(bytes(line))
    _cursor(vga, out, cells, cols, char_w, char_h, start, stride, colours)
    return cols * char_w, rows * char_h, out


def _cursor(vga, out, cells, cols, char_w, char_h, start, stride, colours):
    """The cursor: scan lines CR0A..CR0B of the cell at CR0E:CR0F in the
    cell's foreground colour, unless CR0A bit 5 turns it off."""
    cr = vga.crtc
    top, bottom = cr[0x0A] & 0x1F, min(cr[0x0B] & 0x1F, char_h - 1)
    rel = (cr[0x0E] << 8 | cr[0x0F]) - start
    if cr[0x0A] & 0x20 or top > bottom or rel < 0 or not stride:
        return
    y, x = divmod(rel, stride)
    if y >= len(cells) or x >= cols:
        return
    fg = colours[cells[y][x][1] & 0x0F] * char_w
    for gy in range(top, bottom + 1):
        row = out[y * char_h + gy]
        out[y * char_h + gy] = row[:3 * char_w * x] + fg + row[3 * char_w * (x + 1):]


def _chain4(vga):
    cr = vga.crtc
    lines, scan = _display_lines(vga)
    w, h = (cr[1] + 1) * 4, max(1, lines // scan)
    line = cr[0x13] * 8
    start = (cr[0x0C] << 8 | cr[0x0D]) * 4
    pal = dac_rgb(vga)
    v = vga.vram
    return w, h, [b"".join(pal[b] for b in v[start + y * line:start + y * line + w]) for y in range(h)]


# _EXPAND[p][byte]: the 8 pixels of a plane byte, each (bit << p), as an int.
_EXPAND = [[int.from_bytes(bytes(((b >> (7 - x)) & 1) << p for x in range(8)), "big") for b in range(256)]
           for p in range(4)]


def _planar_rows(vga, w, h, start, line):
    ar = vga.ar
    enable = ar[0x12] & 0xF
    pal = dac_rgb(vga)
    colours = [pal[attr_to_dac(vga, c & enable)] for c in range(16)]
    v = vga.vram
    rows = []
    for y in range(h):
        out = bytearray()
        base = start + y * line
        for xb in range(w // 8):
            a = 4 * ((base + xb) & 0xFFFF)
            px = (_EXPAND[0][v[a]] | _EXPAND[1][v[a + 1]] | _EXPAND[2][v[a + 2]] | _EXPAND[3][v[a + 3]])
            out += b"".join(colours[c] for c in px.to_bytes(8, "big"))
        rows.append(bytes(out))
    return rows


def _planar(vga):
    cr = vga.crtc
    lines, scan = _display_lines(vga)
    w, h = (cr[1] + 1) * 8, max(1, lines // scan)
    return w, h, _planar_rows(vga, w, h, cr[0x0C] << 8 | cr[0x0D], cr[0x13] * 2)


def _dispi(vga):
    d = vga.dispi
    r = d.regs
    w, h, bpp = r[D.XRES], r[D.YRES], r[D.BPP]
    line, start = d.line_bytes, d.start
    if bpp == 4:
        return w, h, _planar_rows(vga, w, h, start, line)
    v = vga.vram
    n = w * D.bytes_per_pixel(bpp)
    rows = []
    pal = dac_rgb(vga) if bpp == 8 else None
    for y in range(h):
        a = start + y * line
        data = bytes(v[a:a + n]).ljust(n, b"\0")
        out = bytearray(w * 3)
        if bpp == 8:
            out = b"".join(pal[b] for b in data)
        elif bpp == 32:
            out[0::3], out[1::3], out[2::3] = data[2::4], data[1::4], data[0::4]
        elif bpp == 24:
            out[0::3], out[1::3], out[2::3] = data[2::3], data[1::3], data[0::3]
        else:
            g6 = bpp == 16
            for x in range(w):
                p = data[2 * x] | data[2 * x + 1] << 8
                r5, b5 = (p >> (11 if g6 else 10)) & 0x1F, p & 0x1F
                g = ((p >> 5) & 0x3F) << 2 if g6 else ((p >> 5) & 0x1F) << 3
                out[3 * x:3 * x + 3] = bytes(((r5 << 3) | (r5 >> 2), g | (g >> 6 if g6 else g >> 5), (b5 << 3) | (b5 >> 2)))
        rows.append(bytes(out))
    return w, h, rows
