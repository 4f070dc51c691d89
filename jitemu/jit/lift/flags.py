"""CLC STC CMC CLD STD CLI STI LAHF SAHF NOP."""
from ..decode import Reg
from . import lifts

DF, IF = 0x400, 0x200


@lifts("clc stc cmc")
def lift_carry(b, insn):
    if insn.name == "cmc":
        b.set_flag("cf", b.bnot(b.get_flag("cf")))
    else:
        b.set_flag("cf", "true" if insn.name == "stc" else "false")


@lifts("cld std cli")
def lift_df_if(b, insn):
    if insn.name == "cli":
        b.check_iopl()
    bit = IF if insn.name == "cli" else DF
    if insn.name == "std":
        b.eflags_update(0xFFFFFFFF, bit)
    else:
        b.eflags_update(0xFFFFFFFF & ~bit, 0)


@lifts("sti")
def lift_sti(b, insn):
    b.check_iopl()
    # A pending interrupt may now be deliverable: the helper raises the
    # exit request and the block ends after this instruction.
    b.call("void", "helper_sti", flags=None)
    b.needs_exit_check = True


@lifts("lahf")
def lift_lahf(b, insn):
    acc = "2"
    for name, bit in (("cf", 0), ("pf", 2), ("af", 4), ("zf", 6), ("sf", 7)):
        z = b.op("zext i1 %s to i8" % b.get_flag(name))
        acc = b.bin("or", 1, acc, b.bin("shl", 1, z, bit))
    b.set_reg(Reg(0, 1, True), acc)


@lifts("sahf")
def lift_sahf(b, insn):
    ah = b.get_reg(Reg(0, 1, True))
    for name, bit in (("cf", 0), ("pf", 2), ("af", 4), ("zf", 6), ("sf", 7)):
        b.set_flag(name, b.bit(ah, 1, bit))


@lifts("nop pause")
def lift_nop(b, insn):
    pass
