"""The differential oracle in virtual-8086 mode.

The real-mode picture of tests/oracle.py (CS=1000 IP=0100, the window of
DS ES SS FS GS, HLT filler), run with CR0.PE and EFLAGS.VM set: 16-bit
code at CPL 3 with real-mode segments, IOPL 0 or 3.  Below the code
segment, where no case reaches, the monitor's structures:

    0x1000  the GDT: 08h ring-0 code, 10h data (both flat), 18h the TSS
    0x2000  the IDT: vector v -> 0008:(6000 + 16 v), 32-bit interrupt
            gates, DPL 3 (so INT n with IOPL 3 reaches them)
    0x3000  the TSS: ring-0 stack 0010:F000, and an I/O permission bitmap
            refusing a fixed pseudo-random half of the ports
    0xEF00-0xF000  the ring-0 stack, compared after the run

Every case ends in the monitor: the HLT after the instruction is #GP(0)
at CPL 3, and an exception or INT n leaves the mode the same way; the
ring-0 handler is HLT.  Unicorn (QEMU) runs the 8086 code itself but
leaves delivery to a UC_HOOK_INTR hook, which does what the SDM's
INTERRUPT-FROM-VIRTUAL-8086-MODE does through a 32-bit interrupt gate:
GS FS DS ES SS ESP EFLAGS CS EIP (and an error code, which Unicorn does
not tell: 0, not compared) on the TSS's ring-0 stack; VM TF RF NT IF
cleared; DS ES FS GS null.  So the frame jitemu's runtime builds is
compared with that description of it.

QEMU checks no segment limit; virtual-8086 mode has 64 KiB ones (#GP,
#SS), so cases whose accesses cross offset FFFFh are not drawn: SP stays
inside the stack segment, 16-bit addresses are rejected near the end.
"""
import random
import struct

from unicorn import UC_ARCH_X86, UC_MODE_32, Uc
from unicorn import x86_const as U

import oracle
from oracle import SEG_NAMES, _POOL, HLT
from jitemu._runtime import ffi, lib

VM, IOPL = 0x20000, 0x3000
GDT_BASE, IDT_BASE, TSS_BASE, HANDLERS = 0x1000, 0x2000, 0x3000, 0x6000
GDT_LIMIT, TSS_SEL, TSS_LIMIT = 0x1F, 0x18, 0x68 + 0x2000
STACK0 = 0xF000
FRAME_LO = STACK0 - 0x100
ERROR_CODE = (8, 10, 11, 12, 13, 14, 17)
BITMAP = bytearray(random.Random(0x86).randbytes(0x2000))
for _p in (0x402, 0xE9):   # (debug consoles: allowed, as firmware would have them)
    BITMAP[_p >> 3] &= ~(1 << (_p & 7))


def denied(port, size):
    return any(BITMAP[(p & 0xFFFF) >> 3] >> (p & 7) & 1 for p in range(port, port + size))


def handler(vector):
    return HANDLERS + 16 * vector


def _system():
    """(address, bytes) of the GDT, IDT and TSS."""
    gdt = struct.pack("<QQQ", 0, 0x00CF9B000000FFFF, 0x00CF93000000FFFF)
    gdt += struct.pack("<HHBBBB", TSS_LIMIT & 0xFFFF, TSS_BASE & 0xFFFF, TSS_BASE >> 16, 0x89, 0, 0)
    idt = b"".join(struct.pack("<HHHH", handler(v) & 0xFFFF, 0x08, 0xEE00, handler(v) >> 16) for v in range(256))
    tss = bytearray(0x68)
    struct.pack_into("<II", tss, 4, STACK0, 0x10)
    struct.pack_into("<H", tss, 0x66, 0x68)
    return [(GDT_BASE, gdt), (IDT_BASE, idt), (TSS_BASE, bytes(tss) + bytes(BITMAP) + b"\xff")]


SYSTEM = _system()


class V86Mode(oracle.RealMode):
    win_lo, win_hi = oracle.WIN_LO, oracle.WIN_HI

    def machines(self):
        return machines()

    def machine_classes(self):
        return Jitemu, Unicorn

    def prepare(self, case, s):
        s.eflags |= VM | (IOPL if s.window_off & 1 else 0)
        s.set_reg(4, 0x100 + s.reg(4, 2) % 0xFE00, 2)     # pushes and pops stay inside SS
        if case.name[:4] in ("movs", "cmps", "stos", "lods", "scas", "insb", "insw", "insd", "outs"):
            for r in (6, 7):   # (clear of the code at CS:0100 too)
                s.set_reg(r, 0x400 + s.reg(r, 2) % 0xEC00, 2)

    def unicorn_code(self, case, s):
        port = self._io_port(case, s)
        if port is not None and denied(*port):
            # Unicorn bug: its IN OUT INS OUTS in virtual-8086 mode ignore
            # the TSS's I/O permission bitmap (QEMU's own translation
            # checks it).  A refused port is #GP(0) at the instruction,
            # before anything happens: what the HLT after the instruction
            # does there, so a HLT stands in for the instruction.
            return bytes([HLT])
        return case.code

    @staticmethod
    def _io_port(case, s):
        """(port, size) an IN OUT INS OUTS accesses first, else None."""
        name, ops = case.name, case.insn.operands
        if name == "in":
            size = ops[0].size
        elif name == "out":
            size = ops[-1].size
        elif name[:3] in ("ins", "out"):
            size = {"b": 1, "w": 2, "d": 4}[name[-1]]
        else:
            return None
        imm = [o.imm for o in ops if o.type == oracle.X.X86_OP_IMM]
        return (imm[0] & 0xFF if imm else s.reg(2, 2)), size

    def admit(self, case, s):
        code = range(oracle.CODE_LIN, oracle.CODE_LIN + len(case.code) + 1)
        oracle._assume(not any(lin < code.stop and lin + len(d) > code.start for lin, d in s.all_plants()),
                       "a planted value on the code (which jitemu keeps translated)")
        if case.name == "enter":
            oracle._assume(self._enter_within_64k(case, s), "ENTER beyond the 64 KiB limit")
        if case.name in ("lea", "nop"):
            return
        for op in case.mem_operands():
            oracle._assume(oracle.ea(case, s, op) + op.size <= 0x10000, "beyond the 64 KiB limit")

    @staticmethod
    def _enter_within_64k(case, s):
        """Whether every slot ENTER reads or writes lies inside SS."""
        w = 4 if case.enc.op32 else 2
        size, level = case.insn.operands[0].imm & 0xFFFF, case.insn.operands[1].imm & 31
        frame, bp = (s.reg(4, 2) - w) & 0xFFFF, s.reg(5, 2)
        slots = [frame, (frame - level * w - size) & 0xFFFF]
        slots += [(x - i * w) & 0xFFFF for i in range(1, level + 1) for x in (bp, frame)]
        return all(o + w <= 0x10000 for o in slots)

    def extra_diffs(self, case, s, a, b):
        fa, fb = bytearray(a["frame"]), bytearray(b["frame"])
        at = STACK0 - 28 - FRAME_LO   # the frame's EFLAGS: the instruction's undefined flags masked
        for f in (fa, fb):
            struct.pack_into("<I", f, at, struct.unpack_from("<I", f, at)[0] & oracle.flag_mask(case, s))
        for lin, n in b.get("ignore", []):
            fa[lin - FRAME_LO:lin - FRAME_LO + n] = fb[lin - FRAME_LO:lin - FRAME_LO + n] = bytes(n)
        if fa != fb:
            return ["ring-0 frame: jitemu %s unicorn %s" % (fa[-48:].hex(), fb[-48:].hex())]
        return []


V86 = V86Mode()


class Jitemu(oracle.Jitemu):
    def __init__(self):
        super().__init__()
        s = self.m.s
        for lin, data in SYSTEM:
            self.m.write_phys(lin, data)
        s.cr[0] |= 1
        s.gdt_base, s.gdt_limit = GDT_BASE, GDT_LIMIT
        s.idt_base, s.idt_limit = IDT_BASE, 0x7FF
        s.seg_sel[1], s.seg_base[1], s.seg_limit[1], s.seg_flags[1] = 0x08, 0, 0xFFFFFFFF, 0xC09B00
        lib.cpu_update_hflags(s)
        assert lib.helper_ltr(s, TSS_SEL) == 0

    def run(self, code, state):
        m, s = self.m, self.m.s
        if code != self.code:
            m.write_phys(oracle.CODE_LIN, code + bytes([HLT]) * 16)
            self.code = code
        ffi.memmove(self.ram + oracle.WIN_LO, _POOL[state.window_off:state.window_off + oracle.WIN_SIZE],
                    oracle.WIN_SIZE)
        ffi.memmove(self.ram + FRAME_LO, bytes([HLT]) * (STACK0 - FRAME_LO), STACK0 - FRAME_LO)
        for lin, data in state.all_plants():
            ffi.memmove(self.ram + lin, data, len(data))
        self.ports.log = []
        for i in range(8):
            s.regs[i] = state.regs[i]
        s.eflags = state.eflags
        for i, n in enumerate(SEG_NAMES):   # what v86.c's v86_load_seg makes
            sel = state.segs[n]
            s.seg_sel[i], s.seg_base[i], s.seg_limit[i], s.seg_flags[i] = sel, sel << 4, 0xFFFF, 0xF300
        lib.cpu_update_hflags(s)
        assert s.hflags & 0x30C == 0x30C, hex(s.hflags)   # PE VM, CPL 3
        s.eip = oracle.CODE_IP
        s.halted = 0
        why = m.run(max_instructions=oracle.LIMIT)
        return why, self.snapshot()

    def snapshot(self):
        snap = super().snapshot()
        snap["frame"] = bytes(ffi.buffer(self.ram + FRAME_LO, STACK0 - FRAME_LO))
        return snap


class Unicorn(oracle.Unicorn):
    def _new_uc(self):
        uc = Uc(UC_ARCH_X86, UC_MODE_32)
        uc.mem_map(0, oracle.MEM_TOP)
        uc.mem_write(0, oracle._background())
        for lin, data in SYSTEM:
            uc.mem_write(lin, data)
        uc.reg_write(U.UC_X86_REG_GDTR, (0, GDT_BASE, GDT_LIMIT, 0))
        uc.reg_write(U.UC_X86_REG_IDTR, (0, IDT_BASE, 0x7FF, 0))
        uc.reg_write(U.UC_X86_REG_TR, (TSS_SEL, TSS_BASE, TSS_LIMIT, 0x8B))
        uc.reg_write(U.UC_X86_REG_CR0, 0x11)
        return uc

    def _fresh(self):
        super()._fresh()
        self.ignore = []
        self.clean = self.uc.context_save()

    def _intr(self, uc, vector, _):
        """INTERRUPT-FROM-VIRTUAL-8086-MODE through a 32-bit interrupt gate
        to ring 0.  EIP is the faulting instruction for faults and the
        next one for INT n."""
        self.interrupts.append(vector)
        fl = uc.reg_read(U.UC_X86_REG_EFLAGS)
        frame = [uc.reg_read(getattr(U, "UC_X86_REG_" + n)) for n in ("GS", "FS", "DS", "ES", "SS", "ESP")]
        frame += [fl & ~0x10000, uc.reg_read(U.UC_X86_REG_CS), uc.reg_read(U.UC_X86_REG_EIP)]
        if vector in ERROR_CODE:
            frame.append(0)
        esp = STACK0
        for v in frame:
            esp -= 4
            uc.mem_write(esp, struct.pack("<I", v & 0xFFFFFFFF))
        if vector in ERROR_CODE:
            self.ignore.append((esp, 4))
        self._ring0(fl & ~(0x200 | 0x100 | 0x4000 | 0x10000 | VM), esp, handler(vector))

    def _ring0(self, eflags, esp, eip):
        uc = self.uc
        uc.reg_write(U.UC_X86_REG_EFLAGS, eflags)
        # Unicorn checks segment loads against the CPL, which its SS holds:
        # a real-mode load of SS (PE off for the moment) makes it 0.
        uc.reg_write(U.UC_X86_REG_CR0, 0x10)
        uc.reg_write(U.UC_X86_REG_SS, 0)
        uc.reg_write(U.UC_X86_REG_CR0, 0x11)
        uc.reg_write(U.UC_X86_REG_CS, 0x08)
        uc.reg_write(U.UC_X86_REG_SS, 0x10)
        for n in ("DS", "ES", "FS", "GS"):
            uc.reg_write(getattr(U, "UC_X86_REG_" + n), 0)
        uc.reg_write(U.UC_X86_REG_ESP, esp)
        uc.reg_write(U.UC_X86_REG_EIP, eip)

    def run(self, code, state, limit=oracle.LIMIT):
        # The hook delivered an exception, so QEMU never finished its own
        # delivery and still remembers it (env->old_exception: the next
        # #GP would become #DF): back to the CPU state of a fresh instance.
        self.uc.context_restore(self.clean)
        uc = self.uc
        uc.mem_write(oracle.CODE_LIN, code + bytes([HLT]) * 16)
        uc.ctl_remove_cache(oracle.CODE_LIN, oracle.CODE_LIN + 0x1000)
        uc.mem_write(oracle.WIN_LO, _POOL[state.window_off:state.window_off + oracle.WIN_SIZE])
        uc.mem_write(FRAME_LO, bytes([HLT]) * (STACK0 - FRAME_LO))
        for lin, data in state.all_plants():
            uc.mem_write(lin, data)
        self.ports.log = []
        self.interrupts = []
        self.ignore = []
        self._ring0(0x2, STACK0, 0)   # from ring 0, as a monitor would...
        uc.reg_write(U.UC_X86_REG_EFLAGS, state.eflags)   # ...then VM and the 8086 segments
        return self._execute(state, oracle.CODE_IP, limit)

    def _snapshot(self):
        snap = super()._snapshot()
        snap["frame"] = bytes(self.uc.mem_read(FRAME_LO, STACK0 - FRAME_LO))
        snap["ignore"] = list(self.ignore)
        return snap


_MACHINES = {}


def machines():
    return oracle.shared_machines(_MACHINES, Jitemu, Unicorn)


def cases(real_cases, keep=None):
    """The real-mode cases of a tests/test_diff_*.py module, in this mode."""
    return oracle.cases([c.enc for c in real_cases], keep, mode=V86)

