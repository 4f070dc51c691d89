"""The console command: one-line errors with status 2 for bad input, and a
real run of a firmware image with its debug-console output on stdout."""
import os
import subprocess
import sys
import time

from romutil import rom_with

JITEMU = [sys.executable, "-m", "jitemu.cli"]


def run(*args):
    return subprocess.run(JITEMU + list(args), capture_output=True, text=True, timeout=120)


def start_seconds():
    """How long the command takes now to start and do nothing (`--version`;
    the slowest of three): tests that signal a run, or look at one, after a
    delay count it from there, not from a start that a loaded machine
    makes slow."""
    times = []
    for _ in range(3):
        t0 = time.monotonic()
        subprocess.run(JITEMU + ["--version"], capture_output=True, check=True, timeout=120)
        times.append(time.monotonic() - t0)
    return max(times)


def assert_one_line_error(p, needle):
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("jitemu: error:") and needle in lines[0]
    assert "Traceback" not in p.stderr


def test_missing_image(tmp_path):
    assert_one_line_error(run("run", str(tmp_path / "nope.bin")), "not found")


def test_empty_image(tmp_path):
    f = tmp_path / "empty.bin"
    f.write_bytes(b"")
    assert_one_line_error(run("run", str(f)), "empty")


def test_wrongly_sized_image(tmp_path):
    f = tmp_path / "odd.bin"
    f.write_bytes(b"\x90" * 1000)
    assert_one_line_error(run("run", str(f)), "1000 bytes")


def test_directory_as_image(tmp_path):
    assert_one_line_error(run("run", str(tmp_path)), "directory")


def test_unknown_option(tmp_path):
    assert_one_line_error(run("run", "--frobnicate", "x.bin"), "unrecognized arguments")


def test_unknown_command():
    assert run("fly").returncode == 2


def test_run_prints_debug_console_and_exits_through_debug_exit(tmp_path):
    # mov dx,0x402; mov al,'o'; out dx,al; mov al,'k'; out dx,al;
    # mov dx,0x501; mov al,3; out dx,al  -> exit status 7
    code = bytes.fromhex("ba0204b06feeb06beeba0105b003ee") + b"\xf4"
    f = tmp_path / "ok.bin"
    f.write_bytes(rom_with(code))
    p = run("run", str(f))
    assert p.stdout == "ok"
    assert p.returncode == 7
    assert "instructions" in p.stderr


def test_halt_ends_the_run_with_status_0(tmp_path):
    f = tmp_path / "hlt.bin"
    f.write_bytes(rom_with(bytes.fromhex("faf4")))
    p = run("run", "--quiet", str(f))
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")


def test_run_apic_option_puts_a_local_apic_in_cpuid(tmp_path):
    # mov eax,1; cpuid; shr edx,9; and dl,1; add dl,'0'; mov al,dl; out 0xE9,al; hlt
    code = bytes.fromhex("66b8010000000fa266c1ea0980e20180c23088d0e6e9f4")
    f = tmp_path / "cpuid.bin"
    f.write_bytes(rom_with(code))
    assert run("run", "--quiet", str(f)).stdout == "0"  # the bare machine: no APIC unless asked
    assert run("run", "--quiet", "--apic", "on", str(f)).stdout == "1"
    assert_one_line_error(run("run", "--apic", "maybe", str(f)), "--apic")
