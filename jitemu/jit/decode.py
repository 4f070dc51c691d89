"""Decoding guest instructions with capstone into a small, stable form.

The lifters never see capstone objects: they get an `Insn` with operands
as `Reg`, `Imm`, `Mem` or `SReg`, sizes in bytes, and the prefixes that
change meaning (segment override, REP/REPNE, operand and address size).
"""
from dataclasses import dataclass, field, replace

# capstone's Python binding loads when the first Decoder is made (_load):
# most blocks are decoded by the runtime (runtime/baseline.c), and a boot
# whose every form is known never needs it (importing it costs ~0.1 s).
capstone = X = None

ES, CS, SS, DS, FS, GS = range(6)
SEG_PREFIX = {0x26: ES, 0x2E: CS, 0x36: SS, 0x3E: DS, 0x64: FS, 0x65: GS}


@dataclass(frozen=True)
class Reg:
    index: int  # encoding order EAX..EDI
    size: int   # 1, 2 or 4
    high: bool = False  # AH CH DH BH


@dataclass(frozen=True)
class SReg:
    index: int
    size: int = 2


@dataclass(frozen=True)
class CReg:
    """A control (kind "cr") or debug (kind "dr") register."""
    kind: str
    index: int
    size: int = 4


@dataclass(frozen=True)
class Imm:
    value: int  # already masked to `size`
    size: int


@dataclass(frozen=True)
class Mem:
    size: int
    seg: int        # effective segment (override or default)
    base: Reg | None
    index: Reg | None
    scale: int
    disp: int
    addr_size: int  # 2 or 4


@dataclass
class Insn:
    eip: int          # offset in CS
    length: int
    name: str         # capstone's canonical instruction name
    text: str         # for logs and traces
    ops: list = field(default_factory=list)
    op_size: int = 2
    addr_size: int = 2
    rep: int = 0      # 0, 0xF3 or 0xF2
    seg_override: int | None = None
    raw: bytes = b""

    @property
    def next_eip(self):
        mask = 0xFFFF if self.mode16 else 0xFFFFFFFF
        return (self.eip + self.length) & mask

    mode16: bool = True


def _load():
    global capstone, X, REGS, SREGS
    if X is None:
        import capstone as cs
        from capstone import x86_const
        capstone = cs
        X = x86_const
        REGS, SREGS = _build_regs()


def _build_regs():
    regs = {}
    names8 = ["AL", "CL", "DL", "BL"]
    names8h = ["AH", "CH", "DH", "BH"]
    names16 = ["AX", "CX", "DX", "BX", "SP", "BP", "SI", "DI"]
    for i, n in enumerate(names16):
        regs[getattr(X, "X86_REG_" + n)] = Reg(i, 2)
        regs[getattr(X, "X86_REG_E" + n)] = Reg(i, 4)
    for i, n in enumerate(names8):
        regs[getattr(X, "X86_REG_" + n)] = Reg(i, 1)
        regs[getattr(X, "X86_REG_" + names8h[i])] = Reg(i, 1, True)
    sregs = {getattr(X, "X86_REG_" + n): SReg(i) for i, n in enumerate(["ES", "CS", "SS", "DS", "FS", "GS"])}
    for i in range(5):
        sregs[getattr(X, "X86_REG_CR%d" % i)] = CReg("cr", i)
    for i in range(8):
        sregs[getattr(X, "X86_REG_DR%d" % i)] = CReg("dr", i)
    return regs, sregs


REGS = SREGS = None  # capstone register -> Reg, and -> SReg or CReg (_load)


def _legacy_prefixes(raw):
    """(REP byte or 0, segment override or None) from the instruction's
    prefix bytes, the last of each kind winning.  Not from capstone's
    prefix array: it drops F2 in F2 66 A5 (REPNE MOVSD), which repeats."""
    rep, seg = 0, None
    for b in raw:
        if b in (0xF2, 0xF3):
            rep = b
        elif b in SEG_PREFIX:
            seg = SEG_PREFIX[b]
        elif b not in (0x66, 0x67, 0xF0):
            break
    return rep, seg


def _far_indirect(out):
    """Capstone names FF /3 and FF /5 with a 0x66 prefix "call" and "jmp"
    in 16-bit code, with a 2-byte operand; they are far transfers through
    an m16:32.  In 32-bit code it names them "lcall" and "ljmp" but gives
    the 0x66 form (m16:16) 6 bytes: the operand is op_size + 2 either way."""
    raw = out.raw
    i = 0
    while i < len(raw) - 1 and (raw[i] in SEG_PREFIX or raw[i] in (0x66, 0x67, 0xF0, 0xF2, 0xF3)):
        i += 1
    if raw[i] == 0xFF and i + 1 < len(raw) and (raw[i + 1] >> 6) != 3 and (raw[i + 1] >> 3) & 7 in (3, 5):
        out.name = "lcall" if (raw[i + 1] >> 3) & 7 == 3 else "ljmp"
        out.ops[0] = replace(out.ops[0], size=out.op_size + 2)


class UndecodableError(Exception):
    pass


class Decoder:
    def __init__(self):
        _load()
        self._cs = {}
        for bits, mode in ((16, capstone.CS_MODE_16), (32, capstone.CS_MODE_32)):
            md = capstone.Cs(capstone.CS_ARCH_X86, mode)
            md.detail = True
            self._cs[bits] = md

    def decode(self, code, eip, code32):
        """Decode the instruction at the start of `code` (bytes) at `eip`.
        Returns an Insn, or None if the bytes do not form an instruction."""
        x87 = decode_x87(code, eip, code32)
        if x87 is not None:
            return x87
        md = self._cs[32 if code32 else 16]
        insn = next(md.disasm(code, eip, 1), None)
        if insn is None:
            return None
        pfx = insn.prefix
        rep, seg_override = _legacy_prefixes(insn.bytes)
        op_size_default = 4 if code32 else 2
        op_size = op_size_default if pfx[2] != 0x66 else 6 - op_size_default
        out = Insn(eip=eip, length=insn.size, name=insn.insn_name(),
                   text="%s %s" % (insn.mnemonic, insn.op_str),
                   op_size=op_size, addr_size=insn.addr_size,
                   rep=rep,
                   seg_override=seg_override, raw=bytes(insn.bytes),
                   mode16=not code32)
        for o in insn.operands:
            if o.type == X.X86_OP_REG:
                if o.reg in REGS:
                    out.ops.append(REGS[o.reg])
                elif o.reg in SREGS:
                    out.ops.append(SREGS[o.reg])
                else:
                    raise UndecodableError(out.text)  # control, debug, FPU...
            elif o.type == X.X86_OP_IMM:
                # Capstone gives the implicit 1 of RCL m, 1 (D0/D1 /2) size 0.
                size = o.size or 1
                mask = (1 << (8 * size)) - 1
                out.ops.append(Imm(o.imm & mask, size))
            elif o.type == X.X86_OP_MEM:
                m = o.mem
                base = REGS.get(m.base) if m.base else None
                index = REGS.get(m.index) if m.index else None
                if (m.base and base is None) or (m.index and index is None):
                    raise UndecodableError(out.text)  # RIP/EIP-relative etc.
                default = SS if base is not None and base.index in (4, 5) else DS
                seg = seg_override if seg_override is not None else default
                addr_mask = (1 << (8 * insn.addr_size)) - 1
                out.ops.append(Mem(o.size, seg, base, index, m.scale, m.disp & addr_mask,
                                   insn.addr_size))
            else:
                raise UndecodableError(out.text)
        if out.name in ("jmp", "call", "ljmp", "lcall"):
            _far_indirect(out)
        if out.name in NO_BMI:
            _ignore_rep(out)
        return out


# F3 0F BC and F3 0F BD are TZCNT and LZCNT on a CPU with BMI1 and ABM; a
# Pentium II has neither and ignores the F3 prefix: BSF and BSR, as the
# SDM says for TZCNT and LZCNT (compilers emit "rep bsf" for tzcnt).
NO_BMI = {"tzcnt": "bsf", "lzcnt": "bsr"}


def _ignore_rep(out):
    out.text = out.text.replace(out.name, NO_BMI[out.name], 1)
    out.name = NO_BMI[out.name]
    out.rep = 0


# -- x87 -------------------------------------------------------------------
_RM16 = ((3, 6), (3, 7), (5, 6), (5, 7), (6, None), (7, None), (5, None), (3, None))  # (base, index)


def decode_x87(code, eip, code32):
    """An escape opcode (D8-DF), decoded here rather than by capstone
    (which names some register forms unlike Intel and refuses some memory
    forms): the Insn named as jitemu/isa/x87.py says ("x87" for a reserved
    encoding), its first operand the 11-bit opcode (FOP) as a 2-byte
    immediate, then the memory operand, sized by the format.  None when
    the bytes are not an escape opcode."""
    from ..isa import x87
    i, seg, rep = 0, None, 0
    op_size = addr_size = 4 if code32 else 2
    while i < min(len(code), 14):
        b = code[i]
        if b == 0x66:
            op_size = 6 - (4 if code32 else 2)
        elif b == 0x67:
            addr_size = 6 - (4 if code32 else 2)
        elif b in SEG_PREFIX:
            seg = SEG_PREFIX[b]
        elif b in (0xF2, 0xF3):
            rep = b
        elif b != 0xF0:
            break
        i += 1
    if i + 1 >= len(code) or not 0xD8 <= code[i] <= 0xDF:
        return None
    try:
        return _x87_insn(code, eip, code32, i, seg, rep, op_size, addr_size)
    except IndexError:  # the bytes end inside the instruction
        return None


def _x87_insn(code, eip, code32, i, seg, rep, op_size, addr_size):
    from ..isa import x87
    esc, modrm = code[i] & 7, code[i + 1]
    n = i + 2
    ops = [Imm((esc << 8) | modrm, 2)]
    if modrm >= 0xC0:
        name = x87.reg_name(esc, modrm) or "x87"
    else:
        mod, rm = modrm >> 6, modrm & 7
        base = index = None
        scale, disp = 1, 0
        if addr_size == 2:
            if mod == 0 and rm == 6:
                disp, n = int.from_bytes(code[n:n + 2], "little"), n + 2
            else:
                bi, ii = _RM16[rm]
                base, index = Reg(bi, 2), Reg(ii, 2) if ii is not None else None
        else:
            if rm == 4:
                sib = code[n]
                n += 1
                scale, ii, bi = 1 << (sib >> 6), (sib >> 3) & 7, sib & 7
                index = Reg(ii, 4) if ii != 4 else None
                if bi == 5 and mod == 0:
                    disp, n = int.from_bytes(code[n:n + 4], "little"), n + 4
                else:
                    base = Reg(bi, 4)
            elif rm == 5 and mod == 0:
                disp, n = int.from_bytes(code[n:n + 4], "little"), n + 4
            else:
                base = Reg(rm, 4)
        if mod == 1:
            disp, n = code[n] - (code[n] & 0x80) * 2, n + 1
        elif mod == 2:
            disp, n = int.from_bytes(code[n:n + addr_size], "little"), n + addr_size
        if index is None:
            scale = 1
        name, size = x87.MEM.get((esc, (modrm >> 3) & 7), ("x87", 2))
        default = SS if base is not None and base.index in (4, 5) else DS
        ops.append(Mem(x87.mem_size(size, op_size, None), seg if seg is not None else default, base, index,
                       scale, disp & ((1 << (8 * addr_size)) - 1), addr_size))
    if n > len(code) or n > 15:
        return None
    return Insn(eip=eip, length=n, name=name, text="%s %s" % (name, code[i:n].hex()), ops=ops, op_size=op_size,
                addr_size=addr_size, rep=rep, seg_override=seg, raw=bytes(code[:n]), mode16=not code32)
