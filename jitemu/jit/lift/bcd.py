"""DAA DAS AAA AAS AAM AAD (runtime/bcd.c)."""
from . import lifts

OPS = {"daa": 0, "das": 1, "aaa": 2, "aas": 3, "aam": 4, "aad": 5}


@lifts("daa das aaa aas aam aad")
def lift_bcd(b, insn):
    imm = insn.ops[0].value if insn.ops else 10
    b.call_may_fault("i32", "helper_bcd", OPS[insn.name], imm, flags="rw")
