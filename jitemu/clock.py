"""Guest time.

The clock is virtual and deterministic: one nanosecond per retired guest
instruction, plus the time skipped while the CPU is halted waiting for a
timer.  The TSC counts the same nanoseconds (a 1 GHz TSC), so RDTSC, the PIT
and every other timer agree, and a run is reproducible to the instruction.
Timers fire between translated blocks: the dispatcher's instruction budget
is set to the next deadline.
"""
import heapq
import itertools

from ._runtime import lib

EXIT_BUDGET = 1024  # an internal exit request (machine.py's INTERNAL): run() sets the budget anew


class Timer:
    __slots__ = ("when", "fn", "cancelled")

    def __init__(self, when, fn):
        self.when, self.fn, self.cancelled = when, fn, False

    def cancel(self):
        self.cancelled = True


class VirtualClock:
    def __init__(self, state):
        self.s = state
        self._heap = []
        self._seq = itertools.count()

    def now(self):
        """Guest nanoseconds since power-on."""
        return self.s.icount + self.s.tsc_offset

    def call_at(self, when_ns, fn):
        t = Timer(int(when_ns), fn)
        heapq.heappush(self._heap, (t.when, next(self._seq), t))
        s = self.s
        if t.when - s.tsc_offset < s.icount_limit:
            # Armed by a device while the vCPU runs towards a later budget
            # (an APIC timer written by MMIO): translated code leaves at the
            # next block entry and Machine.run sets the budget anew.
            lib.cpu_request_exit(s, EXIT_BUDGET)
        return t

    def call_later(self, delay_ns, fn):
        return self.call_at(self.now() + max(0, int(delay_ns)), fn)

    def next_deadline(self):
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def deadline_icount(self):
        """The instruction count at which the next timer is due, or None."""
        d = self.next_deadline()
        return None if d is None else max(self.s.icount, d - self.s.tsc_offset)

    def run_due(self):
        now = self.now()
        while self._heap and self._heap[0][0] <= now:
            _, _, t = heapq.heappop(self._heap)
            if not t.cancelled:
                t.fn()

    def skip_to_next_deadline(self):
        """While halted: let guest time jump to the next timer."""
        d = self.next_deadline()
        if d is not None and d > self.now():
            self.s.tsc_offset += d - self.now()

    def clear(self):
        self._heap.clear()
