"""The `jitemu` command: a thin layer over jitemu.machine.Machine.

    jitemu run IMAGE          run a raw firmware image from the reset vector
    jitemu boot [--bios IMAGE] [--disk IMAGE] ...
                              boot a PC (i440FX + PIIX3, like QEMU -M pc)

Every error is one line on standard error (`jitemu: error: ...`, never a
traceback): exit status 2 for bad input (a missing, empty, wrongly sized or
special image file, an unknown option) or the host's environment (an output
that cannot be written), else the status of how the guest's run ended.
Heavy modules (the runtime, llvmlite, capstone) are imported only by the
commands that need them.
"""
import os
import signal
import sys


def _while_starting(signum, frame):
    # Ctrl-C or SIGTERM while jitemu is still starting (imports, building
    # the machine): nothing to finish or summarise yet, and a traceback
    # from inside an import would be no answer.  The run installs its own.
    os.write(2, b"jitemu: %s\n" % (b"interrupted" if signum == signal.SIGINT else b"terminated"))
    os._exit(128 + signum)


# (Only in the command's own process: not where jitemu.cli is imported as a
# library, nor in resetfuzz's job processes, which multiprocessing starts
# with the command's argv[0].)
if __name__ == "__main__" or (os.path.basename(sys.argv[0] if sys.argv else "") == "jitemu"
                              and "multiprocessing" not in sys.modules):
    for _signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(_signum, _while_starting)

import argparse  # noqa: E402 (after the handlers: the imports are what they guard)
import stat  # noqa: E402

from . import __version__  # noqa: E402


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write("jitemu: error: %s\n" % message)
        sys.exit(2)


def _fail(message):
    sys.stderr.write("jitemu: error: %s\n" % message)
    return 2


_NOT_REGULAR = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _regular_file(path, what):
    """None, or a one-line error unless `path` is a regular file: reading
    a FIFO can block for ever and /dev/zero never ends."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "%s not found: %s" % (what, path)
    except OSError as e:
        return "cannot open %s: %s" % (what, e)
    if stat.S_ISDIR(st.st_mode):
        return "%s is a directory: %s" % (what, path)
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _NOT_REGULAR if test(st.st_mode)), "special")
        return "%s is not a regular file (%s): %s" % (what, kind, path)
    return None


def _read_image(path, what="firmware image", limit=None):
    """The bytes of a regular file, or ValueError with a one-line message;
    at most `limit` bytes (one more is read to tell a file that is too big)."""
    err = _regular_file(path, what)
    if err:
        raise ValueError(err)
    try:
        with open(path, "rb") as f:
            data = f.read() if limit is None else f.read(limit + 1)
    except OSError as e:
        raise ValueError("cannot read %s: %s" % (what, e)) from e
    if limit is not None and len(data) > limit:
        raise ValueError("%s is larger than %d MiB: %s" % (what, limit >> 20, path))
    return data


def cmd_run(args):
    from .machine import MAX_ROM
    try:
        image = _read_image(args.image, limit=MAX_ROM)
    except (ValueError, OSError) as e:
        return _fail(str(e))
    tools, err = _tool_setup(args)
    if err:
        return _fail(err)
    if "exit" in tools:
        return tools["exit"]
    from .devices.debugcon import DebugConsole
    from .devices.debugexit import DebugExit
    from .machine import FirmwareError, Machine
    m = Machine(memory_mb=args.memory, cache=not args.no_cache and not tools.get("no_cache"))
    try:
        m.load_firmware(image)
    except FirmwareError as e:
        return _fail("%s: %s" % (args.image, e))
    out = sys.stdout if args.debugcon == "stdio" else None
    if args.debugcon not in ("stdio", "none"):
        try:
            out = open(args.debugcon, "w")
        except OSError as e:
            return _fail("cannot open debug console file: %s" % e)
    if args.apic == "on":
        # (a bare machine: no PIC or I/O APIC; the local APIC's timer and self-IPIs)
        from .devices.lapic import LocalAPIC
        m.attach(LocalAPIC())
    m.attach(DebugConsole(out=out))
    dexit = m.attach(DebugExit())
    err = _state_setup(m, args)
    if err:
        return _fail(err)
    return _execute(m, args, tools, lambda: dexit.status, [("debug console", out)])


SYSTEM_SEABIOS = "/usr/share/seabios/bios.bin"
CACHE_HELP = ("do not use the persistent translation cache ($JITEMU_CACHE_DIR, else "
              "$XDG_CACHE_HOME/jitemu or ~/.cache/jitemu)")


def _open_output(spec, what):
    """stdio, none, or a file path -> (stream or None, error or None)."""
    if spec in (None, "none"):
        return None, None
    if spec == "stdio":
        return sys.stdout, None
    try:
        return open(spec, "w"), None
    except OSError as e:
        return None, "cannot open %s file: %s" % (what, e)


def _open_medium(path, what, snapshot, readonly=False):
    """(devices.ata.Disk, None) or (None, one-line error) for a floppy or
    CD image: opened, never read whole."""
    err = _regular_file(path, what)
    if err:
        return None, err
    from .devices.ata import Disk
    try:
        return Disk(path, snapshot=snapshot, readonly=readonly), None
    except OSError as e:
        import errno
        if not snapshot and not readonly and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return None, ("cannot open %s for writing: %s: %s; use --snapshot to keep the guest's writes "
                          "in memory" % (what, path, e.strerror))
        return None, "cannot open %s: %s: %s" % (what, path, e.strerror)


def _open_floppy(path, snapshot):
    disk, err = _open_medium(path, "floppy image", snapshot)
    if err:
        return None, err
    from .devices.fdc import Floppy
    try:
        return Floppy(disk), None
    except ValueError as e:
        return None, "%s: %s" % (path, e)


MAX_KERNEL = 1 << 30  # a kernel or initrd past this cannot fit in the largest --memory anyway


def cmd_boot(args):
    bios_path = args.bios or SYSTEM_SEABIOS
    if args.bios is None and not os.path.exists(SYSTEM_SEABIOS):
        return _fail("no --bios given and %s is missing: install Debian's `seabios` package "
                     "(apt-get install seabios)" % SYSTEM_SEABIOS)
    from .machine import MAX_ROM
    try:
        bios = _read_image(bios_path, limit=MAX_ROM)
    except (ValueError, OSError) as e:
        return _fail(str(e))
    disk = None
    if args.disk is not None:
        err = _regular_file(args.disk, "disk image")
        if err:
            return _fail(err)
        from .devices.ata import Disk
        # Opened, never read whole: the guest reads sectors as it needs them.
        try:
            disk = Disk(args.disk, snapshot=args.snapshot)
        except OSError as e:
            import errno
            if not args.snapshot and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                return _fail("cannot open disk image for writing: %s: %s; use --snapshot to keep the "
                             "guest's writes in memory" % (args.disk, e.strerror))
            return _fail("cannot open disk image: %s: %s" % (args.disk, e.strerror))
        if not disk.size or disk.size % 512:
            disk.close()
            return _fail("%s: disk image is %d bytes; expected a non-empty whole number of 512-byte sectors"
                         % (args.disk, disk.size))
    floppy = None
    if args.floppy is not None:
        floppy, err = _open_floppy(args.floppy, args.snapshot)
        if err:
            return _fail(err)
    cdrom = None
    if args.cdrom is not None:
        medium, err = _open_medium(args.cdrom, "CD image", snapshot=False, readonly=True)
        if err:
            return _fail(err)
        if not medium.size or medium.size % 2048:
            medium.close()
            return _fail("%s: CD image is %d bytes; expected a non-empty whole number of 2048-byte sectors"
                         % (args.cdrom, medium.size))
        from .devices.atapi import CDROM
        cdrom = CDROM(medium)
    kernel = initrd = None
    if args.kernel is None and (args.initrd is not None or args.append is not None):
        return _fail("--initrd and --append need --kernel")
    if args.kernel is not None:
        try:
            kernel = _read_image(args.kernel, "kernel image", limit=MAX_KERNEL)
            if args.initrd is not None:
                initrd = _read_image(args.initrd, "initrd", limit=MAX_KERNEL)
        except ValueError as e:
            return _fail(str(e))
    if args.fixed_time is not None:
        import datetime
        try:
            datetime.datetime.fromisoformat(args.fixed_time)
        except ValueError:
            return _fail("--fixed-time: not an ISO date and time: %r" % args.fixed_time)
    debugcon, err = _open_output(args.debugcon, "debug console")
    if err:
        return _fail(err)
    serial, err = _open_output(args.serial, "serial")
    if err:
        return _fail(err)
    if args.serial == "stdio" and args.monitor == "stdio":
        return _fail("--serial stdio and --monitor stdio would both read standard input: give the monitor "
                     "tcp::PORT")
    tools, err = _tool_setup(args)
    if err:
        return _fail(err)
    if "exit" in tools:
        return tools["exit"]
    from .linuxboot import KernelError
    from .machine import FirmwareError
    from .pc import VGA_BIOS, OptionRomError, build_pc
    if args.vga == "std" and not os.path.exists(VGA_BIOS):
        return _fail("--vga std needs SeaVGABIOS, and %s is missing: install Debian's `seabios` package "
                     "(or use --vga none)" % VGA_BIOS)
    for path in args.option_rom:
        err = _regular_file(path, "option ROM")
        if err:
            return _fail(err)
    try:
        pc = build_pc(bios=bios, disk=disk, memory_mb=args.memory, debugcon=debugcon, serial=serial,
                      floppy=floppy, cdrom=cdrom, fixed_time=args.fixed_time, cache=not args.no_cache and not tools.get("no_cache"),
                      vga=args.vga, option_roms=args.option_rom,
                      kernel=kernel, initrd=initrd, append=args.append or "", apic=args.apic == "on")
    except FirmwareError as e:
        return _fail("%s: %s" % (bios_path, e))
    except OptionRomError as e:
        return _fail(str(e))
    except KernelError as e:
        return _fail("%s: %s" % (args.kernel, e))
    err = _state_setup(pc.machine, args)
    if err:
        return _fail(err)
    line = None
    if args.serial == "stdio":  # standard input is the serial line's far end, as in QEMU
        from .tools.hostline import StdinLine
        line = StdinLine(pc.machine, pc.uart).start()
    try:
        return _execute(pc.machine, args, tools, lambda: pc.exit_status,
                        [("debug console", debugcon), ("serial", serial)])
    finally:
        if line is not None:
            line.close()


def _state_setup(m, args):
    """--restore, --save-at and --reset-at on the machine just built: None,
    or a one-line error."""
    if args.restore is not None:
        from .snapshot import SnapshotError, load  # (13 ms of imports a plain boot does without)
        err = _regular_file(args.restore, "snapshot")
        if err:
            return err
        try:
            m.restore(load(args.restore))
        except SnapshotError as e:
            return str(e)
    start = m.icount
    for n, path in args.save_at or ():
        if n < start:
            return "--save-at %d: the run starts at instruction %d (the snapshot's)" % (n, start)
        d = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(d):
            return "--save-at: no such directory: %s" % d
        if os.path.isdir(path):
            return "--save-at: %s is a directory" % path
        m.at_icount(n, lambda path=path: m.snapshot().save(path))
    for n, source, during in args.reset_at or ():
        if n < start:
            return "--reset-at %d: the run starts at instruction %d (the snapshot's)" % (n, start)
        for src in (source, during):
            if src is not None:
                try:
                    m.check_reset_source(src)
                except ValueError as e:
                    return "--reset-at: %s" % e
        m.at_icount(n, lambda source=source, during=during: m.inject_reset(source, during))
    return None


def _reset_at(text):
    """N[:SOURCE[+SOURCE2]] -> (N, source, second source or None)."""
    from .machine import Machine
    n_text, _, src = text.partition(":")
    n = _instruction_count(n_text, low=0)
    src = src or "api"
    first, _, second = src.partition("+")
    for s in (first, second) if second else (first,):
        if s not in Machine.RESET_SOURCES:
            raise argparse.ArgumentTypeError("unknown reset source %r (one of %s; SOURCE+SOURCE for a second "
                                             "request during the first)" % (s, ", ".join(Machine.RESET_SOURCES)))
    return n, first, second or None


def _tool_setup(args):
    """Check the debugging and display options before the machine is built:
    ({what was asked}, None) or (None, one-line error)."""
    tools = {}
    if args.trace is not None:
        from .tools.trace import parse_categories
        if args.trace == "help":
            print("trace categories (-d, comma-separated):\n"
                  "  in_asm  the guest instructions of each new block\n"
                  "  exec    each block execution\n"
                  "  cpu     the registers before each block\n"
                  "  int     interrupts and exceptions")
            return {"exit": 0}, None
        try:
            tools["trace"] = parse_categories(args.trace)
        except ValueError as e:
            return None, str(e)
        # Blocks from the persistent cache are not lifted: in_asm would miss them.
        tools["no_cache"] = "in_asm" in tools["trace"]
        if args.trace_file:
            try:
                tools["trace_out"] = open(args.trace_file, "w")
            except OSError as e:
                return None, "-D: cannot open trace file: %s" % e
    for opt, what in (("gdb", "--gdb"), ("monitor", "--monitor")):
        spec = getattr(args, opt)
        if spec is None or (opt == "monitor" and spec == "stdio"):
            continue
        from .tools.gdbstub import parse_endpoint
        try:
            tools[opt] = parse_endpoint(spec, what)
        except ValueError as e:
            return None, str(e) + (" or stdio" if opt == "monitor" else "")
    if args.wait_gdb and args.gdb is None:
        return None, "--wait-gdb needs --gdb"
    if args.screenshot:
        d = os.path.dirname(os.path.abspath(args.screenshot))
        if not os.path.isdir(d):
            return None, "--screenshot: no such directory: %s" % d
    return tools, None


def _execute(m, args, tools, exit_status, streams):
    """Run the machine on its vCPU thread with the tools asked for (gdb
    stub, monitor, tracing, screen, progress) until the run ends; the
    closing summary, or the one-line error that ended it; the exit status.
    `streams` are the (name, stream or None) the devices write to."""
    from .tools.control import Controller, drive
    ctl = Controller(m, args.max_instructions, exit_status=exit_status, paused=args.wait_gdb)
    tracer = None
    servers = []
    tickers = []
    progress = screen = None
    if "trace" in tools:
        from .tools.trace import Tracer
        tracer = Tracer(tools.get("trace_out", sys.stderr), tools["trace"]).install(m)
    monitor = None
    if args.monitor is not None or args.gdb is not None:
        from .tools.monitor import Monitor
        monitor = Monitor(m, ctl)
    try:
        if args.gdb is not None:
            from .tools.gdbstub import GdbServer
            host, port = tools["gdb"]
            srv = GdbServer(ctl, host, port, monitor=monitor)
            servers.append(srv.start())
            sys.stderr.write("jitemu: gdb stub listening on %s:%d%s\n" % (
                srv.address[0], srv.address[1], "; waiting for gdb" if args.wait_gdb else ""))
        if args.monitor == "stdio":
            from .tools.monitor import start_stdio
            start_stdio(monitor)
        elif args.monitor is not None:
            from .tools.monitor import MonitorServer
            host, port = tools["monitor"]
            srv = MonitorServer(monitor, host, port)
            servers.append(srv.start())
            sys.stderr.write("jitemu: monitor listening on %s:%d\n" % srv.address)
    except OSError as e:
        for srv in servers:
            srv.close()
        return _fail("cannot listen: %s" % e)
    sys.stderr.flush()
    if args.screen is not None:
        from .tools.screen import Screen
        screen = Screen(m, mode=args.screen)
        tickers.append(screen)
    if not args.quiet and (args.monitor != "stdio" and getattr(args, "serial", None) != "stdio" or args.progress):
        # (not over a monitor or serial console on the terminal unless asked for)
        from .tools.progress import Progress
        progress = Progress(m, force=args.progress)
        tickers.append(progress)
    trace_error = None
    try:
        status = drive(ctl, tickers)
    finally:
        for srv in servers:
            srv.close()
        if tracer is not None:
            try:
                tracer.close()
            except OSError as e:
                trace_error = _output_failed("trace", tracer.out, e)
    error = None
    if ctl.ended == "error":
        error, host_side = _run_error(m, ctl)
        if host_side:
            status = 2
    if trace_error:
        error, status = error or trace_error, 2
    for name, stream in streams:
        if stream is not None:
            try:
                # Closing flushes, and a file that failed is not flushed
                # again (with a warning) when the interpreter exits.
                stream.flush() if stream is sys.stdout else stream.close()
            except OSError as e:
                error, status = error or _output_failed(name, stream, e), 2
    if screen is not None:
        screen.finish()
    if args.screenshot:
        from .tools.screen import save_screenshot
        try:
            save_screenshot(m, args.screenshot)
        except OSError as e:
            error, status = error or "cannot write screenshot %s: %s" % (args.screenshot, e.strerror), 2
    if progress is not None:
        progress.clear()
    if error:
        _fail(error)
    elif not args.quiet:
        _summary(m, ctl.ended, ctl.seconds())
    return status


def _output_failed(what, stream, err):
    """'cannot write debug console output to /dev/full: No space left on device'."""
    where = err.filename if getattr(err, "filename", None) else getattr(stream, "name", "?")
    where = {"<stdout>": "standard output", "<stderr>": "standard error"}.get(where, where)
    return "cannot write %s output to %s: %s" % (what, where, err.strerror or err)


def _run_error(m, ctl):
    """(one line saying what ended the run with an error and why, whether
    the cause is on the host: an output that cannot be written, no memory)."""
    from .devices.debugcon import OutputError
    from .machine import GuestError
    from .snapshot import SnapshotError
    err = ctl.error or m.run_error
    cause = err.__cause__ if isinstance(err, GuestError) and err.__cause__ is not None else err
    if isinstance(cause, OutputError):
        what = _output_failed(cause.device, None, cause)
    elif isinstance(err, GuestError):
        what = str(err)
    elif isinstance(err, SnapshotError):
        what = str(err)
    elif err is not None:
        what = "%s: %s" % (type(err).__name__, err)
    else:
        what = "the run failed"
    what = " ".join(what.split())  # one line, whatever the exception said
    return ("%s (after %d instructions)" % (what, m.icount),
            isinstance(cause, (OSError, MemoryError, SnapshotError)))


def _add_tool_options(p):
    g = p.add_argument_group("debugging and display")
    g.add_argument("--gdb", metavar="tcp::PORT",
                   help="GDB remote stub on loopback PORT (tcp:HOST:PORT for another interface)")
    g.add_argument("--wait-gdb", action="store_true",
                   help="stay at the reset vector, before the first instruction, until gdb continues")
    g.add_argument("--monitor", metavar="stdio|tcp::PORT",
                   help="QEMU-like monitor (info registers, x/xp, info jit, stop, cont, system_reset, quit)")
    g.add_argument("-d", dest="trace", metavar="CATEGORIES",
                   help="trace in_asm,exec,cpu,int (comma-separated; -d help lists them)")
    g.add_argument("-D", dest="trace_file", metavar="FILE", help="write the trace to FILE (default stderr)")
    g.add_argument("--screen", nargs="?", const="auto", choices=["auto", "always"],
                   help="draw the VGA text screen on stdout as it changes (auto: when stdout is a terminal)")
    g.add_argument("--screenshot", metavar="FILE.png", help="save the screen (text or graphics) as a PNG at exit")
    g.add_argument("--progress", action="store_true",
                   help="progress lines on stderr even when it is not a terminal (runs over 2 s)")


def _summary(m, why, elapsed):
    st = m.stats()
    sys.stderr.write(
        "jitemu: %s after %d instructions in %.3f s (%.1f MIPS); %d blocks translated (%d from stencils, "
        "%d optimised), %d from the cache, %d reused; %.3f s compiling (%d new stencils); %d guest exceptions\n"
        % (why, st["instructions"], elapsed, st["instructions"] / max(elapsed, 1e-9) / 1e6,
           st["blocks_translated"], st["blocks_baseline"], st["blocks_hot"], st["blocks_from_cache"],
           st["blocks_reused"], st["compile_seconds"], st["stencils_made"], st["exceptions"]))
    if m.resets:
        import statistics
        by_source = ", ".join("%s %d" % kv for kv in sorted(m.resets.items()))
        if m.resets_coalesced:
            by_source += " (requests joined to another: %s)" % ", ".join(
                "%s %d" % kv for kv in sorted(m.resets_coalesced.items()))
        ack = m.reset_ack_seconds
        sys.stderr.write("jitemu: resets: %s; %d translations invalidated; request to acknowledgement %s\n"
                         % (by_source, st["blocks_invalidated"],
                            "median %.1f us, max %.1f us" % (statistics.median(ack) * 1e6, max(ack) * 1e6)
                            if ack else "n/a"))
    cache = m._translator.cache if m._translator is not None else None
    if cache is not None and cache.ignored:
        sys.stderr.write("jitemu: cache: %d entries ignored (corrupt)\n" % cache.ignored)


MAX_INSTRUCTIONS = (1 << 63) - 1  # the budget is added to a 64-bit count


def _int_between(low, high):
    """An argparse type: an integer in [low, high], one line otherwise
    (argparse's `choices` would list every allowed value)."""
    def parse(text):
        try:
            n = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError("not a number: %r" % text) from None
        if not low <= n <= high:
            raise argparse.ArgumentTypeError("must be between %d and %d, not %d" % (low, high, n))
        return n
    return parse


def _instruction_count(text, low=1):
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text) from None
    if not low <= n <= MAX_INSTRUCTIONS:
        raise argparse.ArgumentTypeError("must be between %d and 2**63-1 (%d), not %s" % (low, MAX_INSTRUCTIONS, text))
    return n


class _SaveAt(argparse.Action):
    """--save-at N FILE (N checked like an instruction count)."""

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            n = _instruction_count(values[0], low=0)
        except argparse.ArgumentTypeError as e:
            parser.error("argument --save-at: %s" % e)
        items = list(getattr(namespace, self.dest) or [])
        items.append((n, values[1]))
        setattr(namespace, self.dest, items)


def _add_machine_options(parser, debug_ports):
    """The options `run` and `boot` share."""
    parser.add_argument("--memory", type=int, default=16, metavar="MB", help="guest RAM in MiB (default 16)")
    parser.add_argument("--debugcon", default="stdio", metavar="FILE|stdio|none",
                        help="where bytes written to %s go (default stdio)" % debug_ports)
    parser.add_argument("--max-instructions", type=_instruction_count, default=None, metavar="N",
                        help="stop after exactly N guest instructions (1 to 2**63-1)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no closing summary on stderr")
    parser.add_argument("--no-cache", action="store_true", help=CACHE_HELP)
    g = parser.add_argument_group("snapshots and reset injection (N counts guest instructions from power-on)")
    g.add_argument("--save-at", nargs=2, action=_SaveAt, metavar=("N", "FILE"),
                   help="save the machine's state to FILE after exactly N instructions (the run goes on)")
    g.add_argument("--restore", metavar="FILE", help="start from a snapshot saved by --save-at")
    g.add_argument("--reset-at", type=_reset_at, action="append", metavar="N[:SOURCE]",
                   help="reset the machine after exactly N instructions, the way SOURCE does (cf9, port92, kbc, "
                        "triple, api; default api); SOURCE+SOURCE also requests the second while the first is "
                        "acknowledged")
    _add_tool_options(parser)


class _BenchHelp(argparse.HelpFormatter):
    """Lists the workloads in --only's help; jitemu.bench (and what it
    imports) is loaded only when that help is shown, not at every start."""

    def _get_help_string(self, action):
        if action.dest == "only":
            from .bench import workloads
            return "%s: %s" % (action.help, ", ".join(w.name for w in workloads()))
        return action.help

    def _split_lines(self, text, width):
        import textwrap
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)  # whole names


def build_parser():
    p = _Parser(prog="jitemu", description="A PC (x86) emulator whose CPU is an LLVM JIT.")
    p.add_argument("--version", action="version", version="jitemu " + __version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    r = sub.add_parser("run", help="run a raw firmware image from the x86 reset vector")
    r.error = p.error
    r.add_argument("image", help="raw firmware image (a multiple of 4 KiB, mapped below 4 GiB)")
    _add_machine_options(r, "ports 0x402/0xE9")
    r.add_argument("--apic", choices=["on", "off"], default="off",
                   help="on: a local APIC at 0xFEE00000 (its timer, self-IPIs; CPUID reports it); "
                        "off: none (default: the bare machine has no interrupt controller)")
    r.set_defaults(func=cmd_run)

    b = sub.add_parser("boot", help="boot a PC (i440FX + PIIX3) from its firmware to the disk's boot sector")
    b.error = p.error
    b.add_argument("--bios", metavar="IMAGE", help="firmware image (default: Debian's SeaBIOS, %s)" % SYSTEM_SEABIOS)
    b.add_argument("--disk", metavar="IMAGE", help="raw hard-disk image on the primary IDE channel")
    b.add_argument("--floppy", metavar="IMAGE",
                   help="raw floppy image for drive A: (1.44M; also 2.88M, 1.2M, 720K, 360K by size)")
    b.add_argument("--cdrom", metavar="ISO",
                   help="CD image (2048-byte sectors) in an ATAPI drive, the secondary IDE channel's master")
    b.add_argument("--snapshot", action="store_true",
                   help="keep the guest's disk and floppy writes in memory; the image files are not modified")
    b.add_argument("--kernel", metavar="BZIMAGE",
                   help="boot this Linux kernel directly (QEMU's linuxboot option ROM loads it)")
    b.add_argument("--initrd", metavar="FILE", help="initial RAM disk for --kernel")
    b.add_argument("--append", metavar="CMDLINE", help="kernel command line for --kernel")
    b.add_argument("--serial", default="none", metavar="FILE|stdio|none",
                   help="where the first serial port (0x3F8) goes (default none); stdio also "
                        "sends standard input to the guest (a terminal is put in raw mode; Ctrl-C ends jitemu)")
    b.add_argument("--fixed-time", metavar="ISO-DATE",
                   help="RTC time for a deterministic run, e.g. 2024-01-01T00:00:00 (default: host clock)")
    b.add_argument("--vga", choices=["std", "none"], default="std",
                   help="std: QEMU's standard VGA (PCI, Bochs VBE) with Debian's SeaVGABIOS (default); "
                        "none: no display adapter, as QEMU's -nodefaults")
    b.add_argument("--option-rom", action="append", default=[], metavar="FILE",
                   help="an option ROM (55 AA header, checksum) SeaBIOS copies below 1 MiB and runs "
                        "(fw_cfg genroms/, as QEMU's -option-rom); repeatable")
    b.add_argument("--apic", choices=["on", "off"], default="on",
                   help="on: a local APIC and an I/O APIC, as QEMU's pc machine (default); off: neither "
                        "(CPUID has no APIC, the 8259 PICs drive the CPU's INTR)")
    _add_machine_options(b, "port 0x402")
    b.set_defaults(func=cmd_boot)

    n = sub.add_parser("bench", help="time jitemu against QEMU TCG (and Unicorn) on the same images",
                       formatter_class=_BenchHelp)
    n.error = p.error
    n.add_argument("--rounds", type=_int_between(1, 100), default=3, metavar="N",
                   help="runs per emulator, alternating (default 3)")
    n.add_argument("--only", metavar="NAMES", help="comma-separated workloads (default: all)")
    n.add_argument("--scale", type=_int_between(1, 1000), default=20, metavar="N",
                   help="run the CPU kernels N times their committed length (default 20: about"
                        " 1.3-1.7 billion instructions, so start-up does not dominate; needs nasm)")
    n.add_argument("--plot", metavar="FILE.png", help="also draw the ratios as a PNG bar chart")
    n.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    n.set_defaults(func=lambda a: __import__("jitemu.bench", fromlist=["main"]).main(a))

    f = sub.add_parser("resetfuzz", help="reset a firmware's boot at random instructions, by every reset source, "
                                         "and check that it comes back up")
    f.error = p.error
    f.add_argument("--bios", metavar="IMAGE", help="firmware image (default: Debian's SeaBIOS, %s)" % SYSTEM_SEABIOS)
    f.add_argument("--disk", metavar="IMAGE", help="raw hard-disk image (its writes are kept in memory)")
    f.add_argument("--marker", required=True, metavar="TEXT",
                   help="debug-console text that says the firmware is up (e.g. BOOT-SECTOR-OK)")
    f.add_argument("--count", type=lambda t: _instruction_count(t), default=1000, metavar="K",
                   help="resets to try (default 1000)")
    f.add_argument("--seed", type=lambda t: _instruction_count(t, low=0), default=1, metavar="S",
                   help="seed of the reset instructions (default 1)")
    f.add_argument("--sources", type=lambda t: [s for s in t.split(",") if s], metavar="LIST",
                   default=["cf9", "port92", "kbc", "triple", "api"],
                   help="comma-separated reset sources, taken in turn (default cf9,port92,kbc,triple,api); "
                        "A+B requests B while A is acknowledged")
    f.add_argument("--jobs", type=_int_between(1, 64), default=min(os.cpu_count() or 1, 64), metavar="J",
                   help="worker processes (default: the number of CPUs)")
    f.add_argument("--bound", type=lambda t: _instruction_count(t), default=None, metavar="N",
                   help="instructions after the reset within which the marker must appear "
                        "(default twice the reference boot plus 1,000,000)")
    f.add_argument("--max-reference", type=lambda t: _instruction_count(t), default=10_000_000_000, metavar="N",
                   help="give up on the reference boot after N instructions (default 10,000,000,000)")
    f.add_argument("--memory", type=int, default=16, metavar="MB", help="guest RAM in MiB (default 16)")
    f.add_argument("--fixed-time", default="2024-01-01T00:00:00", metavar="ISO-DATE",
                   help="RTC time of every run (default 2024-01-01T00:00:00)")
    f.add_argument("--failures", metavar="FILE", help="also write each failure's reproduction to FILE, one a line")
    f.add_argument("--no-cache", action="store_true", help=CACHE_HELP)
    f.add_argument("-q", "--quiet", action="store_true", help="no progress bar or reference line on stderr")
    f.set_defaults(func=lambda a: __import__("jitemu.tools.resetfuzz", fromlist=["main"]).main(a))
    return p


def main(argv=None):
    if signal.getsignal(signal.SIGINT) is _while_starting:  # started: Python's own ways again
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        status = _main(argv)
    except SystemExit as e:  # argparse's --help, --version and usage errors: stdout still to flush
        status = 0 if e.code is None else e.code
    except KeyboardInterrupt:  # before the run (a run's own Ctrl-C ends it with a summary)
        sys.stderr.write("jitemu: interrupted\n")
        status = 130
    return _flush_stdout(status)


def _main(argv):
    p = build_parser()
    args = p.parse_args(argv)
    if not getattr(args, "func", None):
        p.print_help()
        return 2
    if not 1 <= getattr(args, "memory", 16) <= 3072:
        return _fail("--memory must be between 1 and 3072 MiB")
    return args.func(args)


def _flush_stdout(status):
    """Flush standard output here, where a full disk or a closed pipe can
    be reported in one line, rather than in the interpreter's exit."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError as e:
        if status != 2:  # (2: the error has been reported already)
            _fail("cannot write standard output: %s" % (e.strerror or e))
        # What is still buffered would fail again, with a traceback, at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
