"""The monitor: each command on our firmware, through Monitor.execute(),
and the monitor on a socket and on standard input."""
import os
import socket
import struct
import subprocess
import sys
import time

import pytest

from romutil import rom_with
from test_cli import start_seconds
from jitemu.devices.debugcon import DebugConsole
from jitemu.machine import Machine
from jitemu.tools.monitor import Monitor, MonitorServer, parse_format, MonitorError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SELFTEST = os.path.join(ROOT, "firmware", "images", "selftest.bin")
JITEMU = [sys.executable, "-m", "jitemu.cli"]
LOOP = bytes.fromhex("40ebfd")  # f0000: inc ax; jmp f0000


def machine(image):
    m = Machine(memory_mb=1)
    m.load_firmware(image)
    con = m.attach(DebugConsole(out=None))
    return m, con


def wait_idle(mon, timeout=60):
    t = time.monotonic() + timeout
    while mon.ctl.running and time.monotonic() < t:
        time.sleep(0.01)
    return mon.execute("info status")


@pytest.fixture(scope="module")
def selftest():
    """The selftest ROM run to its halt through the monitor's `cont`."""
    with open(SELFTEST, "rb") as f:
        m, con = machine(f.read())
    mon = Monitor(m)
    before = mon.execute("info registers")
    assert mon.execute("info status") == "VM status: paused"
    assert mon.execute("cont") == ""
    status = wait_idle(mon)
    return m, con, mon, before, status


def test_help_lists_every_command():
    m, _ = machine(rom_with(LOOP))
    out = Monitor(m).execute("help")
    for cmd in ("info registers", "info jit", "x/FMT ADDR", "xp/FMT ADDR", "system_reset", "stop", "cont",
                "quit", "help"):
        assert cmd in out
    assert Monitor(m).execute("frobnicate").startswith("unknown command")


def test_info_registers_at_reset_and_after_the_run(selftest):
    m, con, mon, before, status = selftest
    assert "EAX=00000000 EBX=00000000 ECX=00000000 EDX=00000633" in before
    assert "EIP=0000fff0 EFL=00000002" in before
    assert "CS =f000 ffff0000 0000ffff 00009b00" in before
    assert "CR0=60000010" in before
    assert status == "VM status: ended (halt)"
    assert con.text.rstrip().endswith("selftest: 80 passed, 0 failed")
    after = mon.execute("info registers")
    assert "CS =f000 000f0000" in after and "HLT=1" in after
    assert "EIP=%08x" % m.regs.eip in after


def test_info_jit(selftest):
    m, con, mon, _, _ = selftest
    out = mon.execute("info jit")
    st = m.stats()
    assert "blocks: %d live, %d translated" % (st["blocks_live"], st["blocks_translated"]) in out
    assert "block executions: %d; cache hit rate" % st["block_executions"] in out
    assert "compile time: %.3f s" % st["compile_seconds"] in out
    assert "instructions: %d in " % st["instructions"] in out and "MIPS" in out
    assert "guest exceptions: 3; resets: 0" in out
    rate = float(out.split("cache hit rate ")[1].split("%")[0])
    assert 50.0 < rate <= 100.0


def test_x_and_xp_dump_memory(selftest):
    m, con, mon, _, _ = selftest
    assert mon.execute("x/5xb 0xffff0") == "000ffff0: 0xea 0x00 0x00 0x00 0xf0"
    assert mon.execute("xp/5xb 0xffff0") == "000ffff0: 0xea 0x00 0x00 0x00 0xf0"
    assert mon.execute("xp/1xw 0xfffffff0") == "fffffff0: 0x000000ea"
    assert mon.execute("xp/2xh f000:fff1") == "000ffff1: 0x0000 0xf000"
    # the selftest's pass counter (NPASS at 0x504, a word)
    assert mon.execute("x/1dh 0x504") == "00000504: 80"
    assert mon.execute("x/2uh 0x504") == "00000504: 80 0"
    m.write_phys(0x6000, b"Hello, monitor\x01")
    assert mon.execute("x/15c 0x6000") == "00006000: Hello, monitor\\x01"
    assert mon.execute("x/4xg 0x6000").count("0x") == 4
    assert mon.execute("x 0x6000") == "00006000: 0x6c6c6548"
    lines = mon.execute("x/32xb 0x6000").splitlines()
    assert len(lines) == 2 and lines[1].startswith("00006010: ")
    assert mon.execute("x/2xw $esp") == mon.execute("x/2xw %#x" % m.regs.esp)
    assert mon.execute("x/1xb 0x6000+1") == "00006001: 0x65"
    assert mon.execute("x/1xb 24577") == "00006001: 0x65"  # decimal
    assert mon.execute("x/1xb 6001") == "00001771: 0x00"
    assert mon.execute("x/1xb $pc-0xf0000+0x6001-$pc+0xf0000") == "00006001: 0x65"
    assert mon.execute("x/q 0").startswith("error: bad format")
    assert mon.execute("x/4x").startswith("error")


def test_x_i_disassembles_in_the_current_mode(selftest):
    m, con, mon, _, _ = selftest
    out = mon.execute("x/3i 0xf0000").splitlines()
    assert out[0] == "0x000f0000:  fa                       cli"
    assert out[1].endswith("cld") and out[2].endswith("xor ax, ax")
    assert "jmp 0xf000:0" in mon.execute("x/1i 0xffff0")
    # 32-bit code when told so by the code segment (hflags CODE32)
    m.write_phys(0x7000, bytes.fromhex("b878563412"))
    assert mon.execute("xp/1i 0x7000").endswith("mov ax, 0x5678")
    m.s.hflags |= 1
    try:
        assert mon.execute("xp/1i 0x7000").endswith("mov eax, 0x12345678")
    finally:
        m.s.hflags &= ~1


def test_x_goes_through_the_page_tables():
    m, _ = machine(rom_with(LOOP))
    mon = Monitor(m)
    # page directory at 0x10000; linear 0x00400000 -> physical 0x20000
    m.write_phys(0x10004, struct.pack("<I", 0x11000 | 1))
    m.write_phys(0x11000, struct.pack("<I", 0x20000 | 1))
    m.write_phys(0x20000, b"PAGE")
    m.write_phys(0x400000 & 0xFFFFF, b"phys")
    m.s.cr[3] = 0x10000
    m.s.cr[0] |= 0x80000001
    assert mon.execute("x/4c 0x400000") == "00400000: PAGE"
    assert mon.execute("xp/4c 0x20000") == "00020000: PAGE"
    assert mon.execute("x/4c 0x800000").startswith("error: cannot access memory")


def test_system_reset_stop_cont_and_quit():
    m, _ = machine(rom_with(LOOP))
    mon = Monitor(m)
    assert mon.execute("cont") == ""
    time.sleep(0.2)
    assert mon.execute("info status") == "VM status: running"
    assert mon.execute("stop") == ""
    assert mon.execute("info status") == "VM status: paused"
    eip = m.regs.eip
    assert 0 <= eip <= 2 and m.regs.eax > 0
    assert mon.execute("system_reset") == ""
    assert m.regs.eip == 0xFFF0 and m.regs.eax == 0 and m.resets == {"monitor": 1}
    assert mon.execute("cont") == ""
    time.sleep(0.1)
    assert mon.execute("system_reset") == ""  # while it runs
    assert m.resets == {"monitor": 2}
    assert mon.execute("quit") == "" and mon.quit
    assert mon.execute("info status") == "VM status: ended (quit)"
    assert not mon.ctl.running
    assert mon.execute("cont").startswith("error: the run has ended")


def test_screendump_writes_a_png(tmp_path):
    m, _ = machine(rom_with(LOOP))
    m.write_phys(0xB8000, b"H\x07i\x07")
    f = tmp_path / "s.png"
    assert Monitor(m).execute("screendump %s" % f) == ""
    assert f.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_format_parsing():
    assert parse_format("") == (1, "x", 4)
    assert parse_format("10i") == (10, "i", 1)
    assert parse_format("4xb") == (4, "x", 1)
    assert parse_format("2hx") == (2, "x", 2)
    assert parse_format("8c") == (8, "c", 1)
    with pytest.raises(MonitorError):
        parse_format("xz")


def read_until(sock, marker, timeout=30):
    sock.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode()


def test_monitor_on_a_socket():
    m, _ = machine(rom_with(LOOP))
    mon = Monitor(m)
    srv = MonitorServer(mon, "127.0.0.1", 0).start()
    try:
        with socket.create_connection(srv.address, timeout=30) as s:
            assert "(jitemu) " in read_until(s, b"(jitemu) ")
            s.sendall(b"info registers\r\n")
            out = read_until(s, b"(jitemu) ")
            assert "EIP=0000fff0" in out and "\r\n" in out
            s.sendall(b"quit\n")
            assert read_until(s, b"never") == ""  # closed after quit
        assert mon.ctl.ended == "quit"
    finally:
        srv.close()


def test_monitor_on_stdio_and_on_tcp_through_the_command(tmp_path):
    f = tmp_path / "loop.bin"
    f.write_bytes(rom_with(LOOP))
    p = subprocess.Popen(JITEMU + ["run", str(f), "--monitor", "stdio", "--debugcon", "none"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(start_seconds() + 1)  # the guest runs its loop meanwhile
    out, err = p.communicate("info status\nstop\ninfo registers\nxp/3xb 0xf0000\nquit\n", timeout=60)
    p = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    assert p.returncode == 0, p.stderr
    assert "VM status: running" in p.stdout
    assert "EAX=" in p.stdout and "CS =f000 000f0000" in p.stdout
    assert "000f0000: 0x40 0xeb 0xfd" in p.stdout
    assert "quit after" in p.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    p = subprocess.Popen(JITEMU + ["run", str(f), "--monitor", "tcp::%d" % port, "--debugcon", "none"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stderr.readline() == "jitemu: monitor listening on 127.0.0.1:%d\n" % port
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            read_until(s, b"(jitemu) ")
            s.sendall(b"info status\n")
            assert "VM status: running" in read_until(s, b"(jitemu) ")
            s.sendall(b"quit\n")
        assert p.wait(60) == 0
    finally:
        if p.poll() is None:
            p.kill()
        p.communicate()
    bad = subprocess.run(JITEMU + ["run", str(f), "--monitor", "tcp:nonsense"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("jitemu: error: --monitor:")
    assert len(bad.stderr.strip().splitlines()) == 1
