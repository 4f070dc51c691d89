"""Debian's i386 kernel booted with --kernel/--initrd/--append (issue 14):
SeaBIOS runs QEMU's linuxboot_dma option ROM from fw_cfg, the setup code
runs, the decompressor unpacks the kernel, the kernel boots to a busybox
shell on the serial console, and a command typed there (standard input
is the serial line's far end with --serial stdio) gives its answer.  The
initramfs (a static busybox and an /init script) is built here from the
unpacked packages; .ci/run downloads them into .ci/cache.  A campaign
test: billions of guest instructions."""
import os
import select
import subprocess
import time

import pytest

from jitemu.bench import linux_files
from jitemu.tools import initramfs

INSTALL = ("missing Debian's i386 kernel and busybox in .ci/cache/root: run .ci/run's debian_packages step, or "
           "dpkg --add-architecture i386 && apt-get update && cd .ci/cache && apt-get download "
           "linux-image-6.1.0-NN-686:i386 busybox-static:i386 && for d in *.deb; do dpkg-deb -x $d root; done")


@pytest.fixture
def linux(tmp_path):
    files = linux_files()
    if files is None:
        pytest.fail(INSTALL)
    kernel, busybox = files
    initrd = tmp_path / "initrd.gz"
    with open(busybox, "rb") as f:
        initrd.write_bytes(initramfs.build(f.read()))
    return kernel, str(initrd)


class Console:
    """The guest's serial console, through jitemu's standard streams."""

    def __init__(self, proc):
        self.proc, self.text = proc, ""

    def expect(self, needle, timeout):
        end = time.monotonic() + timeout
        while needle not in self.text:
            left = end - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, left))
            data = os.read(self.proc.stdout.fileno(), 65536) if ready else b""
            if not data:
                raise AssertionError("no %r on the console (%s); it ends with:\n%s"
                                     % (needle, "timed out" if left <= 0 else "jitemu ended", self.text[-3000:]))
            self.text += data.decode("latin-1")
        return self.text

    def type(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()


@pytest.mark.campaign
def test_the_kernel_boots_to_a_shell_that_runs_a_command_and_powers_off(linux):
    kernel, initrd = linux
    proc = subprocess.Popen([os.path.join(os.path.dirname(os.sys.executable), "jitemu"), "boot", "--memory", "128",
                             "--kernel", kernel, "--initrd", initrd, "--append", "console=ttyS0",
                             "--serial", "stdio", "--debugcon", "none", "--vga", "none", "-q"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        console = Console(proc)
        out = console.expect(initramfs.MARKER, timeout=900)
        assert "Linux version 6.1" in out  # start_kernel
        # The memory map the kernel got from SeaBIOS's E820: 128 MiB, less
        # the BIOS's reserved top pages.
        assert "BIOS-e820: [mem 0x0000000000100000-0x0000000007ffdfff] usable" in out
        assert "ACPI: Unable to enable ACPI" not in out  # SCI_EN through the SMI command port
        assert "cut here" not in out and "Oops" not in out, out
        console.expect("/ # ", timeout=120)
        console.type("echo $((6*7)) is $(uname -m)")  # a builtin, and a child process's output
        console.expect("42 is i686", timeout=120)
        console.type("poweroff -f")  # ACPI S5
        assert proc.wait(timeout=120) == 0
        assert "Traceback" not in proc.stderr.read().decode()
    finally:
        proc.kill()
        proc.wait()
