"""Progress of a long run on standard error.

After `delay` seconds (2 s) of wall time, a line with the instructions run,
the speed, the blocks translated, the compile time and the resets is
rewritten in place every `interval` (0.5 s) when standard error is a
terminal; with force=True (`--progress`) also when it is not, as one line
every `interval` (5 s unless given).  clear() wipes the line before the
closing summary.  `--quiet` shows neither.
"""
import sys
import time


def progress_line(m, seconds):
    st = m.stats()
    n = st["instructions"]
    return ("jitemu: %.1f s: %s instructions (%.1f MIPS), %d blocks translated, %.2f s compiling, %d resets"
            % (seconds, "{:,}".format(n), n / max(seconds, 1e-9) / 1e6, st["blocks_translated"],
               st["compile_seconds"], sum(m.resets.values())))


class Progress:
    def __init__(self, machine, out=None, delay=2.0, interval=None, force=False, clock=time.perf_counter):
        self.m = machine
        self.out = out if out is not None else sys.stderr
        try:
            self.tty = self.out.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.enabled = self.tty or force
        self.delay = delay
        self.interval = interval if interval is not None else (0.5 if self.tty else 5.0)
        self.clock = clock
        self.t0 = clock()
        self.last = None
        self.shown = False
        self.lines = 0

    def tick(self):
        if not self.enabled:
            return False
        now = self.clock()
        elapsed = now - self.t0
        if elapsed < self.delay or (self.last is not None and now - self.last < self.interval):
            return False
        self.last = now
        line = progress_line(self.m, elapsed)
        if self.tty:
            self.out.write("\r" + line + "\x1b[K")
        else:
            self.out.write(line + "\n")
        self.out.flush()
        self.shown = True
        self.lines += 1
        return True

    def clear(self):
        if self.shown and self.tty:
            self.out.write("\r\x1b[K")
            self.out.flush()
        self.shown = False
