"""The I/O port bus: devices claim port ranges; unclaimed ports read as all
ones and ignore writes, like an ISA bus with nothing on it."""


class PortBus:
    def __init__(self):
        self._read = {}
        self._write = {}

    def register(self, ports, read=None, write=None):
        """Attach handlers to `ports` (an int or an iterable of ints).
        read(port, size) -> int; write(port, value, size)."""
        if isinstance(ports, int):
            ports = (ports,)
        for p in ports:
            if read is not None:
                self._read[p] = read
            if write is not None:
                self._write[p] = write

    def read(self, port, size):
        h = self._read.get(port)
        if h is None:
            return (1 << (8 * size)) - 1
        return h(port, size) & ((1 << (8 * size)) - 1)

    def write(self, port, value, size):
        h = self._write.get(port)
        if h is not None:
            h(port, value & ((1 << (8 * size)) - 1), size)
