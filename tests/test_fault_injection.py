"""Host-side faults do not change what the guest does: a compile worker
that dies mid-compile or answers garbage costs its regions (the code stays
on the first tier), never the run, its output or its instruction count."""
import os
import signal
import sys
import threading
import time

import pytest

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
                os.kill(w._proc.pid, signal.SIGKILL)
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
