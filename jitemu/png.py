"""A minimal PNG writer (8-bit RGB or palette, no dependencies): screenshots
and plots."""
import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(width, height, colour_type, rows, extra=b""):
    raw = b"".join(b"\x00" + bytes(r) for r in rows)  # filter type 0 per row
    return (SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0))
            + extra + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b""))


def encode_rgb(width, height, rows):
    """rows: `height` bytes-likes of width*3 bytes (R, G, B per pixel)."""
    return _png(width, height, 2, rows)


def encode_palette(width, height, rows, palette):
    """rows: `height` rows of `width` indices into `palette` [(r, g, b)]."""
    return _png(width, height, 3, rows, _chunk(b"PLTE", b"".join(bytes(c) for c in palette)))


def write_rgb(path, width, height, rows):
    with open(path, "wb") as f:
        f.write(encode_rgb(width, height, rows))
