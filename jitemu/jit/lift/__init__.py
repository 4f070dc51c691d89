"""Lifters: one module per instruction family, each registering the rows
of jitemu/isa/table.py it implements."""
LIFTERS = {}


def lifts(*names):
    def deco(fn):
        for n in names:
            for name in n.split():
                LIFTERS[name] = fn
        return fn
    return deco


from . import alu, bcd, bits, exchange, flags, flow, fpu, move, muldiv, shift, stack, string, sysregs, system  # noqa: E402,F401
