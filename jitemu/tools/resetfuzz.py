"""`jitemu resetfuzz`: does a firmware come back up if the machine is reset
at any point of its boot, by any reset source?

    jitemu resetfuzz --bios X [--disk Y] --marker TEXT --count K --seed S [--sources ...]

1. The reference boot runs from power-on until TEXT appears on the debug
   console: its length L (instructions) and its console output up to the
   marker are what every trial is held to.  Snapshots are taken along it
   (64 to 128 of them, at least 20,000 instructions apart).
2. K trials, from the seed: instruction N in [1, L), the sources in turn.
   A trial restores the nearest snapshot before N (not a boot from
   scratch), runs to exactly N (the budget is exact: the same N is the
   same instruction in every run), injects the reset (Machine.inject_reset)
   and runs on for at most `bound` instructions.  Recovered: the console
   shows, from the reset on, exactly the reference output up to the
   marker.  Wrong output: it shows something else.  Hung: no marker
   within the bound (nor anything wrong).
3. A table per source, each failure as one `jitemu boot ... --reset-at
   N:SOURCE` line that reproduces it (a fixed RTC time, the disk's writes
   kept in memory), and exit status 1 if anything failed.

Guest time is deterministic, so a trial's outcome depends only on (N,
SOURCE): trials run in `--jobs` worker processes, each with its own
machine restored from the reference's snapshots.
"""
import os
import random
import shlex
import sys
import time

DEFAULT_TIME = "2024-01-01T00:00:00"
CATEGORIES = ("recovered", "hung", "wrong output")
SNAPSHOTS = 64


class Watch:
    """The debug console's output stream during a run: from `start()` on,
    every byte is held to the reference output; the run is stopped when
    the marker has appeared, or as soon as the output departs from it."""

    def __init__(self, machine, marker, reference=None):
        self.m = machine
        self.marker = marker.encode("latin-1")
        self.reference = reference
        self.data = bytearray()
        self.active = False
        self.seen = None    # icount when the marker was complete
        self.wrong = False

    def start(self):
        self.data.clear()
        self.active = True
        self.seen = None
        self.wrong = False

    def write(self, text):
        if not self.active:
            return
        new = text.encode("latin-1")
        at = len(self.data)
        self.data += new
        ref = self.reference
        if ref is not None and ref[at:at + len(new)] != new:
            self.wrong = True
            self.active = False
            self.m.stop()
        elif self.seen is None and self.marker in self.data[max(0, at - len(self.marker) + 1):]:
            self.seen = self.m.icount
            self.active = False
            self.m.stop()

    def flush(self):
        pass


def build(cfg):
    """A PC for resetfuzz: the machine and the console watcher."""
    from ..pc import build_pc
    pc = build_pc(bios=cfg["bios"], disk=cfg["disk"], memory_mb=cfg["memory"], fixed_time=cfg["time"],
                  snapshot=True, cache=cfg["cache"])
    watch = Watch(pc.machine, cfg["marker"])
    pc.debugcon.out = watch
    # Every byte at its own instruction: the marker's instruction count is
    # the boot's length, and runtime buffering would make it vary.
    pc.machine.ports.fast_clear(pc.debugcon.ports)
    return pc, watch


def reference(cfg):
    from ..snapshot import SnapshotError
    """Boot to the marker once, taking snapshots on the way: (length,
    output, snapshots as [(icount, Snapshot)])."""
    pc, watch = build(cfg)
    m = pc.machine
    watch.start()
    intern = {}
    snaps = [(0, m.snapshot(intern))]
    every = [cfg["snapshot_every"]]

    def take():
        try:
            snaps.append((m.icount, m.snapshot(intern)))
        except SnapshotError:  # (a device in mid-command: the next point will do)
            m.at_icount(m.icount + 1000, take)
            return
        if len(snaps) > 2 * SNAPSHOTS:  # the boot is longer than guessed: half as many, twice as far apart
            snaps[:] = snaps[::2]
            every[0] *= 2
        m.at_icount(snaps[-1][0] + every[0], take)
    m.at_icount(every[0], take)
    why = m.run(cfg["max_reference"])
    if watch.seen is None:
        raise RuntimeError("the reference boot did not print the marker %r (it ended: %s after %d instructions)"
                           % (cfg["marker"], why, m.icount))
    length = watch.seen
    return length, bytes(watch.data), [(n, s) for n, s in snaps if n < length]


class Trials:
    """Runs trials on one machine restored from the reference snapshots."""

    def __init__(self, cfg, ref_output, snaps):
        self.cfg = cfg
        self.pc, self.watch = build(cfg)
        self.watch.reference = ref_output
        self.snaps = snaps
        self.keys = [n for n, _ in snaps]

    def run(self, n, source):
        import bisect
        m, watch = self.pc.machine, self.watch
        m.restore(self.snaps[bisect.bisect_right(self.keys, n) - 1][1])
        m.clear_icount_events()
        watch.active = False
        first, _, during = source.partition("+")

        def inject():
            watch.start()
            m.inject_reset(first, during or None)
        m.at_icount(n, inject)
        m.run(n - m.icount + self.cfg["bound"])
        if watch.wrong:
            return "wrong output", "after %r" % bytes(watch.data[-60:]).decode("latin-1")
        if watch.seen is None:
            return "hung", "no marker %d instructions after the reset" % (m.icount - n)
        return "recovered", ""


# -- worker processes ---------------------------------------------------------
_trials = None


def _init_worker(cfg, ref_output, snaps):
    global _trials
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    _trials = Trials(cfg, ref_output, snaps)


def _work(batch):
    return [(i, n, src) + _trials.run(n, src) for i, n, src in batch]


# -- the command -----------------------------------------------------------------
def plan(length, count, seed, sources):
    """The trials, from the seed: (index, N, source)."""
    rng = random.Random(seed)
    return [(i, rng.randrange(1, length), sources[i % len(sources)]) for i in range(count)]


def reproduction(cfg, n, source):
    cmd = ["jitemu", "boot", "--bios", cfg["bios_path"]]
    if cfg["disk"] is not None:
        cmd += ["--disk", cfg["disk"], "--snapshot"]
    if cfg["memory"] != 16:
        cmd += ["--memory", str(cfg["memory"])]
    cmd += ["--fixed-time", cfg["time"], "--reset-at", "%d:%s" % (n, source),
            "--max-instructions", str(n + cfg["bound"])]
    return " ".join(shlex.quote(c) for c in cmd)


def table(results, sources):
    rows = []
    for src in list(sources) + ["total"]:
        mine = [r for r in results if src == "total" or r[2] == src]
        rows.append([src, len(mine)] + [sum(1 for r in mine if r[3] == c) for c in CATEGORIES])
    head = ["source", "tried"] + list(CATEGORIES)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = "  ".join("%%-%ds" % widths[0] if i == 0 else "%%%ds" % w for i, w in enumerate(widths))
    return "\n".join(fmt % tuple(r) for r in [head] + rows)


def main(args):
    from ..machine import Machine
    err = _check(args)
    if err:
        sys.stderr.write("jitemu: error: %s\n" % err)
        return 2
    sources = args.sources
    cfg = {"bios": args.bios_bytes, "bios_path": args.bios, "disk": args.disk, "memory": args.memory,
           "time": args.fixed_time, "marker": args.marker, "cache": not args.no_cache,
           "snapshot_every": None, "bound": None, "max_reference": args.max_reference}
    out = sys.stdout
    t0 = time.perf_counter()
    # Snapshots every 20,000 instructions, spaced out as the boot goes on
    # (at most 2 * SNAPSHOTS of them).
    cfg["snapshot_every"] = 20_000
    try:
        length, ref_output, snaps = reference(cfg)
    except RuntimeError as e:
        sys.stderr.write("jitemu: error: %s\n" % e)
        return 2
    cfg["bound"] = args.bound if args.bound is not None else 2 * length + 1_000_000
    ref_seconds = time.perf_counter() - t0
    trials = plan(length, args.count, args.seed, sources)
    if not args.quiet:
        sys.stderr.write("jitemu: resetfuzz: reference boot: %s instructions to %r in %.2f s, %d snapshots; "
                         "%d trials (bound %s instructions after the reset) on %d jobs\n"
                         % ("{:,}".format(length), args.marker, ref_seconds, len(snaps), len(trials),
                            "{:,}".format(cfg["bound"]), args.jobs))
    from .progress import Bar
    bar = Bar(len(trials), label="jitemu: resetfuzz ") if not args.quiet else None
    results = []
    failures = 0

    def got(batch):
        nonlocal failures
        results.extend(batch)
        failures += sum(1 for r in batch if r[3] != "recovered")
        if bar is not None:
            bar.update(len(results), "%d failed" % failures, force=len(results) == len(trials))

    t1 = time.perf_counter()
    try:
        if args.jobs == 1:
            runner = Trials(cfg, ref_output, snaps)
            for i, n, src in trials:
                got([(i, n, src) + runner.run(n, src)])
        else:
            import multiprocessing
            ctx = multiprocessing.get_context("spawn")  # (no fork of a process with a vCPU's runtime)
            size = max(1, min(10, len(trials) // (args.jobs * 8)))
            batches = [trials[k:k + size] for k in range(0, len(trials), size)]
            with ctx.Pool(args.jobs, initializer=_init_worker, initargs=(cfg, ref_output, snaps)) as pool:
                for batch in pool.imap_unordered(_work, batches):
                    got(batch)
    except KeyboardInterrupt:
        if bar is not None:
            bar.clear()
        sys.stderr.write("jitemu: resetfuzz: interrupted after %d of %d trials\n" % (len(results), len(trials)))
        return 130
    seconds = time.perf_counter() - t1
    if bar is not None:
        bar.clear()
    results.sort()
    out.write(table(results, sources) + "\n")
    lines = []
    for i, n, src, what, detail in results:
        if what != "recovered":
            lines.append((what, detail, reproduction(cfg, n, src)))
    for what, detail, line in lines:
        out.write("%s (%s): %s\n" % (what, detail, line))
    if args.failures:
        try:
            with open(args.failures, "w") as f:
                f.write("".join(line + "\n" for _, _, line in lines))
        except OSError as e:
            sys.stderr.write("jitemu: error: cannot write %s: %s\n" % (args.failures, e.strerror or e))
            return 2
    out.write("jitemu: resetfuzz: %d resets in %.1f s (%.1f s with the reference boot), %d jobs, seed %d: %s\n"
              % (len(results), seconds, time.perf_counter() - t0, args.jobs, args.seed,
                 "%d failed" % len(lines) if lines else "all recovered"))
    out.flush()
    return 1 if lines else 0


def _check(args):
    """Bad input: a one-line error, or None (args.bios_bytes is set)."""
    from ..cli import SYSTEM_SEABIOS, _read_image, _regular_file
    from ..machine import MAX_ROM, Machine
    if args.bios is None:
        if not os.path.exists(SYSTEM_SEABIOS):
            return "no --bios given and %s is missing (apt-get install seabios)" % SYSTEM_SEABIOS
        args.bios = SYSTEM_SEABIOS
    try:
        args.bios_bytes = _read_image(args.bios, limit=MAX_ROM)
    except (ValueError, OSError) as e:
        return str(e)
    if args.disk is not None:
        err = _regular_file(args.disk, "disk image")
        if err:
            return err
    if not args.marker:
        return "--marker must not be empty"
    try:
        args.marker.encode("latin-1")
    except UnicodeEncodeError:
        return "--marker must be Latin-1 text (the debug console's bytes)"
    for src in args.sources:
        for s in src.split("+"):
            if s not in Machine.RESET_SOURCES:
                return "--sources: unknown reset source %r (one of %s)" % (s, ", ".join(Machine.RESET_SOURCES))
    if args.fixed_time is not None:
        import datetime
        try:
            datetime.datetime.fromisoformat(args.fixed_time)
        except ValueError:
            return "--fixed-time: not an ISO date and time: %r" % args.fixed_time
    if args.failures:
        d = os.path.dirname(os.path.abspath(args.failures))
        if not os.path.isdir(d):
            return "--failures: no such directory: %s" % d
    return None
