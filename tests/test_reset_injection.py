"""Deterministic reset injection (Machine.at_icount + inject_reset, `jitemu
... --reset-at N[:SOURCE]`): every source resets the machine after exactly
N instructions, the way that source does, and the same N is the same run
every time.  A reset during a reset: a request made while another is
pending or being acknowledged joins it -- never lost, never doubled."""
import os
import subprocess
import sys
import threading
import time

import pytest

from jitemu.machine import Machine
from jitemu.pc import build_pc
from romutil import rom_with

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, "firmware", "images")
SEABIOS = "/usr/share/seabios/bios.bin"
BOOTOK = os.path.join(IMAGES, "disk", "bootok.img")
RESETBUG = os.path.join(IMAGES, "resetbug.bin")
TIME = "2024-01-01T00:00:00"
NAMES = {"cf9": "cf9", "port92": "port92", "kbc": "kbc", "triple": "triple-fault", "api": "api"}


class Probe:
    """A device that notes the instruction count at every reset (and may
    act during one: `during`, called inside the reset)."""

    def __init__(self, during=None):
        self.at = []
        self.during = during

    def attach(self, machine):
        self.m = machine

    def snapshot(self):
        return {}

    def restore(self, state):
        pass

    def reset(self):
        self.at.append(self.m.icount)
        if self.during is not None:
            fn, self.during = self.during, None
            fn()


def seabios():
    pc = build_pc(bios=SEABIOS, disk=BOOTOK, snapshot=True, fixed_time=TIME)
    return pc, pc.machine.attach(Probe())


@pytest.fixture(scope="module")
def cold_boot():
    pc, _ = seabios()
    assert pc.run() == "exit"
    return pc.console, pc.machine.icount


@pytest.mark.parametrize("source", sorted(NAMES))
def test_every_source_resets_seabios_after_exactly_n_instructions(source, cold_boot):
    text, length = cold_boot
    n = 2_000_003
    runs = []
    for _ in range(2):
        pc, probe = seabios()
        m = pc.machine
        m.at_icount(n, lambda: m.inject_reset(source))
        assert pc.run() == "exit"
        assert probe.at == [n] and m.resets == {NAMES[source]: 1} and m.resets_coalesced == {}
        before = len(pc.console) - len(text)
        # what it printed before N, then the whole boot again
        assert pc.console[:before] == text[:before] and pc.console[before:] == text
        runs.append((pc.console, m.icount, m.regs.snapshot(), m.read_phys(0, 1 << 20)))
    assert runs[0] == runs[1]  # the same N, the same run


def test_the_same_n_is_the_same_instruction_whatever_the_code_cache_holds():
    # Run to N in one go, in many small runs, and from a snapshot: the
    # reset lands at N each time and the boots that follow are identical.
    ends = []
    for chunks in (None, 37_003, "snapshot"):
        pc, probe = seabios()
        m = pc.machine
        n = 3_100_001
        if chunks == "snapshot":
            first, _ = seabios()
            first.machine.run(n - 12_345)
            m.restore(first.machine.snapshot())
        elif chunks:
            while m.icount + chunks < n:
                m.run(chunks)
        cut = []
        m.at_icount(n, lambda: (cut.append(len(pc.console)), m.inject_reset("cf9")))
        assert pc.run() == "exit"
        assert probe.at == [n]
        ends.append((pc.console[cut[0]:], m.icount, m.regs.snapshot()))
    assert ends[0] == ends[1] == ends[2]


# -- a small guest that counts its boots in RAM ------------------------------------
# xor ax, ax; mov ds, ax; inc word [0x600]; l: inc eax; jmp l
COUNTER = rom_with(bytes.fromhex("31c0 8ed8 ff060006 6640 ebfc"))


def counter_machine(probe=None):
    m = Machine()
    m.load_firmware(COUNTER)
    if probe is not None:
        m.attach(probe)
    return m


def boots(m):
    return int.from_bytes(m.read_phys(0x600, 2), "little")


def test_two_requests_before_the_acknowledgement_are_one_reset():
    m = counter_machine()

    def twice(port, value, size):
        m.request_reset("cf9")
        m.request_reset("port92")  # same instruction: the vCPU has not left yet
    m.ports.register(0xCF9, write=twice)
    m.at_icount(1000, lambda: m.ports.write(0xCF9, 6, 1))
    assert m.run(5000) == "limit"
    assert m.resets == {"cf9": 1} and m.resets_coalesced == {"port92": 1}
    assert boots(m) == 2


def test_a_request_while_a_reset_is_acknowledged_joins_it_and_a_later_one_is_not_lost():
    probe = Probe()
    m = counter_machine(probe)
    probe.during = lambda: m.request_reset("kbc")  # inside the first reset
    m.at_icount(1000, lambda: m.request_reset("cf9"))
    m.at_icount(3000, lambda: m.request_reset("port92"))  # after the guest ran again
    assert m.run(5000) == "limit"
    assert m.resets == {"cf9": 1, "port92": 1} and m.resets_coalesced == {"kbc": 1}
    assert probe.at == [1000, 3000] and boots(m) == 3


def test_resets_asked_for_by_devices_while_they_are_being_reset_join_the_reset():
    first, second = Probe(), Probe()
    m = counter_machine(first)
    m.attach(second)
    first.during = lambda: m.reset("api")  # (Machine.reset on the same thread, inside the reset)
    second.during = lambda: m.request_reset("kbc")
    m.at_icount(1000, lambda: m.request_reset("cf9"))
    assert m.run(5000) == "limit"
    assert m.resets == {"cf9": 1} and m.resets_coalesced == {"api": 1, "kbc": 1}
    assert first.at == second.at == [1000] and boots(m) == 2


def test_a_second_source_injected_during_the_first_is_coalesced():
    pc = build_pc(bios=RESETBUG)
    m = pc.machine
    m.at_icount(500_000, lambda: m.inject_reset("cf9", during="kbc"))
    assert pc.run() == "exit"
    assert m.resets == {"cf9": 1} and m.resets_coalesced == {"kbc": 1}
    assert pc.console.count("resetbug: POST") == 2 and pc.console.endswith("RESETBUG-OK\n")


def test_a_reset_from_another_thread_during_the_vcpus_own_reset_joins_it():
    got = {}

    def foreign():
        got["regs"] = m.reset("api")

    def during():  # on the vCPU thread, inside its cf9 reset
        t = threading.Thread(target=foreign)
        t.start()
        end = time.monotonic() + 10
        while not m.resets_coalesced and time.monotonic() < end:
            time.sleep(0.001)
        got["thread"] = t

    probe = Probe(during)
    m = counter_machine(probe)
    m.at_icount(1000, lambda: m.request_reset("cf9"))
    m.start(200_000)
    assert m.wait_vcpu(60) and m.run_result == "limit"
    got["thread"].join(10)
    assert m.resets == {"cf9": 1} and m.resets_coalesced == {"api": 1}
    assert probe.at == [1000] and boots(m) == 2
    regs = got["regs"]  # what reset() saw: the reset state, before the guest ran on
    assert (regs["cs"], regs["eip"], regs["eax"]) == (0xF000, 0xFFF0, 0)


def test_a_triple_fault_and_a_host_request_together_are_one_reset():
    m = counter_machine()

    def both():
        m.inject_reset("triple")
        m.reset("api")  # (on the run's thread, no vCPU thread: joins the pending one)
    m.at_icount(777, both)
    assert m.run(3000) == "limit"
    assert m.resets == {"triple-fault": 1} and m.resets_coalesced == {"api": 1} and boots(m) == 2


def test_port_sources_need_their_device():
    m = counter_machine()
    for source in ("cf9", "port92", "kbc"):
        with pytest.raises(ValueError, match="needs a device at port"):
            m.inject_reset(source)
    with pytest.raises(ValueError, match="unknown reset source"):
        m.inject_reset("nmi")
    assert m.resets == {} and not m._reset_pending()


# -- the command line -------------------------------------------------------------
def jitemu(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "jitemu.cli"] + list(args), capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("source", sorted(NAMES) + ["cf9+kbc"])
def test_cli_reset_at_every_source(source):
    # 500,000: in resetbug's memory test, before its bugs' windows.
    r = jitemu("boot", "--bios", RESETBUG, "--reset-at", "500000:" + source)
    assert r.returncode == 1, r.stderr  # its debug exit
    assert r.stdout.count("resetbug: POST") == 2 and r.stdout.endswith("RESETBUG-OK\n")
    first = source.split("+")[0]
    assert "resets: %s 1" % NAMES[first] in r.stderr
    if "+" in source:
        assert "(requests joined to another: kbc 1)" in r.stderr
    assert "exit after 1948145 instructions" in r.stderr  # 500,000 + the whole boot again


@pytest.mark.parametrize("args,message", [
    (["boot", "--reset-at", "100:nmi"], "unknown reset source 'nmi'"),
    (["boot", "--reset-at", "100:cf9+x"], "unknown reset source 'x'"),
    (["boot", "--reset-at", "-5"], "must be between 0 and 2**63-1"),
    (["boot", "--reset-at", "%d" % (1 << 63)], "must be between 0 and 2**63-1"),
    (["boot", "--reset-at", "ten:api"], "not a number"),
    (["run", os.path.join(IMAGES, "selftest.bin"), "--reset-at", "100:kbc"],
     "reset source kbc needs a device at port 0x64")])
def test_cli_reset_at_bad_input(args, message):
    r = jitemu(*args)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_cli_reset_at_on_the_bare_machine_with_api_and_triple():
    for source, name in (("api", "api"), ("triple", "triple-fault")):
        r = jitemu("run", os.path.join(IMAGES, "selftest.bin"), "--reset-at", "5000:" + source)
        assert r.returncode == 0 and "resets: %s 1" % name in r.stderr, r.stderr
        # some of its checks before the reset, and the whole self-test after it
        whole = open(os.path.join(IMAGES, "selftest.expected")).read()
        assert r.stdout.endswith(whole) and whole.startswith(r.stdout[:-len(whole)])
        assert len(r.stdout) > len(whole) + 100
