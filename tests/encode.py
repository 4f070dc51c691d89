"""Turning the table's opcode templates into concrete 16-bit-mode bytes.

A template is SDM notation: hex opcode bytes, `XX+r` (register in the low
3 bits), `/r` or `/digit` (a ModRM byte; `/m`: memory forms only), then immediates `ib` `iw` `iv`
(word or dword by operand size), relative targets `cb` `cv`, `moffs` (a
direct address by address size) and `ptr` (a far pointer).

`variants(template, rng)` gives a handful of concrete encodings of one
template: register and memory ModRM forms, 16-bit forms like [bx+si+disp8]
and [bp+disp16], 0x67 32-bit forms like [eax+ecx*4+disp32], with and
without 0x66, sometimes a segment override.  The oracle keeps 32-bit
addresses inside its memory window by adjusting the base or index register,
so displacements here may be anything.
"""
import random
import struct
from dataclasses import dataclass

# Targets of relative jumps and far pointers must land on the oracle's HLT
# filler: never inside the instruction itself, and far pointers above the
# memory window (linear 0x70000 and up, below 1 MiB).
FAR_SEL_LO, FAR_SEL_HI = 0x7100, 0xEFFF
CODE_IP = 0x0100

SEG_OVERRIDES = (0x26, 0x36, 0x3E, 0x64, 0x65)  # ES SS DS FS GS (no CS: code lives there)


@dataclass
class Encoding:
    code: bytes
    template: str
    op32: bool = False
    addr32: bool = False
    form: str = ""          # "reg", "mem16", "mem32", or "" without ModRM
    code32: bool = False    # for 32-bit code (0x66 and 0x67 select 16 bits)

    @property
    def id(self):
        return self.code.hex().upper()


def parse(template):
    """Split a template into (opcode bytes, plus_r, modrm, immediates)."""
    opcode, plus_r, modrm, imms = [], False, None, []
    for tok in template.split():
        if tok.endswith("+r"):
            opcode.append(int(tok[:-2], 16))
            plus_r = True
        elif tok in ("/r", "/m"):
            modrm = tok[1]          # /m: a register and a memory operand only
        elif tok.startswith("/"):
            modrm = int(tok[1:])
        elif tok in ("ib", "iw", "iv", "cb", "cv", "moffs", "ptr"):
            imms.append(tok)
        else:
            opcode.append(int(tok, 16))
    return opcode, plus_r, modrm, imms


def _edge_int(rng, bits):
    top = (1 << bits) - 1
    return rng.choice([0, 1, 2, top, top >> 1, (top >> 1) + 1, rng.randrange(1 << bits),
                       rng.randrange(1 << bits), rng.randrange(16)])


def modrm16(rng, reg, kind):
    """A 16-bit-address ModRM byte plus displacement for a memory form."""
    if kind == "direct":
        return bytes([(reg << 3) | 6]) + struct.pack("<H", rng.randrange(0x10000))
    mod = rng.choice([0, 1, 2])
    rm = rng.choice([r for r in range(8) if not (mod == 0 and r == 6)])
    out = bytes([(mod << 6) | (reg << 3) | rm])
    if mod == 1:
        out += bytes([rng.randrange(256)])
    elif mod == 2:
        out += struct.pack("<H", rng.randrange(0x10000))
    return out


def modrm32(rng, reg, avoid=()):
    """A 32-bit-address ModRM (with SIB sometimes) plus displacement.
    `avoid` lists registers that must not take part in the address."""
    ok = [r for r in range(8) if r not in avoid]
    shape = rng.choice(["base", "sib", "sib", "disp32", "sib_nobase"])
    if shape == "disp32":
        return bytes([(reg << 3) | 5]) + struct.pack("<I", rng.randrange(0x100, 0xFF00))
    mod = rng.choice([0, 1, 2])
    if shape == "base":
        rm = rng.choice([r for r in ok if r != 4 and not (mod == 0 and r == 5)])
        out = bytes([(mod << 6) | (reg << 3) | rm])
    else:
        scale = rng.randrange(4)
        index = rng.choice([r for r in ok if r != 4] + [4])  # 4: no index
        if shape == "sib_nobase":
            mod, base = 0, 5                                  # [index*s + disp32]
            if index == 4:
                index = rng.choice([r for r in ok if r != 4] or [4])
        else:
            base = rng.choice([r for r in ok if not (mod == 0 and r == 5)] or [0])
        out = bytes([(mod << 6) | (reg << 3) | 4, (scale << 6) | (index << 3) | base])
        if base == 5 and mod == 0:
            return out + struct.pack("<I", rng.randrange(1 << 32))
    if mod == 1:
        out += bytes([rng.randrange(256)])
    elif mod == 2:
        out += struct.pack("<I", rng.randrange(1 << 32))
    return out


def _imm(rng, kind, op32, addr32, shift_counts=False):
    if kind == "ib":
        if shift_counts:
            return bytes([rng.choice([0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, rng.randrange(256)])])
        return bytes([_edge_int(rng, 8)])
    if kind == "iw":
        return struct.pack("<H", _edge_int(rng, 16))
    if kind == "iv":
        return struct.pack("<I", _edge_int(rng, 32)) if op32 else struct.pack("<H", _edge_int(rng, 16))
    if kind == "moffs":
        return struct.pack("<I", rng.randrange(0xFFF0)) if addr32 else struct.pack("<H", rng.randrange(0x10000))
    if kind == "ptr":
        off = rng.randrange(0x10000)
        sel = rng.randrange(FAR_SEL_LO, FAR_SEL_HI)
        return (struct.pack("<I", off) if op32 else struct.pack("<H", off)) + struct.pack("<H", sel)
    raise ValueError(kind)


def _rel(rng, kind, op32, start_len):
    """A relative displacement whose target is neither inside the
    instruction nor (with a 32-bit operand size) beyond 64 KiB."""
    size = 1 if kind == "cb" else (4 if op32 else 2)
    length = start_len + size
    while True:
        if size == 1:
            d = rng.choice([rng.randrange(-128, 128), -128, 127, 0])
        elif size == 2:
            d = rng.choice([rng.randrange(-0x8000, 0x8000), -0x8000, 0x7FFF, 0, rng.randrange(-300, 300)])
        else:
            d = rng.randrange(-CODE_IP - length, 0x10000 - CODE_IP - length)
        if not -length <= d < 0:
            break
    fmt = {1: "<b", 2: "<h", 4: "<i"}[size]
    return struct.pack(fmt, d)


def encode(template, rng, op32=False, form="reg", seg=None, reg=None, rm=None, shift_counts=False,
           restrict_reg=None, code32=False):
    """One concrete encoding of `template`.  `op32` and the form give the
    operand and address sizes; `code32`: for a 32-bit code segment, where
    0x66 and 0x67 select 16 bits."""
    opcode, plus_r, modrm, imms = parse(template)
    if code32:
        addr32 = form == "mem32" or (form == "" and not ("moffs" in imms and rng.random() < 0.3))
    else:
        addr32 = form == "mem32" or (form == "" and "moffs" in imms and rng.random() < 0.3)
    prefix = bytearray()
    if seg is not None:
        prefix.append(seg)
    if op32 != code32:
        prefix.append(0x66)
    if addr32 != code32:
        prefix.append(0x67)
    body = bytearray(opcode)
    if plus_r:
        body[-1] += reg if reg is not None else rng.randrange(8)
    if modrm is not None:
        r = modrm if isinstance(modrm, int) else (reg if reg is not None else
                                                  rng.choice(restrict_reg or range(8)))
        if form == "reg":
            body.append(0xC0 | (r << 3) | (rm if rm is not None else rng.randrange(8)))
        elif form == "mem16":
            body += modrm16(rng, r, "direct" if rng.random() < 0.15 else "any")
        else:
            # With /r the register operand stays out of the address, so the
            # oracle can move the address without changing that operand.
            body += modrm32(rng, r, avoid=(r,) if modrm in ("r", "m") else ())
    for kind in imms:
        if kind in ("cb", "cv"):
            body += _rel(rng, kind, op32, len(prefix) + len(body))
        else:
            body += _imm(rng, kind, op32, addr32, shift_counts)
    return Encoding(bytes(prefix + body), template, op32, addr32, form if modrm is not None else "", code32)


def variants(template, rng, word=True, forms=("reg", "mem16", "mem16", "mem32"), shift_counts=False,
             restrict_reg=None, n_plain=1, code32=False):
    """Several concrete encodings of one template: each ModRM form (or
    `n_plain` encodings without ModRM), with and (when `word`) without 0x66;
    one 16-bit memory form gets a segment override."""
    _, _, modrm, _ = parse(template)
    out = []
    for op32 in ((False, True) if word else (code32,)):   # (no 0x66 without `word`)
        if modrm is None:
            for _ in range(n_plain):
                out.append(encode(template, rng, op32, "", shift_counts=shift_counts, code32=code32))
            continue
        seg_done = False
        for form in forms if modrm != "m" else [f for f in forms if f != "reg"] or ["mem16"]:
            seg = None
            if form == "mem16" and not seg_done and rng.random() < 0.6:
                seg, seg_done = rng.choice(SEG_OVERRIDES), True
            out.append(encode(template, rng, op32, form, seg=seg, shift_counts=shift_counts,
                              restrict_reg=restrict_reg, code32=code32))
    seen, uniq = set(), []
    for e in out:
        if e.code not in seen:
            seen.add(e.code)
            uniq.append(e)
    return uniq


def rng_for(*key):
    """A deterministic RNG per test case, so test ids are stable."""
    return random.Random(repr(key))
