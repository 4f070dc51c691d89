"""Tracing to a file, like QEMU's `-d in_asm,exec,cpu,int -D FILE`.

    jitemu boot -d in_asm,exec,cpu,int -D trace.txt
    jitemu run IMAGE -d int             # to standard error without -D

Categories:

    in_asm   the guest instructions of each new block, when it is translated
    exec     each block execution
    cpu      the registers before each block execution (as `info registers`)
    int      interrupts and exceptions: vector, error code, return address

The hooks are installed only for the categories asked for (Machine.set_tracer);
with no -d the dispatch loop pays nothing.  Tracing exec or cpu calls into
Python for every block: expect a run to be many times slower.

Lines look like:

    ----------------
    IN: block 1 at 000f0000 (cs base 000f0000) 16-bit
    0x000f0000:  fa                       cli
    0x000f0001:  fc                       cld
    Trace: block 1 at f000:0000 (linear 000f0000) icount 1
    INT: vector 0x00 error ---- return f000:00000b26 (linear 000f0b26) icount 5827

(the return address is the faulting instruction for faults and the next
one for traps, INT n and hardware interrupts; the error code is shown for
exceptions that push one).
"""
import sys

from .guest import dump_registers

CATEGORIES = ("in_asm", "exec", "cpu", "int")
HF_CODE32 = 1


def parse_categories(spec):
    """'in_asm,int' -> {'in_asm', 'int'}; ValueError names a bad one."""
    cats = set()
    for c in (spec or "").split(","):
        c = c.strip()
        if not c:
            continue
        if c not in CATEGORIES:
            raise ValueError("-d: unknown trace category %r (known: %s)" % (c, ", ".join(CATEGORIES)))
        cats.add(c)
    if not cats:
        raise ValueError("-d: no trace category given (known: %s)" % ", ".join(CATEGORIES))
    return cats


class Tracer:
    """Receives Machine trace events and writes them to `out`."""

    def __init__(self, out, categories):
        self.out = out
        self.categories = set(categories)
        self.exec = "exec" in self.categories
        self.cpu = "cpu" in self.categories
        self.counts = {"in_asm": 0, "exec": 0, "int": 0}

    def install(self, machine):
        c = self.categories
        machine.set_tracer(self, exec="exec" in c, cpu="cpu" in c, interrupts="int" in c,
                           in_asm="in_asm" in c)
        return self

    @staticmethod
    def uninstall(machine):
        machine.set_tracer(None)

    # -- events (called on the vCPU thread) ----------------------------------------
    def executed(self, m, pc, cs_base, block_id):
        w = self.out.write
        if self.exec:
            self.counts["exec"] += 1
            w("Trace: block %d at %04x:%04x (linear %08x) icount %d\n"
              % (block_id, m.s.seg_sel[1], (pc - cs_base) & 0xFFFFFFFF, pc, m.s.icount))
        if self.cpu:
            w(dump_registers(m) + "\n\n")

    def interrupt(self, m, vector, error_code, return_linear):
        self.counts["int"] += 1
        s = m.s
        err = "----" if error_code is None else "%04x" % error_code
        self.out.write("INT: vector 0x%02x error %s return %04x:%08x (linear %08x) icount %d\n"
                       % (vector, err, s.seg_sel[1], (return_linear - s.seg_base[1]) & 0xFFFFFFFF,
                          return_linear, s.icount))

    def translated(self, pc, cs_base, hflags, block_id, listing):
        self.counts["in_asm"] += 1
        w = self.out.write
        w("----------------\nIN: block %d at %08x (cs base %08x) %d-bit\n"
          % (block_id, pc, cs_base, 32 if hflags & HF_CODE32 else 16))
        for addr, raw, text in listing:
            w("0x%08x:  %-24s %s\n" % (addr, bytes(raw).hex(" "), text.rstrip()))
        w("\n")

    def close(self):
        try:
            self.out.flush()
        finally:
            if self.out not in (sys.stdout, sys.stderr):
                self.out.close()
