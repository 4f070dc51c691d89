"""Host-side faults do not change what the guest does: a compile worker
that dies mid-compile or answers garbage costs its regions (the code stays
on the first tier), never the run, its output or its instruction count; a
signal at any moment of a cold boot ends it with its summary and status;
random code ends as the guest makes it end (the long campaign over
hundreds of images is tests/campaigns/random_code.py, run by .ci/run)."""
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from test_cli import start_seconds

from jitemu.devices.debugcon import DebugConsole
from jitemu.jit import worker as worker_mod
from jitemu.machine import Machine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIEVE = os.path.join(ROOT, "firmware", "images", "sieve.bin")
FAKE = os.path.join(ROOT, "tests", "fake_worker.py")


def run_sieve(background=True):
    m = Machine()
    t = m.translator
    t.background = background
    m.load_firmware(open(SIEVE, "rb").read())
    con = m.attach(DebugConsole())
    return m, m.run(), con.text


@pytest.fixture(scope="module")
def reference():
    m, why, text = run_sieve(background=False)
    assert (why, text) == ("halt", "primes 6179\n") and m.stats()["blocks_hot"] >= 1
    return m.icount


@pytest.fixture
def fresh_worker(monkeypatch):
    """The process's shared compile worker, started anew (and by COMMAND)."""
    def start(command=None):
        if command is not None:
            monkeypatch.setattr(worker_mod, "COMMAND", command)
        monkeypatch.setattr(worker_mod, "_shared", None)
        monkeypatch.setattr(worker_mod, "_starts", 0)
        w = worker_mod.shared_worker()
        deadline = time.time() + 120
        while not w.ready and time.time() < deadline:  # so regions go to it
            time.sleep(0.01)
        assert w.ready
        return w
    yield start
    if worker_mod._shared is not None:
        worker_mod._shared.close()


@pytest.fixture
def thread_errors(monkeypatch):
    """Exceptions that escaped any thread (the worker's reader among them)."""
    seen = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    return seen


@pytest.mark.parametrize("mode", ["noise", "bad-pickle", "huge-length", "wrong-number", "not-elf",
                                  "damaged-elf", "not-a-tuple", "exit"])
def test_a_worker_answering_garbage_costs_regions_not_the_run(mode, reference, fresh_worker, thread_errors):
    fresh_worker([sys.executable, FAKE, mode])
    m, why, text = run_sieve()
    assert (why, text) == ("halt", "primes 6179\n")
    assert m.icount == reference
    assert thread_errors == []


def test_a_worker_killed_mid_compile_costs_regions_not_the_run(reference, fresh_worker, thread_errors):
    w = fresh_worker()
    killed = threading.Event()

    def kill_when_busy():
        deadline = time.time() + 60
        while time.time() < deadline and not killed.is_set():
            if w._waiting:
                os.kill(w.pid, signal.SIGKILL)
                killed.set()
            time.sleep(0.0005)

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    m, why, text = run_sieve()
    was_killed = killed.is_set()
    killed.set()
    killer.join()
    assert was_killed
    assert (why, text) == ("halt", "primes 6179\n")
    assert m.icount == reference
    assert thread_errors == []


SEABIOS = "/usr/share/seabios/bios.bin"


@pytest.mark.parametrize("seed", range(4))
def test_a_signal_at_a_random_moment_of_a_cold_boot_ends_it_cleanly(seed, tmp_path):
    """SIGINT or SIGTERM anywhere in a boot on an empty cache (imports,
    stencils, LLVM, the compile worker starting): the summary, the
    signal's status, never a traceback or a crash."""
    if not os.path.exists(SEABIOS):
        pytest.fail("Debian's seabios package is needed (apt-get install seabios); .ci/run installs it")
    rng = random.Random(seed)
    signum = rng.choice((signal.SIGINT, signal.SIGTERM))
    # From when jitemu's own code runs: before that the signal meets Python
    # starting up (its default handlers), not jitemu.
    start = start_seconds()
    delay = rng.uniform(start, start + 0.8)
    env = dict(os.environ, JITEMU_CACHE_DIR=str(tmp_path / "cache"))
    # rebootloop keeps SeaBIOS booting for a while, so the signal lands inside the run
    disk = os.path.join(ROOT, "firmware", "images", "disk", "rebootloop.img")
    p = subprocess.Popen([sys.executable, "-m", "jitemu.cli", "boot", "--disk", disk, "--snapshot",
                          "--debugcon", "none"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(delay)
    p.send_signal(signum)
    out, err = p.communicate(timeout=120)
    assert "Traceback" not in err, err
    assert p.returncode in (128 + signum, 1), (p.returncode, err)  # 1: it finished before the signal
    if p.returncode == 128 + signum:
        assert err.strip().splitlines()[-1].startswith("jitemu: "), err


def test_a_handful_of_random_code_images_end_as_the_guest_made_them_end():
    """The campaign .ci/run runs over 300 images, here over six."""
    from campaigns.random_code import campaign, failures
    results = campaign(6, seed=7, max_instructions=20_000)
    assert failures(results) == {}
    assert sum(len(v) for v in results.values()) == 6
