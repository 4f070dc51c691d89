"""POST code register (port 0x80): firmware writes progress codes there.
The last value and the history of writes are kept; reads return 0xFF as
QEMU's port 0x80 does (the port is also the classic I/O delay)."""


class PostCode:
    def __init__(self, port=0x80, out=None, limit=100000):
        self.port = port
        self.out = out
        self.limit = limit
        self.value = None
        self.history = []

    def attach(self, machine):
        machine.ports.register(self.port, read=lambda p, s: (1 << (8 * s)) - 1, write=self.write)

    def reset(self):
        pass  # the display keeps the last code; the history spans resets

    def snapshot(self):
        return {"value": self.value}  # (the history is a log, not state)

    def restore(self, state):
        self.value = state["value"]

    def write(self, port, value, size):
        v = value & ((1 << (8 * size)) - 1)
        self.value = v
        if len(self.history) < self.limit:
            self.history.append(v)
        if self.out is not None:
            self.out.write("POST %02x\n" % v)
