"""Progress on standard error for long runs, and the closing summary."""
import io
import re
import signal
import subprocess
import sys
import time

from romutil import rom_with
from jitemu.tools.progress import Progress

JITEMU = [sys.executable, "-m", "jitemu.cli"]
LOOP = bytes.fromhex("40ebfd")  # f0000: inc ax; jmp f0000


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


class FakeMachine:
    resets = {"cf9": 2}

    def __init__(self):
        self.n = 0

    def stats(self):
        return {"instructions": self.n, "blocks_translated": 42, "compile_seconds": 1.25}


def test_one_line_rewritten_in_place_after_two_seconds():
    m, out, now = FakeMachine(), FakeTTY(), [100.0]
    p = Progress(m, out=out, clock=lambda: now[0])
    now[0] = 101.0
    assert not p.tick() and out.getvalue() == ""  # short runs show nothing
    now[0], m.n = 102.5, 250_000_000
    assert p.tick()
    assert out.getvalue() == ("\rjitemu: 2.5 s: 250,000,000 instructions (100.0 MIPS), 42 blocks translated, "
                              "1.25 s compiling, 2 resets\x1b[K")
    now[0] = 102.7
    assert not p.tick()  # at most every 0.5 s
    now[0] = 103.0
    assert p.tick() and out.getvalue().count("\r") == 2 and "\n" not in out.getvalue()
    p.clear()
    assert out.getvalue().endswith("\r\x1b[K")


def test_not_a_terminal_shows_nothing_unless_forced():
    m, now = FakeMachine(), [0.0]
    out = io.StringIO()
    p = Progress(m, out=out, clock=lambda: now[0])
    now[0] = 60.0
    assert not p.tick() and out.getvalue() == ""
    forced = Progress(m, out=out, force=True, clock=lambda: now[0])
    now[0] = 63.0
    assert forced.tick() and out.getvalue().endswith(" resets\n") and "\r" not in out.getvalue()
    now[0] = 64.0
    assert not forced.tick()  # every 5 s when not a terminal
    forced.clear()
    assert out.getvalue().count("\n") == 1


def test_a_long_run_shows_progress_and_ctrl_c_ends_it_with_the_summary(tmp_path):
    f = tmp_path / "loop.bin"
    f.write_bytes(rom_with(LOOP))
    p = subprocess.Popen(JITEMU + ["run", str(f), "--progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(3)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    lines = err.splitlines()
    assert re.match(r"jitemu: \d+\.\d s: [\d,]+ instructions \([\d.]+ MIPS\), \d+ blocks translated", lines[0]), err
    assert lines[-1].startswith("jitemu: interrupted after ") and "Traceback" not in err
    q = subprocess.run(JITEMU + ["run", str(f), "-q", "--progress", "--max-instructions", "1000"],
                       capture_output=True, text=True, timeout=120)
    assert (q.returncode, q.stderr) == (1, "")
