"""The `jitemu` command: a thin layer over jitemu.machine.Machine.

    jitemu run IMAGE          run a raw firmware image from the reset vector

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
    m = Machine(memory_mb=args.memory)
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
        st = m.stats()
        sys.stderr.write(
            "jitemu: %s after %d instructions in %.3f s (%.1f MIPS); %d blocks translated, "
            "%.3f s compiling; %d guest exceptions\n"
            % (why, st["instructions"], elapsed, st["instructions"] / max(elapsed, 1e-9) / 1e6,
               st["blocks_translated"], st["compile_seconds"], st["exceptions"]))
    if dexit.status is not None:
        return dexit.status
    return 0 if why in ("halt", "exit") else 1


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
    r.set_defaults(func=cmd_run)
    return p


def main(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    if not getattr(args, "func", None):
        p.print_help()
        return 2
    if getattr(args, "memory", 16) is not None and not 1 <= args.memory <= 3072:
        return _fail("--memory must be between 1 and 3072 MiB")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
