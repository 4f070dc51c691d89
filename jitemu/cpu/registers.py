"""Named access to the CPU state struct from Python: m.regs.eax, m.regs.ax,
m.regs.al, m.regs.cs (selector), m.regs.cs_base, m.regs.eip, ..."""

GPR = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"]
SEGS = ["es", "cs", "ss", "ds", "fs", "gs"]


def _names():
    names = {}
    for i, n in enumerate(GPR):
        names[n] = ("gpr", i, 0, 0xFFFFFFFF)
        names[n[1:]] = ("gpr", i, 0, 0xFFFF)
    for i, n in enumerate("acdb"):
        names[n + "l"] = ("gpr", i, 0, 0xFF)
        names[n + "h"] = ("gpr", i, 8, 0xFF)
    for i, n in enumerate(SEGS):
        names[n] = ("seg_sel", i, 0, 0xFFFF)
        names[n + "_base"] = ("seg_base", i, 0, 0xFFFFFFFF)
        names[n + "_limit"] = ("seg_limit", i, 0, 0xFFFFFFFF)
    for i in range(5):
        names["cr%d" % i] = ("cr", i, 0, 0xFFFFFFFF)
    names["eip"] = ("eip", None, 0, 0xFFFFFFFF)
    names["ip"] = ("eip", None, 0, 0xFFFF)
    names["eflags"] = ("eflags", None, 0, 0xFFFFFFFF)
    names["flags"] = ("eflags", None, 0, 0xFFFF)
    return names


NAMES = _names()


class Registers:
    def __init__(self, state):
        object.__setattr__(self, "_s", state)

    def _field(self, name):
        try:
            return NAMES[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getattr__(self, name):
        kind, idx, shift, mask = self._field(name)
        if kind == "gpr":
            v = self._s.regs[idx]
        elif idx is None:
            v = getattr(self._s, kind)
        else:
            v = getattr(self._s, kind)[idx]
        return (v >> shift) & mask

    def __setattr__(self, name, value):
        kind, idx, shift, mask = self._field(name)
        if kind == "seg_sel":
            # Setting a selector from Python behaves like a real-mode load.
            self._s.seg_sel[idx] = value & 0xFFFF
            self._s.seg_base[idx] = (value & 0xFFFF) << 4
            return
        if kind == "eip":
            self._s.halted = 0  # a host that moves EIP means "run from here"
        if kind == "gpr":
            old = self._s.regs[idx]
            self._s.regs[idx] = (old & ~(mask << shift)) | ((value & mask) << shift)
        elif idx is None:
            old = getattr(self._s, kind)
            setattr(self._s, kind, (old & ~(mask << shift)) | ((value & mask) << shift))
        else:
            arr = getattr(self._s, kind)
            arr[idx] = (arr[idx] & ~(mask << shift)) | ((value & mask) << shift)

    def snapshot(self):
        out = {n: getattr(self, n) for n in GPR + ["eip", "eflags"]}
        for n in SEGS:
            out[n] = getattr(self, n)
            out[n + "_base"] = getattr(self, n + "_base")
        return out

    def __repr__(self):
        snap = self.snapshot()
        return " ".join("%s=%08x" % (k, v) for k, v in snap.items())
