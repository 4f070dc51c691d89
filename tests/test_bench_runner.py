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
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    idat = data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8]
    assert len(zlib.decompress(idat)) == 320 * (1 + 640 * 3)
