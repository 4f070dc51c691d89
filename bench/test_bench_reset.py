"""Reboots per second (issue: reset correctness).  The comparison with QEMU
on the same SeaBIOS reboot loop is `jitemu bench --only seabios-reboot-x100`;
these suites time jitemu alone, in process."""
import io
import os

from jitemu.pc import build_pc

IMAGES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware", "images")
SEABIOS = "/usr/share/seabios/bios.bin"


def _race_1000():
    pc = build_pc(bios=os.path.join(IMAGES, "reboot.bin"))
    assert pc.run() == "exit" and pc.console.endswith("stale 0\n")
    return pc.machine


def _seabios_100():
    pc = build_pc(bios=SEABIOS, disk=os.path.join(IMAGES, "disk", "rebootloop.img"), debugcon=io.StringIO(),
                  fixed_time="2024-01-01T00:00:00")
    assert pc.run() == "exit"
    return pc.machine


def test_reboots_per_second_reported_race(benchmark):
    m = benchmark.pedantic(_race_1000, rounds=3, iterations=1)
    benchmark.extra_info["reboots_per_second"] = m.resets["cf9"] / benchmark.stats.stats.median


def test_reboots_per_second_seabios(benchmark):
    m = benchmark.pedantic(_seabios_100, rounds=1, iterations=1)
    benchmark.extra_info["reboots_per_second"] = m.resets["cf9"] / benchmark.stats.stats.median
