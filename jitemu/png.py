"""A minimal PNG writer (8-bit RGB, no dependencies): screenshots and plots."""
import struct
import zlib


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_rgb(width, height, rows):
    """rows: `height` bytes-likes of width*3 bytes (R, G, B per pixel)."""
    raw = b"".join(b"\x00" + bytes(r) for r in rows)  # filter type 0 per row
    return (b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw, 6))
            + _chunk(b"IEND", b""))


def write_rgb(path, width, height, rows):
    with open(path, "wb") as f:
        f.write(encode_rgb(width, height, rows))
