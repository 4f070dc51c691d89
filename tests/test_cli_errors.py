"""Errors during a run and bad input (issue 16): each is one line on stderr
saying what and why, status 2 for bad input or the host's environment, 1
for a guest-visible end, never a traceback; `jitemu bench` ends cleanly on
SIGINT and SIGTERM, leaving no child process behind."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from romutil import rom_with
from test_cli import JITEMU, assert_one_line_error, run

import jitemu
from jitemu.bench import workloads

# mov dx,0x402; mov al,'o'; out dx,al; mov al,10; out dx,al; hlt
HELLO_LINE = bytes.fromhex("ba0204b06feeb00aee") + b"\xf4"
# jmp $
FOREVER = bytes.fromhex("ebfe")
QEMU = "qemu-system-i386"


@pytest.fixture
def rom(tmp_path):
    def make(code):
        f = tmp_path / ("rom%d.bin" % len(list(tmp_path.glob("rom*.bin"))))
        f.write_bytes(rom_with(code))
        return str(f)
    return make


def run_to(stdout, *args, buffered=False):
    """A run whose standard output is `stdout` (an open file); `buffered`
    drops PYTHONUNBUFFERED so that output waits for the interpreter's flush."""
    env = dict(os.environ)
    if buffered:
        env.pop("PYTHONUNBUFFERED", None)
    return subprocess.run(JITEMU + list(args), stdout=stdout, stderr=subprocess.PIPE, text=True,
                          timeout=120, env=env)


# 1. an error that ends a run says what it was


def test_a_failing_handler_is_reported_with_its_cause(rom):
    # The trace file fills up while the guest runs: the tracer's write fails
    # inside the vCPU's callback.
    p = run("run", rom(FOREVER), "-d", "exec", "-D", "/dev/full", "--max-instructions", "1000000")
    assert_one_line_error(p, "device handler failed")
    assert "No space left on device" in p.stderr and "after" in p.stderr


# 2. --max-instructions


@pytest.mark.parametrize("n", ["-5", "0", str(2**64), str(2**63)])
def test_max_instructions_out_of_range(rom, n):
    assert_one_line_error(run("run", rom(FOREVER), "--max-instructions", n), "between 1 and 2**63-1")


def test_max_instructions_at_the_top_of_the_range_runs(rom):
    p = run("run", "--quiet", rom(b"\xf4"), "--max-instructions", str(2**63 - 1))
    assert (p.returncode, p.stderr) == (0, "")


# 3. output streams


def test_debug_console_to_a_full_device(rom):
    p = run("run", rom(HELLO_LINE), "--debugcon", "/dev/full")
    assert_one_line_error(p, "cannot write debug console output to /dev/full: No space left on device")


@pytest.mark.parametrize("buffered", [False, True])
def test_debug_console_on_stdout_to_a_full_device(rom, buffered):
    with open("/dev/full", "w") as full:
        p = run_to(full, "run", rom(HELLO_LINE), buffered=buffered)
    assert_one_line_error(p, "cannot write debug console output to standard output: No space left on device")


def test_the_exit_flush_of_stdout_to_a_full_device():
    with open("/dev/full", "w") as full:
        p = run_to(full, "--version", buffered=True)
    assert_one_line_error(p, "cannot write standard output: No space left on device")


def test_serial_to_a_full_device(rom):
    # mov dx,0x3f8; mov al,'o'; out dx,al; mov al,10; out dx,al; hlt
    p = run("boot", "--bios", rom(bytes.fromhex("baf803b06feeb00aee") + b"\xf4"), "--serial", "/dev/full")
    assert_one_line_error(p, "cannot write serial output to /dev/full: No space left on device")


# 4. images that are not regular files


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return str(path)


def test_a_fifo_as_firmware_image_does_not_block(fifo):
    assert_one_line_error(run("run", fifo), "firmware image is not a regular file (a FIFO)")


def test_dev_zero_as_firmware_image_is_not_read():
    assert_one_line_error(run("run", "/dev/zero"), "firmware image is not a regular file (a character device)")


def test_a_fifo_as_bios(fifo):
    assert_one_line_error(run("boot", "--bios", fifo), "firmware image is not a regular file (a FIFO)")


@pytest.mark.parametrize("disk, kind", [("/dev/zero", "a character device"), ("fifo", "a FIFO")])
def test_a_special_file_as_disk(rom, fifo, disk, kind):
    p = run("boot", "--bios", rom(b"\xf4"), "--disk", fifo if disk == "fifo" else disk)
    assert_one_line_error(p, "disk image is not a regular file (%s)" % kind)


def test_a_firmware_image_over_16_mib(tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate((16 << 20) + 4096)
    assert_one_line_error(run("run", str(big)), "larger than 16 MiB")


# 5. a screenshot that cannot be written


def test_a_screenshot_that_cannot_be_written(rom):
    p = run("run", "--quiet", rom(b"\xf4"), "--screenshot", "/dev/full")
    assert_one_line_error(p, "cannot write screenshot /dev/full: No space left on device")


# 6. --version


def test_version():
    p = run("--version")
    assert (p.returncode, p.stdout, p.stderr) == (0, "jitemu %s\n" % jitemu.__version__, "")
    import importlib.metadata
    assert importlib.metadata.version("jitemu") == jitemu.__version__  # pyproject reads the same one


# 7. bench


def test_bench_help_lists_the_workloads():
    p = run("bench", "--help")
    assert p.returncode == 0
    for w in workloads():
        assert w.name in p.stdout


@pytest.mark.parametrize("option, value, needle", [
    ("--scale", "2000", "between 1 and 1000, not 2000"),
    ("--scale", "0", "between 1 and 1000, not 0"),
    ("--rounds", "many", "not a number: 'many'"),
])
def test_bench_numbers_out_of_range_say_the_range_in_one_line(option, value, needle):
    assert_one_line_error(run("bench", option, value), needle)


def test_bench_unknown_workload_lists_the_valid_ones():
    p = run("bench", "--only", "sieve-real,nope")
    assert_one_line_error(p, "no workload named nope")
    assert all(w.name in p.stderr for w in workloads())


def _processes():
    """pid -> (parent pid, start time, state) of every process."""
    procs = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            procs[int(d)] = (int(fields[1]), fields[19], fields[0])
    return procs


def _descendants(pid):
    procs = _processes()
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, start, _) in procs.items():
            if ppid == parent and child not in found:
                found[child] = start
                todo.append(child)
    return found


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.parametrize("signum, child, status, message", [
    (signal.SIGINT, "jitemu.cli", 130, "jitemu: bench interrupted"),
    (signal.SIGINT, QEMU, 130, "jitemu: bench interrupted"),
    (signal.SIGTERM, QEMU, 143, "jitemu: bench terminated"),
])
def test_bench_signal_kills_every_child(signum, child, status, message):
    if shutil.which(QEMU) is None:
        pytest.fail("this test needs %s (Debian package qemu-system-x86)" % QEMU)
    p = subprocess.Popen(JITEMU + ["bench", "--only", "sieve-real", "--rounds", "1", "--scale", "1", "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(child in _cmdline(c) for c in _descendants(p.pid)):
            assert p.poll() is None and time.monotonic() < deadline, "bench never started %s" % child
            time.sleep(0.01)
        tree = _descendants(p.pid)
        p.send_signal(signum)
        out, err = p.communicate(timeout=10)
    finally:
        p.kill()
    assert (p.returncode, err.strip()) == (status, message)
    assert out == ""
    procs = _processes()
    alive = [_cmdline(pid) or pid for pid, start in tree.items()
             if pid in procs and procs[pid][1] == start and procs[pid][2] != "Z"]
    assert alive == []
