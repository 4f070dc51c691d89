"""A QEMU-like monitor: commands in, text out.

    jitemu boot --monitor stdio          # on the terminal
    jitemu boot --monitor tcp::4444      # nc 127.0.0.1 4444 (loopback only)

From Python (no sockets needed):

    mon = Monitor(machine)
    print(mon.execute("info registers"))

Commands (`help` lists them):

    info registers         the CPU state
    info jit               code cache and compiler statistics
    info status            running, paused or ended
    info breakpoints       the breakpoints set (by gdb)
    info mtree             the physical memory map
    x/FMT ADDR             memory at a linear address (through paging)
    xp/FMT ADDR            memory at a physical address
    system_reset           reset the machine
    stop                   pause the guest
    cont | c               let it run again
    screendump FILE.png    save the VGA text screen as a PNG
    quit | q               end jitemu
    help | ?               this list

FMT is [count][format][size]: format x (hex, default), d, u, o, c (chars) or
i (instructions, decoded in the current code size: 16 or 32 bits); size b,
h, w (default) or g.  ADDR is a sum or difference of terms: numbers (0x...
for hex; a number with a hex letter is hex too, otherwise decimal),
registers ($eax, $esp, $eip, $cs ...; $pc is the linear address of the next
instruction) and real-mode SEG:OFF pairs in hex (f000:fff0).
"""
import re
import threading

from .control import Controller
from .guest import code32, disassemble, dump_registers, pc, read_linear
from .net import listen

SIZES = {"b": 1, "h": 2, "w": 4, "g": 8}
HELP = __doc__[__doc__.index("    info registers"):__doc__.index("FMT is")].rstrip()


class MonitorError(ValueError):
    pass


class Monitor:
    def __init__(self, machine, controller=None):
        self.m = machine
        self.ctl = controller if controller is not None else Controller(machine, paused=True)
        self.quit = False

    # -- entry point -------------------------------------------------------------
    def execute(self, line):
        """Run one command line; the text it prints (no trailing newline)."""
        line = line.strip()
        if not line:
            return ""
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if "/" in word:  # x/10i
            word, _, fmt = word.partition("/")
            rest = "/" + fmt + (" " + rest if rest else "")
        handler = COMMANDS.get(word)
        if handler is None:
            return "unknown command: %r (try help)" % word
        try:
            return getattr(self, handler)(rest)
        except MonitorError as e:
            return "error: %s" % e

    # -- commands ------------------------------------------------------------------
    def cmd_help(self, rest):
        return HELP

    def cmd_info(self, rest):
        what = rest.split()[0] if rest else ""
        if what in ("registers", "reg", "regs"):
            return dump_registers(self.m)
        if what == "jit":
            return self.info_jit()
        if what == "status":
            return "VM status: %s" % self.ctl.state()
        if what in ("breakpoints", "break"):
            bps = self.m.breakpoints
            return "\n".join("breakpoint at %08x" % b for b in bps) if bps else "no breakpoints"
        if what == "mtree":
            return "\n".join("%08x-%08x %s" % (start, start + size - 1, name)
                             for name, start, size in sorted(self.m.memory_map, key=lambda r: r[1]))
        raise MonitorError("info what? registers, jit, status, breakpoints, mtree")

    def info_jit(self):
        m = self.m
        st = m.stats()
        t = m._translator
        execs = st["block_executions"]
        made = st["blocks_translated"] + st["blocks_reused"]
        lookups = execs + made
        hit = 100.0 * execs / lookups if lookups else 0.0
        secs = self.ctl.seconds()
        mips = st["instructions"] / secs / 1e6 if secs > 0 else 0.0
        lines = [
            "blocks: %d live, %d translated, %d reused, %d invalidated; %d pages with self-modifying code"
            % (st["blocks_live"], st["blocks_translated"], st["blocks_reused"], st["blocks_invalidated"],
               st["smc_pages"]),
            "guest instructions translated: %d" % (t.insns_translated if t is not None else 0),
            "block executions: %d; cache hit rate %.2f%% (misses counted as blocks made or reinstated: %d)"
            % (execs, hit, made),
            "compile time: %.3f s" % st["compile_seconds"],
            "instructions: %d in %.3f s of guest running: %.2f MIPS" % (st["instructions"], secs, mips),
            "guest exceptions: %d; resets: %d" % (st["exceptions"], sum(m.resets.values())),
        ]
        return "\n".join(lines)

    def cmd_x(self, rest):
        return self._examine(rest, physical=False)

    def cmd_xp(self, rest):
        return self._examine(rest, physical=True)

    def cmd_system_reset(self, rest):
        self.m.reset("monitor")
        return ""

    def cmd_stop(self, rest):
        if self.ctl.owner == "gdb":
            raise MonitorError("a debugger owns the CPU; stop it from gdb")
        self.ctl.pause()
        return ""

    def cmd_cont(self, rest):
        if self.ctl.owner == "gdb":
            raise MonitorError("a debugger owns the CPU; continue it from gdb")
        if self.ctl.ended is not None:
            raise MonitorError("the run has ended (%s)" % self.ctl.ended)
        self.ctl.resume()
        return ""

    def cmd_quit(self, rest):
        self.quit = True
        self.ctl.end("quit")
        return ""

    def cmd_screendump(self, rest):
        if not rest:
            raise MonitorError("screendump FILE.png")
        from .screen import save_screenshot
        try:
            save_screenshot(self.m, rest.split()[0])
        except OSError as e:
            raise MonitorError(str(e)) from None
        return ""

    # -- x / xp ------------------------------------------------------------------------
    def _examine(self, rest, physical):
        fmt = ""
        if rest.startswith("/"):
            fmt, _, rest = rest[1:].partition(" ")
        count, letter, size = parse_format(fmt)
        if not rest.strip():
            raise MonitorError("an address is needed")
        addr = self.evaluate(rest)
        if physical:
            read = self.m.read_phys
        else:
            read = lambda a, n: read_linear(self.m, a, n)  # noqa: E731
        if letter == "i":
            return self._disassemble(addr, count, read, physical)
        data = read(addr, count * size)
        if len(data) < count * size:
            count = len(data) // size
            if not count:
                raise MonitorError("cannot access memory at %08x" % addr)
        per_line = 16 if letter == "c" else max(1, 16 // size)
        width = {"x": 2 * size, "o": 3 * size, "d": 0, "u": 0}
        lines = []
        for i in range(0, count, per_line):
            items = []
            for j in range(i, min(count, i + per_line)):
                v = int.from_bytes(data[j * size:(j + 1) * size], "little")
                if letter == "x":
                    items.append("0x%0*x" % (width["x"], v))
                elif letter == "o":
                    items.append("0%o" % v)
                elif letter == "d":
                    if v >> (8 * size - 1):
                        v -= 1 << (8 * size)
                    items.append("%d" % v)
                elif letter == "u":
                    items.append("%d" % v)
                else:  # c
                    items.append(chr(v) if 0x20 <= v < 0x7F else "\\x%02x" % v)
            sep = "" if letter == "c" else " "
            lines.append("%08x: %s" % ((addr + i * size) & 0xFFFFFFFF, sep.join(items)))
        return "\n".join(lines)

    def _disassemble(self, addr, count, read, physical):
        if not physical:
            rows = disassemble(self.m, addr, count)
        else:
            from .guest import _cs
            bits = 32 if code32(self.m) else 16
            rows = []
            a = addr
            for _ in range(count):
                code = read(a, 15)
                insn = next(_cs(bits).disasm(code, a if bits == 32 else a & 0xFFFF, 1), None)
                if insn is None:
                    rows.append((a, code[:1], "(bad)"))
                    a += 1
                    continue
                rows.append((a, bytes(insn.bytes), ("%s %s" % (insn.mnemonic, insn.op_str)).strip()))
                a += insn.size
        if not rows:
            raise MonitorError("cannot access memory at %08x" % addr)
        return "\n".join("0x%08x:  %-24s %s" % (a, raw.hex(" "), text) for a, raw, text in rows)

    # -- expressions ---------------------------------------------------------------------
    def evaluate(self, expr):
        expr = expr.replace(" ", "")
        if not expr:
            raise MonitorError("an address is needed")
        total = 0
        for sign, term in re.findall(r"([+-]?)([^+-]+)", expr):
            v = self._term(term)
            total = total - v if sign == "-" else total + v
        if "".join(s + t for s, t in re.findall(r"([+-]?)([^+-]+)", expr)) != expr:
            raise MonitorError("bad address: %r" % expr)
        return total & 0xFFFFFFFF

    def _term(self, term):
        if term.startswith("$"):
            name = term[1:].lower()
            if name == "pc":
                return pc(self.m)
            try:
                return getattr(self.m.regs, name)
            except AttributeError:
                raise MonitorError("unknown register: %s" % term) from None
        if ":" in term:
            seg, _, off = term.partition(":")
            try:
                return (int(seg, 16) << 4) + int(off, 16)
            except ValueError:
                raise MonitorError("bad SEG:OFF: %r" % term) from None
        try:
            if term.lower().startswith("0x"):
                return int(term, 16)
            if re.fullmatch(r"[0-9]+", term):
                return int(term, 10)
            return int(term, 16)
        except ValueError:
            raise MonitorError("bad number: %r" % term) from None


def parse_format(fmt):
    """'10i' -> (10, 'i', 1); defaults: 1, 'x', 4 (1 for c and i)."""
    m = re.fullmatch(r"(\d*)([xduoci]?)([bhwg]?)([xduoci]?)", fmt or "")
    if m is None:
        raise MonitorError("bad format: /%s (expected /[count][x|d|u|o|c|i][b|h|w|g])" % fmt)
    count = int(m.group(1)) if m.group(1) else 1
    letter = m.group(2) or m.group(4) or "x"
    size = SIZES[m.group(3)] if m.group(3) else (1 if letter in "ci" else 4)
    if count > 65536:
        raise MonitorError("count too large (at most 65536)")
    return count, letter, size


COMMANDS = {
    "help": "cmd_help", "?": "cmd_help", "info": "cmd_info", "x": "cmd_x", "xp": "cmd_xp",
    "system_reset": "cmd_system_reset", "stop": "cmd_stop", "cont": "cmd_cont", "c": "cmd_cont",
    "quit": "cmd_quit", "q": "cmd_quit", "screendump": "cmd_screendump",
}

PROMPT = "(jitemu) "


class _Lines:
    """Line reader over a file descriptor or socket, without Python's
    buffered stdin (whose lock a daemon thread must not hold at exit)."""

    def __init__(self, recv):
        self.recv = recv
        self.buf = b""

    def readline(self):
        while b"\n" not in self.buf:
            data = self.recv()
            if not data:
                if self.buf:
                    line, self.buf = self.buf, b""
                    return line.decode("latin-1")
                return None
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode("latin-1")


def serve_lines(monitor, readline, write):
    """The monitor loop over a line source: prompt, command, output."""
    write("jitemu monitor - type 'help' for more information\n" + PROMPT)
    while not monitor.quit and monitor.ctl.ended is None:
        line = readline()
        if line is None:
            return
        out = monitor.execute(line.rstrip("\r"))
        if monitor.quit:
            return
        write((out + "\n" if out else "") + PROMPT)


def start_stdio(monitor, fd=0, out=None):
    """The monitor on standard input/output, on a daemon thread."""
    import os
    import sys
    out = out or sys.stdout

    def write(text):
        out.write(text)
        out.flush()

    lines = _Lines(lambda: os.read(fd, 4096))
    t = threading.Thread(target=serve_lines, args=(monitor, lines.readline, write), name="monitor", daemon=True)
    t.start()
    return t


class MonitorServer:
    """The monitor on a TCP socket (one client at a time), on a daemon thread."""

    def __init__(self, monitor, host="127.0.0.1", port=4444):
        self.monitor = monitor
        self.sock, self.address = listen(host, port)

    def start(self):
        threading.Thread(target=self._serve, name="monitor", daemon=True).start()
        return self

    def _serve(self):
        while not self.monitor.quit:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            lines = _Lines(lambda c=conn: _recv(c))
            try:
                serve_lines(self.monitor, lines.readline,
                            lambda text, c=conn: c.sendall(text.replace("\n", "\r\n").encode("latin-1", "replace")))
            except OSError:
                pass
            finally:
                conn.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _recv(conn):
    try:
        return conn.recv(4096)
    except OSError:
        return b""
