"""Debug console (QEMU isa-debugcon / Bochs port E9 hack): bytes written to
the port go to a text stream; reading the port returns E9h, which is how
firmware detects it.  The runtime buffers the guest's byte writes and hands
them over a line at a time (ports.py fast_sink); `data` is whole whenever a
run has returned or another device is called."""
import sys


class OutputError(OSError):
    """A device could not write its output stream (a full disk, a closed
    pipe): the OSError, with the device's name in `device` so that the
    error can say which output failed."""

    def __init__(self, device, stream, err):
        super().__init__(err.errno, err.strerror, getattr(stream, "name", None))
        self.device = device


class DebugConsole:
    def __init__(self, ports=(0x402, 0xE9), out=None):
        self.ports = tuple(ports)
        self.out = out
        self.data = bytearray()

    def attach(self, machine):
        machine.ports.register(self.ports, read=self.read, write=self.write)
        # Firmware prints a byte per OUT: the runtime buffers them and hands
        # them over a line at a time (ports.py fast_sink).
        for p in self.ports:
            machine.ports.fast_latch(p, 0xE9)
            machine.ports.fast_sink(p, self.write_bytes)

    def reset(self):
        pass

    def snapshot(self):
        return {}  # what was written is output, not state

    def restore(self, state):
        pass

    def read(self, port, size):
        return 0xE9

    def write(self, port, value, size):
        self.write_bytes(bytes((value & 0xFF,)))

    def write_bytes(self, data):
        """Bytes written to the port, in order (flushed at a newline)."""
        self.data += data
        out = self.out
        if out is not None:
            try:
                out.write(data.decode("latin-1"))
                if b"\n" in data:
                    out.flush()
            except OSError as e:
                raise OutputError("debug console", out, e) from e

    @property
    def text(self):
        return self.data.decode("latin-1")


def stdout_console(ports=(0x402, 0xE9)):
    return DebugConsole(ports, out=sys.stdout)
