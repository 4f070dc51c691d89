"""Ending jitemu while the vCPU thread is busy: Ctrl-C, SIGTERM, the
interpreter's exit.  The vCPU thread is stopped and waited for before the
process goes on to exit, even when it is inside a long LLVM compile (an
exit under it crashed in LLVM's static destructors: SIGSEGV, SIGABRT)."""
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from jitemu.machine import Machine
from jitemu.tools.control import Controller, drive

from romutil import rom_with
from test_cli import start_seconds

JITEMU = [sys.executable, "-m", "jitemu.cli"]
FILLER = bytes.fromhex("01d8 31c8 d1e0 29d9 43") * 11  # add ax,bx; xor ax,cx; shl ax,1; sub cx,bx; inc bx


def self_modifying_rom():
    """Code copied to 0000:1000 whose 24 blocks each bump an immediate of
    their own (inc word [imm]; mov bx, imm; ...): every pass through the
    loop retranslates and compiles all of them again."""
    base = 0x1000
    body = bytearray(bytes.fromhex("31c0 8ed8"))  # xor ax,ax; mov ds,ax
    loop = base + len(body)
    for _ in range(24):
        imm = base + len(body) + 5
        body += b"\xff\x06" + imm.to_bytes(2, "little") + bytes.fromhex("bb3412") + FILLER + b"\xeb\x00"
    body += b"\xe9" + ((loop - (base + len(body) + 3)) & 0xFFFF).to_bytes(2, "little")  # jmp loop
    # xor ax,ax; mov es,ax; push cs; pop ds; mov si,body; mov di,1000h; mov cx,len; rep movsb; jmp 0:1000h
    head = bytearray(bytes.fromhex("31c0 8ec0 0e 1f be0000 bf0010 b90000 f3a4 ea00100000"))
    head[7:9] = len(head).to_bytes(2, "little")
    head[13:15] = len(body).to_bytes(2, "little")
    return rom_with(bytes(head + body))


def slow_translations(m, seconds):
    """Every translation on the vCPU thread takes `seconds` longer, as a
    big LLVM compile does; returns (the first has started, times each
    one ended)."""
    t = m.translator
    started, ended = threading.Event(), []
    translate = t.translate

    def slow(*args):
        started.set()
        time.sleep(seconds)
        translate(*args)
        ended.append(time.perf_counter())
    t.translate = slow
    return started, ended


def send_after(event, *signums):
    """Signal this process once `event` is set (the handlers run on the
    main thread, inside drive())."""
    def go():
        event.wait(30)
        for s in signums:
            os.kill(os.getpid(), s)
            time.sleep(0.05)
    threading.Thread(target=go, daemon=True).start()


def test_ctrl_c_during_a_compile_waits_for_the_vcpu_then_ends_with_130():
    m = Machine()
    m.load_firmware(rom_with(bytes.fromhex("40ebfd")))  # l: inc ax; jmp l
    started, ended = slow_translations(m, 0.6)
    ctl = Controller(m)
    send_after(started, signal.SIGINT, signal.SIGINT)  # a second Ctrl-C does not cut the wait short
    status = drive(ctl)
    done = time.perf_counter()
    assert (status, ctl.ended) == (130, "interrupted")
    assert not m.vcpu_running and not ctl.running
    assert ended and ended[-1] < done  # the compile finished before drive() returned
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_sigterm_ends_the_run_like_ctrl_c_with_143():
    m = Machine()
    m.load_firmware(rom_with(bytes.fromhex("40ebfd")))
    started, ended = slow_translations(m, 0.3)
    ctl = Controller(m)
    send_after(started, signal.SIGTERM)
    assert drive(ctl) == 143 and ctl.ended == "terminated"
    assert not m.vcpu_running and ended
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_an_error_in_the_main_loop_stops_the_vcpu_first():
    m = Machine()
    m.load_firmware(rom_with(bytes.fromhex("40ebfd")))
    started, _ = slow_translations(m, 0.3)

    class Broken:
        def tick(self):
            if started.is_set():
                raise OSError("terminal went away")
    ctl = Controller(m)
    with pytest.raises(OSError, match="terminal went away"):
        drive(ctl, tickers=[Broken()])
    assert ctl.ended == "error" and not m.vcpu_running


def run_and_signal(tmp_path, signum, delay, start=0.0):
    """Signal a run `delay` seconds into it, its start taking `start`."""
    rom = tmp_path / "smc.bin"
    rom.write_bytes(self_modifying_rom())
    p = subprocess.Popen(JITEMU + ["run", str(rom), "--no-cache", "--debugcon", "none"],
                         stderr=subprocess.PIPE, text=True)
    time.sleep(start + delay)
    p.send_signal(signum)
    _, err = p.communicate(timeout=120)
    return p.returncode, err


def test_signals_during_constant_recompiles_end_with_a_summary_never_a_crash(tmp_path):
    start = start_seconds()
    for signum, delay, status, why in ((signal.SIGINT, 0.4, 130, "interrupted"),
                                       (signal.SIGINT, 1.3, 130, "interrupted"),
                                       (signal.SIGTERM, 0.9, 143, "terminated")):
        rc, err = run_and_signal(tmp_path, signum, delay, start)
        assert rc == status, err
        assert "Traceback" not in err
        assert re.match(r"jitemu: %s after \d+ instructions" % why, err.splitlines()[-1]), err


def test_the_interpreter_exits_only_after_a_running_vcpu_has_stopped(tmp_path):
    # A script that leaves the vCPU compiling on its daemon thread and just
    # returns.  Its own atexit hook, registered before jitemu's (so it runs
    # after it), sees the vCPU already out of run().
    rom = tmp_path / "smc.bin"
    rom.write_bytes(self_modifying_rom())
    script = textwrap.dedent("""
        import atexit, sys, time
        state = {}
        atexit.register(lambda: print("running at exit:", state["m"].vcpu_running, state["m"].run_result))
        from jitemu.machine import Machine
        m = state["m"] = Machine()
        m.load_firmware(open(sys.argv[1], "rb").read())
        m.start()
        time.sleep(1.0)
        print("leaving")
    """)
    p = subprocess.run([sys.executable, "-c", script, str(rom)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n")[:2] == ["leaving", "running at exit: False stop"]
