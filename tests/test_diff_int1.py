"""INT1 (ICEBP, F1) against Unicorn, in real mode.

Unicorn 2.1.4 has no ICEBP (F1 stops it with UC_ERR_INSN_INVALID; so does
qemu-system-i386 7.2 deliver #UD), so it runs INT 1 (CD 01) in its place:
the SDM (vol. 2, INT n/INTO/INT3/INT1) delivers INT1 in real mode as INT 1
is, through IVT entry 1, pushing FLAGS, CS and the address of the next
instruction.  That address is the one thing that differs (after the one
byte of F1, not the two of CD 01): it is moved back by one in Unicorn's
snapshot and compared with the rest."""
import dataclasses

import pytest
from hypothesis import given

import oracle
from encode import Encoding

ICEBP, INT_1 = b"\xf1", b"\xcd\x01"


class IntOneForIcebp:
    """Unicorn running INT 1 where the case says F1."""

    def __init__(self, unicorn, slot):
        self.u = unicorn
        self.slot = slot  # the return address's bytes on the stack

    def run(self, code, state, limit=oracle.LIMIT):
        assert code == ICEBP
        err, snap = self.u.run(INT_1, state, limit)
        if err is None and self.u.interrupts == [1]:
            sp = snap["regs"][4]
            lin = state.lin("ss", sp & (0xFFFF if self.slot == 2 else 0xFFFFFFFF)) - self.u.WIN_LO
            mem = bytearray(snap["mem"])
            ret = int.from_bytes(mem[lin:lin + self.slot], "little")
            assert ret == oracle.CODE_IP + len(INT_1)
            mem[lin:lin + self.slot] = (ret - 1).to_bytes(self.slot, "little")
            code = oracle.CODE_IP - self.u.WIN_LO  # (in the window in protected mode)
            if 0 <= code < len(mem):
                # Each machine wrote its code and 16 HLTs: CD 01 reaches one byte further.
                end = oracle.CODE_IP + len(INT_1) + 16
                mem[code:code + len(INT_1) + 16] = ICEBP + bytes([oracle.HLT]) * 16 + oracle.peek(state, end - 1, 1)
            snap["mem"] = bytes(mem)
        return err, snap


class ModelledByIntOne:
    """A case's mode (first tier, or regions in tests/test_region_oracle.py)
    with IntOneForIcebp as its Unicorn."""

    def __init__(self, mode):
        self.mode = mode

    def __getattr__(self, name):
        return getattr(self.mode, name)

    def machines(self):
        j, u = self.mode.machines()
        return j, IntOneForIcebp(u, 4 if self.mode.code32 else 2)


def check(case, state):
    return oracle.check(dataclasses.replace(case, mode=ModelledByIntOne(case.mode)), state)


CASES = oracle.cases([Encoding(ICEBP, "F1")])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@oracle.settings(60)
@given(state=oracle.states())
def test_int1_is_int_1_returning_after_f1(case, state):
    a = check(case, state)
    sel, off = oracle.ivt_target(1)
    assert (a["segs"]["cs"], a["eip"]) == (sel, off + 1)  # past the HLT at vector 1's handler
