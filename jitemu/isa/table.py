"""The table of x86 semantics: one row per instruction.

Decode (which names are supported), lift (which family lifts a row) and the
differential tests (encodings to try, flags to mask) all read this table.
Flags are written as letters O S Z A P C.  `undefined` are the flags the
SDM leaves undefined after the instruction; `undefined_unless_count1` are
undefined unless the shift or rotate count is 1.  `encodings` are opcode
templates in the SDM's notation (`/r`, `/digit`, `ib`, `iw`, `iv` = word or
dword per operand size, `+r` = register in the low 3 bits, `/m` = ModRM with memory forms only).
"""
from dataclasses import dataclass

FLAG = {"O": 0x800, "S": 0x80, "Z": 0x40, "A": 0x10, "P": 0x04, "C": 0x01}
ALL = "OSZAPC"


def mask(letters):
    m = 0
    for ch in letters:
        m |= FLAG[ch]
    return m


@dataclass(frozen=True)
class Row:
    name: str           # capstone's canonical instruction name
    family: str         # the lifter module (jitemu/jit/lift/<family>.py)
    writes: int         # flags the instruction may change
    undefined: int      # flags left undefined
    undefined_unless_count1: int
    encodings: tuple
    sizes: tuple        # operand sizes the encodings take (1, 2, 4; 8: m64)


TABLE = {}


def row(names, family, writes="", undefined="", unless1="", enc=(), sizes=(2, 4)):
    for name in names.split():
        TABLE[name] = Row(name, family, mask(writes), mask(undefined), mask(unless1),
                          tuple(enc), tuple(sizes))


_CC = "o no b ae e ne be a s ns p np l ge le g".split()  # condition codes, encoding order

# Data movement
row("mov", "move", enc=("88 /r", "89 /r", "8A /r", "8B /r", "B0+r ib", "B8+r iv", "C6 /0 ib", "C7 /0 iv",
                        "A0 moffs", "A1 moffs", "A2 moffs", "A3 moffs", "8C /r", "8E /r"), sizes=(1, 2, 4))
row("movzx movsx", "move", enc=("0F B6 /r", "0F B7 /r", "0F BE /r", "0F BF /r"))
row("lea", "move", enc=("8D /r",))
row("lds les lfs lgs lss", "move", enc=("C5 /m", "C4 /m", "0F B4 /m", "0F B5 /m", "0F B2 /m"))
row("xchg", "move", enc=("86 /r", "87 /r", "90+r"), sizes=(1, 2, 4))
row("xlatb", "move", enc=("D7",))
row("cbw cwde cwd cdq", "move", enc=("98", "99"))
row("bswap", "move", enc=("0F C8+r",))
# CMOVcc (P6): the source is read whatever the condition; no flags
row(" ".join("cmov" + c for c in _CC), "move", enc=tuple("0F %02X /r" % (0x40 + i) for i in range(16)))
row("lahf", "flags", enc=("9F",))
row("sahf", "flags", writes="SZAPC", enc=("9E",))
row("nop pause", "flags", enc=("90", "F3 90"))

# Exchanges of the 486 and Pentium (lift/exchange.py): flags as CMP and
# ADD.  CMPXCHG8B takes m64 only: its register form, like LOCK with a
# register destination, is #UD (capstone does not decode it).
row("cmpxchg", "exchange", writes=ALL, enc=("0F B0 /r", "0F B1 /r"), sizes=(1, 2, 4))
row("xadd", "exchange", writes=ALL, enc=("0F C0 /r", "0F C1 /r"), sizes=(1, 2, 4))
row("cmpxchg8b", "exchange", writes="Z", enc=("0F C7 /1",), sizes=(8,))

# Arithmetic and logic
for name, code in (("add", 0), ("or", 1), ("adc", 2), ("sbb", 3), ("and", 4), ("sub", 5), ("xor", 6), ("cmp", 7)):
    base = code * 8
    logic = name in ("and", "or", "xor")
    row(name, "alu", writes=ALL, undefined="A" if logic else "",
        enc=tuple("%02X /r" % (base + i) for i in range(4)) +
        ("%02X ib" % (base + 4), "%02X iv" % (base + 5), "80 /%d ib" % code, "81 /%d iv" % code, "83 /%d ib" % code),
        sizes=(1, 2, 4))
row("test", "alu", writes=ALL, undefined="A", enc=("84 /r", "85 /r", "A8 ib", "A9 iv", "F6 /0 ib", "F7 /0 iv"),
    sizes=(1, 2, 4))
row("inc", "alu", writes="OSZAP", enc=("40+r", "FE /0", "FF /0"), sizes=(1, 2, 4))
row("dec", "alu", writes="OSZAP", enc=("48+r", "FE /1", "FF /1"), sizes=(1, 2, 4))
row("neg", "alu", writes=ALL, enc=("F6 /3", "F7 /3"), sizes=(1, 2, 4))
row("not", "alu", enc=("F6 /2", "F7 /2"), sizes=(1, 2, 4))

# Multiply and divide
row("mul", "muldiv", writes=ALL, undefined="SZAP", enc=("F6 /4", "F7 /4"), sizes=(1, 2, 4))
row("imul", "muldiv", writes=ALL, undefined="SZAP",
    enc=("F6 /5", "F7 /5", "0F AF /r", "6B /r ib", "69 /r iv"), sizes=(1, 2, 4))
row("div idiv", "muldiv", writes=ALL, undefined=ALL, enc=("F6 /6", "F7 /6", "F6 /7", "F7 /7"), sizes=(1, 2, 4))

# Shifts and rotates
for name, d in (("rol", 0), ("ror", 1), ("rcl", 2), ("rcr", 3), ("shl", 4), ("shr", 5), ("sar", 7)):
    rot = name in ("rol", "ror", "rcl", "rcr")
    row(name, "shift", writes="OC" if rot else ALL, undefined="" if rot else "A", unless1="O",
        enc=("D0 /%d" % d, "D1 /%d" % d, "D2 /%d" % d, "D3 /%d" % d, "C0 /%d ib" % d, "C1 /%d ib" % d),
        sizes=(1, 2, 4))
# /6 in the shift group: undocumented, an alias of SHL on every x86 (and QEMU).
row("sal", "shift", writes=ALL, undefined="A", unless1="O",
    enc=("D0 /6", "D1 /6", "D2 /6", "D3 /6", "C0 /6 ib", "C1 /6 ib"), sizes=(1, 2, 4))
row("shld", "shift", writes=ALL, undefined="A", unless1="O", enc=("0F A4 /r ib", "0F A5 /r"))
row("shrd", "shift", writes=ALL, undefined="A", unless1="O", enc=("0F AC /r ib", "0F AD /r"))

# Bit operations
row("bt", "bits", writes="OSAPC", undefined="OSAP", enc=("0F A3 /r", "0F BA /4 ib"))
row("bts", "bits", writes="OSAPC", undefined="OSAP", enc=("0F AB /r", "0F BA /5 ib"))
row("btr", "bits", writes="OSAPC", undefined="OSAP", enc=("0F B3 /r", "0F BA /6 ib"))
row("btc", "bits", writes="OSAPC", undefined="OSAP", enc=("0F BB /r", "0F BA /7 ib"))
# F3 0F BC/BD (TZCNT/LZCNT with BMI1/ABM) are these too: decode.NO_BMI
row("bsf bsr", "bits", writes=ALL, undefined="OSAPC", enc=("0F BC /r", "0F BD /r"))
row(" ".join("set" + c for c in _CC), "bits", enc=tuple("0F %02X /0" % (0x90 + i) for i in range(16)), sizes=(1,))

# Decimal arithmetic
row("daa das", "bcd", writes=ALL, undefined="O", enc=("27", "2F"), sizes=(1,))
row("aaa aas", "bcd", writes=ALL, undefined="OSZP", enc=("37", "3F"), sizes=(1,))
row("aam aad", "bcd", writes=ALL, undefined="OAC", enc=("D4 ib", "D5 ib"), sizes=(1,))

# Strings
for stem, base in (("movs", 0xA4), ("cmps", 0xA6), ("stos", 0xAA), ("lods", 0xAC), ("scas", 0xAE),
                   ("ins", 0x6C), ("outs", 0x6E)):
    writes = ALL if stem in ("cmps", "scas") else ""
    row(" ".join(stem + s for s in "bwd"), "string", writes=writes,
        enc=("%02X" % base, "%02X" % (base + 1)), sizes=(1, 2, 4))

# Stack
row("push pop", "stack", enc=("50+r", "58+r", "FF /6", "8F /0", "6A ib", "68 iv", "06", "07", "0E", "16", "17",
                              "1E", "1F", "0F A0", "0F A1", "0F A8", "0F A9"))
row("pushal pushaw popal popaw", "stack", enc=("60", "61"))
row("pushf pushfd", "stack", enc=("9C",))
row("popf popfd", "stack", writes=ALL, enc=("9D",))
row("enter leave", "stack", enc=("C8 iw ib", "C9"))

# Control transfer
row(" ".join("j" + c for c in _CC), "flow", enc=tuple("%02X cb" % (0x70 + i) for i in range(16)) +
    tuple("0F %02X cv" % (0x80 + i) for i in range(16)))
row("jmp call ret", "flow", enc=("EB cb", "E9 cv", "E8 cv", "FF /4", "FF /2", "C3", "C2 iw"))
row("ljmp lcall retf", "flow", enc=("EA ptr", "9A ptr", "FF /5", "FF /3", "CB", "CA iw"))
row("loop loope loopne jcxz jecxz", "flow", enc=("E2 cb", "E1 cb", "E0 cb", "E3 cb"))
row("int int3 into", "flow", enc=("CD ib", "CC", "CE"))
# INT1 (ICEBP, F1): #DB as a trap through vector 1.  No encoding template:
# Unicorn (2.1.4) raises #UD for F1, so the flow tests cannot draw it;
# tests/test_diff_int1.py and test_diff32_int1.py compare it with Unicorn's INT 1.
row("int1", "flow")
row("bound", "flow", enc=("62 /m",))
row("iret iretd", "flow", writes=ALL, enc=("CF",))

# Flags, I/O and the processor
row("clc stc cmc", "flags", writes="C", enc=("F8", "F9", "F5"))
row("cld std cli sti", "flags", enc=("FC", "FD", "FA", "FB"))
row("in out", "system", enc=("E4 ib", "E5 ib", "E6 ib", "E7 ib", "EC", "ED", "EE", "EF"), sizes=(1, 2, 4))
row("hlt", "system", enc=("F4",))
row("ud2", "system", enc=("0F 0B",))

# System registers and processor identification (the 386 system
# architecture; protected-mode privilege checks, gates and paging are not
# yet lifted)
row("cpuid rdtsc rdmsr wrmsr", "sysregs", enc=("0F A2", "0F 31", "0F 32", "0F 30"))
row("rdpmc", "sysregs", enc=("0F 33",))
row("sysenter sysexit", "sysregs", enc=("0F 34", "0F 35"))
row("lgdt lidt sgdt sidt", "sysregs", enc=("0F 01 /2", "0F 01 /3", "0F 01 /0", "0F 01 /1"))
row("lmsw smsw clts", "sysregs", enc=("0F 01 /6", "0F 01 /4", "0F 06"))
row("wbinvd invd", "sysregs", enc=("0F 09", "0F 08"))
row("invlpg", "sysregs", enc=("0F 01 /7",))
row("ltr lldt str sldt", "sysregs", enc=("0F 00 /3", "0F 00 /2", "0F 00 /1", "0F 00 /0"))
row("lar lsl", "sysregs", writes="Z", enc=("0F 02 /r", "0F 03 /r"))
row("verr verw", "sysregs", writes="Z", enc=("0F 00 /4", "0F 00 /5"))
row("arpl", "sysregs", writes="Z", enc=("63 /r",))

# x87 (jitemu/isa/x87.py has the opcode map, operand sizes and the
# condition codes left undefined): every escape opcode goes to one helper
# (runtime/fpu.c) with its 11-bit opcode.  FCOMI/FUCOMI(P) write ZF PF CF
# and clear OF SF AF; FCMOVcc reads CF ZF PF.  WAIT raises #NM when CR0.TS
# and CR0.MP are both set, and #MF for a pending unmasked exception.
from . import x87 as _x87  # noqa: E402
for _name in _x87.NAMES:
    _enc = tuple("%02X /%d" % (0xD8 + e, r) for (e, r), (n, _) in _x87.MEM.items() if n == _name) + \
        tuple(_x87.reg_templates(_name))
    row(_name, "fpu", writes=ALL if _name in ("fcomi", "fcomip", "fucomi", "fucomip") else "", enc=_enc)
row("wait", "fpu", enc=("9B",))
row("fxsave fxrstor", "fpu", enc=("0F AE /0", "0F AE /1"))
