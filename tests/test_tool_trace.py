"""Tracing like QEMU's -d in_asm,exec,cpu,int -D FILE, on our firmware."""
import io
import os
import re
import subprocess
import sys

import pytest

from jitemu.devices.debugcon import DebugConsole
from jitemu.machine import Machine
from jitemu.tools.trace import Tracer, parse_categories

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, "firmware", "images")
SELFTEST = os.path.join(IMAGES, "selftest.bin")
JITEMU = [sys.executable, "-m", "jitemu.cli"]

MARKS = {"in_asm": "IN: block ", "exec": "Trace: block ", "cpu": "EAX=", "int": "INT: vector "}


def run(*args):
    return subprocess.run(JITEMU + list(args), capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("category", ["in_asm", "exec", "cpu", "int"])
def test_each_category_to_a_file(tmp_path, category):
    f = tmp_path / "trace.txt"
    p = run("run", SELFTEST, "-d", category, "-D", str(f), "--debugcon", "none")
    assert p.returncode == 0, p.stderr
    text = f.read_text()
    for cat, mark in MARKS.items():
        assert (mark in text) == (cat == category), (cat, text[:300])
    if category == "in_asm":
        assert text.startswith("----------------\nIN: block 0 at fffffff0 (cs base ffff0000) 16-bit\n"
                               "0xfffffff0:  ea 00 00 00 f0           ljmp 0xf000:0\n")
        assert "0x000f0000:  fa                       cli\n0x000f0001:  fc                       cld\n" in text
        made = int(re.search(r"(\d+) blocks translated", p.stderr).group(1))
        assert text.count("IN: block ") == made  # every block seen being made (no persistent cache)
    elif category == "exec":
        lines = text.splitlines()
        assert lines[0] == "Trace: block 0 at f000:fff0 (linear fffffff0) icount 0"
        assert lines[1] == "Trace: block 1 at f000:0000 (linear 000f0000) icount 1"
    elif category == "cpu":
        first = text.split("\n\n")[0]
        assert first.startswith("EAX=00000000 EBX=00000000 ECX=00000000 EDX=00000633\n")
        assert "EIP=0000fff0 EFL=00000002" in first and "CS =f000 ffff0000 0000ffff 00009b00" in first
        assert "EIP=00000000" in text.split("\n\n")[1]  # after the far jump to F000:0000
    else:
        lines = text.splitlines()
        vectors = [int(re.match(r"INT: vector 0x([0-9a-f]+)", ln).group(1), 16) for ln in lines]
        assert vectors.count(0) == 3  # the selftest's three #DE
        assert {0x03, 0x04, 0x40} <= set(vectors)  # INT3, INTO, INT n
        assert all(" error ---- return f000:" in ln for ln in lines)  # real mode: no error codes


def test_exceptions_with_error_codes_in_protected_mode(tmp_path):
    f = tmp_path / "trace.txt"
    p = run("run", os.path.join(IMAGES, "exceptions.bin"), "-d", "int", "-D", str(f), "--debugcon", "none")
    assert p.returncode == 0, p.stderr
    text = f.read_text()
    assert re.search(r"INT: vector 0x0d error 1230 return 0008:000f[0-9a-f]{4} \(linear 000f[0-9a-f]{4}\)", text)
    assert "INT: vector 0x0e error " in text and "INT: vector 0x0c error 0000" in text
    assert "INT: vector 0x00 error ---- " in text


def test_trace_to_stderr_without_D():
    p = run("run", SELFTEST, "-d", "int", "--debugcon", "none", "-q")
    assert p.returncode == 0 and p.stderr.count("INT: vector 0x00") == 3


def test_bad_categories_get_one_line_and_status_2(tmp_path):
    for spec in ("frob", "in_asm,frob", ",", ""):
        p = run("run", SELFTEST, "-d", spec)
        assert p.returncode == 2, spec
        assert p.stderr.startswith("jitemu: error: -d:") and len(p.stderr.strip().splitlines()) == 1
    p = run("run", SELFTEST, "-d", "int", "-D", str(tmp_path / "no" / "such" / "dir.txt"))
    assert p.returncode == 2 and p.stderr.startswith("jitemu: error: -D: cannot open trace file")
    p = run("run", SELFTEST, "-d", "help")
    assert p.returncode == 0 and "in_asm" in p.stdout and "int" in p.stdout


def test_all_categories_in_process_match_the_statistics():
    m = Machine(memory_mb=1)
    with open(SELFTEST, "rb") as f:
        m.load_firmware(f.read())
    m.attach(DebugConsole(out=None))
    out = io.StringIO()
    Tracer(out, parse_categories("in_asm,exec,cpu,int")).install(m)
    assert m.run() == "halt"
    text = out.getvalue()
    st = m.stats()
    assert text.count("Trace: block ") == st["block_executions"]
    assert text.count("EAX=") == st["block_executions"]
    assert text.count("IN: block ") == st["blocks_translated"]
    assert text.count("INT: vector 0x00") == st["exceptions"] == 3


def test_tracing_off_installs_nothing():
    m = Machine(memory_mb=1)
    assert m.s.trace_flags == 0 and m.tracer is None
    assert m.translator.on_translate is None
    Tracer(io.StringIO(), {"int"}).install(m)
    assert m.s.trace_flags == 4 and m.translator.on_translate is None
    Tracer.uninstall(m)
    assert m.s.trace_flags == 0
