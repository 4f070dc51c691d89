"""Debug console (QEMU isa-debugcon / Bochs port E9 hack): bytes written to
the port go to a text stream; reading the port returns E9h, which is how
firmware detects it."""
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

    def reset(self):
        pass

    def snapshot(self):
        return {}  # what was written is output, not state

    def restore(self, state):
        pass

    def read(self, port, size):
        return 0xE9

    def write(self, port, value, size):
        self.data.append(value & 0xFF)
        out = self.out
        if out is not None:
            try:
                out.write(chr(value & 0xFF))
                if value & 0xFF == 10:
                    out.flush()
            except OSError as e:
                raise OutputError("debug console", out, e) from e

    @property
    def text(self):
        return self.data.decode("latin-1")


def stdout_console(ports=(0x402, 0xE9)):
    return DebugConsole(ports, out=sys.stdout)
