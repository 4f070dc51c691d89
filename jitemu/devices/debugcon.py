"""Debug console (QEMU isa-debugcon / Bochs port E9 hack): bytes written to
the port go to a text stream; reading the port returns E9h, which is how
firmware detects it."""
import sys


class DebugConsole:
    def __init__(self, ports=(0x402, 0xE9), out=None):
        self.ports = tuple(ports)
        self.out = out
        self.data = bytearray()

    def attach(self, machine):
        machine.ports.register(self.ports, read=self.read, write=self.write)

    def reset(self):
        pass

    def read(self, port, size):
        return 0xE9

    def write(self, port, value, size):
        self.data.append(value & 0xFF)
        out = self.out if self.out is not None else None
        if out is not None:
            out.write(chr(value & 0xFF))
            if value & 0xFF == 10:
                out.flush()

    @property
    def text(self):
        return self.data.decode("latin-1")


def stdout_console(ports=(0x402, 0xE9)):
    return DebugConsole(ports, out=sys.stdout)
