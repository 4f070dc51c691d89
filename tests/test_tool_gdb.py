"""The GDB stub: Debian's gdb against `jitemu run --gdb` on our firmware,
and the packet layer driven by a raw socket client."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from romutil import rom_with
from jitemu.devices.debugcon import DebugConsole
from jitemu.devices.debugexit import DebugExit
from jitemu.machine import Machine
from jitemu.tools.control import Controller
from jitemu.tools.gdbstub import GdbServer, REGISTERS, escape, frame, target_xml, unescape
from jitemu.tools.monitor import Monitor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SELFTEST = os.path.join(ROOT, "firmware", "images", "selftest.bin")
JITEMU = [sys.executable, "-m", "jitemu.cli"]

# At F000:0000 (linear F0000), after the reset vector's far jump:
TINY = bytes.fromhex(
    "b83412"    # f0000 mov ax, 0x1234
    "bb7856"    # f0003 mov bx, 0x5678
    "01d8"      # f0006 add ax, bx
    "a30005"    # f0008 mov [0x500], ax
    "ba0204"    # f000b mov dx, 0x402
    "b04f"      # f000e mov al, 'O'
    "ee"        # f0010 out dx, al
    "b04b"      # f0011 mov al, 'K'
    "ee"        # f0013 out dx, al
    "ba0105"    # f0014 mov dx, 0x501
    "b003"      # f0017 mov al, 3
    "ee"        # f0019 out dx, al     -> exit status 7
    "f4")       # f001a hlt
LOOP = bytes.fromhex("40ebfd")  # f0000: inc ax; jmp f0000
# jmp 0000:2000 (RAM, where the tests put code through M)
TO_RAM = bytes.fromhex("ea00200000")


def need_gdb():
    if shutil.which("gdb") is None:
        pytest.fail("Debian's gdb is needed for the GDB stub tests: apt-get install gdb "
                    "(add gdb to the apt-get line of .ci/run)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Jitemu:
    """`jitemu run IMAGE --gdb tcp::PORT ...` in the background."""

    def __init__(self, tmp_path, image, *extra):
        self.port = free_port()
        self.console = tmp_path / "console.txt"
        self.proc = subprocess.Popen(JITEMU + ["run", str(image), "--gdb", "tcp::%d" % self.port,
                                               "--debugcon", str(self.console)] + list(extra),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def __enter__(self):
        # Probing the port would count as a debugger that went away; wait
        # for the announcement instead.
        line = self.proc.stderr.readline()
        assert "gdb stub listening on 127.0.0.1:%d" % self.port in line, line
        return self

    def gdb_args(self, *commands):
        args = ["gdb", "-batch", "-nx", "-ex", "set architecture i386",
                "-ex", "target remote 127.0.0.1:%d" % self.port]
        for c in commands:
            args += ["-ex", c]
        return args

    def gdb(self, *commands):
        p = subprocess.run(self.gdb_args(*commands), capture_output=True, text=True, timeout=60)
        return p.stdout + p.stderr

    def wait(self, timeout=60):
        rc = self.proc.wait(timeout)
        return rc, self.proc.stderr.read()

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def image(tmp_path, code, name="rom.bin"):
    f = tmp_path / name
    f.write_bytes(rom_with(code))
    return f


# -- Debian's gdb ---------------------------------------------------------------------

def test_gdb_breaks_reads_registers_and_memory_steps_and_continues_to_the_exit(tmp_path):
    need_gdb()
    with Jitemu(tmp_path, image(tmp_path, TINY), "--wait-gdb") as j:
        out = j.gdb("info registers eip cs",
                    "break *0xf0008",
                    "continue",
                    "info registers eax ebx eip",
                    "stepi",
                    "x/1hx 0x500",
                    "set {short}0x600 = 0x4142",
                    "x/2xb 0x600",
                    "x/5xb 0xffff0",
                    "monitor info registers",
                    "continue")
        rc, err = j.wait()
    assert "eip            0xfffffff0" in out  # at the reset vector, before any instruction
    assert "cs             0xf000" in out
    assert "Breakpoint 1, 0x000f0008 in ?? ()" in out
    assert "eax            0x68ac" in out and "ebx            0x5678" in out
    assert "0x000f000b in ?? ()" in out  # stepi: the store ran
    assert "0x500:\t0x68ac" in out
    assert "0x600:\t0x42\t0x41" in out
    assert "0xffff0:\t0xea\t0x00\t0x00\t0x00\t0xf0" in out  # the reset vector's far jump
    assert "EAX=000068ac EBX=00005678" in out  # monitor command through qRcmd
    assert "exited with code 07" in out
    assert rc == 7, err
    assert j.console.read_text() == "OK"


def test_gdb_on_the_selftest_rom_continues_to_its_halt(tmp_path):
    need_gdb()
    with Jitemu(tmp_path, SELFTEST, "--wait-gdb") as j:
        out = j.gdb("break *0xf0000",
                    "continue",
                    "info registers cs eip",
                    "stepi", "stepi", "stepi",
                    "info registers eip",
                    "x/3xb 0xf0000",
                    "delete",
                    "continue")
        rc, err = j.wait()
    assert "Breakpoint 1, 0x000f0000 in ?? ()" in out
    assert "0x000f0004 in ?? ()" in out  # cli; cld; xor ax, ax
    assert "0xf0000:\t0xfa\t0xfc\t0x31" in out
    assert "[Inferior 1 (Remote target) exited normally]" in out  # cli; hlt
    assert rc == 0, err
    assert "selftest: 80 passed, 0 failed" in j.console.read_text()


def test_gdb_interrupts_a_running_guest(tmp_path):
    need_gdb()
    with Jitemu(tmp_path, image(tmp_path, LOOP)) as j:
        # Attaching stops the free-running guest inside its loop; Ctrl-C
        # (SIGINT to gdb, which sends 0x03) stops it again after continue.
        time.sleep(1)  # let the guest start running
        g = subprocess.Popen(j.gdb_args("info registers eip", "continue", "info registers eip eax", "kill"),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(2)
        g.send_signal(signal.SIGINT)
        out = g.communicate(timeout=60)[0]
        rc, err = j.wait()
    assert out.count("eip            0xf000") == 2, out
    assert "Program received signal SIGINT, Interrupt." in out
    assert "[Inferior 1 (Remote target) killed]" in out
    assert rc == 0, err
    assert "kill after" in err


def test_gdb_detach_lets_the_guest_run_on(tmp_path):
    need_gdb()
    with Jitemu(tmp_path, image(tmp_path, TINY), "--wait-gdb") as j:
        out = j.gdb("break *0xf0008", "continue", "detach")
        rc, err = j.wait()
    assert "Breakpoint 1, 0x000f0008" in out
    assert "[Inferior 1 (Remote target) detached]" in out
    assert rc == 7, err
    assert j.console.read_text() == "OK"


# -- the packet layer through a raw socket ------------------------------------------------

def test_framing_checksums_and_escapes():
    assert frame("OK") == b"$OK#9a"
    assert frame("") == b"$#00"
    assert frame(b"qSupported") == b"$qSupported#37"
    raw = bytes(range(256))
    esc = escape(raw)
    assert not any(b in esc for b in b"#$*") and unescape(esc) == raw
    assert escape(b"a#b") == b"a}\x03b"


def test_target_description_lists_the_i386_core_registers():
    root = ET.fromstring(target_xml().split("\n", 2)[2])
    assert root.find("architecture").text == "i386"
    core = root.find("feature[@name='org.gnu.gdb.i386.core']")
    names = [r.get("name") for r in core.findall("reg")]
    assert names[:16] == ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags",
                          "cs", "ss", "ds", "es", "fs", "gs"]
    assert names[16:24] == ["st%d" % i for i in range(8)] and names[-1] == "fop"
    assert [int(r.get("regnum")) for r in root.iter("reg")] == list(range(len(REGISTERS)))


class Client:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def _read_packet(self):
        while True:
            i = self.buf.find(b"$")
            j = self.buf.find(b"#", i)
            if i >= 0 and j >= 0 and len(self.buf) >= j + 3:
                payload, cs = self.buf[i + 1:j], self.buf[j + 1:j + 3]
                assert int(cs, 16) == sum(payload) & 0xFF, self.buf
                self.buf = self.buf[j + 3:]
                self.s.sendall(b"+")
                return payload
            data = self.s.recv(65536)
            if not data:
                raise EOFError
            self.buf += data

    def ask(self, payload, raw=None):
        self.s.sendall(raw if raw is not None else frame(payload))
        return self._read_packet().decode("latin-1")

    def send_raw(self, data):
        self.s.sendall(data)

    def close(self):
        self.s.close()


@pytest.fixture
def stub():
    """A machine waiting at the reset vector with a stub on a free port."""
    made = []

    def make(code):
        m = Machine(memory_mb=1)
        m.load_firmware(rom_with(code))
        m.attach(DebugConsole(out=None))
        dexit = m.attach(DebugExit())
        ctl = Controller(m, exit_status=lambda: dexit.status, paused=True)
        srv = GdbServer(ctl, "127.0.0.1", 0, monitor=Monitor(m, ctl)).start()
        c = Client(srv.address[1])
        made.append((ctl, srv, c))
        return m, ctl, c

    yield make
    for ctl, srv, c in made:
        c.close()
        ctl.end("quit")
        srv.close()


def reg(reply, n):
    off = sum(size for _, size in REGISTERS[:n]) * 2
    size = REGISTERS[n][1]
    return int.from_bytes(bytes.fromhex(reply[off:off + 2 * size]), "little")


def test_raw_acks_bad_checksums_and_answers_the_basics(stub):
    m, ctl, c = stub(TINY)
    c.send_raw(b"$qSupported:multiprocess+#00")  # wrong checksum: NAK, no answer
    c.s.settimeout(5)
    assert c.s.recv(1) == b"-"
    sup = c.ask("qSupported:multiprocess+;xmlRegisters=i386")
    assert "PacketSize=" in sup and "qXfer:features:read+" in sup
    assert c.ask("?").startswith("T05")
    assert c.ask("qAttached") == "1"
    assert c.ask("qC") == "QC1"
    assert c.ask("Hg0") == "OK"
    assert c.ask("vMustReplyEmpty") == ""
    assert c.ask("vCont?") == "vCont;c;C;s;S"
    xml = ""
    while True:
        part = c.ask("qXfer:features:read:target.xml:%x,200" % len(xml))
        xml += part[1:]
        if part[0] == "l":
            break
    assert xml == target_xml()


def test_raw_registers_memory_breakpoint_continue_and_step(stub):
    m, ctl, c = stub(TINY)
    g = c.ask("g")
    assert len(g) == 2 * sum(size for _, size in REGISTERS)
    assert reg(g, 8) == 0xFFFFFFF0 and reg(g, 10) == 0xF000 and reg(g, 2) == 0x633
    assert c.ask("p8") == "f0ffffff"
    assert c.ask("mffff0,5") == "ea000000f0"
    assert c.ask("Z0,f0008,1") == "OK"
    assert c.ask("c").startswith("T05")
    assert c.ask("p8") == "0800" "0f00"  # linear F0008
    assert reg(c.ask("g"), 0) == 0x68AC
    assert c.ask("s").startswith("T05")
    assert c.ask("p8") == "0b000f00"
    assert c.ask("m500,2") == "ac68"
    assert c.ask("z0,f0008,1") == "OK" and m.breakpoints == []
    assert c.ask("P0=78563412") == "OK" and m.regs.eax == 0x12345678
    assert c.ask("M600,3:414243") == "OK" and m.read_phys(0x600, 3) == b"ABC"
    # X: binary data with escapes ('#' and '}' in the payload)
    data = b"#}$*\x00"
    assert c.ask(None, raw=frame(b"X700,5:" + escape(data))) == "OK"
    assert m.read_phys(0x700, 5) == data
    assert c.ask("mffffffff,0") == ""
    assert c.ask("c") == "W07"  # the debug-exit write
    assert ctl.ended == "exit"


def test_raw_memory_writes_drop_translations(stub):
    m, ctl, c = stub(TO_RAM)
    assert c.ask("M2000,4:b81111f4") == "OK"     # mov ax, 0x1111; hlt
    assert c.ask("Z0,2003,1") == "OK"
    assert c.ask("c").startswith("T05")
    assert c.ask("p0") == "11110000"
    assert c.ask("M2000,3:b82222") == "OK"       # mov ax, 0x2222 over the translated code
    assert c.ask("P8=00200000") == "OK"          # $pc = 0x2000 (CS=0: within the segment)
    assert m.regs.eip == 0x2000 and m.regs.cs == 0
    assert c.ask("c").startswith("T05")
    assert c.ask("p0") == "22220000"


def test_raw_ctrl_c_stops_a_running_guest_and_detach_lets_it_go(stub):
    m, ctl, c = stub(LOOP)
    c.send_raw(frame("c"))
    time.sleep(0.3)
    assert ctl.running
    c.send_raw(b"\x03")
    c.s.settimeout(30)
    reply = c._read_packet().decode()
    assert reply.startswith("T02")
    pc = int.from_bytes(bytes.fromhex(c.ask("p8")), "little")
    assert pc in (0xF0000, 0xF0001) and m.regs.eax > 0
    assert c.ask("D") == "OK"
    t = time.monotonic() + 10
    while not ctl.running and time.monotonic() < t:
        ctl.poll()  # what the command's main loop does
        time.sleep(0.01)
    assert ctl.owner is None and ctl.running


def test_raw_breakpoint_in_a_hot_chained_loop_is_hit_every_time(stub):
    m, ctl, c = stub(LOOP)
    assert m.run(max_instructions=3_000_000) == "limit"  # hot, optimised, chained
    assert c.ask("Z0,f0001,1") == "OK"
    seen = []
    for _ in range(5):
        assert c.ask("c").startswith("T05")
        assert c.ask("p8") == "01000f00"
        seen.append(m.regs.eax)
    assert seen == list(range(seen[0], seen[0] + 5))
    assert c.ask("z0,f0001,1") == "OK"
    for _ in range(4):
        assert c.ask("s").startswith("T05")
    assert m.regs.eax == seen[-1] + 2
