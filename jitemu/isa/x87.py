"""The x87 opcode map: which name each escape opcode (D8-DF) with its
ModRM byte has, the size of its memory operand, and the status-word
condition codes the SDM leaves undefined after it.

Names are Intel's (capstone's differ for some register forms).  A name is
one row of jitemu/isa/table.py (family "fpu"); its forms are told apart at
run time by the 11-bit opcode (FOP), which the helper gets.
"""

C0, C1, C2, C3 = 0x100, 0x200, 0x400, 0x4000
CC = C0 | C1 | C2 | C3

_ARITH = ("fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr")
_IARITH = ("fiadd", "fimul", "ficom", "ficomp", "fisub", "fisubr", "fidiv", "fidivr")

# (escape low bits, reg) -> (name, memory operand size; "env"/"save" by operand size)
MEM = {}
for _r, _n in enumerate(_ARITH):
    MEM[0, _r] = (_n, 4)
    MEM[4, _r] = (_n, 8)
for _r, _n in enumerate(_IARITH):
    MEM[2, _r] = (_n, 4)
    MEM[6, _r] = (_n, 2)
MEM.update({
    (1, 0): ("fld", 4), (1, 2): ("fst", 4), (1, 3): ("fstp", 4), (1, 4): ("fldenv", "env"),
    (1, 5): ("fldcw", 2), (1, 6): ("fnstenv", "env"), (1, 7): ("fnstcw", 2),
    (3, 0): ("fild", 4), (3, 2): ("fist", 4), (3, 3): ("fistp", 4), (3, 5): ("fld", 10), (3, 7): ("fstp", 10),
    (5, 0): ("fld", 8), (5, 2): ("fst", 8), (5, 3): ("fstp", 8), (5, 4): ("frstor", "save"),
    (5, 6): ("fnsave", "save"), (5, 7): ("fnstsw", 2),
    (7, 0): ("fild", 2), (7, 2): ("fist", 2), (7, 3): ("fistp", 2), (7, 4): ("fbld", 10), (7, 5): ("fild", 8),
    (7, 6): ("fbstp", 10), (7, 7): ("fistp", 8),
})
# Memory forms that write memory (for the segment's write check).
STORES = {"fst", "fstp", "fist", "fistp", "fbstp", "fnstenv", "fnsave", "fnstcw", "fnstsw"}


# The 387's undocumented aliases, which P6 executes too: FCOM2 (DC D0+i),
# FCOMP3 (DC D8+i), FCOMP5 (DE D0+i), FXCH4 (DD C8+i), FXCH7 (DF C8+i),
# FSTP1 (D9 D8+i), FSTP8 and FSTP9 (DF D0+i, DF D8+i) behave as the
# instruction they alias; FFREEP (DF C0+i) is FFREE, then a pop.
_ALIASES = {(4, 2): "fcom", (4, 3): "fcomp", (6, 2): "fcomp", (5, 1): "fxch", (7, 1): "fxch", (1, 3): "fstp",
            (7, 2): "fstp", (7, 3): "fstp", (7, 0): "ffreep"}


def reg_name(esc, modrm):
    """The name of a register form (ModRM >= C0), or None (#UD)."""
    reg, i = (modrm >> 3) & 7, modrm & 7
    if (esc, reg) in _ALIASES:
        return _ALIASES[esc, reg]
    if esc == 0:
        return _ARITH[reg]
    if esc in (4, 6):
        if reg in (2, 3):
            return "fcompp" if esc == 6 and modrm == 0xD9 else None
        n = ("fadd", "fmul", None, None, "fsubr", "fsub", "fdivr", "fdiv")[reg]
        return n + "p" if esc == 6 else n
    if esc == 1:
        if reg == 0:
            return "fld"
        if reg == 1:
            return "fxch"
        if modrm == 0xD0:
            return "fnop"
        if modrm >= 0xE0:
            return {0xE0: "fchs", 0xE1: "fabs", 0xE4: "ftst", 0xE5: "fxam", 0xE8: "fld1", 0xE9: "fldl2t",
                    0xEA: "fldl2e", 0xEB: "fldpi", 0xEC: "fldlg2", 0xED: "fldln2", 0xEE: "fldz",
                    0xF0: "f2xm1", 0xF1: "fyl2x", 0xF2: "fptan", 0xF3: "fpatan", 0xF4: "fxtract",
                    0xF5: "fprem1", 0xF6: "fdecstp", 0xF7: "fincstp", 0xF8: "fprem", 0xF9: "fyl2xp1",
                    0xFA: "fsqrt", 0xFB: "fsincos", 0xFC: "frndint", 0xFD: "fscale", 0xFE: "fsin",
                    0xFF: "fcos"}.get(modrm)
        return None
    if esc in (2, 3):
        if reg <= 3:
            return ("fcmovb", "fcmove", "fcmovbe", "fcmovu", "fcmovnb", "fcmovne", "fcmovnbe", "fcmovnu")[
                reg + 4 * (esc == 3)]
        if esc == 2:
            return "fucompp" if modrm == 0xE9 else None
        if modrm in (0xE0, 0xE1, 0xE4):
            return "fnop287"  # FENI FDISI FSETPM: no-ops on a 387
        return {0xE2: "fnclex", 0xE3: "fninit"}.get(modrm) or {5: "fucomi", 6: "fcomi"}.get(reg)
    if esc == 5:
        return {0: "ffree", 2: "fst", 3: "fstp", 4: "fucom", 5: "fucomp"}.get(reg)
    if esc == 7:
        if modrm == 0xE0:
            return "fnstsw"
        return {5: "fucomip", 6: "fcomip"}.get(reg)
    return None


def reg_templates(name):
    """Register-form templates of `name`: "D8 C0+r" for a ModRM group of
    eight (ST(i) in the low bits), "D9 E8" for one byte."""
    for esc in range(8):
        for g in range(0xC0, 0x100, 8):
            names = [reg_name(esc, m) for m in range(g, g + 8)]
            if names == [name] * 8:
                yield "%02X %02X+r" % (0xD8 + esc, g)
            else:
                yield from ("%02X %02X" % (0xD8 + esc, m) for m in range(g, g + 8) if names[m - g] == name)


def mem_size(size, op_size, real):
    """Bytes of a memory operand (`size` from MEM)."""
    if size == "env":
        return 28 if op_size == 4 else 14
    if size == "save":
        return 108 if op_size == 4 else 94
    return size


# The transcendentals: QEMU 5 (Unicorn 2) computes them in host doubles,
# so the differential tests compare their values within a tolerance.
TRANSCENDENTAL = {"f2xm1", "fyl2x", "fptan", "fpatan", "fyl2xp1", "fsincos", "fsin", "fcos"}

# Status-word condition codes the SDM leaves undefined after each name
# (compared in the differential tests only where defined).
_ARITH_NAMES = set(_ARITH + _IARITH) - {"fcom", "fcomp", "ficom", "ficomp"}
UNDEFINED_CC = {}
for _n in _ARITH_NAMES | {n + "p" for n in ("fadd", "fmul", "fsub", "fsubr", "fdiv", "fdivr")} | {
        "fld", "fst", "fstp", "fild", "fist", "fistp", "fbld", "fbstp", "fsqrt", "frndint", "fscale",
        "fxtract", "fchs", "fabs", "fxch", "fld1", "fldz", "fldpi", "fldl2e", "fldl2t", "fldlg2", "fldln2",
        "fincstp", "fdecstp", "fcmovb", "fcmove", "fcmovbe", "fcmovu", "fcmovnb", "fcmovne", "fcmovnbe",
        "fcmovnu", "fldcw"}:
    UNDEFINED_CC[_n] = C0 | C2 | C3
for _n in ("f2xm1", "fyl2x", "fpatan", "fyl2xp1"):
    UNDEFINED_CC[_n] = C0 | C2 | C3
for _n in ("fsin", "fcos", "fptan", "fsincos"):  # C2: out of range
    UNDEFINED_CC[_n] = C0 | C3
for _n in ("fcomi", "fcomip", "fucomi", "fucomip"):
    UNDEFINED_CC[_n] = C0 | C2 | C3
for _n in ("fnstsw", "fnstcw", "fnstenv", "fldenv", "ffree", "ffreep", "fnop", "fnop287", "fnclex", "fninit",
           "fnsave", "frstor"):
    UNDEFINED_CC[_n] = CC if _n in ("fnstsw", "fnstcw", "fnstenv", "fnsave") else 0

NAMES = sorted({n for n, _ in MEM.values()} | {reg_name(e, m) for e in range(8) for m in range(0xC0, 0x100)} - {None})
