"""The x87 escape opcodes and WAIT, without an FPU: #NM or #UD as CR0 says
(EM: emulate in software; TS: task switched; MP: monitor WAIT)."""
from . import lifts

EM, MP, TS = 4, 2, 8


def _raise_by_cr0(b, mask, need_all):
    cr0 = b.load_field("cr", 0)
    bits = b.bin("and", 4, cr0, mask)
    cond = b.icmp("eq", 4, bits, mask) if need_all else b.icmp("ne", 4, bits, 0)
    yes, no = b.new_label("nm"), b.new_label("nonm")
    b.cbr(cond, yes, no)
    b.place(yes)
    b.fault(7)
    b.place(no)


@lifts("x87")
def lift_x87(b, insn):
    _raise_by_cr0(b, EM | TS, need_all=False)
    b.fault(6)  # no coprocessor behind the escape


@lifts("wait")
def lift_wait(b, insn):
    _raise_by_cr0(b, TS | MP, need_all=True)
