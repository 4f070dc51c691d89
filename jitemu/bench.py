"""`jitemu bench`: time jitemu against QEMU TCG (and Unicorn, Bochs where they
apply) on the same images in one run, alternating, and report medians and
ratios.

Every measurement is a whole process, start to the moment its last line of
debug-console output appears (QEMU never exits on HLT, so the runner watches
its debug-console file and ends it); both emulators pay their start-up.
Instruction counts come from jitemu's run of the same image (QEMU executes
the same guest code), so MIPS are comparable.  Shared machines are noisy:
read the ratios, not the absolute times.

All the work happens in child processes, each in its own process group:
Ctrl-C or SIGTERM kills every one of them (and their own children, such as
jitemu's compile worker) at once, and the bench exits 130 or 143.

The `native` column runs each CPU kernel's C twin (bench/native/<kernel>.c:
the same work at the same REPEAT, compiled here with `cc -O2`) as a whole
process too: the ceiling a translator could reach, measured.  Its output
line must equal the emulators'; a difference is shown in the table.

Peak memory is each process's own VmHWM.  jitemu and its compile worker
read theirs as they exit (_LAUNCH): rusage would not do, since Linux counts
the address space a vforked child shared before exec (the bench's for
jitemu, jitemu's for the worker) in the child's ru_maxrss, and a parent's
rusage of its children takes the largest of the whole tree.  QEMU's is read
while it runs (it never exits on HLT).
"""
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NATIVE = os.path.join(ROOT, "bench", "native")  # the CPU kernels' C twins
FIRMWARE = os.path.join(ROOT, "firmware", "images")
SEABIOS = "/usr/share/seabios/bios.bin"
QEMU = "qemu-system-i386"
# linux-boot: Debian's i386 kernel and a static busybox, where .ci/run
# unpacks them (the packages linux-image-6.1.0-*-686 and busybox-static).
LINUX_ROOT = os.path.join(ROOT, ".ci", "cache", "root")
LINUX_APPEND = "console=ttyS0"


class Workload:
    def __init__(self, name, kind, image, done, disk=None, cache="cold", unicorn=False, repeat=None,
                 native=None):
        self.name, self.kind, self.image, self.done = name, kind, image, done
        self.disk, self.cache, self.unicorn = disk, cache, unicorn
        self.repeat = repeat  # a kernel: its source's default REPEAT (scaled by --scale)
        self.passes = repeat  # the REPEAT its image runs (scale_kernels sets it)
        self.native = native  # a kernel: the name of its C twin in bench/native


def workloads():
    img = lambda n: os.path.join(FIRMWARE, n)  # noqa: E731
    return [
        Workload("seabios-boot-cold", "pc", SEABIOS, "BOOT-SECTOR-OK", disk=img("disk/bootok.img")),
        Workload("seabios-boot-warm", "pc", SEABIOS, "BOOT-SECTOR-OK", disk=img("disk/bootok.img"), cache="warm"),
        Workload("seabios-reboot-x100", "pc", SEABIOS, "REBOOTS-OK 100", disk=img("disk/rebootloop.img"),
                 cache="warm"),
        Workload("crc32-real", "rom", img("cpuloop.bin"), "crc32 ", unicorn=True, repeat=64, native="crc32"),
        Workload("sieve-real", "rom", img("sieve.bin"), "primes ", unicorn=True, repeat=100, native="sieve"),
        Workload("sieve-pm-paging", "rom", img("sieve32.bin"), "primes ", repeat=100, native="sieve"),
        Workload("lz-real", "rom", img("lz.bin"), "lz ", unicorn=True, repeat=700, native="lz"),
        Workload("lz-pm-paging", "rom", img("lz32.bin"), "lz ", repeat=700, native="lz"),
        Workload("memcpy-real", "rom", img("memcpy.bin"), "memcpy ", unicorn=True, repeat=600, native="memcpy"),
        Workload("memcpy-pm-paging", "rom", img("memcpy32.bin"), "memcpy ", repeat=600, native="memcpy"),
        Workload("dhry-real", "rom", img("dhry.bin"), "dhry ", unicorn=True, repeat=480, native="dhry"),
        Workload("dhry-pm-paging", "rom", img("dhry32.bin"), "dhry ", repeat=480, native="dhry"),
        Workload("strops-real", "rom", img("strops.bin"), "strops ", unicorn=True, repeat=900, native="strops"),
        Workload("strops-pm-paging", "rom", img("strops32.bin"), "strops ", repeat=900, native="strops"),
        Workload("smc-imm-real", "rom", img("smc-imm.bin"), "smc-imm ", unicorn=True, repeat=250),
        Workload("smc-gen-real", "rom", img("smc-gen.bin"), "smc-gen ", unicorn=True, repeat=200),
        # Time to the shell: /init prints its marker as it starts the shell.
        Workload("linux-boot", "linux", SEABIOS, "JITEMU-LINUX-SHELL"),
    ]


def linux_files():
    """(kernel, busybox) paths for linux-boot, or None when absent."""
    import glob
    kernels = sorted(glob.glob(os.path.join(LINUX_ROOT, "boot", "vmlinuz-*-686")))
    busybox = os.path.join(LINUX_ROOT, "bin", "busybox")
    return (kernels[-1], busybox) if kernels and os.path.exists(busybox) else None


def linux_initrd(tmp):
    """The linux-boot workload's initramfs (built once per bench run)."""
    path = os.path.join(tmp, "initrd.gz")
    if not os.path.exists(path):
        from .tools import initramfs
        with open(linux_files()[1], "rb") as f:
            data = initramfs.build(f.read())
        with open(path, "wb") as f:
            f.write(data)
    return path


def scale_kernels(selected, scale, tmp, progress):
    """Kernels run `scale` times their default length (REPEAT in their
    source; reassembled with nasm), so that the steady state dominates
    over start-up, as in the long-running workloads translators are
    compared on.  Without nasm they run at their committed length."""
    kernels = [w for w in selected if w.repeat]
    if scale == 1 or not kernels:
        return
    nasm = shutil.which("nasm")
    if nasm is None:
        progress("nasm not found: kernels run at their committed length (--scale 1)")
        return
    src = os.path.join(ROOT, "firmware", "src")
    for w in kernels:
        name = os.path.splitext(os.path.basename(w.image))[0]
        out = os.path.join(tmp, name + ".bin")
        cmd = [nasm, "-f", "bin", "-I", os.path.join(src, "include") + os.sep,
               "-DREPEAT=%d" % (w.repeat * scale), "-o", out, os.path.join(src, name + ".asm")]
        with _child(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc, proc.stdout:
            said = proc.stdout.read().decode(errors="replace").strip().splitlines()
            _reap(proc, block=True)
        if proc.returncode != 0:
            raise BenchError("%s: nasm failed: %s" % (w.name, said[-1] if said else proc.returncode))
        w.image, w.passes = out, w.repeat * scale


def compile_natives(selected, tmp, progress):
    """{C twin's name: its program in `tmp`} for the selected kernels, built
    with the host's C compiler; empty without one (the column says "-")."""
    names = sorted({w.native for w in selected if w.native})
    if not names:
        return {}
    cc = shutil.which("cc")
    if cc is None:
        progress("cc not found: no native column (install a C compiler, e.g. Debian's gcc)")
        return {}
    built = {}
    for name in names:
        out = os.path.join(tmp, "native-" + name)
        cmd = [cc, "-O2", "-o", out, os.path.join(NATIVE, name + ".c")]
        with _child(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc, proc.stdout:
            said = proc.stdout.read().decode(errors="replace").strip().splitlines()
            _reap(proc, block=True)
        if proc.returncode != 0:
            raise BenchError("bench/native/%s.c: cc failed: %s" % (name, said[-1] if said else proc.returncode))
        built[name] = out
    return built


def run_native(w, program):
    """(seconds or None, its output line) for the kernel's C twin at the
    image's REPEAT, a whole process like the emulators' runs."""
    t0 = time.perf_counter()
    with _child([program, str(w.passes)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc, proc.stdout:
        said = proc.stdout.read().decode(errors="replace")
        _reap(proc, block=True)
    elapsed = time.perf_counter() - t0
    line = _line(said, w.done)
    return (elapsed if proc.returncode == 0 and line else None), line


def _line(text, needle):
    """The last whole line of console text that starts with `needle`, or
    None.  A line still without its newline is not whole: QEMU is ended as
    soon as the needle appears, often before the rest of its line."""
    found = [line for line in text[:text.rfind("\n") + 1].splitlines() if line.startswith(needle)]
    return found[-1] if found else None


def _log_line(path, needle):
    try:
        with open(path, errors="replace") as f:
            return _line(f.read(), needle)
    except OSError:
        return None


def _wait_for(path, needle, proc, timeout):
    """Poll `path` until it holds `needle` (or the process ends)."""
    t_end = time.perf_counter() + timeout
    while time.perf_counter() < t_end:
        try:
            with open(path, "rb") as f:
                if needle.encode() in f.read():
                    return True
        except OSError:
            pass
        if _reap(proc, block=False):
            break
        time.sleep(0.002)
    try:
        with open(path, "rb") as f:
            return needle.encode() in f.read()
    except OSError:
        return False


def _reap(proc, block):
    """Wait for `proc` (or see whether it ended)."""
    if proc.returncode is not None:
        return True
    pid, status = os.waitpid(proc.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        _note_peak(proc)
        return False
    proc.returncode = os.waitstatus_to_exitcode(status)
    return True


def _note_peak(proc):
    """Peak resident memory (VmHWM, KiB) of the process so far.  Read while
    it runs: rusage would count the parent's memory the child had before
    exec."""
    try:
        with open("/proc/%d/status" % proc.pid) as f:
            hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return
    proc.peak = max(proc.peak, hwm)


@contextlib.contextmanager
def _child(cmd, **kw):
    """A child process in a process group of its own, killed with all of
    its group when the block ends, however it ends (an interrupted bench
    leaves nothing running)."""
    proc = subprocess.Popen(cmd, process_group=0, **kw)
    proc.peak = 0
    try:
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # the group has ended
        _reap(proc, block=True)


def _timed(cmd, log, needle, timeout=600, env=None, settle=0):
    """(seconds until `needle` appeared in `log` or None, peak RSS in MB as
    read while it ran).  With `settle`, the process and everything else in
    its group get that many seconds to end by themselves after the needle
    (so that they can report their own peaks) before they are killed."""
    t0 = time.perf_counter()
    with _child(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env) as proc:
        ok = _wait_for(log, needle, proc, timeout)
        elapsed = time.perf_counter() - t0
        if proc.returncode is None:
            _note_peak(proc)
        if ok and settle:
            _settle(proc, settle)
    return (elapsed if ok else None), proc.peak / 1024.0


def _settle(proc, seconds):
    """Wait up to `seconds` for `proc` and the rest of its process group
    (jitemu's compile worker ends once jitemu has) to exit."""
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        if _reap(proc, block=False):
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return  # the whole group has ended
        time.sleep(0.005)


# `python -c _LAUNCH PEAKFILE ARGS...` is `python -m jitemu.cli ARGS...` that
# appends its own VmHWM (KiB) to PEAKFILE as it exits, and starts its compile
# worker so that the worker appends its own to PEAKFILE.worker.  Registered
# before jitemu is imported, the handler runs after jitemu's own exit handlers.
_PEAK = """
import atexit, sys
def _note_peak(path):
    with open("/proc/self/status") as f:
        kib = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    with open(path, "a") as f:
        f.write(kib + "\\n")
atexit.register(_note_peak, sys.argv[1])
"""
_WORKER = _PEAK + """
from jitemu.jit.worker import main
sys.exit(main())
"""
_LAUNCH = _PEAK + """
from jitemu.jit import worker
worker.COMMAND = [sys.executable, "-c", %r, sys.argv[1] + ".worker"]
from jitemu.cli import main
sys.exit(main(sys.argv[2:]))
""" % _WORKER


def _peak_mb(path):
    """The largest peak a launched process wrote to `path` (MB), or None if
    none did (for the worker: it never started)."""
    try:
        with open(path) as f:
            return max(int(kib) for kib in f.read().split()) / 1024.0
    except (OSError, ValueError):
        return None


def run_jitemu(w, tmp, cache_dir):
    """(seconds or None, jitemu's peak MB or None, its compile worker's peak
    MB or None when no worker ran), with the translation cache in
    `cache_dir` (for a cold run, a fresh empty directory)."""
    log, peak = os.path.join(tmp, "jitemu.log"), os.path.join(tmp, "jitemu.peak")
    for path in (log, peak, peak + ".worker"):
        if os.path.exists(path):
            os.remove(path)
    cmd = [sys.executable, "-c", _LAUNCH, peak]
    if w.kind == "pc":
        # (no VGA: the same machine as QEMU's -nodefaults below)
        cmd += ["boot", "--bios", w.image, "--disk", w.disk, "--vga", "none", "--fixed-time", "2024-01-01T00:00:00"]
    elif w.kind == "linux":
        cmd += ["boot", "--bios", w.image, "--kernel", linux_files()[0], "--initrd", linux_initrd(tmp),
                "--append", LINUX_APPEND, "--memory", "128", "--vga", "none", "--serial", log,
                "--fixed-time", "2024-01-01T00:00:00"]
    else:
        cmd += ["run", w.image]
    cmd += ["--debugcon", "none" if w.kind == "linux" else log, "-q"]
    env = dict(os.environ, JITEMU_CACHE_DIR=cache_dir)
    # (Linux runs on after its marker and never reports its peaks: nothing to wait for)
    t, _ = _timed(cmd, log, w.done, env=env, settle=0 if w.kind == "linux" else 60)
    return t, _peak_mb(peak), _peak_mb(peak + ".worker")


def run_qemu(w, tmp):
    log = os.path.join(tmp, "qemu.log")
    if os.path.exists(log):
        os.remove(log)
    cmd = [QEMU, "-M", "pc", "-accel", "tcg", "-display", "none", "-nodefaults", "-bios", w.image,
           "-chardev", "file,id=dbg,path=" + log, "-device", "isa-debugcon,iobase=0x402,chardev=dbg",
           "-device", "isa-debug-exit,iobase=0x501", "-serial", "none", "-monitor", "none", "-m", "16"]
    if w.disk:
        cmd += ["-drive", "file=%s,format=raw,if=ide,snapshot=on" % w.disk]
    if w.kind == "linux":  # the kernel's console is the serial port
        cmd[cmd.index("-serial") + 1] = "file:" + log
        cmd[cmd.index("-m") + 1] = "128"
        cmd += ["-kernel", linux_files()[0], "-initrd", linux_initrd(tmp), "-append", LINUX_APPEND]
    return _timed(cmd, log, w.done)


def run_unicorn(w, tmp):
    log = os.path.join(tmp, "unicorn.log")
    runner = os.path.join(ROOT, "firmware", "run_unicorn.py")
    code = ("import sys; sys.path.insert(0, %r); import run_unicorn; "
            "open(%r, 'w').write(run_unicorn.run_file(%r))" % (os.path.dirname(runner), log, w.image))
    if os.path.exists(log):
        os.remove(log)
    return _timed([sys.executable, "-c", code], log, w.done)


def instructions(w):
    """Guest instructions in the workload, counted by jitemu in a child
    process (in-process, native code would hold off Ctrl-C)."""
    code = "import sys; from jitemu.bench import count; print(count(*sys.argv[1:]))"
    cmd = [sys.executable, "-c", code, w.kind, w.image] + ([w.disk] if w.disk else [])
    with _child(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc, proc.stdout:
        out = proc.stdout.read().decode(errors="replace").strip().splitlines()
        _reap(proc, block=True)
    if proc.returncode != 0 or not out or not out[-1].isdigit():
        raise BenchError("%s: counting its instructions failed: %s"
                         % (w.name, out[-1] if out else "exit status %d" % proc.returncode))
    return int(out[-1])


def count(kind, image, disk=None):
    """Guest instructions in one run of an image (a bare machine's ROM, or a
    PC's BIOS and disk)."""
    from .devices.debugcon import DebugConsole
    from .machine import Machine
    if kind == "pc":
        from .pc import build_pc
        pc = build_pc(bios=image, disk=disk, fixed_time="2024-01-01T00:00:00")
        pc.run()
        return pc.machine.icount
    m = Machine()
    with open(image, "rb") as f:
        m.load_firmware(f.read())
    m.attach(DebugConsole())
    m.run()
    return m.icount


class BenchError(Exception):
    """A workload could not be measured (one-line message)."""


def measure(selected, rounds, progress, scale=1):
    have_qemu = shutil.which(QEMU) is not None
    try:
        import unicorn  # noqa: F401
        have_unicorn = True
    except ImportError:
        have_unicorn = False
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = os.path.join(tmp, "cache")
        scale_kernels(selected, scale, tmp, progress)
        natives = compile_natives(selected, tmp, progress)
        for w in selected:
            if w.kind in ("pc", "linux") and not os.path.exists(SEABIOS):
                progress("%s: skipped, %s is missing (Debian package seabios)" % (w.name, SEABIOS))
                continue
            if w.kind == "linux" and linux_files() is None:
                progress("%s: skipped, no i386 kernel and busybox in %s (.ci/run downloads them)"
                         % (w.name, LINUX_ROOT))
                continue
            # (Linux's count to its marker would take a run of its own: not counted)
            icount = instructions(w) if w.kind != "linux" else None
            if w.cache == "warm":
                run_jitemu(w, tmp, cache_dir)  # fill the cache once
            times = {"jitemu": [], "qemu": [], "unicorn": [], "native": []}
            lines = {}  # emulator -> the line its console ended with
            peaks = {"jitemu": [], "qemu": [], "worker": []}
            for r in range(rounds):  # alternate, so drift hits all alike
                progress("%s: round %d/%d" % (w.name, r + 1, rounds))
                t, mb, worker_mb = _run_jitemu_once(w, tmp, cache_dir)
                lines["jitemu"] = _log_line(os.path.join(tmp, "jitemu.log"), w.done) or lines.get("jitemu")
                times["jitemu"].append(t)
                peaks["jitemu"].append(mb)
                if worker_mb is not None:
                    peaks["worker"].append(worker_mb)
                for name, (t, mb) in ([("qemu", run_qemu(w, tmp))] if have_qemu else []) + (
                        [("unicorn", run_unicorn(w, tmp))] if have_unicorn and w.unicorn and r == 0 else []):
                    times[name].append(t)  # Unicorn: slow on long kernels, one run
                    lines[name] = _log_line(os.path.join(tmp, name + ".log"), w.done) or lines.get(name)
                    if name == "qemu":
                        peaks[name].append(mb)
                if w.native in natives:
                    t, lines["native"] = run_native(w, natives[w.native])
                    times["native"].append(t)
            med = {}
            for k, v in times.items():
                ok = [t for t in v if t is not None]
                if ok and len(ok) == len(v):
                    med[k] = statistics.median(ok)
                elif v:
                    med[k] = None  # did not finish
            for k, v in peaks.items():
                if any(v):
                    med[k + " MB"] = max(mb for mb in v if mb)
            med["worker runs"] = "%d of %d" % (len(peaks["worker"]), rounds)
            native = lines.pop("native", None)
            differ = {k: v for k, v in lines.items() if v and v != native}
            if times["native"] and (differ or not native):
                med["native"] = "differs"
                med["native says"] = native or "(nothing)"
                med["emulators say"] = differ
            results.append((w, icount, med))
    return results


def _run_jitemu_once(w, tmp, cache_dir):
    """A cold run gets an empty cache directory of its own, removed after."""
    if w.cache != "cold":
        return run_jitemu(w, tmp, cache_dir)
    fresh = tempfile.mkdtemp(prefix="cold-cache-", dir=tmp)
    try:
        return run_jitemu(w, tmp, fresh)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


def table(results):
    row = "%-20s %11s %9s %8s %9s %8s %8s %9s %8s %10s %7s %7s"
    head = row % ("workload", "instructions", "jitemu s", "qemu s", "unicorn s", "native s", "jit MIPS",
                  "qemu MIPS", "qemu/jit", "native/jit", "jit MB", "qemu MB")
    lines = [head, "-" * len(head)]
    differs = []
    for w, icount, med in results:
        j, q, u, n = med.get("jitemu"), med.get("qemu"), med.get("unicorn"), med.get("native")
        f = lambda t: "%.3f" % t if t else "-"  # noqa: E731
        mips = lambda t: "%.0f" % (icount / t / 1e6) if t and icount else "-"  # noqa: E731
        ratio = "%.2fx" % (q / j) if j and q else "-"
        mb = lambda k: "%.0f" % med[k] if med.get(k) else "-"  # noqa: E731
        if n == "differs":
            differs.append("%s: native printed %r, %s" % (w.name, med["native says"], ", ".join(
                "%s %r" % kv for kv in sorted(med["emulators say"].items()))))
            native, n = "DIFFERS", None
        else:
            native = f(n)
        ceiling = "%.3fx" % (n / j) if j and n else "-"
        lines.append(row % (w.name, icount if icount else "-", f(j), f(q), f(u), native, mips(j), mips(q), ratio, ceiling,
                            mb("jitemu MB"), mb("qemu MB")))
        if med.get("worker MB"):  # its MB under jitemu's, the rest of the line says when it ran
            left = "%-20s (ran in %s runs)" % ("  compile worker", med["worker runs"])
            lines.append(left.ljust(len(head) - 16) + "%7s" % mb("worker MB"))
    lines.append("qemu/jit > 1 means jitemu is faster.  Times: median wall time of whole processes"
                 " (Unicorn: one run).")
    lines.append("native: the kernel's C twin (bench/native, cc -O2) at the same REPEAT; native/jit is the share"
                 " of native speed jitemu reaches.")
    lines += ["ERROR: " + d for d in differs]
    lines += [
        "cold: each jitemu run starts with an empty translation cache directory (JITEMU_CACHE_DIR); its blocks are",
        "  copied together from the stencil library built at install, with no LLVM compile for the instruction forms",
        "  that library holds; forms it lacks and hot regions are compiled by LLVM.  warm: the cache directory that",
        "  one earlier run filled (code is loaded, not compiled).  The CPU kernels run cold.",
        "MB: peak resident memory (VmHWM) of the emulator's process alone.  jitemu's region compile worker, a second",
        "  process started when code gets hot, is on its own line when it ran.",
    ]
    return "\n".join(lines)


def plot(results, path):
    """A bar chart of jitemu's speed relative to QEMU (log scale), as PNG."""
    from .benchplot import ratio_chart
    bars = []
    for w, _, med in results:
        j, q = med.get("jitemu"), med.get("qemu")
        if j and q:
            bars.append((w.name, q / j))
    ratio_chart(bars, path)


class _Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that the same clean-up runs."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def main(args):
    names = [w.name for w in workloads()]
    unknown = [n for n in args.only.split(",") if n not in names] if args.only else []
    if unknown:
        sys.stderr.write("jitemu: error: --only: no workload named %s (the workloads: %s)\n"
                         % (", ".join(unknown), ", ".join(names)))
        return 2
    selected = [w for w in workloads() if not args.only or w.name in args.only.split(",")]
    progress = (lambda msg: None) if args.quiet else (lambda msg: sys.stderr.write("bench: %s\n" % msg))
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        results = measure(selected, args.rounds, progress, args.scale)
    except KeyboardInterrupt:  # every child is killed on the way out (_child)
        sys.stderr.write("jitemu: bench interrupted\n")
        return 128 + signal.SIGINT
    except _Terminated:
        sys.stderr.write("jitemu: bench terminated\n")
        return 128 + signal.SIGTERM
    except BenchError as e:
        sys.stderr.write("jitemu: error: %s\n" % e)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(table(results))
    if args.plot:
        plot(results, args.plot)
        print("plot: %s" % args.plot)
    return 0
