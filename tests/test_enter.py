"""ENTER faults precisely (SDM vol. 2, ENTER): every access of the frame
(the push of EBP, the frame pointers copied from below EBP, FrameTemp)
and a write at the final stack pointer are checked before anything
changes, so a fault leaves memory, EBP and ESP as they were and EIP on the
ENTER: #SS(0) when the new ESP is outside the stack segment's limit, #PF
when a write using it would fault.

ENTER is lifted to a C helper (runtime/stack.c helper_enter) on every
tier, and each test runs on each tier: the baseline, the LLVM first tier
and regions.  The property test compares with Unicorn in a paged flat
model, where QEMU and the SDM agree on every access but the last: QEMU
does not check the final stack pointer, so there the SDM is asserted.
"""
import random
import struct

import pytest
from hypothesis import given, strategies as st
from unicorn import UC_ARCH_X86, UC_HOOK_INTR, UC_MODE_32, Uc, UcError
from unicorn import x86_const as U

import oracle
from jitemu._runtime import ffi, lib
from pmrom import TIERS, machine, pm_rom, result

SS, PF = 12, 14
HOLE = 0x300000  # a page left out of the page tables

# 0x20: a data segment, expand-down above 0FFFh, writable, B=1 (offsets 1000h-FFFFFFFFh)
EXPAND_DOWN = "    dq 0x0040970000000FFF\n"


def run(image, tier):
    m = machine(image, tier)
    assert m.run(max_instructions=200_000) == "halt"
    return m, result(m)


@pytest.mark.parametrize("tier", TIERS)
def test_enter_whose_new_esp_is_below_an_expand_down_stack_is_ss0_and_changes_nothing(tier):
    setup = """
    mov ax, 0x20
    mov ss, ax
    mov esp, 0x1100
    mov ebp, 0x2000
"""
    # EBP fits at 10FCh; 10FCh - 200h is below the segment's lower bound.
    m, r = run(pm_rom("enter 0x200, 0", setup=setup, gdt=EXPAND_DOWN), tier)
    assert (r["vector"], r["code"], r["count"]) == (SS, 0, 1)
    assert r["eip"] == r["mark"]
    assert r["esp"] == 0x1100 - 12 and r["ebp"] == 0x2000  # the #SS frame is right under the old ESP


@pytest.mark.parametrize("tier", TIERS)
def test_enter_whose_allocation_reaches_a_missing_page_is_pf_and_changes_nothing(tier):
    setup = "    mov esp, 0x%X\n    mov ebp, 0x1234\n" % (HOLE + 0x1100)
    m, r = run(pm_rom("enter 0x200, 0", setup=setup, unmapped=[HOLE]), tier)
    assert (r["vector"], r["code"], r["count"]) == (PF, 2, 1)  # a supervisor write, not present
    assert r["cr2"] == HOLE + 0x10FC - 0x200                    # the final ESP
    assert r["eip"] == r["mark"] and r["esp"] == HOLE + 0x1100 - 12 and r["ebp"] == 0x1234


@pytest.mark.parametrize("tier", TIERS)
def test_enter_copying_frame_pointers_from_a_missing_page_is_pf_and_changes_nothing(tier):
    setup = "    mov esp, 0x%X\n    mov ebp, 0x%X\n" % (HOLE + 0x2100, HOLE + 0x10)
    m, r = run(pm_rom("enter 8, 6", setup=setup, unmapped=[HOLE]), tier)
    assert (r["vector"], r["code"], r["cr2"]) == (PF, 0, HOLE + 0x0C)  # a read of [EBP-4]
    assert r["eip"] == r["mark"] and r["esp"] == HOLE + 0x2100 - 12 and r["ebp"] == HOLE + 0x10


@pytest.mark.parametrize("tier", TIERS)
def test_enter_that_fits_still_builds_its_frame(tier):
    setup = """
    mov esp, 0x6000
    mov ebp, 0x5800
    mov dword [0x5800 - 4], 0x11111111
    mov dword [0x5800 - 8], 0x22222222
"""
    code = """
    enter 0x10, 3
    mov [0x700], esp
    mov [0x704], ebp
    int 0x40
"""
    m, r = run(pm_rom(code, setup=setup), tier)
    assert r["vector"] == 0x40
    esp, ebp = struct.unpack("<II", m.read_phys(0x700, 8))
    assert (ebp, esp) == (0x5FFC, 0x5FFC - 12 - 0x10)
    assert struct.unpack("<4I", m.read_phys(0x5FF0, 16)) == (0x5FFC, 0x22222222, 0x11111111, 0x5800)


# -- the property test against Unicorn ----------------------------------------
PD, PT = 0x1000, 0x2000
GDT, TSS_A, TSS_B, IDT = 0x3000, 0x4000, 0x4100, 0x5000
TR_SEL = 0x5800                      # LTR's operand
HANDLER, CODE, HSTACK = 0x6000, 0x7000, 0x9000
LO, HI = 0x100000, 0x300000          # the stack window, random bytes
MEM_TOP = 0x400000
CODE_SEL, DATA_SEL, A_SEL, B_SEL = 0x08, 0x10, 0x18, 0x20
FLAT_CODE, FLAT_DATA = 0x00C09B00, 0x00C09300  # hidden-cache flags


def _descriptor(base, limit, access, flags):
    lo = (limit & 0xFFFF) | ((base & 0xFFFF) << 16)
    hi = ((base >> 16) & 0xFF) | (access << 8) | (limit & 0xF0000) | (flags << 20) | (base & 0xFF000000)
    return struct.pack("<II", lo, hi)


def _system():
    """Page tables, GDT, TSSs, IDT and the handler: a #PF goes through a
    task gate, so the faulting task's state lands in TSS A whatever its
    stack, and the handler task (TSS B) halts."""
    mem = bytearray(0x10000)
    gdt = bytes(8) + _descriptor(0, 0xFFFFF, 0x9B, 0xC) + _descriptor(0, 0xFFFFF, 0x93, 0xC) + \
        _descriptor(TSS_A, 0x67, 0x89, 0) + _descriptor(TSS_B, 0x67, 0x89, 0)
    mem[GDT:GDT + len(gdt)] = gdt
    struct.pack_into("<IIIIII", mem, TSS_B + 0x1C, PD, HANDLER, 0x2, 0, 0, 0)
    struct.pack_into("<I", mem, TSS_B + 0x38, HSTACK)
    struct.pack_into("<IIII", mem, TSS_B + 0x48, DATA_SEL, CODE_SEL, DATA_SEL, DATA_SEL)
    struct.pack_into("<II", mem, IDT + 14 * 8, B_SEL << 16, 0x8500)  # task gate
    struct.pack_into("<H", mem, TR_SEL, A_SEL)
    mem[HANDLER] = oracle.HLT
    struct.pack_into("<I", mem, PD, PT | 3)
    return mem, len(gdt) - 1


SYSTEM, GDT_LIMIT = _system()
POOL = random.Random(0xE17E).randbytes(HI - LO)


def _page_table(hole):
    pt = bytearray(struct.pack("<1024I", *((i << 12) | 3 for i in range(1024))))
    if hole is not None:
        struct.pack_into("<I", pt, (hole >> 12) * 4, 0)
    return bytes(pt)


def _code(op32, size, level):
    enter = (b"" if op32 else b"\x66") + b"\xC8" + struct.pack("<HB", size, level)
    return b"\x0F\x00\x1D" + struct.pack("<I", TR_SEL) + enter + bytes([oracle.HLT])  # LTR [TR_SEL]


def accesses(op32, size, level, esp, ebp):
    """ENTER's accesses in the SDM's order: (offset, bytes, write)."""
    w = 4 if op32 else 2
    frame = (esp - w) & 0xFFFFFFFF
    out = [(frame, w, True)]
    for i in range(1, level):
        out += [((ebp - i * w) & 0xFFFFFFFF, w, False), ((frame - i * w) & 0xFFFFFFFF, w, True)]
    if level:
        out.append(((frame - level * w) & 0xFFFFFFFF, w, True))
    out.append(((frame - level * w - size) & 0xFFFFFFFF, w, True))  # the final ESP
    return out


def first_fault(acc, hole):
    """(index, CR2, error code) of the first access touching the missing
    page, or None."""
    for i, (a, n, write) in enumerate(acc):
        if hole is not None and a < hole + 0x1000 and a + n > hole:
            return i, max(a, hole), 2 if write else 0
    return None


class JitemuPaged:
    def __init__(self, tier):
        self.m = machine(b"\xf4" * 0x10000, tier)
        self.ram = lib.rt_ram(self.m.s)
        self.code = None

    def run(self, code, regs, eflags, hole):
        m, s = self.m, self.m.s
        ffi.memmove(self.ram, bytes(SYSTEM), len(SYSTEM))
        ffi.memmove(self.ram + PT, _page_table(hole), 4096)
        ffi.memmove(self.ram + LO, POOL, HI - LO)
        if code != self.code:
            m.write_phys(CODE, code)
            self.code = code
        for i in range(8):
            s.regs[i] = regs[i]
        s.eflags = eflags
        s.cr[0], s.cr[3] = 0x80000011, PD
        s.gdt_base, s.gdt_limit, s.idt_base, s.idt_limit = GDT, GDT_LIMIT, IDT, 0x7F
        for i in range(6):
            sel, flags = (CODE_SEL, FLAT_CODE) if i == 1 else (DATA_SEL, FLAT_DATA)
            s.seg_sel[i], s.seg_base[i], s.seg_limit[i], s.seg_flags[i] = sel, 0, 0xFFFFFFFF, flags
        s.tr_sel = 0
        s.eip, s.halted = CODE, 0
        lib.cpu_update_hflags(s)
        lib.cpu_tlb_flush(s)
        assert m.run(max_instructions=20) == "halt"
        if s.tr_sel == B_SEL:  # the #PF switched tasks: the faulting state is in TSS A
            eip, efl = struct.unpack("<II", m.read_phys(TSS_A + 0x20, 8))
            out = {"fault": 14, "regs": list(struct.unpack("<8I", m.read_phys(TSS_A + 0x28, 32))),
                   "eip": eip, "eflags": efl, "cr2": s.cr[2],
                   "code": struct.unpack("<I", m.read_phys(HSTACK - 4, 4))[0]}
        else:
            out = {"fault": None, "regs": [s.regs[i] for i in range(8)], "eip": s.eip, "eflags": s.eflags}
        out["mem"] = bytes(ffi.buffer(self.ram + LO, HI - LO))
        return out


_UREGS = [U.UC_X86_REG_EAX, U.UC_X86_REG_ECX, U.UC_X86_REG_EDX, U.UC_X86_REG_EBX,
          U.UC_X86_REG_ESP, U.UC_X86_REG_EBP, U.UC_X86_REG_ESI, U.UC_X86_REG_EDI]


def unicorn_run(code, regs, eflags, hole):
    uc = Uc(UC_ARCH_X86, UC_MODE_32)  # a new one each time: a hooked fault leaves QEMU mid-delivery
    uc.mem_map(0, MEM_TOP)
    uc.mem_write(0, bytes(SYSTEM))
    uc.mem_write(PT, _page_table(hole))
    uc.mem_write(LO, POOL)
    uc.mem_write(CODE, code)
    seen = {}

    def intr(uc, vector, _):
        seen.update(fault=vector, regs=[uc.reg_read(r) for r in _UREGS], eip=uc.reg_read(U.UC_X86_REG_EIP),
                    eflags=uc.reg_read(U.UC_X86_REG_EFLAGS), cr2=uc.reg_read(U.UC_X86_REG_CR2))
        uc.emu_stop()

    uc.hook_add(UC_HOOK_INTR, intr)
    uc.reg_write(U.UC_X86_REG_GDTR, (0, GDT, GDT_LIMIT, 0))
    uc.reg_write(U.UC_X86_REG_IDTR, (0, IDT, 0x7F, 0))
    uc.reg_write(U.UC_X86_REG_CR3, PD)
    uc.reg_write(U.UC_X86_REG_CR0, 0x80000011)
    for r in (U.UC_X86_REG_SS, U.UC_X86_REG_DS, U.UC_X86_REG_ES, U.UC_X86_REG_FS, U.UC_X86_REG_GS):
        uc.reg_write(r, DATA_SEL)
    uc.reg_write(U.UC_X86_REG_CS, CODE_SEL)
    for r, v in zip(_UREGS, regs):
        uc.reg_write(r, v)
    uc.reg_write(U.UC_X86_REG_EFLAGS, eflags)
    try:
        uc.emu_start(CODE, 0xFFFFF000, count=10)
    except UcError as e:
        raise AssertionError("unicorn: %s" % e)
    if not seen:
        seen = {"fault": None, "regs": [uc.reg_read(r) for r in _UREGS], "eip": uc.reg_read(U.UC_X86_REG_EIP),
                "eflags": uc.reg_read(U.UC_X86_REG_EFLAGS)}
    seen["mem"] = bytes(uc.mem_read(LO, HI - LO))
    return seen


@st.composite
def enter_cases(draw):
    op32 = draw(st.booleans())
    size = draw(st.one_of(st.integers(0, 0x40), st.integers(0, 0xFFFF)))
    level = draw(st.one_of(st.integers(0, 4), st.integers(0, 31)))
    esp = draw(st.integers(LO + 0x20000, HI - 0x10))
    ebp = draw(st.one_of(st.integers(esp - 0x100, esp + 0x100), st.integers(LO + 0x1000, HI - 0x10)))
    regs = [draw(oracle.u32) for _ in range(8)]
    regs[4], regs[5] = esp, ebp
    acc = accesses(op32, size, level, esp, ebp)
    # The missing page: under the final ESP, under any access (its first
    # or last byte), or none.
    target = draw(st.sampled_from(["final", "any", "none"]))
    hole = None
    if target != "none":
        a, n, _ = acc[-1] if target == "final" else acc[draw(st.integers(0, len(acc) - 1))]
        hole = ((a + draw(st.sampled_from([0, n - 1]))) & ~0xFFF) & 0xFFFFFFFF
    eflags = 0x2 | (draw(st.integers(0, 0xFFF)) & oracle.ARITH)
    return op32, size, level, regs, eflags, hole


_MACHINES = {}


@pytest.mark.parametrize("tier", TIERS)
@given(case=enter_cases())
@oracle.settings(25)
def test_enter_faults_like_the_sdm_and_unicorn_in_a_paged_flat_model(tier, case):
    op32, size, level, regs, eflags, hole = case
    code = _code(op32, size, level)
    j = _MACHINES.setdefault(tier, JitemuPaged(tier)).run(code, regs, eflags, hole)
    u = unicorn_run(code, regs, eflags, hole)
    enter_eip = CODE + 7
    fault = first_fault(accesses(op32, size, level, regs[4], regs[5]), hole)
    if fault is None:
        assert j["fault"] is None and u["fault"] is None
    else:
        # The SDM: a #PF at the first access that touches the missing page,
        # with every register as before ENTER and nothing written.
        index, cr2, code_ = fault
        assert (j["fault"], j["cr2"], j["code"], j["eip"]) == (PF, cr2, code_, enter_eip)
        assert j["regs"] == regs and j["eflags"] == eflags
        assert j["mem"] == POOL
        if index == len(accesses(op32, size, level, regs[4], regs[5])) - 1:
            assert u["fault"] is None  # QEMU does not check the final ESP: nothing to compare
            return
        # QEMU faults at the same access (it may have written the frame
        # above it, which the SDM does not say; memory is not compared).
        assert (u["fault"], u["cr2"], u["eip"], u["regs"]) == (PF, cr2, enter_eip, regs)
        return
    # No fault: the same frame, registers and flags.  (A 16-bit ENTER on a
    # 32-bit stack: QEMU writes all of EBP, the SDM only BP; not compared.)
    ebp_mask = 0xFFFFFFFF if op32 else 0xFFFF
    assert j["eip"] == u["eip"] and j["eflags"] == u["eflags"]
    assert [a ^ b for a, b in zip(j["regs"], u["regs"])] == [0] * 5 + [(j["regs"][5] ^ u["regs"][5]) & ~ebp_mask] + [0, 0]
    assert j["mem"] == u["mem"]
