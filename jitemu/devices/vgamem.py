"""How the VGA's graphics controller and sequencer turn a CPU access in the
legacy window into plane accesses (the slow path: planar modes, and any
mode the runtime cannot map straight to host memory).

VRAM is kept as the hardware holds it: four planes, byte `a` of plane `p`
at vram[4 * a + p], so a chain-4 CPU offset is the VRAM index itself.

Writes (sequencer 4 bit 3 chain-4, bit 2 clear: odd/even):
    chain-4      the byte goes to plane offset & 3, if the map mask allows
    odd/even     even offsets to planes 0 and 2, odd to 1 and 3 (map mask
                 permitting), at plane address offset & ~1
    planar       every plane the map mask (sequencer 2) allows
  through the write mode (GC 5 bits 1-0): 0 rotate (GC 3 bits 2-0), set/
  reset (GC 0, enabled per plane by GC 1), logical operation with the
  latches (GC 3 bits 4-3: none, AND, OR, XOR), bit mask (GC 8); 1 the
  latches themselves; 2 the data's low 4 bits as whole planes; 3 set/reset
  masked by the rotated data AND the bit mask.
Reads load the four latches; chain-4 returns the byte, odd/even (GC 5 bit
4) plane (GC 4 & 2) | (offset & 1), read mode 0 plane GC 4, read mode 1
the colour compare (GC 2, GC 7 "don't care")."""

LOGIC_NONE, LOGIC_AND, LOGIC_OR, LOGIC_XOR = 0, 1, 2, 3
PLANE_MASK = 0xFFFF  # a plane is 64 KiB


def _expand(bit):
    return 0xFF if bit else 0x00


def _rotate(v, n):
    return ((v >> n) | (v << (8 - n))) & 0xFF


def plane_address(vga, offset):
    """(plane address, planes this write may touch) for a CPU offset in the
    window, outside chain-4."""
    mask = vga.seq[2] & 0xF
    if not vga.seq[4] & 0x04:  # odd/even
        mask &= 0xA if offset & 1 else 0x5
        return (offset & ~1) & PLANE_MASK, mask
    return offset & PLANE_MASK, mask


def write(vga, offset, value):
    vram = vga.vram
    if vga.seq[4] & 0x08:  # chain-4
        i = vga.bank_offset + offset
        if vga.seq[2] & (1 << (offset & 3)) and i < len(vram):
            vram[i] = value
        return
    addr, mask = plane_address(vga, offset)
    if not mask:
        return
    gc = vga.gc
    base = 4 * addr
    if not gc[5] & 3 and not gc[3] and gc[8] == 0xFF and not gc[1] & mask:
        # write mode 0 with nothing to apply (a BIOS clearing the screen)
        if mask == 0xF:
            vram[base:base + 4] = bytes((value, value, value, value))
        else:
            for p in range(4):
                if mask & (1 << p):
                    vram[base + p] = value
        return
    latch = vga.latch
    mode = gc[5] & 3
    if mode == 1:
        for p in range(4):
            if mask & (1 << p):
                vram[base + p] = latch[p]
        return
    op = (gc[3] >> 3) & 3
    bitmask = gc[8]
    if mode == 0:
        v = _rotate(value, gc[3] & 7)
        data = [_expand(gc[0] & (1 << p)) if gc[1] & (1 << p) else v for p in range(4)]
    elif mode == 2:
        data = [_expand(value & (1 << p)) for p in range(4)]
    else:
        bitmask &= _rotate(value, gc[3] & 7)
        data = [_expand(gc[0] & (1 << p)) for p in range(4)]
    for p in range(4):
        if not mask & (1 << p):
            continue
        d, lat = data[p], latch[p]
        if op == LOGIC_AND:
            d &= lat
        elif op == LOGIC_OR:
            d |= lat
        elif op == LOGIC_XOR:
            d ^= lat
        vram[base + p] = (d & bitmask) | (lat & ~bitmask & 0xFF)


def read(vga, offset):
    vram = vga.vram
    gc = vga.gc
    if vga.seq[4] & 0x08:  # chain-4
        i = vga.bank_offset + offset
        return vram[i] if i < len(vram) else 0xFF
    odd_even = gc[5] & 0x10
    addr = ((offset & ~1) if odd_even else offset) & PLANE_MASK
    base = 4 * addr
    latch = vga.latch
    latch[:] = vram[base:base + 4]
    if odd_even:
        return latch[(gc[4] & 2) | (offset & 1)]
    if not gc[5] & 0x08:
        return latch[gc[4] & 3]
    differ = 0
    for p in range(4):
        if gc[7] & (1 << p):
            differ |= latch[p] ^ _expand(gc[2] & (1 << p))
    return ~differ & 0xFF
