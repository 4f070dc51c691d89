"""Differential oracle: one instruction in jitemu and in Unicorn, compared.

Both machines run in real mode with the same memory picture:

    0x00000-0x003FF  IVT: vector v -> 7000:(0100 + 16 v), on HLT filler
    0x10000-0x1FFFF  CS=1000: HLT filler, the instruction at IP 0100
    0x20000-0x7000F  the window: DS=2000 ES=3000 SS=4000 FS=5000 GS=6000,
                     random bytes (compared after the run)
    elsewhere        HLT (F4) filler

The instruction is followed by HLT, and every jump, call, return or
interrupt target lands on HLT filler, so both machines stop after one
instruction (or after delivering one exception) with EIP just past a HLT.
Compared: the 8 GPRs, EIP, the 6 selectors, EFLAGS with the instruction's
undefined flags masked (from jitemu.isa.table), the window, and the port
writes.  Unicorn does not deliver interrupts through the IVT: a UC_HOOK_INTR
hook does it as real mode does (push FLAGS, CS, IP; clear IF TF AC; load
CS:IP from the IVT), for INT n, INT3, INTO and #DE alike.
"""
import os
import random
import struct
from dataclasses import dataclass, field, replace

import capstone
from capstone import x86_const as X
from hypothesis import assume, currently_in_test_context, strategies as st
from unicorn import UC_ARCH_X86, UC_HOOK_INSN, UC_HOOK_INTR, UC_MODE_16, Uc, UcError
from unicorn import x86_const as U

from jitemu._runtime import ffi, lib
from jitemu.isa.table import TABLE
from jitemu.machine import Machine

CODE_SEG, CODE_IP = 0x1000, 0x0100
CODE_LIN = (CODE_SEG << 4) + CODE_IP
SEG_NAMES = ("es", "cs", "ss", "ds", "fs", "gs")
SEGS = {"es": 0x3000, "cs": CODE_SEG, "ss": 0x4000, "ds": 0x2000, "fs": 0x5000, "gs": 0x6000}
WIN_LO, WIN_HI = 0x20000, 0x70010   # 16 bytes past GS's 64 KiB catch wrapping accesses
WIN_SIZE = WIN_HI - WIN_LO
PM_WIN_HI = 0x60010                  # oracle32's window: linear 0 up to here
IVT_SEL = 0x7000
MEM_TOP = 0x110000                   # real mode reaches FFFF:FFFF = 0x10FFEF
LIMIT = 64                           # a guard: a jump into the instruction itself loops
ARITH = 0x8D5
DF = 0x400
HLT = 0xF4

_POOL = random.Random(0x5EED).randbytes(0x70000 + 0x10000)   # (also oracle32's, larger window)


def ivt_target(vector):
    return IVT_SEL, 0x0100 + 16 * vector


def _background():
    mem = bytearray([HLT]) * MEM_TOP
    for v in range(256):
        sel, off = ivt_target(v)
        mem[4 * v:4 * v + 4] = struct.pack("<HH", off, sel)
    return bytes(mem)


# -- capstone side: names and addresses ---------------------------------------
_MD = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_16)
_MD.detail = True
_MD32 = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
_MD32.detail = True

_GPR = {}
for _i, _n in enumerate(("AX", "CX", "DX", "BX", "SP", "BP", "SI", "DI")):
    _GPR[getattr(X, "X86_REG_" + _n)] = (_i, 2, 0)
    _GPR[getattr(X, "X86_REG_E" + _n)] = (_i, 4, 0)
for _i, _n in enumerate("ACDB"):
    _GPR[getattr(X, "X86_REG_%sL" % _n)] = (_i, 1, 0)
    _GPR[getattr(X, "X86_REG_%sH" % _n)] = (_i, 1, 8)
_SEG_PREFIX = {0x26: "es", 0x2E: "cs", 0x36: "ss", 0x3E: "ds", 0x64: "fs", 0x65: "gs"}


class RealMode:
    """What the oracle needs to know about the mode a case runs in: the
    machines, the compared window and where 32-bit addresses must land.
    tests/oracle32.py has the 32-bit protected-mode one."""
    code32 = False
    win_lo, win_hi = WIN_LO, WIN_HI
    addr_lo, addr_hi = 0x0010, 0xFFE0   # real mode would #GP above 64 KiB

    def machines(self):
        return machines()

    def machine_classes(self):
        """(jitemu, Unicorn) machine classes of the mode (test_tier_oracle
        makes its own on other tiers)."""
        return Jitemu, Unicorn

    def prepare(self, case, s):
        pass

    def admit(self, case, s):
        """After the fixups: reject states the machines may not be compared
        on (oracle86: accesses QEMU does not limit-check)."""

    def unicorn_code(self, case, s):
        """The code Unicorn runs for the case (oracle86: in place of what
        Unicorn gets wrong)."""
        return case.code

    def eip_differs(self, a, b):
        # (The final HLT at IP FFFF: jitemu wraps IP as 16-bit code does;
        # QEMU's straight-line EIP does not wrap.  A 386 would #GP on the
        # next fetch.  Not compared.)
        return a != b and not (a == 0 and b == 0x10000)

    def extra_diffs(self, case, s, a, b):
        return []


REAL = RealMode()


@dataclass
class Case:
    """One concrete instruction (bytes) and what capstone says about it."""
    enc: object          # tests.encode.Encoding
    insn: object         # capstone instruction with detail
    name: str
    mode: object = REAL

    @property
    def code(self):
        return self.enc.code

    @property
    def id(self):
        return "%s-%s" % (self.name, self.enc.id)

    def mem_operands(self):
        return [o for o in self.insn.operands if o.type == X.X86_OP_MEM]

    def reg_operand(self, i):
        """(index, size, shift) of register operand i."""
        return _GPR[self.insn.operands[i].reg]

    def segment(self):
        """The data segment of the ModRM memory operand."""
        pfx = _SEG_PREFIX.get(self.insn.prefix[1])
        if pfx:
            return pfx
        m = self.mem_operands()[0].mem
        return "ss" if m.base and _GPR[m.base][0] in (4, 5) else "ds"


def make_case(enc, mode=REAL):
    """A case from an encoding: one instruction (or, for a "pair", several:
    the first one names the case and its flags mask)."""
    insn = next((_MD32 if mode.code32 else _MD).disasm(enc.code, CODE_IP, 1), None)
    assert insn is not None and (insn.size == len(enc.code) or enc.template == "pair"), \
        "capstone cannot decode %s" % enc.code.hex()
    name = insn.insn_name()
    # Capstone calls 66 FF /3 and 66 FF /5 (far, m16:32) "call" and "jmp".
    name = {"FF /3": "lcall", "FF /5": "ljmp"}.get(enc.template, name)
    return Case(enc, insn, name, mode)


def cases(encodings, keep=None, mode=REAL):
    """Cases from encodings, deduplicated, optionally filtered."""
    out, seen = [], set()
    for e in encodings:
        if e.code in seen:
            continue
        seen.add(e.code)
        c = make_case(e, mode)
        if keep is None or keep(c):
            out.append(c)
    return out


# -- the state both machines start from ------------------------------------
@dataclass
class State:
    regs: list
    eflags: int
    window_off: int
    mem_value: int                  # planted at the memory operand
    plants: list = field(default_factory=list)   # (linear, bytes), after the mem_value
    segs: dict = field(default_factory=lambda: dict(SEGS))
    bases: dict = None              # protected mode: segment bases (selectors in segs)
    background: list = field(default_factory=list)   # (linear, bytes), before the mem_value

    def copy(self):
        return replace(self, regs=list(self.regs), plants=list(self.plants), segs=dict(self.segs),
                       background=list(self.background))

    def reg(self, index, size=4, shift=0):
        return (self.regs[index] >> shift) & ((1 << (8 * size)) - 1)

    def set_reg(self, index, value, size=4, shift=0):
        m = ((1 << (8 * size)) - 1) << shift
        self.regs[index] = (self.regs[index] & ~m) | ((value << shift) & m)

    def plant(self, lin, data):
        self.plants.append((lin, bytes(data)))

    def lin(self, seg, off):
        if self.bases is not None:
            return (self.bases[seg] + off) & 0xFFFFFFFF
        return (self.segs[seg] << 4) + off

    def all_plants(self):
        return self.background + self.plants


u32 = st.integers(0, 0xFFFFFFFF)


@st.composite
def states(draw, regs=None):
    rs = [draw(u32) for _ in range(8)] if regs is None else list(regs)
    flags = draw(st.integers(0, 0xFFF)) & (ARITH | DF)
    return State(rs, 0x2 | flags, draw(st.integers(0, 0xFFFF)), draw(st.integers(0, (1 << 64) - 1)))


def ea(case, state, op=None):
    """Offset (within its segment) of memory operand `op` (default: the first)."""
    m = (op or case.mem_operands()[0]).mem
    asz = case.insn.addr_size
    v = m.disp
    if m.base:
        i, size, _ = _GPR[m.base]
        v += state.reg(i, size)
    if m.index:
        i, size, _ = _GPR[m.index]
        v += state.reg(i, size) * m.scale
    return v & ((1 << (8 * asz)) - 1)


def _solve(k, disp, lo, hi, seed):
    """r with (k*r + disp) mod 2**32 in [lo, hi], k in 1..9."""
    g = k & -k                                   # the power of two in k
    t = lo + (seed % max(1, hi - lo - 16))
    t -= (t - disp) % g                          # k*r only reaches multiples of g
    if t < lo:
        t += g
    d = ((t - disp) % (1 << 32)) // g
    mod = (1 << 32) // g
    return d * pow(k // g, -1, mod) % mod if k // g > 1 else d


def fit_addr32(case, state, lo=None, hi=None):
    """Move a 32-bit address into [lo, hi] (default: the mode's) by
    changing its base (or index) register: real mode would #GP above 64 KiB,
    and the window must hold what the instruction touches.  Keeps the
    registers' other bits random."""
    lo = case.mode.addr_lo if lo is None else lo
    hi = case.mode.addr_hi if hi is None else hi
    if case.insn.addr_size != 4 or not case.mem_operands():
        return
    for op in case.mem_operands():
        m = op.mem
        if lo <= ea(case, state, op) <= hi or not (m.base or m.index):
            continue   # (a bare displacement: the case's encoding placed it)
        base = _GPR[m.base][0] if m.base else None
        index = _GPR[m.index][0] if m.index else None
        seed = state.regs[base if base is not None else index or 0]
        if base is not None:
            k = 1 + (m.scale if index == base else 0)
            other = 0 if index in (None, base) else state.reg(index) * m.scale
            state.regs[base] = _solve(k, m.disp + other, lo, hi, seed)
        elif index is not None:
            state.regs[index] = _solve(m.scale, m.disp, lo, hi, seed)
        assert lo <= ea(case, state, op) <= hi, (case.id, hex(ea(case, state, op)))


def prepare(case, state):
    """The generic fixups: 32-bit addresses inside the window and the drawn
    value planted at the memory operand."""
    s = state.copy()
    case.mode.prepare(case, s)
    if case.name != "lea":  # LEA touches no memory: let its address be anything
        fit_addr32(case, s)
    if case.mem_operands() and case.enc.form in ("mem16", "mem32", "") and case.name != "lea":
        op = case.mem_operands()[0]
        if op.mem.base or op.mem.index or case.enc.form:
            lin = s.lin(case.segment(), ea(case, s))
        else:
            lin = s.lin(case.segment(), op.mem.disp & 0xFFFF if case.insn.addr_size == 2 else op.mem.disp)
        s.plants.insert(0, (lin, struct.pack("<Q", s.mem_value)))
    return s


# -- port I/O seen by both machines ----------------------------------------
class Ports:
    """Deterministic port reads; a log of writes (and reads)."""

    def __init__(self):
        self.log = []

    def read(self, port, size):
        v = (port * 0x9E3779B1 + size * 0x85EBCA6B + len(self.log) * 0xC2B2AE35) & ((1 << (8 * size)) - 1)
        self.log.append(("in", port, size, v))
        return v

    def write(self, port, value, size):
        self.log.append(("out", port, size, value & ((1 << (8 * size)) - 1)))


# -- the two machines ------------------------------------------------------
class Jitemu:
    def __init__(self):
        self.m = Machine(memory_mb=2)
        self.ports = Ports()
        self.m.ports.register(range(0x10000), read=lambda p, n: self.ports.read(p, n),
                              write=lambda p, v, n: self.ports.write(p, v, n))
        self.m.write_phys(0, _background())
        self.code = None
        self.ram = lib.rt_ram(self.m.s)

    def run(self, code, state, limit=LIMIT):
        m, s = self.m, self.m.s
        if code != self.code:   # unchanged code keeps its translation
            m.write_phys(CODE_LIN, code + bytes([HLT]) * 16)
            self.code = code
        # The window holds no code: write it straight into RAM.
        ffi.memmove(self.ram + WIN_LO, _POOL[state.window_off:state.window_off + WIN_SIZE], WIN_SIZE)
        for lin, data in state.all_plants():
            assert 0 <= lin and lin + len(data) <= MEM_TOP, hex(lin)
            ffi.memmove(self.ram + lin, data, len(data))
        self.ports.log = []
        for i in range(8):
            s.regs[i] = state.regs[i]
        s.eflags = state.eflags
        for n in SEG_NAMES:
            setattr(m.regs, n, state.segs[n])
        s.eip = CODE_IP
        s.halted = 0
        why = m.run(max_instructions=limit)
        return why, self.snapshot()

    def snapshot(self):
        s = self.m.s
        return {
            "regs": [s.regs[i] for i in range(8)],
            "eip": s.eip,
            "eflags": s.eflags,
            "segs": {n: getattr(self.m.regs, n) for n in SEG_NAMES},
            "bases": {n: getattr(self.m.regs, n + "_base") for n in SEG_NAMES},
            "mem": bytes(ffi.buffer(self.ram + WIN_LO, WIN_SIZE)),
            "ports": list(self.ports.log),
        }


_UREGS = [U.UC_X86_REG_EAX, U.UC_X86_REG_ECX, U.UC_X86_REG_EDX, U.UC_X86_REG_EBX,
          U.UC_X86_REG_ESP, U.UC_X86_REG_EBP, U.UC_X86_REG_ESI, U.UC_X86_REG_EDI]
_USEGS = {n: getattr(U, "UC_X86_REG_" + n.upper()) for n in SEG_NAMES}


class Unicorn:
    def __init__(self):
        self._fresh()

    def _new_uc(self):
        uc = Uc(UC_ARCH_X86, UC_MODE_16)
        uc.mem_map(0, MEM_TOP)
        uc.mem_write(0, _background())
        return uc

    def _fresh(self):
        uc = self.uc = self._new_uc()
        self.ports = Ports()
        self.interrupts = []
        self.code = None
        uc.hook_add(UC_HOOK_INTR, self._intr)
        uc.hook_add(UC_HOOK_INSN, lambda uc, port, size, _: self.ports.read(port, size), None, 1, 0,
                    U.UC_X86_INS_IN)
        uc.hook_add(UC_HOOK_INSN, lambda uc, port, size, value, _: self.ports.write(port, value, size),
                    None, 1, 0, U.UC_X86_INS_OUT)

    def _intr(self, uc, vector, _):
        """Real-mode delivery through the IVT, which Unicorn leaves to us.
        EIP is the faulting instruction for #DE and the next one for INT."""
        self.interrupts.append(vector)
        fl = uc.reg_read(U.UC_X86_REG_EFLAGS)
        cs = uc.reg_read(U.UC_X86_REG_CS)
        ip = uc.reg_read(U.UC_X86_REG_EIP)
        ss = uc.reg_read(U.UC_X86_REG_SS)
        sp = uc.reg_read(U.UC_X86_REG_ESP)
        for v in (fl, cs, ip):
            sp = (sp & ~0xFFFF) | ((sp - 2) & 0xFFFF)
            uc.mem_write((ss << 4) + (sp & 0xFFFF), struct.pack("<H", v & 0xFFFF))
        uc.reg_write(U.UC_X86_REG_ESP, sp)
        off, sel = struct.unpack("<HH", uc.mem_read(4 * vector, 4))
        uc.reg_write(U.UC_X86_REG_EFLAGS, fl & ~(0x200 | 0x100 | 0x40000 | 0x10000))
        uc.reg_write(U.UC_X86_REG_CS, sel)
        uc.reg_write(U.UC_X86_REG_EIP, off)

    def run(self, code, state, limit=LIMIT):
        if 0 in self.interrupts:
            # The hook delivered a #DE, so QEMU never finished its own
            # delivery and still remembers it (env->old_exception): the next
            # #DE would turn into a double fault.  Start a new instance.
            self._fresh()
        uc = self.uc
        if code != self.code:
            uc.mem_write(CODE_LIN, code + bytes([HLT]) * 16)
            uc.ctl_remove_cache(CODE_LIN, CODE_LIN + 0x1000)
            self.code = code
        uc.mem_write(WIN_LO, _POOL[state.window_off:state.window_off + WIN_SIZE])
        for lin, data in state.all_plants():
            uc.mem_write(lin, data)
        self.ports.log = []
        self.interrupts = []
        return self._execute(state, CODE_LIN, limit)

    def _execute(self, state, begin, limit=LIMIT):
        """Load the registers, run from linear `begin`, and snapshot."""
        uc = self.uc
        for i, r in enumerate(_UREGS):
            uc.reg_write(r, state.regs[i])
        uc.reg_write(U.UC_X86_REG_EFLAGS, state.eflags)
        for n in SEG_NAMES:
            uc.reg_write(_USEGS[n], state.segs[n])
        uc.reg_write(U.UC_X86_REG_EIP, CODE_IP)
        err = None
        try:
            uc.emu_start(begin, 0xFFFFF000, count=limit)
        except UcError as e:
            err = e
        return err, self._snapshot()

    def _snapshot(self):
        uc = self.uc
        return {
            "regs": [uc.reg_read(r) for r in _UREGS],
            "eip": uc.reg_read(U.UC_X86_REG_EIP),
            "eflags": uc.reg_read(U.UC_X86_REG_EFLAGS),
            "segs": {n: uc.reg_read(_USEGS[n]) for n in SEG_NAMES},
            "mem": bytes(uc.mem_read(self.WIN_LO, self.WIN_SIZE)),
            "ports": list(self.ports.log),
        }

    WIN_LO, WIN_SIZE = WIN_LO, WIN_SIZE


def shared_machines(cache, jitemu_cls, unicorn_cls):
    """One jitemu and one Unicorn per mode, reused by every case."""
    if not cache:
        cache["j"] = jitemu_cls()
        cache["u"] = unicorn_cls()
    return cache["j"], cache["u"]


_MACHINES = {}


def machines():
    return shared_machines(_MACHINES, Jitemu, Unicorn)


def jitemu_machine():
    """The shared jitemu machine (for tests that need no Unicorn)."""
    return machines()[0]


_TIER_MACHINES = {}


def tier_mode(mode, tier):
    """The same mode, on a jitemu machine of its own that compiles every
    block as a region ("region"), with the LLVM tier ("llvm"), or as the
    mode's own machine does ("baseline": stencils for cold code)."""
    base = type(mode)
    jitemu_cls, unicorn_cls = mode.machine_classes()

    def make():
        j = jitemu_cls()
        if tier != "baseline":
            j.m.translator.baseline = None
            j.m.translator.regions_first = tier == "region"
        return j

    cache = _TIER_MACHINES.setdefault((base, tier), {})
    cls = type(tier.capitalize() + base.__name__, (base,), {
        "machines": lambda self: shared_machines(cache, make, unicorn_cls)})
    return cls()


# -- masks -------------------------------------------------------------------
def shift_count(case, state):
    """The masked count of a shift or rotate, or None for other instructions."""
    ops = case.insn.operands
    if len(ops) >= 2 and ops[-1].type == X.X86_OP_IMM:
        c = ops[-1].imm
    elif len(ops) >= 2 and ops[-1].type == X.X86_OP_REG and ops[-1].reg == X.X86_REG_CL:
        c = state.reg(1, 1)
    else:
        c = 1  # D0/D1: by one (capstone may or may not list the 1)
    return c & 0x1F


def flag_mask(case, state):
    """EFLAGS bits to compare: all but the ones the SDM leaves undefined."""
    row = TABLE.get(case.name)
    undefined = row.undefined if row else 0
    if row and row.family == "shift":
        count = shift_count(case, state)
        if count == 0:
            undefined = 0   # a zero count leaves every flag alone
        elif count != 1:
            undefined |= row.undefined_unless_count1
    return 0xFFFFFFFF & ~undefined


def _assume(cond, why):
    """Reject the example (in a hypothesis test) or skip (elsewhere)."""
    if currently_in_test_context():
        assume(cond)
    elif not cond:
        import pytest
        pytest.skip(why)


def unicorn_sigfpe(case, s):
    if case.name != "idiv" or case.insn.operands[0].size != 4:
        return False
    return s.regs[2] == 0x80000000 and s.regs[0] == 0 and operand_value(case, s, 0) == 0xFFFFFFFF


# -- the comparison ----------------------------------------------------------
def check(case, state, fixup=None, reg_mask=None, compare_ports=True, unicorn_limit=LIMIT):
    """Run `case` from `state` in both machines and compare.  `fixup(case,
    state)` may adjust the prepared state, and may return a map from GPR
    index to the bits to compare and from "mem" to a list of (linear,
    length) not to compare (for results the SDM leaves open).  Unicorn
    counts each iteration of a REP as an instruction: a long REP needs a
    larger `unicorn_limit`."""
    s = prepare(case, state)
    if fixup is not None:
        reg_mask = fixup(case, s) or reg_mask
    reg_mask = dict(reg_mask or {})
    ignore = reg_mask.pop("mem", ())
    case.mode.admit(case, s)
    # Unicorn bug: QEMU's IDIV r/m32 divides in host int64, so EDX:EAX =
    # -2**63 by -1 kills the process with SIGFPE instead of raising #DE.
    _assume(not unicorn_sigfpe(case, s), "unicorn would crash")
    mode = case.mode
    j, u = mode.machines()
    why, a = j.run(case.code, s)
    _assume(why != "limit", "jumped into itself")  # both would loop
    assert why == "halt", "%s: jitemu stopped with %r" % (case.id, why)
    err, b = u.run(mode.unicorn_code(case, s), s, limit=unicorn_limit)
    assert err is None, "%s: unicorn: %s" % (case.id, err)
    mask = flag_mask(case, s)
    ignore = list(ignore) + b.get("ignore", [])
    diffs = []
    for i in range(8):
        rm = reg_mask.get(i, 0xFFFFFFFF)
        if (a["regs"][i] ^ b["regs"][i]) & rm:
            diffs.append("%s: jitemu %08x unicorn %08x" % (_RN[i], a["regs"][i], b["regs"][i]))
    if mode.eip_differs(a["eip"], b["eip"]):
        diffs.append("eip: jitemu %08x unicorn %08x" % (a["eip"], b["eip"]))
    if (a["eflags"] ^ b["eflags"]) & mask:
        diffs.append("eflags: jitemu %08x unicorn %08x (differ %s, compared %08x)"
                     % (a["eflags"], b["eflags"], _flag_names((a["eflags"] ^ b["eflags"]) & mask), mask))
    for n in SEG_NAMES:
        if a["segs"][n] != b["segs"][n]:
            diffs.append("%s: jitemu %04x unicorn %04x" % (n, a["segs"][n], b["segs"][n]))
    ma, mb = a["mem"], b["mem"]
    if ignore:
        ma, mb = bytearray(ma), bytearray(mb)
        for lin, n in ignore:
            for k in range(lin - mode.win_lo, lin - mode.win_lo + n):
                if 0 <= k < len(ma):
                    ma[k] = mb[k] = 0
    if ma != mb:
        diffs.append(_mem_diff(ma, mb, mode.win_lo))
    diffs += mode.extra_diffs(case, s, a, b)
    if compare_ports and a["ports"] != b["ports"]:
        diffs.append("ports: jitemu %s unicorn %s" % (a["ports"], b["ports"]))
    if diffs:
        raise AssertionError("%s (%s %s)\n  start: %s eflags=%08x plants=%s\n  %s" % (
            case.id, case.insn.mnemonic, case.insn.op_str,
            " ".join("%s=%08x" % (_RN[i], s.regs[i]) for i in range(8)), s.eflags,
            [(hex(l), d.hex()) for l, d in s.plants if len(d) <= 64], "\n  ".join(diffs)))
    return a


_RN = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")


def _flag_names(bits):
    names = {0x800: "OF", 0x80: "SF", 0x40: "ZF", 0x10: "AF", 0x4: "PF", 0x1: "CF", 0x400: "DF",
             0x200: "IF", 0x100: "TF"}
    return " ".join(v for k, v in names.items() if bits & k) or hex(bits)


def _mem_diff(x, y, base=WIN_LO):
    bad = [i for i in range(len(x)) if x[i] != y[i]]
    lo = bad[0]
    return "memory differs at %d bytes, first at linear %05x: jitemu %s unicorn %s" % (
        len(bad), base + lo, x[lo:lo + 8].hex(), y[lo:lo + 8].hex())


# -- cases from the table ----------------------------------------------------
def templates(family=None, names=None):
    """Unique encoding templates of the table rows of `family` (or named)."""
    out = []
    for name, row in TABLE.items():
        if (family is not None and row.family != family) or (names is not None and name not in names.split()):
            continue
        for t in row.encodings:
            if t not in out:
                out.append(t)
    return out


def table_cases(family=None, names=None, keep=None, extra=(), options=None, mode=REAL):
    """Cases for every template of a family: `options(template)` may return
    keyword arguments for encode.variants (forms, restrict_reg, ...)."""
    from encode import rng_for, variants
    encs = []
    for t in templates(family, names):
        kw = dict(options(t) or {}) if options else {}
        row = next(r for r in TABLE.values() if t in r.encodings)
        kw.setdefault("word", row.sizes != (1,))
        key = (t, "pm32") if mode.code32 else (t,)
        encs += variants(t, rng_for(*key), code32=mode.code32, **kw)
    return cases(list(encs) + list(extra), keep, mode)


def peek(state, lin, n):
    """Bytes the machines will see at `lin` (window pool plus plants)."""
    lo, hi = (WIN_LO, WIN_HI) if state.bases is None else (0, PM_WIN_HI)
    buf = bytearray(_POOL[state.window_off + lin - lo:state.window_off + lin - lo + n]) \
        if lo <= lin and lin + n <= hi else bytearray([HLT]) * n
    for plin, data in state.all_plants():
        for i, b in enumerate(data):
            if lin <= plin + i < lin + n:
                buf[plin + i - lin] = b
    return bytes(buf)


def operand_value(case, state, i):
    """The value of explicit operand i (register or memory) at the start."""
    o = case.insn.operands[i]
    if o.type == X.X86_OP_REG:
        idx, size, shift = _GPR[o.reg]
        return state.reg(idx, size, shift)
    if o.type == X.X86_OP_IMM:
        return o.imm & ((1 << (8 * o.size)) - 1)
    lin = state.lin(case.segment(), ea(case, state, o))
    return int.from_bytes(peek(state, lin, o.size), "little")


def set_operand(case, state, i, value):
    """Change explicit operand i (register or memory) before the run."""
    o = case.insn.operands[i]
    if o.type == X.X86_OP_REG:
        idx, size, shift = _GPR[o.reg]
        state.set_reg(idx, value, size, shift)
    else:
        lin = state.lin(case.segment(), ea(case, state, o))
        state.plant(lin, (value & ((1 << (8 * o.size)) - 1)).to_bytes(o.size, "little"))


def stack_lin(state, offset=0):
    """Linear address of SS:SP+offset (16-bit stack in real mode, 32-bit
    in protected mode)."""
    if state.bases is not None:
        return state.lin("ss", (state.reg(4) + offset) & 0xFFFFFFFF)
    return state.lin("ss", (state.reg(4, 2) + offset) & 0xFFFF)


def settings(max_examples):
    """Hypothesis settings for a differential test; DIFF_SCALE=n in the
    environment multiplies the examples (for a longer bug hunt)."""
    from hypothesis import settings as _settings
    return _settings(max_examples=max_examples * int(os.environ.get("DIFF_SCALE", "1")), deadline=None)
