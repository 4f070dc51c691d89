"""`jitemu resetfuzz`: finds the planted reset bugs of firmware/resetbug
(both kinds: hung and wrong output), each failure's one-line reproduction
reproduces it, the fixed firmware and SeaBIOS recover from every reset,
the same seed gives the same trials however many jobs run them, and bad
input is one line with exit status 2."""
import io
import os
import re
import shlex
import subprocess
import sys

import pytest

from jitemu.tools.progress import Bar
from romutil import assemble

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, "firmware", "images")
RESETBUG = os.path.join(IMAGES, "resetbug.bin")
BOOTOK = os.path.join(IMAGES, "disk", "bootok.img")
COLD = open(os.path.join(IMAGES, "resetbug.expected")).read()


def jitemu(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "jitemu.cli"] + list(args), capture_output=True, text=True,
                          timeout=timeout)


def rows(stdout):
    """The table: {source: (tried, recovered, hung, wrong output)}."""
    out = {}
    for line in stdout.splitlines():
        m = re.match(r"^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", line)
        if m:
            out[m.group(1)] = tuple(int(x) for x in m.groups()[1:])
    return out


def failures(stdout):
    """[(kind, reproduction command)] from the report."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^(hung|wrong output) \(.*?\): (jitemu boot .*)$",
                                                           stdout, re.M)]


@pytest.fixture(scope="module")
def buggy(tmp_path_factory):
    f = str(tmp_path_factory.mktemp("fuzz") / "failures.txt")
    r = jitemu("resetfuzz", "--bios", RESETBUG, "--marker", "RESETBUG-OK", "--count", "60", "--seed", "3",
               "--jobs", "2", "--failures", f)
    return r, f


def test_resetfuzz_finds_both_planted_bugs(buggy):
    r, path = buggy
    assert r.returncode == 1, r.stderr
    table = rows(r.stdout)
    assert list(table) == ["cf9", "port92", "kbc", "triple", "api", "total"]
    tried, recovered, hung, wrong = table["total"]
    assert tried == 60 and recovered + hung + wrong == 60
    assert recovered > 0 and hung > 0 and wrong > 0
    for src in ("cf9", "port92", "kbc", "triple", "api"):
        assert table[src][0] == 12
    found = failures(r.stdout)
    assert len(found) == hung + wrong
    assert open(path).read().splitlines() == [cmd for _, cmd in found]
    assert r.stdout.rstrip().endswith("%d failed" % (hung + wrong))


def test_each_kind_of_failure_reproduces_from_its_line(buggy):
    r, _ = buggy
    found = failures(r.stdout)
    for kind in ("hung", "wrong output"):
        for _, cmd in [f for f in found if f[0] == kind][:2]:
            argv = shlex.split(cmd)
            assert argv[:2] == ["jitemu", "boot"]
            n, source = re.search(r"--reset-at (\d+):(\S+)", cmd).groups()
            rep = jitemu(*argv[1:])
            name = {"triple": "triple-fault"}.get(source, source)
            assert "resets: %s 1" % name in rep.stderr, rep.stderr
            after = rep.stdout[rep.stdout.rindex("resetbug: POST"):]  # what the boot after the reset printed
            if kind == "hung":
                assert "RESETBUG-OK" not in after and "jitemu: limit after" in rep.stderr
            else:
                assert after != COLD and COLD.startswith(after[:after.index("timer ok")])
                assert re.search(r"timer ok: polls (\w+)", after).group(1) != "0001858f"


def test_the_fixed_firmware_recovers_from_every_reset(tmp_path):
    fixed = tmp_path / "resetbug-fixed.bin"
    fixed.write_bytes(assemble("%define FIXED\n" + open(os.path.join(ROOT, "firmware", "src", "resetbug.asm")).read()))
    r = jitemu("resetfuzz", "--bios", str(fixed), "--marker", "RESETBUG-OK", "--count", "60", "--seed", "3",
               "--jobs", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert rows(r.stdout)["total"] == (60, 60, 0, 0)
    assert failures(r.stdout) == [] and "all recovered" in r.stdout


def test_seabios_recovers_from_resets_by_every_source_and_a_reset_during_a_reset():
    r = jitemu("resetfuzz", "--disk", BOOTOK, "--marker", "BOOT-SECTOR-OK", "--count", "14", "--seed", "9",
               "--sources", "cf9,port92,kbc,triple,api,cf9+api,kbc+triple")
    assert r.returncode == 0, r.stdout + r.stderr
    table = rows(r.stdout)
    assert table["total"] == (14, 14, 0, 0) and table["cf9+api"] == (2, 2, 0, 0)
    assert re.search(r"reference boot: 7,\d{3},\d{3} instructions to 'BOOT-SECTOR-OK'", r.stderr)


def test_the_same_seed_gives_the_same_trials_on_one_job_or_two(buggy):
    r, _ = buggy
    one = jitemu("resetfuzz", "--bios", RESETBUG, "--marker", "RESETBUG-OK", "--count", "60", "--seed", "3",
                 "--jobs", "1", "--quiet")
    assert one.returncode == 1 and one.stderr == ""
    assert failures(one.stdout) == failures(r.stdout) and rows(one.stdout) == rows(r.stdout)


def test_progress_goes_to_stderr_as_lines_when_it_is_not_a_terminal(buggy):
    r, _ = buggy
    lines = r.stderr.splitlines()
    assert lines[0].startswith("jitemu: resetfuzz: reference boot: 1,448,1")
    assert lines[-1].startswith("jitemu: resetfuzz [##############################] 60/60")
    assert "\r" not in r.stderr


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_the_bar_is_rewritten_in_place_on_a_terminal():
    out = _Tty()
    t = [0.0]
    bar = Bar(4, out=out, label="x ", width=4, clock=lambda: t[0])
    for done in range(1, 5):
        t[0] += 1
        bar.update(done, "%d failed" % (done // 2))
    bar.clear()
    text = out.getvalue()
    assert text.count("\r") == 5 and "\n" not in text
    assert "\rx [####] 4/4 4 s  2 failed\x1b[K" in text and text.endswith("\r\x1b[K")


@pytest.mark.parametrize("args,message", [
    (["--marker", "X", "--sources", "cf9,reboot"], "--sources: unknown reset source 'reboot'"),
    (["--marker", ""], "--marker must not be empty"),
    (["--marker", "X", "--bios", "/nonexistent.bin"], "firmware image not found"),
    (["--marker", "X", "--count", "0"], "must be between 1"),
    (["--marker", "X", "--jobs", "0"], "must be between 1 and 64"),
    (["--marker", "X", "--disk", "/nonexistent.img"], "disk image not found"),
    (["--marker", "X", "--fixed-time", "yesterday"], "not an ISO date"),
    (["--marker", "NEVER-PRINTED", "--bios", RESETBUG], "did not print the marker 'NEVER-PRINTED'"),
    (["--count", "5"], "the following arguments are required: --marker")])
def test_bad_input_is_one_line_and_exit_2(args, message):
    r = jitemu("resetfuzz", *args)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_the_installed_command_s_job_processes_end_quietly():
    # The `jitemu` script's job processes (multiprocessing starts them with
    # its argv[0]) are ended by the pool: no "jitemu: terminated" from them.
    script = os.path.join(os.path.dirname(sys.executable), "jitemu")
    r = subprocess.run([script, "resetfuzz", "--disk", BOOTOK, "--marker", "BOOT-SECTOR-OK", "--count", "4",
                        "--seed", "3", "--jobs", "2", "-q"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "terminated" not in r.stderr and "Traceback" not in r.stderr
