"""What a VGA (vga.py) shows, as RGB rows, from its registers and VRAM:

    text modes     characters from plane 0, attributes from plane 1, glyphs
                   from the font the guest loaded into plane 2 (character
                   map select, 8 or 9 dots, line-graphics 9th column),
                   colours through the attribute palette and the DAC;
                   blinking characters and the cursor (CR0A-CR0F) are
                   drawn in their visible phase
    256 colours    (GC 5 bit 6: mode 13h, chain-4) a byte per pixel
    CGA 4 colours  (GC 5 bit 5: modes 4 and 5) two bits per pixel
    16 colours     (planar, mode 12h and kin; mode 6 is plane 0 alone) a
                   bit per pixel in each plane
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
        return _graphics(vga)
    return _text(vga)


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


def _row_addresses(vga):
    """The plane address each displayed row of a graphics mode starts at,
    and the row's length in character clocks, from the CRTC: the display
    end, double scan and scan lines per row (CR9; rows that repeat an
    address are one row of the picture), the start address and offset
    (CR0C/0D, CR13 x 2 per row), byte, word (MA13 or MA15 into bit 0) or
    doubleword addressing (chain-4 VRAM is dense here, so a doubleword
    address is the plane address itself), and CGA/Hercules row interleave
    (CR17 bits 0-1 put row scan bits in address bits 13/14)."""
    cr = vga.crtc
    vde = cr[0x12] | ((cr[7] & 0x02) << 7) | ((cr[7] & 0x40) << 3)
    scans = (cr[9] & 0x1F) + 1
    unit = scans if cr[0x17] & 3 == 3 else 1
    height = max(1, ((vde + 1) >> (cr[9] >> 7)) // unit)
    start, offset = cr[0x0C] << 8 | cr[0x0D], cr[0x13] * 2
    word = not cr[0x17] & 0x40 and not cr[0x14] & 0x40
    wrap = 15 if cr[0x17] & 0x20 else 13
    rows = []
    for r in range(height):
        rs, crow = divmod(r * unit, scans)[::-1]
        a = start + crow * offset
        if word:
            a = (a << 1) | ((a >> wrap) & 1)
        if not cr[0x17] & 1:  # (the output address's bits, after word mode's shift)
            a = (a & ~0x2000) | ((rs & 1) << 13)
        if not cr[0x17] & 2:
            a = (a & ~0x4000) | ((rs & 2) << 13)
        rows.append(a)
    return rows, cr[1] + 1, 2 if word else 1


# _EXPAND[p][byte]: the 8 pixels of a plane byte, each (bit << p), as an int.
_EXPAND = [[int.from_bytes(bytes(((b >> (7 - x)) & 1) << p for x in range(8)), "big") for b in range(256)]
           for p in range(4)]
# _CGA[byte]: the 4 two-bit pixels of a byte, most significant first.
_CGA = [bytes((b >> s) & 3 for s in (6, 4, 2, 0)) for b in range(256)]


def _colours16(vga):
    pal = dac_rgb(vga)
    enable = vga.ar[0x12] & 0xF
    return [pal[attr_to_dac(vga, c & enable)] for c in range(16)]


def _graphics(vga):
    """A graphics mode: 256 colours (GC 5 bit 6: four planes' bytes are
    four pixels through the DAC), CGA four colours (GC 5 bit 5: planes 0
    and 1's bytes, two bits a pixel), or planar (a bit from each plane);
    the last two through the attribute palette."""
    rows, clocks, step = _row_addresses(vga)
    v = vga.vram
    if vga.gc[5] & 0x40:
        pal = dac_rgb(vga)
        out = [b"".join(pal[b] for b in _span(v, a, clocks, step)) for a in rows]
        return 4 * clocks, len(rows), out
    colours = _colours16(vga)
    if vga.gc[5] & 0x20:
        out = []
        for a in rows:
            line = bytearray()
            for i in range(clocks):
                p = 4 * ((a + i * step) & 0xFFFF)
                line += b"".join(colours[c] for c in _CGA[v[p]] + _CGA[v[p + 1]])
            out.append(bytes(line))
        return 8 * clocks, len(rows), out
    return 8 * clocks, len(rows), [_planar_row(v, a, clocks, step, colours) for a in rows]


def _span(v, a, clocks, step):
    """The four planes' bytes at `clocks` plane addresses from `a`."""
    out = bytearray()
    for i in range(clocks):
        p = 4 * ((a + i * step) & 0xFFFF)
        out += v[p:p + 4]
    return out


def _planar_row(v, a, clocks, step, colours):
    out = bytearray()
    for i in range(clocks):
        p = 4 * ((a + i * step) & 0xFFFF)
        px = _EXPAND[0][v[p]] | _EXPAND[1][v[p + 1]] | _EXPAND[2][v[p + 2]] | _EXPAND[3][v[p + 3]]
        out += b"".join(colours[c] for c in px.to_bytes(8, "big"))
    return bytes(out)


def _dispi(vga):
    d = vga.dispi
    r = d.regs
    w, h, bpp = r[D.XRES], r[D.YRES], r[D.BPP]
    line, start = d.line_bytes, d.start
    if bpp == 4:
        colours = _colours16(vga)
        return w, h, [_planar_row(vga.vram, start + y * line, w // 8, 1, colours) for y in range(h)]
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
