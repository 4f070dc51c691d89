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


class _StatusLine:
    """A line on `out` (standard error): on a terminal rewritten in place,
    else a new line each time; clear() wipes it before what follows."""

    def __init__(self, out):
        self.out = out if out is not None else sys.stderr
        try:
            self.tty = self.out.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.shown = False

    def show(self, text):
        self.out.write(("\r" + text + "\x1b[K") if self.tty else text + "\n")
        self.out.flush()
        self.shown = True

    def clear(self):
        if self.shown and self.tty:
            self.out.write("\r\x1b[K")
            self.out.flush()
        self.shown = False


class Progress(_StatusLine):
    def __init__(self, machine, out=None, delay=2.0, interval=None, force=False, clock=time.perf_counter):
        super().__init__(out)
        self.m = machine
        self.enabled = self.tty or force
        self.delay = delay
        self.interval = interval if interval is not None else (0.5 if self.tty else 5.0)
        self.clock = clock
        self.t0 = clock()
        self.last = None
        self.lines = 0

    def tick(self):
        if not self.enabled:
            return False
        now = self.clock()
        elapsed = now - self.t0
        if elapsed < self.delay or (self.last is not None and now - self.last < self.interval):
            return False
        self.last = now
        self.show(progress_line(self.m, elapsed))
        self.lines += 1
        return True


class Bar(_StatusLine):
    """A progress bar for a known amount of work (jitemu resetfuzz): on a
    terminal one line rewritten in place, else a line every `interval`
    seconds (10 s), as Progress does; clear() wipes it before a table."""

    def __init__(self, total, out=None, label="", width=30, interval=None, clock=time.perf_counter):
        super().__init__(out)
        self.total = max(1, total)
        self.label, self.width = label, width
        self.interval = interval if interval is not None else (0.1 if self.tty else 10.0)
        self.clock = clock
        self.t0 = clock()
        self.last = None

    def line(self, done, note=""):
        filled = self.width * done // self.total
        elapsed = self.clock() - self.t0
        return "%s[%s%s] %d/%d %.0f s%s" % (self.label, "#" * filled, "." * (self.width - filled), done,
                                           self.total, elapsed, ("  " + note) if note else "")

    def update(self, done, note="", force=False):
        now = self.clock()
        if not force and self.last is not None and now - self.last < self.interval:
            return False
        self.last = now
        self.show(self.line(done, note))
        return True
