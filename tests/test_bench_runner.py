"""`jitemu bench`: it runs a workload under jitemu and QEMU (installed by
.ci/run? no: QEMU is optional; its column shows '-' without it), prints the
table and writes the PNG."""
import os
import subprocess
import sys
import zlib


def test_bench_runs_a_kernel_and_draws_the_chart(tmp_path):
    png = tmp_path / "bench.png"
    p = subprocess.run([sys.executable, "-m", "jitemu.cli", "bench", "--rounds", "1", "--scale", "1", "--only", "sieve-real",
                        "--plot", str(png), "-q"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    row = [l for l in p.stdout.splitlines() if l.startswith("sieve-real")]
    assert row and int(row[0].split()[1]) > 60_000_000  # instructions counted by jitemu
    assert float(row[0].split()[2]) > 0                 # jitemu's time
    head = p.stdout.splitlines()[0].split()
    assert head[8:10] == ["native", "s"] and "native/jit" in head
    assert float(row[0].split()[5]) > 0                 # the C twin's time, its output the same as jitemu's
    assert row[0].split()[9].endswith("x")              # native/jit
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    idat = data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8]
    assert len(zlib.decompress(idat)) == 320 * (1 + 640 * 3)


def _workload(name):
    from jitemu.bench import workloads
    return next(w for w in workloads() if w.name == name)


def test_jitemu_and_its_compile_worker_report_their_own_peaks(tmp_path):
    from jitemu.bench import run_jitemu
    # 512 MB resident here: a measure that let the launching process's
    # address space leak into the child's (rusage after a vfork) would show it.
    ballast = bytearray(512 << 20)
    ballast[::4096] = b"\1" * len(ballast[::4096])
    (tmp_path / "cache").mkdir()
    seconds, jit_mb, worker_mb = run_jitemu(_workload("sieve-real"), str(tmp_path), str(tmp_path / "cache"))
    assert seconds > 0
    assert 20 < jit_mb < 400, jit_mb   # (29 MB here since an editable install is a plain .pth path)
    assert worker_mb is not None and 20 < worker_mb < 400, worker_mb  # sieve's loops get hot
    del ballast


def test_a_run_without_hot_code_reports_no_worker(tmp_path):
    from jitemu.bench import run_jitemu
    (tmp_path / "cache").mkdir()
    seconds, jit_mb, worker_mb = run_jitemu(_workload("smc-imm-real"), str(tmp_path), str(tmp_path / "cache"))
    assert seconds > 0 and jit_mb > 20
    assert worker_mb is None


def test_the_table_puts_the_worker_on_its_own_line_when_it_ran():
    from jitemu.bench import table
    ran = {"jitemu": 2.0, "qemu": 1.0, "jitemu MB": 110.0, "qemu MB": 45.0, "worker MB": 85.0,
           "worker runs": "2 of 3"}
    idle = {"jitemu": 0.5, "qemu": 0.1, "jitemu MB": 100.0, "qemu MB": 40.0, "worker runs": "0 of 3"}
    lines = table([(_workload("seabios-boot-cold"), 7_000_000, ran),
                   (_workload("smc-imm-real"), 5_000, idle)]).splitlines()
    boot = next(i for i, l in enumerate(lines) if l.startswith("seabios-boot-cold"))
    assert lines[boot].split()[-2:] == ["110", "45"]             # jitemu's own MB, then QEMU's
    assert lines[boot + 1].split() == ["compile", "worker", "(ran", "in", "2", "of", "3", "runs)", "85"]
    jit_mb_ends = lines[boot].index(" 110 ") + 4
    assert len(lines[boot + 1]) == jit_mb_ends                   # right under jitemu's MB
    assert lines[boot + 2].startswith("smc-imm-real")
    assert lines[boot + 3].startswith("qemu/jit > 1")            # no worker line for a run without one


def test_a_c_twin_that_prints_otherwise_is_an_error_in_the_table():
    from jitemu.bench import table
    med = {"jitemu": 2.0, "native": "differs", "native says": "primes 6178",
           "emulators say": {"jitemu": "primes 6179", "qemu": "primes 6179"}}
    lines = table([(_workload("sieve-real"), 68_000_000, med)]).splitlines()
    row = lines[2].split()
    assert row[0] == "sieve-real" and row[5] == "DIFFERS" and row[9] == "-"
    assert ("ERROR: sieve-real: native printed 'primes 6178', jitemu 'primes 6179', qemu 'primes 6179'"
            in lines)


def test_only_whole_lines_are_compared_with_the_c_twin():
    from jitemu.bench import _line
    assert _line("lz ok e25e23cb\nlz ok ", "lz ") == "lz ok e25e23cb"  # QEMU, ended mid-line
    assert _line("lz ok ", "lz ") is None
