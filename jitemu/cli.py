"""The `jitemu` command: a thin layer over jitemu.machine.Machine.

    jitemu run IMAGE          run a raw firmware image from the reset vector
    jitemu boot [--bios IMAGE] [--disk IMAGE] ...
                              boot a PC (i440FX + PIIX3, like QEMU -M pc)

Bad input (a missing, empty or wrongly sized image, an unknown option) gets
one line on standard error and exit status 2.  Heavy modules (the runtime,
llvmlite, capstone) are imported only by the commands that need them.
"""
import argparse
import os
import sys
import time


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write("jitemu: error: %s\n" % message)
        sys.exit(2)


def _fail(message):
    sys.stderr.write("jitemu: error: %s\n" % message)
    return 2


def _read_image(path):
    if not os.path.exists(path):
        raise ValueError("firmware image not found: %s" % path)
    if os.path.isdir(path):
        raise ValueError("firmware image is a directory: %s" % path)
    with open(path, "rb") as f:
        return f.read()


def cmd_run(args):
    try:
        image = _read_image(args.image)
    except (ValueError, OSError) as e:
        return _fail(str(e))
    from .devices.debugcon import DebugConsole
    from .devices.debugexit import DebugExit
    from .machine import FirmwareError, Machine
    m = Machine(memory_mb=args.memory, cache=not args.no_cache)
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
    m.attach(DebugConsole(out=out))
    dexit = m.attach(DebugExit())
    t0 = time.perf_counter()
    why = m.run(max_instructions=args.max_instructions)
    elapsed = time.perf_counter() - t0
    if out is not None:
        out.flush()
    if not args.quiet:
        _summary(m, why, elapsed)
    if dexit.status is not None:
        return dexit.status
    return 0 if why in ("halt", "exit") else 1


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


def cmd_boot(args):
    bios_path = args.bios or SYSTEM_SEABIOS
    if args.bios is None and not os.path.exists(SYSTEM_SEABIOS):
        return _fail("no --bios given and %s is missing: install Debian's `seabios` package "
                     "(apt-get install seabios)" % SYSTEM_SEABIOS)
    try:
        bios = _read_image(bios_path)
    except (ValueError, OSError) as e:
        return _fail(str(e))
    disk = None
    if args.disk is not None:
        try:
            disk = _read_image(args.disk)
        except (ValueError, OSError) as e:
            return _fail(str(e).replace("firmware image", "disk image"))
        if not disk or len(disk) % 512:
            return _fail("%s: disk image is %d bytes; expected a non-empty whole number of 512-byte sectors"
                         % (args.disk, len(disk)))
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
    from .machine import FirmwareError
    from .pc import build_pc
    try:
        pc = build_pc(bios=bios, disk=disk, memory_mb=args.memory, debugcon=debugcon, serial=serial,
                      fixed_time=args.fixed_time, cache=not args.no_cache)
    except FirmwareError as e:
        return _fail("%s: %s" % (bios_path, e))
    t0 = time.perf_counter()
    why = pc.run(max_instructions=args.max_instructions)
    elapsed = time.perf_counter() - t0
    for stream in (debugcon, serial):
        if stream is not None:
            stream.flush()
    if not args.quiet:
        _summary(pc.machine, why, elapsed)
    if pc.exit_status is not None:
        return pc.exit_status
    return 0 if why in ("halt", "exit") else 1


def _summary(m, why, elapsed):
    st = m.stats()
    resets = sum(m.resets.values())
    sys.stderr.write(
        "jitemu: %s after %d instructions in %.3f s (%.1f MIPS); %d blocks translated, %d from the "
        "cache, %d reused; %.3f s compiling; %d guest exceptions; %d resets\n"
        % (why, st["instructions"], elapsed, st["instructions"] / max(elapsed, 1e-9) / 1e6,
           st["blocks_translated"], st["blocks_from_cache"], st["blocks_reused"], st["compile_seconds"],
           st["exceptions"], resets))


def build_parser():
    p = _Parser(prog="jitemu", description="A PC (x86) emulator whose CPU is an LLVM JIT.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    r = sub.add_parser("run", help="run a raw firmware image from the x86 reset vector")
    r.error = p.error
    r.add_argument("image", help="raw firmware image (a multiple of 4 KiB, mapped below 4 GiB)")
    r.add_argument("--memory", type=int, default=16, metavar="MB", help="guest RAM in MiB (default 16)")
    r.add_argument("--debugcon", default="stdio", metavar="FILE|stdio|none",
                   help="where bytes written to ports 0x402/0xE9 go (default stdio)")
    r.add_argument("--max-instructions", type=int, default=None, metavar="N",
                   help="stop after about N guest instructions")
    r.add_argument("-q", "--quiet", action="store_true", help="no closing summary on stderr")
    r.add_argument("--no-cache", action="store_true", help=CACHE_HELP)
    r.set_defaults(func=cmd_run)

    b = sub.add_parser("boot", help="boot a PC (i440FX + PIIX3) from its firmware to the disk's boot sector")
    b.error = p.error
    b.add_argument("--bios", metavar="IMAGE", help="firmware image (default: Debian's SeaBIOS, %s)" % SYSTEM_SEABIOS)
    b.add_argument("--disk", metavar="IMAGE", help="raw hard-disk image on the primary IDE channel")
    b.add_argument("--memory", type=int, default=16, metavar="MB", help="guest RAM in MiB (default 16)")
    b.add_argument("--debugcon", default="stdio", metavar="FILE|stdio|none",
                   help="where bytes written to port 0x402 go (default stdio)")
    b.add_argument("--serial", default="none", metavar="FILE|stdio|none",
                   help="where the first serial port (0x3F8) goes (default none)")
    b.add_argument("--fixed-time", metavar="ISO-DATE",
                   help="RTC time for a deterministic run, e.g. 2024-01-01T00:00:00 (default: host clock)")
    b.add_argument("--max-instructions", type=int, default=None, metavar="N",
                   help="stop after about N guest instructions")
    b.add_argument("-q", "--quiet", action="store_true", help="no closing summary on stderr")
    b.add_argument("--no-cache", action="store_true", help=CACHE_HELP)
    b.set_defaults(func=cmd_boot)

    n = sub.add_parser("bench", help="time jitemu against QEMU TCG (and Unicorn) on the same images")
    n.error = p.error
    n.add_argument("--rounds", type=int, default=3, metavar="N", choices=range(1, 101),
                   help="runs per emulator, alternating (default 3)")
    n.add_argument("--only", metavar="NAMES", help="comma-separated workloads (default: all)")
    n.add_argument("--plot", metavar="FILE.png", help="also draw the ratios as a PNG bar chart")
    n.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    n.set_defaults(func=lambda a: __import__("jitemu.bench", fromlist=["main"]).main(a))
    return p


def main(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    if not getattr(args, "func", None):
        p.print_help()
        return 2
    if not 1 <= getattr(args, "memory", 16) <= 3072:
        return _fail("--memory must be between 1 and 3072 MiB")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
