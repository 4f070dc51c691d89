"""The differential oracle in 32-bit protected mode, ring 0, flat segments.

Both machines run with CR0.PE set, a GDT and an IDT in memory and CS, SS,
DS, ES flat (base 0, limit 4 GiB; CS 32-bit code, SS a 32-bit stack), so
jitemu's blocks are keyed as flat 32-bit protected mode (HF_FLAT).  FS and
GS hold flat-sized data segments with non-zero bases.  Memory (linear is
physical, no paging):

    0x00000-0x0FFFF  the low window: random bytes (16-bit addresses land
                     here), the instruction at EIP 0100 and HLT after it;
                     flow tests fill it with HLT so 16-bit branch targets
                     (EIP truncated by 0x66) halt
    0x10000-0x6000F  the high window: random bytes, ESP and 32-bit
                     addresses are moved here
    0x70000          the GDT (SELECTORS below), compared after the run
    0x71000          the IDT: vector v -> 0008:(72000 + 16 v), 32-bit
                     interrupt gates, DPL 3
    elsewhere        HLT filler

Unicorn leaves interrupt delivery to a UC_HOOK_INTR hook, which does what
a 32-bit interrupt gate at the same privilege does (push EFLAGS, CS, EIP
and an error code; clear TF NT RF VM IF).  Unicorn does not tell the hook
the error code: it pushes 0 and the slot is not compared (tests/
test_pm_limits.py checks error codes by hand).
"""
import struct

from unicorn import UC_ARCH_X86, UC_MODE_32, Uc
from unicorn import x86_const as U

import oracle
from oracle import HLT, SEG_NAMES, State, _POOL, u32, Ports
from jitemu._runtime import ffi, lib
from jitemu.machine import Machine
from hypothesis import strategies as st

CODE_IP = oracle.CODE_IP             # EIP 0x100, CS base 0
LOW_HI = 0x10000
WIN_LO, WIN_HI = 0, oracle.PM_WIN_HI
WIN_SIZE = WIN_HI - WIN_LO
HIGH_LO, HIGH_HI = 0x10010, 0x57F00  # ESP and 32-bit offsets (plus FS/GS bases < 0x8000)
GDT_BASE, IDT_BASE, HANDLERS = 0x70000, 0x71000, 0x72000
MEM_TOP = 0x100000
CODE_HOLE = (0x80, 0x200)            # 16-bit data accesses must stay off the code


def handler(vector):
    return HANDLERS + 16 * vector


def descriptor(base, limit, access, flags):
    """A segment descriptor: `access` the type byte (P DPL S type), `flags`
    the high nibble (G D/B)."""
    lo = (limit & 0xFFFF) | ((base & 0xFFFF) << 16)
    hi = ((base >> 16) & 0xFF) | (access << 8) | (limit & 0xF0000) | (flags << 20) | (base & 0xFF000000)
    return lo, hi


FLAT = 0xFFFFF
# selector: (base, limit, access byte, G/D nibble)
GDT = {
    0x08: (0, FLAT, 0x9B, 0xC),        # code32, readable, accessed
    0x10: (0, FLAT, 0x93, 0xC),        # data, writable, accessed, B=1
    0x18: (0, FLAT, 0x9B, 0x8),        # code16, readable (4 GiB limit)
    0x20: (0x1000, FLAT, 0x91, 0xC),   # data, read-only, base 0x1000
    0x28: (0, FLAT, 0xF3, 0xC),        # data, DPL 3
    0x30: (0x2000, 0xDFFF, 0x9A, 0x4), # code32, readable, not accessed, byte limit
    0x38: (0, FLAT, 0x98, 0xC),        # code32, execute-only
    0x40: (0, FLAT, 0x13, 0xC),        # data, not present
    0x48: (0x3000, 0x67, 0x82, 0x0),   # LDT (system: no segment register takes it)
    0x50: (0x0400, FLAT, 0x92, 0xC),   # data, writable, not accessed
    0x58: (0x0800, 0xFFFF, 0x92, 0x0), # data, 16-bit (B=0), 64 KiB
    0x60: (0x4000, FLAT, 0x93, 0xC),   # FS: data, base 0x4000
    0x68: (0x8000, FLAT, 0x93, 0xC),   # GS: data, base 0x8000
    0x70: (0, FLAT, 0x9F, 0xC),        # code32, conforming, readable
    # 0x78 and 0x80: zero
    0x88: (0, 0xFFF, 0x93, 0x4),       # data, expand-up, limit 0xFFF (bytes), B=1
    0x90: (0, 0xFFF, 0x97, 0x4),       # data, expand-down above 0xFFF, B=1
}
GDT_LIMIT = 0x97                       # 0x98 and up are beyond it
SEGS = {"es": 0x10, "cs": 0x08, "ss": 0x10, "ds": 0x10, "fs": 0x60, "gs": 0x68}
BASES = {n: GDT[sel][0] for n, sel in SEGS.items()}
# Selectors for the segment-register loads: good ones, and ones that fault.
DATA_SELECTORS = (0x00, 0x03, 0x10, 0x13, 0x20, 0x28, 0x2B, 0x30, 0x38, 0x40, 0x48, 0x50, 0x58,
                  0x60, 0x68, 0x70, 0x78, 0x98, 0x0C, 0x10, 0x10, 0x28, 0x88, 0x90)
CODE_SELECTORS = (0x08, 0x18, 0x70, 0x30, 0x08, 0x18, 0x00, 0x10, 0x38, 0x0B, 0x48, 0x98, 0x73, 0x30)


def _background():
    mem = bytearray([HLT]) * MEM_TOP
    mem[GDT_BASE:GDT_BASE + GDT_LIMIT + 1] = bytes(GDT_LIMIT + 1)
    for sel, (base, limit, access, flags) in GDT.items():
        mem[GDT_BASE + sel:GDT_BASE + sel + 8] = struct.pack("<II", *descriptor(base, limit, access, flags))
    for v in range(256):
        off = handler(v)
        lo = (off & 0xFFFF) | (0x08 << 16)
        hi = (off & 0xFFFF0000) | 0xEE00          # P, DPL 3, 32-bit interrupt gate
        mem[IDT_BASE + 8 * v:IDT_BASE + 8 * v + 8] = struct.pack("<II", lo, hi)
    return bytes(mem)


BACKGROUND = _background()
GDT_BYTES = BACKGROUND[GDT_BASE:GDT_BASE + GDT_LIMIT + 1]


def cache_of(sel):
    """(base, limit, flags) of the hidden cache after loading `sel`, as
    runtime/protected.c's set_cache stores them (accessed bit set)."""
    if sel & ~3 == 0:
        return None
    if sel & ~3 not in GDT:
        return ("no descriptor",)
    base, limit, access, flags = GDT[sel & ~3]
    lo, hi = descriptor(base, limit, access | 1, flags)
    lim = (limit << 12) | 0xFFF if flags & 8 else limit
    return base, lim, hi & 0x00F0FF00


class PMMode(oracle.RealMode):
    code32 = True
    win_lo, win_hi = WIN_LO, WIN_HI
    addr_lo, addr_hi = HIGH_LO, HIGH_HI

    def machines(self):
        return machines()

    def machine_classes(self):
        return Jitemu, Unicorn

    def prepare(self, case, s):
        # ESP in the high window: exceptions push there too.
        s.regs[4] = HIGH_LO + 0x100 + s.regs[4] % (HIGH_HI - HIGH_LO - 0x200)
        if case.insn.addr_size == 2 and case.name != "lea":
            for op in case.mem_operands():
                lin = s.lin(case.segment(), oracle.ea(case, s, op))
                oracle._assume(not (CODE_HOLE[0] - 8 < lin < CODE_HOLE[1]), "data on the code")

    def eip_differs(self, a, b):
        return a != b

    def extra_diffs(self, case, s, a, b):
        diffs = []
        ga, gb = bytearray(a["gdt"]), bytearray(b["gdt"])
        # Unicorn bug: QEMU's far JMP/CALL/RET and IRET load CS without
        # setting the code descriptor's accessed bit (SDM 3.4.5.1: the
        # processor sets it whenever it loads the selector into a segment
        # register).  Code descriptors' A bits are not compared; jitemu's
        # is checked for the CS it ends with.
        for sel, (_, _, access, _) in GDT.items():
            if access & 0x18 == 0x18:
                ga[sel + 5] &= ~1
                gb[sel + 5] &= ~1
        if ga != gb:
            diffs.append("gdt: jitemu %s unicorn %s" % (a["gdt"].hex(), b["gdt"].hex()))
        cs = a["segs"]["cs"] & ~3
        if cs in GDT and not a["gdt"][cs + 5] & 1:
            diffs.append("gdt: CS %04x loaded, its accessed bit clear" % cs)
        # jitemu's hidden caches must hold what the selectors name.
        for n in SEG_NAMES:
            want = cache_of(a["segs"][n])
            got = a["caches"][n]
            if want is None:
                if n == "ss" or got[2] & 0x8000:
                    diffs.append("%s: null selector but cache %s" % (n, _hex(got)))
            elif got != want:
                diffs.append("%s cache: jitemu %s, descriptor %s" % (n, _hex(got), _hex(want)))
        return diffs


def _hex(t):
    return "/".join(v if isinstance(v, str) else "%x" % v for v in t)


PM = PMMode()


# -- the machines ------------------------------------------------------------
class Jitemu(oracle.Jitemu):
    def __init__(self):
        self.m = Machine(memory_mb=1)
        self.ports = Ports()
        self.m.ports.register(range(0x10000), read=lambda p, n: self.ports.read(p, n),
                              write=lambda p, v, n: self.ports.write(p, v, n))
        self.m.write_phys(0, BACKGROUND)
        self.code = None
        self.ram = lib.rt_ram(self.m.s)

    def run(self, code, state):
        m, s = self.m, self.m.s
        ffi.memmove(self.ram + WIN_LO, _POOL[state.window_off:state.window_off + WIN_SIZE], WIN_SIZE)
        ffi.memmove(self.ram + GDT_BASE, GDT_BYTES, len(GDT_BYTES))
        for lin, data in state.all_plants():
            assert 0 <= lin and lin + len(data) <= MEM_TOP, hex(lin)
            ffi.memmove(self.ram + lin, data, len(data))
        text = code + bytes([HLT]) * 16
        if code != self.code:   # unchanged code keeps its translation
            m.write_phys(CODE_IP, text)
            self.code = code
        else:                   # (the window was written over it: the same bytes again)
            ffi.memmove(self.ram + CODE_IP, text, len(text))
        self.ports.log = []
        for i in range(8):
            s.regs[i] = state.regs[i]
        s.eflags = state.eflags
        s.cr[0] = (s.cr[0] & ~0x80000000) | 1
        s.gdt_base, s.gdt_limit = GDT_BASE, GDT_LIMIT
        s.idt_base, s.idt_limit = IDT_BASE, 0x7FF
        s.ldt_sel = s.ldt_base = s.ldt_limit = 0
        for i, n in enumerate(SEG_NAMES):
            sel = state.segs[n]
            base, limit, flags = cache_of(sel)
            s.seg_sel[i], s.seg_base[i], s.seg_limit[i], s.seg_flags[i] = sel, base, limit, flags
        lib.cpu_update_hflags(s)
        assert s.hflags & 0x47 == 0x47 or state.segs != SEGS, hex(s.hflags)  # CODE32 SS32 PE FLAT
        s.eip = CODE_IP
        s.halted = 0
        why = m.run(max_instructions=oracle.LIMIT)
        return why, self.snapshot()

    def snapshot(self):
        snap = super().snapshot()
        s = self.m.s
        snap["mem"] = bytes(ffi.buffer(self.ram + WIN_LO, WIN_SIZE))
        snap["gdt"] = bytes(ffi.buffer(self.ram + GDT_BASE, len(GDT_BYTES)))
        snap["caches"] = {n: (s.seg_base[i], s.seg_limit[i], s.seg_flags[i]) for i, n in enumerate(SEG_NAMES)}
        return snap


ERROR_CODE = (8, 10, 11, 12, 13, 14, 17)


class Unicorn(oracle.Unicorn):
    WIN_LO, WIN_SIZE = WIN_LO, WIN_SIZE

    def _new_uc(self):
        uc = Uc(UC_ARCH_X86, UC_MODE_32)
        uc.mem_map(0, MEM_TOP)
        uc.mem_write(0, BACKGROUND)
        uc.reg_write(U.UC_X86_REG_GDTR, (0, GDT_BASE, GDT_LIMIT, 0))
        uc.reg_write(U.UC_X86_REG_IDTR, (0, IDT_BASE, 0x7FF, 0))
        return uc

    def _fresh(self):
        super()._fresh()
        self.ignore = []

    def _intr(self, uc, vector, _):
        """Delivery through a 32-bit interrupt gate at CPL 0.  EIP is the
        faulting instruction for faults and the next one for INT n."""
        self.interrupts.append(vector)
        fl = uc.reg_read(U.UC_X86_REG_EFLAGS)
        cs = uc.reg_read(U.UC_X86_REG_CS)
        eip = uc.reg_read(U.UC_X86_REG_EIP)
        esp = uc.reg_read(U.UC_X86_REG_ESP)
        ss_base = {sel: c[0] for sel, c in ((s, cache_of(s)) for s in GDT) if c}.get(
            uc.reg_read(U.UC_X86_REG_SS) & ~3, 0)
        vals = [fl & ~0x10000, cs, eip] + ([0] if vector in ERROR_CODE else [])
        for v in vals:
            esp = (esp - 4) & 0xFFFFFFFF
            uc.mem_write(ss_base + esp, struct.pack("<I", v & 0xFFFFFFFF))
        if vector in ERROR_CODE:
            self.ignore.append((ss_base + esp, 4))
        uc.reg_write(U.UC_X86_REG_ESP, esp)
        uc.reg_write(U.UC_X86_REG_EFLAGS, fl & ~(0x200 | 0x100 | 0x4000 | 0x10000 | 0x20000))
        uc.reg_write(U.UC_X86_REG_CS, 0x08)
        uc.reg_write(U.UC_X86_REG_EIP, handler(vector))

    def run(self, code, state, limit=oracle.LIMIT):
        if self.interrupts:
            # The hook delivered a fault, so QEMU never finished its own
            # delivery and still remembers it (env->old_exception): the next
            # fault could turn into a double fault.  Start a new instance.
            self._fresh()
        uc = self.uc
        uc.mem_write(WIN_LO, _POOL[state.window_off:state.window_off + WIN_SIZE])
        uc.mem_write(GDT_BASE, GDT_BYTES)
        for lin, data in state.all_plants():
            uc.mem_write(lin, data)
        uc.mem_write(CODE_IP, code + bytes([HLT]) * 16)
        if code != self.code:
            uc.ctl_remove_cache(CODE_IP, CODE_IP + 0x1000)
            self.code = code
        self.ports.log = []
        self.interrupts = []
        self.ignore = []
        return self._execute(state, CODE_IP, limit)

    def _snapshot(self):
        snap = super()._snapshot()
        snap["gdt"] = bytes(self.uc.mem_read(GDT_BASE, len(GDT_BYTES)))
        snap["ignore"] = list(self.ignore)
        return snap


_MACHINES = {}


def machines():
    return oracle.shared_machines(_MACHINES, Jitemu, Unicorn)


# -- states and cases ---------------------------------------------------------
class _Filler(bytes):
    def __repr__(self):
        return "<%d HLT bytes>" % len(self)


LOW_HLT = (0, _Filler(bytes([HLT]) * LOW_HI))


@st.composite
def states(draw, regs=None, low_hlt=False):
    """A protected-mode start state.  `low_hlt`: the low 64 KiB is HLT
    filler (for branches, whose 16-bit targets land there)."""
    rs = [draw(u32) for _ in range(8)] if regs is None else list(regs)
    flags = draw(st.integers(0, 0xFFF)) & (oracle.ARITH | oracle.DF)
    return State(rs, 0x2 | flags, draw(st.integers(0, 0xFFFF)), draw(st.integers(0, (1 << 64) - 1)),
                 segs=dict(SEGS), bases=dict(BASES), background=[LOW_HLT] if low_hlt else [])


def _placed(case):
    """Whether the case's bare-displacement addresses are in the window
    and off the code (16-bit ones always are in it)."""
    for op in case.mem_operands():
        m = op.mem
        if m.base or m.index or case.name == "lea":
            continue
        lin = BASES[case.segment()] + (m.disp & (0xFFFF if case.insn.addr_size == 2 else 0xFFFFFFFF))
        if not (CODE_HOLE[1] <= lin < HIGH_HI + 0x8000):
            return False
    return True


def table_cases(family=None, names=None, keep=None, extra=(), options=None):
    return oracle.table_cases(family, names, lambda c: _placed(c) and (keep is None or keep(c)), extra,
                              options, mode=PM)


def cases(encodings, keep=None):
    return oracle.cases(encodings, lambda c: _placed(c) and (keep is None or keep(c)), mode=PM)
