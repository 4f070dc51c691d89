"""Debian's i386 kernel booted with --kernel/--initrd/--append (issue 14):
SeaBIOS runs QEMU's linuxboot_dma option ROM from fw_cfg, the setup code
runs, the decompressor unpacks the kernel and the kernel's own code prints
its banner and the BIOS memory map on the serial console.  The initramfs
(a static busybox and an /init script) is built here from the unpacked
packages; .ci/run downloads them into .ci/cache.

The kernel does not reach the shell yet: after the banner it stalls in its
alternatives patching (README, "Linux").  A campaign test: about 2.3
billion guest instructions."""
import glob
import os
import subprocess

import pytest

from jitemu.tools import initramfs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".ci", "cache", "root")
INSTALL = ("missing Debian's i386 kernel and busybox in .ci/cache/root: run .ci/run's debian_packages step, or "
           "dpkg --add-architecture i386 && apt-get update && cd .ci/cache && apt-get download "
           "linux-image-6.1.0-NN-686:i386 busybox-static:i386 && for d in *.deb; do dpkg-deb -x $d root; done")


@pytest.fixture
def linux(tmp_path):
    kernels = sorted(glob.glob(os.path.join(CACHE, "boot", "vmlinuz-*-686")))
    busybox = os.path.join(CACHE, "bin", "busybox")
    if not kernels or not os.path.exists(busybox):
        pytest.fail(INSTALL)
    initrd = tmp_path / "initrd.gz"
    with open(busybox, "rb") as f:
        initrd.write_bytes(initramfs.build(f.read()))
    return kernels[-1], str(initrd)


@pytest.mark.campaign
def test_the_kernel_decompresses_and_prints_its_banner_and_memory_map(linux, tmp_path):
    kernel, initrd = linux
    serial = tmp_path / "serial.log"
    p = subprocess.run([os.path.join(os.path.dirname(os.sys.executable), "jitemu"), "boot", "--memory", "128",
                        "--kernel", kernel, "--initrd", initrd,
                        "--append", "console=ttyS0 earlyprintk=serial,ttyS0,115200",
                        "--serial", str(serial), "--debugcon", "none", "--max-instructions", "2350000000", "-q"],
                       capture_output=True, text=True, timeout=900)
    assert "Traceback" not in p.stderr, p.stderr
    out = serial.read_text(errors="replace")
    assert "Probing EDD" in out  # the setup code, in real mode
    assert "Linux version 6.1" in out  # start_kernel
    # The memory map the kernel got from SeaBIOS's E820: 128 MiB, less the
    # BIOS's reserved top pages.
    assert "BIOS-e820: [mem 0x0000000000100000-0x0000000007ffdfff] usable" in out
    # The command line reached the kernel: its earlyprintk= made the console.
    assert "bootconsole [earlyser0] enabled" in out
