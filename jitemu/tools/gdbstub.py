"""A GDB remote-serial-protocol stub for a jitemu Machine.

    jitemu run  IMAGE --gdb tcp::1234 [--wait-gdb]
    jitemu boot ...   --gdb tcp::1234 [--wait-gdb]
    gdb -ex 'set architecture i386' -ex 'target remote 127.0.0.1:1234'

`tcp::PORT` listens on the loopback interface only; `tcp:HOST:PORT` names
the interface (e.g. 0.0.0.0 for all).  With --wait-gdb the machine stays at
the reset vector, before its first instruction, until a debugger continues
or detaches.  One debugger at a time; while it is attached it owns the vCPU;
detaching (or a dropped connection) lets the guest run on.

The guest as gdb sees it:

* Registers: the i386 target description (qXfer:features:read target.xml):
  eax..edi, eip, eflags, cs ss ds es fs gs (selectors), the x87 registers
  (always zero: there is no FPU state), then cr0 cr2 cr3 cr4.
* EIP is shown as the *linear* address of the next instruction (CS base +
  EIP), so that in real mode `$pc`, breakpoints and `x/i $pc` agree with the
  linear addresses gdb uses everywhere else.  In flat protected mode (CS
  base 0) that is EIP itself.  Writing $pc in real mode keeps CS when the
  address is within the CS segment and otherwise loads CS with the 64 KiB
  paragraph the address is in.  Writing a segment register from gdb behaves
  as a real-mode load (selector and base = selector * 16).
* Memory (m, M, X) is addressed by linear address: physical while paging is
  off (with the A20 gate applied), through the page tables when it is on
  (reading a not-present page is an error).  Writes go through
  Machine.write_phys, which drops translations made from the bytes written.
* Z0/Z1 (software and hardware breakpoints alike) set a Machine breakpoint
  at a linear address (at most 16); Z2-Z4 (watchpoints) are not supported.
* s / vCont;s step one instruction (Machine.step()); c / vCont;c run the
  vCPU on its thread until a breakpoint (T05), Ctrl-C (0x03: T02) or the end
  of the run: a halt (HLT, nothing can wake the CPU) or a debug-exit write
  reports W with the exit status jitemu would exit with.
* D detaches (the guest runs on), k kills (jitemu ends), qRcmd (`monitor
  CMD` in gdb) runs a monitor command (see jitemu.tools.monitor).
"""
import select
import socket
import threading

from .guest import read_linear, write_linear
from .net import listen

NUM_GPR = 16
CORE_REGS = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags",
             "cs", "ss", "ds", "es", "fs", "gs"]
FPU_REGS = ["st%d" % i for i in range(8)] + ["fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg",
                                              "fooff", "fop"]
SYS_REGS = ["cr0", "cr2", "cr3", "cr4"]
# (name, size in bytes) in gdb's register numbering
REGISTERS = [(n, 4) for n in CORE_REGS] + [(n, 10) for n in FPU_REGS[:8]] + \
    [(n, 4) for n in FPU_REGS[8:]] + [(n, 4) for n in SYS_REGS]
SEG_INDEX = {"es": 0, "cs": 1, "ss": 2, "ds": 3, "fs": 4, "gs": 5}
GPR_INDEX = {n: i for i, n in enumerate(CORE_REGS[:8])}
CR_INDEX = {"cr0": 0, "cr2": 2, "cr3": 3, "cr4": 4}
FPU_RESET = {"fctrl": 0x037F, "ftag": 0xFFFF}

SIGINT, SIGTRAP = 2, 5
INTERRUPT = object()  # a Ctrl-C byte from the debugger

_EFLAGS = [("CF", 0), ("", 1), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8), ("IF", 9),
           ("DF", 10), ("OF", 11), ("NT", 14), ("RF", 16), ("VM", 17), ("AC", 18), ("VIF", 19),
           ("VIP", 20), ("ID", 21)]


def target_xml():
    out = ['<?xml version="1.0"?>', '<!DOCTYPE target SYSTEM "gdb-target.dtd">', '<target version="1.0">',
           "<architecture>i386</architecture>", '<feature name="org.gnu.gdb.i386.core">',
           '<flags id="i386_eflags" size="4">']
    out += ['<field name="%s" start="%d" end="%d"/>' % (n, b, b) for n, b in _EFLAGS]
    out.append("</flags>")
    types = {"esp": "data_ptr", "ebp": "data_ptr", "eip": "code_ptr", "eflags": "i386_eflags"}
    for i, (name, size) in enumerate(REGISTERS):
        if name == "cr0":
            out += ["</feature>", '<feature name="org.jitemu.i386.sys">']
        if name.startswith("st"):
            t, group = "i387_ext", ""
        elif name in FPU_REGS:
            t, group = "int", ' group="float"'
        else:
            t, group = types.get(name, "int32"), ""
        if name in SYS_REGS:
            group = ' group="system"'
        out.append('<reg name="%s" bitsize="%d" type="%s" regnum="%d"%s/>' % (name, size * 8, t, i, group))
    out += ["</feature>", "</target>"]
    return "\n".join(out)


def checksum(data):
    return sum(data) & 0xFF


def escape(data):
    """Binary data for a packet: '#', '$', '}' and '*' escaped."""
    out = bytearray()
    for b in data:
        if b in b"#$}*":
            out += bytes((0x7D, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape(data):
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == 0x7D:
            out.append(next(it, 0) ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


def frame(payload):
    """A packet: $payload#checksum."""
    if isinstance(payload, str):
        payload = payload.encode("latin-1")
    return b"$" + payload + b"#%02x" % checksum(payload)


class Connection:
    """The packet layer over a connected socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.ack = True
        self.last = None
        self.closed = False

    def _fill(self, timeout):
        if timeout is not None:
            r, _, _ = select.select([self.sock], [], [], timeout)
            if not r:
                return False
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.buf += data
        return True

    def read(self, timeout=None):
        """The next packet's payload (bytes), INTERRUPT for a Ctrl-C byte,
        or None (no packet within `timeout`, or the connection closed)."""
        while True:
            item = self._parse()
            if item is not None:
                return item
            if self.closed or not self._fill(timeout):
                return None

    def _parse(self):
        buf = self.buf
        while buf:
            c = buf[0]
            if c == 0x03:
                del buf[0]
                return INTERRUPT
            if c == ord("-") and self.last is not None:
                del buf[0]
                self._send_raw(self.last)
                continue
            if c != ord("$"):
                del buf[0]  # '+' acknowledgements and noise
                continue
            end = buf.find(b"#")
            if end < 0 or len(buf) < end + 3:
                return None
            payload = bytes(buf[1:end])
            try:
                want = int(buf[end + 1:end + 3], 16)
            except ValueError:
                want = -1
            del buf[:end + 3]
            if want != checksum(payload):
                if self.ack:
                    self._send_raw(b"-")
                continue
            if self.ack:
                self._send_raw(b"+")
            return payload
        return None

    def _send_raw(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def send(self, payload):
        pkt = frame(payload)
        self.last = pkt if self.ack else None
        self._send_raw(pkt)


def _hex_le(value, size):
    return (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little").hex()


class GdbSession:
    """One debugger connection: the packets, answered against the Machine
    behind `controller`."""

    def __init__(self, controller, conn, monitor=None, linear_pc=True):
        self.ctl = controller
        self.m = controller.m
        self.conn = conn
        self.monitor = monitor
        self.linear_pc = linear_pc
        self.breakpoints = set()
        self.done = False
        self.detached = False
        self._xml = None

    # -- registers ---------------------------------------------------------------
    def get_reg(self, n):
        name, size = REGISTERS[n]
        s = self.m.s
        if name in GPR_INDEX:
            v = s.regs[GPR_INDEX[name]]
        elif name == "eip":
            v = (s.seg_base[1] + s.eip) & 0xFFFFFFFF if self.linear_pc else s.eip
        elif name == "eflags":
            v = s.eflags
        elif name in SEG_INDEX:
            v = s.seg_sel[SEG_INDEX[name]]
        elif name in CR_INDEX:
            v = s.cr[CR_INDEX[name]]
        else:
            v = FPU_RESET.get(name, 0)
        return _hex_le(v, size)

    def set_reg(self, n, value):
        name, size = REGISTERS[n]
        m, s = self.m, self.m.s
        if name in GPR_INDEX:
            s.regs[GPR_INDEX[name]] = value
        elif name == "eip":
            self._set_pc(value)
        elif name == "eflags":
            s.eflags = (value & 0x003F7FD7) | 2
        elif name in SEG_INDEX:
            if s.seg_sel[SEG_INDEX[name]] != value & 0xFFFF:
                setattr(m.regs, name, value)
        elif name in CR_INDEX:
            if s.cr[CR_INDEX[name]] != value:
                s.cr[CR_INDEX[name]] = value
                from .._runtime import lib
                lib.cpu_tlb_flush(s)
                m.flush_code_cache()
        else:
            return  # no FPU state
        from .._runtime import lib
        lib.cpu_update_hflags(s)

    def _set_pc(self, value):
        s = self.m.s
        value &= 0xFFFFFFFF
        if not self.linear_pc:
            s.eip = value
            return
        base = s.seg_base[1]
        off = (value - base) & 0xFFFFFFFF
        if s.cr[0] & 1 or off <= 0xFFFF:
            s.eip = off
        else:  # real mode, outside CS: load CS with the address's paragraph
            self.m.regs.cs = (value >> 4) & 0xF000
            s.eip = value & 0xFFFF

    def all_regs(self):
        return "".join(self.get_reg(i) for i in range(len(REGISTERS)))

    # -- stop replies ----------------------------------------------------------
    def stop_reply(self, why):
        if why in ("breakpoint", "step", None):
            return "T%02xthread:01;" % SIGTRAP
        if why == "stop":
            return "T%02xthread:01;" % SIGINT
        # The run ended: the guest can never go on.
        self.ctl.end(why)
        self.done = True
        return "W%02x" % (self.ctl.status() & 0xFF)

    def _status(self):
        if self.ctl.ended is not None:
            self.done = True
            return "W%02x" % (self.ctl.status() & 0xFF)
        return "T%02xthread:01;" % SIGTRAP

    def do_continue(self):
        if self.ctl.ended is not None:
            return self._status()
        self.ctl.gdb_continue()
        interrupted = False
        while True:
            why = self.ctl.gdb_wait(0.05)
            if why is not None:
                break
            item = self.conn.read(timeout=0)
            if item is INTERRUPT and not interrupted:
                interrupted = True
                self.ctl.interrupt()
            elif item is None and self.conn.closed:
                self.ctl.interrupt()  # the debugger went away: stop, then hand back
        return self.stop_reply(why)

    def do_step(self):
        return self.stop_reply(self.ctl.gdb_step())

    # -- packets -------------------------------------------------------------------
    def handle(self, pkt):
        """The reply to one packet (str or bytes), or None for no reply."""
        if pkt is INTERRUPT:
            return "T%02xthread:01;" % SIGINT
        if isinstance(pkt, str):
            pkt = pkt.encode("latin-1")
        text = pkt.decode("latin-1")
        if not text:
            return ""
        try:
            return self._dispatch(text, pkt)
        except (ValueError, IndexError):
            return "E01"

    def _dispatch(self, text, raw):
        c = text[:1]
        if c == "?":
            return self._status()
        if c == "g":
            return self.all_regs()
        if c == "G":
            data = bytes.fromhex(text[1:])
            off = 0
            for i, (_, size) in enumerate(REGISTERS):
                if off + size > len(data):
                    break
                self.set_reg(i, int.from_bytes(data[off:off + size], "little"))
                off += size
            return "OK"
        if c == "p":
            n = int(text[1:], 16)
            if n >= len(REGISTERS):
                return "E45"
            return self.get_reg(n)
        if c == "P":
            n, v = text[1:].split("=")
            n = int(n, 16)
            if n >= len(REGISTERS):
                return "E45"
            self.set_reg(n, int.from_bytes(bytes.fromhex(v), "little"))
            return "OK"
        if c == "m":
            addr, length = (int(x, 16) for x in text[1:].split(","))
            data = read_linear(self.m, addr, min(length, 0x10000))
            if not data and length:
                return "E14"
            return data.hex()
        if c == "M":
            where, hexdata = text[1:].split(":", 1)
            addr, length = (int(x, 16) for x in where.split(","))
            data = bytes.fromhex(hexdata)[:length]
            return "OK" if write_linear(self.m, addr, data) == len(data) else "E14"
        if c == "X":
            colon = raw.index(b":")
            addr, length = (int(x, 16) for x in raw[1:colon].decode().split(","))
            data = unescape(raw[colon + 1:])[:length]
            return "OK" if write_linear(self.m, addr, data) == len(data) else "E14"
        if c in "Zz":
            kind, addr, _ = text[1:].split(",")
            if kind not in ("0", "1"):
                return ""  # watchpoints are not supported
            addr = int(addr, 16)
            if c == "Z":
                try:
                    self.m.add_breakpoint(addr)
                except ValueError:
                    return "E0E"
                self.breakpoints.add(addr)
            else:
                self.m.remove_breakpoint(addr)
                self.breakpoints.discard(addr)
            return "OK"
        if c in "cC":
            return self.do_continue()
        if c in "sS":
            return self.do_step()
        if c == "D":
            self.detached = True
            self.done = True
            return "OK"
        if c == "k":
            self.ctl.end("kill")
            self.done = True
            return None
        if c == "H" or c == "T":
            return "OK"
        if text.startswith("vCont?"):
            return "vCont;c;C;s;S"
        if text.startswith("vCont;"):
            action = text[6:7]
            if action in "sS":
                return self.do_step()
            if action in "cC":
                return self.do_continue()
            return "E01"
        if text.startswith("vKill"):
            self.ctl.end("kill")
            self.done = True
            return "OK"
        if text.startswith("qSupported"):
            return "PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;vContSupported+"
        if text == "QStartNoAckMode":
            self.conn.send("OK")
            self.conn.ack = False
            return None
        if text.startswith("qXfer:features:read:"):
            annex, span = text[len("qXfer:features:read:"):].split(":")
            if annex != "target.xml":
                return "E00"
            if self._xml is None:
                self._xml = target_xml().encode()
            off, length = (int(x, 16) for x in span.split(","))
            chunk = self._xml[off:off + length]
            return (b"l" if off + length >= len(self._xml) else b"m") + escape(chunk)
        if text == "qAttached" or text.startswith("qAttached:"):
            return "1"
        if text == "qC":
            return "QC1"
        if text == "qfThreadInfo":
            return "m1"
        if text == "qsThreadInfo":
            return "l"
        if text.startswith("qThreadExtraInfo"):
            return b"vCPU 0".hex()
        if text.startswith("qRcmd,"):
            return self._monitor(bytes.fromhex(text[6:]).decode("latin-1"))
        if text.startswith("qSymbol"):
            return "OK"
        return ""  # vMustReplyEmpty and everything unknown

    def _monitor(self, command):
        if self.monitor is None:
            return "E01"
        out = self.monitor.execute(command)
        if out and not out.endswith("\n"):
            out += "\n"
        return out.encode("latin-1", "replace").hex() if out else "OK"

    def serve(self):
        """Answer packets until the debugger detaches, kills, disconnects or
        the run ends."""
        self.ctl.acquire_gdb()
        try:
            while not self.done:
                pkt = self.conn.read()
                if pkt is None:
                    break
                reply = self.handle(pkt)
                if reply is not None:
                    self.conn.send(reply)
        finally:
            for a in self.breakpoints:
                self.m.remove_breakpoint(a)
            self.breakpoints.clear()
            if self.ctl.ended is None:
                self.ctl.release_gdb(resume=True)
            else:
                self.ctl.release_gdb(resume=False)


def parse_endpoint(spec, what="--gdb"):
    """tcp::PORT (loopback), tcp:HOST:PORT or a bare port -> (host, port)."""
    s = spec
    if s.startswith("tcp:"):
        s = s[4:]
    host, _, port = s.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("%s: expected tcp::PORT or tcp:HOST:PORT, got %r" % (what, spec))
    return host or "127.0.0.1", int(port)


class GdbServer:
    """Listens for debuggers, one at a time, on a daemon thread."""

    def __init__(self, controller, host="127.0.0.1", port=1234, monitor=None):
        self.ctl = controller
        self.monitor = monitor
        self.sock, self.address = listen(host, port)
        self.session = None
        self.attached = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._serve, name="gdbstub", daemon=True)
        self._thread.start()
        return self

    def _serve(self):
        while self.ctl.ended is None:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.session = GdbSession(self.ctl, Connection(conn), monitor=self.monitor)
            self.attached.set()
            try:
                self.session.serve()
            except RuntimeError:  # another debugger holds the vCPU
                conn.sendall(frame("E%02x" % 16))
            finally:
                try:
                    conn.close()
                except OSError:
                    pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
