"""Segment limits in 32-bit protected mode, checked by hand against the
SDM: Unicorn (QEMU TCG) checks no data-segment limits, and its RETF/IRET
not the CS limit, so the differential tests cannot judge these.  Runs on
the oracle's protected-mode jitemu machine (tests/oracle32.py: GDT 0x88 an
expand-up data segment with limit 0xFFF, 0x90 an expand-down one above
0xFFF, 0x30 code at base 0x2000 with limit 0xDFFF)."""
import struct

import pytest

import oracle
import oracle32

GP, SS_FAULT = 13, 12
ESP = 0x20000


def run(code, segs=None, regs=None, plants=()):
    s = oracle.State([0] * 8, 0x2, 0, 0, segs=dict(oracle32.SEGS, **(segs or {})), bases=dict(oracle32.BASES),
                     background=[oracle32.LOW_HLT])
    s.regs[4] = ESP
    for i, v in (regs or {}).items():
        s.regs[i] = v
    s.bases = {n: oracle32.cache_of(sel)[0] for n, sel in s.segs.items()}
    for lin, data in plants:
        s.plant(lin, data)
    j = oracle32.machines()[0]
    why, snap = j.run(bytes.fromhex(code), s)
    assert why == "halt"
    return snap


def fault_frame(snap, vector, esp=ESP):
    """The exception's vector (from the handler EIP), its error code and
    the EIP it saved, from a 32-bit interrupt gate frame below `esp`."""
    assert snap["eip"] == oracle32.handler(vector) + 1, hex(snap["eip"])
    assert snap["regs"][4] == esp - 16
    err, eip, cs, _ = struct.unpack_from("<IIII", snap["mem"], esp - 16)
    return err, eip, cs


@pytest.mark.parametrize("code, off, ok", [
    ("8B05FC0F0000", 0xFFC, True),      # mov eax, [0xFFC]: the last dword
    ("8B05FD0F0000", 0xFFD, False),     # mov eax, [0xFFD]: its last byte past the limit
    ("8A05FF0F0000", 0xFFF, True),      # mov al, [0xFFF]
    ("8A0500100000", 0x1000, False),    # mov al, [0x1000]
    ("C705FE0F000001000000", 0xFFE, False),   # mov dword [0xFFE], 1
])
def test_expand_up_data_limit(code, off, ok):
    snap = run(code, segs={"ds": 0x88}, regs={0: 0x5A5A5A5A})
    if ok:
        assert snap["eip"] == oracle.CODE_IP + len(code) // 2 + 1
    else:
        err, eip, cs = fault_frame(snap, GP)
        assert (err, eip, cs) == (0, oracle.CODE_IP, 0x08)
        assert snap["regs"][0] == 0x5A5A5A5A    # nothing loaded


@pytest.mark.parametrize("off, ok", [(0x1000, True), (0xFFFFFFFC, True), (0xFFF, False), (0x800, False),
                                     (0xFFFFFFFD, True)])
def test_expand_down_stack_segment_limit(off, ok):
    """SS expand-down with limit 0xFFF and B=1: offsets 0x1000-0xFFFFFFFF
    are valid, below is #SS(0).  (A byte read: the dword at 0xFFFFFFFD
    would wrap past 4 GiB.)  The fault frame goes on the valid stack."""
    code = "368A05" + struct.pack("<I", off).hex()      # mov al, ss:[off]
    snap = run(code, segs={"ss": 0x90})
    if ok:
        assert snap["eip"] == oracle.CODE_IP + 8
    else:
        err, eip, cs = fault_frame(snap, SS_FAULT)
        assert (err, eip, cs) == (0, oracle.CODE_IP, 0x08)


def test_push_onto_expand_down_stack():
    # ESP 0x1004: the push to 0x1000 is inside the segment.
    snap = run("50", segs={"ss": 0x90}, regs={4: 0x1004, 0: 0x12345678})
    assert snap["regs"][4] == 0x1000 and snap["mem"][0x1000:0x1004] == struct.pack("<I", 0x12345678)


@pytest.mark.parametrize("code", ["EA00E000003000", "66EA00E03000", "9A00E000003000"])
def test_far_transfer_past_cs_limit(code):
    """JMP/CALL 0030:E000 (limit 0xDFFF): #GP(0), nothing pushed."""
    err, eip, cs = fault_frame(run(code), GP)
    assert (err, eip, cs) == (0, oracle.CODE_IP, 0x08)
    ok = run(code.replace("00E0", "FFDF", 1))      # 0030:DFFF, the last byte
    assert ok["segs"]["cs"] == 0x30 and ok["eip"] == 0xE000


@pytest.mark.parametrize("code, w", [("CB", 4), ("66CB", 2), ("CF", 4)])
def test_return_past_cs_limit(code, w):
    """RETF/IRET to 0030:E000: #GP(0) before anything is popped
    (QEMU runs on past the limit)."""
    frame = (0xE000).to_bytes(w, "little") + (0x30).to_bytes(w, "little") + (2).to_bytes(w, "little")
    err, eip, cs = fault_frame(run(code, plants=[(ESP, frame)]), GP)
    assert (err, eip, cs) == (0, oracle.CODE_IP, 0x08)


def test_return_within_cs_limit():
    frame = struct.pack("<II", 0xDFFF, 0x30)
    snap = run("CB", plants=[(ESP, frame)])
    assert snap["segs"]["cs"] == 0x30 and snap["eip"] == 0xE000


@pytest.mark.parametrize("code, pop", [("C2FFFF", 4), ("66C20080", 2), ("CAFFFF", 8)])
def test_ret_imm16_is_unsigned(code, pop):
    """RET/RETF imm16 on a 32-bit stack: ESP + pop + imm16, zero-extended
    (QEMU sign-extends it)."""
    imm = int.from_bytes(bytes.fromhex(code)[-2:], "little")
    frame = struct.pack("<II", 0x1000, 0x08)
    snap = run(code, plants=[(ESP, frame)])
    assert snap["eip"] == 0x1001
    assert snap["regs"][4] == ESP + pop + imm
