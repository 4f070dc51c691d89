"""Debug exit (QEMU isa-debug-exit): a write of v to port 0x501 ends the
run with exit status (v << 1) | 1, so test firmware can finish by itself."""


class DebugExit:
    def __init__(self, port=0x501):
        self.port = port
        self.status = None

    def attach(self, machine):
        self._machine = machine
        machine.ports.register(self.port, write=self.write)

    def reset(self):
        pass

    def snapshot(self):
        return {"status": self.status}

    def restore(self, state):
        self.status = state["status"]

    def write(self, port, value, size):
        self.status = ((value & 0xFF) << 1) | 1
        self._machine.request_exit()
