"""The I/O port bus: devices claim port ranges; unclaimed ports read as all
ones and ignore writes, like an ISA bus with nothing on it.

A device may also have the runtime serve a port it polls or prints through
in C, with no call into Python per access (runtime/fastio.c):

    fast_latch(port, value)        byte reads return `value`; the device calls
                                   it again whenever that value changes
    fast_counter(port, hz, bits)   reads inside a 4-byte free-running counter of
                                   the virtual clock (the ACPI PM timer)
    fast_timed(port, value, until, bit, period)
                                   byte reads before guest time `until` return
                                   `value` with `bit` toggling every `period` ns;
                                   later ones go to the device (port 0x61)
    fast_sink(port, write_bytes)   byte writes are buffered and handed over as
                                   write_bytes(data), in order (the debug console)
    fast_clear(ports)              back to the device's handlers

Every access C does not serve (writes to a latch, reads of a sink, other
sizes) still goes to the handlers given to register(), which stay the
device's model; read() and write() here answer as the guest's IN and OUT
do.  Registering a port again drops its fast entry.  On a bus with no
runtime (PortBus()), the fast_* calls do nothing.
"""
from ._runtime import ffi, lib

FIO_SINK_CAP = 4096  # runtime/jitemu.h


class PortBus:
    def __init__(self, state=None):
        self._read = {}
        self._write = {}
        self._s = state  # the runtime's CPU state (Machine.s), or None
        self._fast = set()  # ports with an entry in the runtime's table
        self._sinks = {}  # port -> write_bytes(data)
        if state is not None:
            self._buf = ffi.new("uint8_t[]", FIO_SINK_CAP)
            self._buf_port = ffi.new("uint32_t *")

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
            if p in self._fast:
                self.fast_clear(p)  # the new handlers decide

    def read(self, port, size):
        if port in self._fast:
            v = lib.fio_read(self._s, port, size)
            if v >= 0:
                return v
        h = self._read.get(port)
        if h is None:
            return (1 << (8 * size)) - 1
        return h(port, size) & ((1 << (8 * size)) - 1)

    def write(self, port, value, size):
        h = self._write.get(port)
        if h is not None:
            h(port, value & ((1 << (8 * size)) - 1), size)

    # -- ports served by the runtime ------------------------------------------
    def _set(self, port, ok):
        if ok != 0:
            raise MemoryError("cannot allocate the fast port table")
        self._fast.add(port)

    def fast_latch(self, port, value):
        """Byte reads of `port` return `value` without calling the device,
        until it calls this again; its read handler must agree."""
        if self._s is not None:
            self._set(port, lib.fio_set_latch(self._s, port, value & 0xFF))

    def fast_counter(self, port, hz, bits, width=4):
        """Reads inside the `width`-byte register at `port` return the
        counter (clock.now() * hz // 10**9) mod 2**bits, little-endian, as
        the device's read handler computes it at the same instant; reads
        running past the register, and writes, go to the device."""
        if not (1 <= width <= 4 and 1 <= bits <= 32):
            raise ValueError("a counter register is 1-4 bytes of 1-32 bits")
        if self._s is not None:
            self._set(port, lib.fio_set_counter(self._s, port, width, hz, bits))
            self._fast.update(range(port, port + width))

    def fast_timed(self, port, value, until, bit, period):
        """Byte reads of `port` before guest time `until` (ns; None: no
        end) return `value` with bit `bit` set in odd `period`-ns intervals
        of the clock ((now // period) & 1), without calling the device; from
        `until` on they call its read handler, which sets them again."""
        if self._s is not None:
            until = (1 << 64) - 1 if until is None else max(0, until)
            self._set(port, lib.fio_set_timed(self._s, port, value & 0xFF, until, bit, period))

    def fast_sink(self, port, write_bytes):
        """Byte writes to `port` are buffered in the runtime and handed to
        write_bytes(data) in order: at a newline, when the buffer is full,
        before any other device sees an access, and when the run returns.
        Writes from Python (write()) go to the device's handler at once."""
        if self._s is not None:
            self._sinks[port] = write_bytes
            self._set(port, lib.fio_set_sink(self._s, port))

    def fast_clear(self, ports):
        if isinstance(ports, int):
            ports = (ports,)
        for p in ports:
            if p in self._fast:
                if p in self._sinks:
                    self.drain()
                    del self._sinks[p]
                lib.fio_clear(self._s, p)
                self._fast.discard(p)

    def is_fast(self, port):
        """Whether the runtime serves some accesses to `port` itself."""
        return self._s is not None and lib.fio_kind(self._s, port) != 0

    def drain(self):
        """Hand the buffered sink bytes to their device (the runtime calls
        this; on the vCPU thread, or with the vCPU stopped)."""
        if self._s is None:
            return
        n = lib.fio_sink_take(self._s, self._buf, self._buf_port)
        if n:
            w = self._sinks.get(self._buf_port[0])
            if w is not None:
                w(ffi.buffer(self._buf, n)[:])
