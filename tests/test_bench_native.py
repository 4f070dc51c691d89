"""The CPU kernels' C twins (bench/native), which `jitemu bench` times as
the native ceiling: compiled with the host's cc, each prints exactly what
its kernel's images print at the committed REPEAT, real mode and paged
protected mode alike."""
import os
import re
import shutil
import subprocess

import pytest

from jitemu.bench import NATIVE, compile_natives, workloads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = [w for w in workloads() if w.native]


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    assert shutil.which("cc"), "no C compiler: the native column needs `cc` on PATH (Debian: apt-get install gcc)"
    said = []
    built = compile_natives(KERNELS, str(tmp_path_factory.mktemp("native")), said.append)
    assert not said, said
    return built


def source_repeat(w):
    name = os.path.splitext(os.path.basename(w.image))[0]
    with open(os.path.join(ROOT, "firmware", "src", name + ".asm")) as f:
        return int(re.search(r"^%define REPEAT (\d+)$", f.read(), re.M).group(1))


def test_every_c_twin_has_a_kernel_and_every_cpu_kernel_but_the_smc_ones_a_twin():
    twins = sorted(f[:-2] for f in os.listdir(NATIVE) if f.endswith(".c"))
    assert twins == sorted({w.native for w in KERNELS})
    without = [w.name for w in workloads() if w.repeat and not w.native]
    assert without == ["smc-imm-real", "smc-gen-real"]  # code that writes code has no C twin


@pytest.mark.parametrize("w", KERNELS, ids=[w.name for w in KERNELS])
def test_the_c_twin_prints_what_the_image_prints(w, programs):
    assert w.repeat == source_repeat(w)  # the bench scales the source's own REPEAT
    out = subprocess.run([programs[w.native], str(w.repeat)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    with open(os.path.splitext(w.image)[0] + ".expected") as f:
        assert out.stdout == f.read()


def test_a_c_twin_wants_its_repeat(programs):
    out = subprocess.run([programs["sieve"]], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "usage:" in out.stderr and out.stdout == ""


def test_without_a_c_compiler_the_column_is_empty_and_says_why(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    said = []
    assert compile_natives(KERNELS, str(tmp_path), said.append) == {}
    assert said == ["cc not found: no native column (install a C compiler, e.g. Debian's gcc)"]
