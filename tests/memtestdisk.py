"""A hard-disk image on which SYSLINUX boots Debian's memtest86+ (a Linux
boot protocol image) with its console on the first serial port: an MBR
(SYSLINUX's mbr.bin) with one FAT16 partition, made with mtools and
installed with the `syslinux` command, all from Debian's packages
(memtest86+, syslinux, syslinux-common, mtools; .ci/run installs them)."""
import io
import os
import shutil
import struct
import subprocess

MEMTEST = "/boot/memtest86+ia32.bin"
MBR = "/usr/lib/syslinux/mbr/mbr.bin"
SECTOR = 512
PART_START = 2048  # sectors: the partition begins at 1 MiB, as fdisk puts it
DISK_SECTORS = 16 * 2048  # 16 MiB
HEADER = "Memtest86+ v6"
FIRST_PASS = "Pass:  1"  # the status line's pass counter once the first pass is done

CONFIG = """DEFAULT memtest
PROMPT 0
SERIAL 0 115200
LABEL memtest
  LINUX memtest.bin
  APPEND console=ttyS0,115200
"""


def missing():
    """What is not installed, as a message saying what to install, or None."""
    needs = [(MEMTEST, "memtest86+"), (MBR, "syslinux-common")]
    lacking = [pkg for path, pkg in needs if not os.path.exists(path)]
    lacking += [pkg for tool, pkg in (("syslinux", "syslinux"), ("mformat", "mtools"), ("mcopy", "mtools"))
                if not shutil.which(tool) and pkg not in lacking]
    if not lacking:
        return None
    return ("Debian's %s package%s needed to build the memtest86+ disk (apt-get install %s); .ci/run installs them"
            % (", ".join(lacking), "s are" if len(lacking) > 1 else " is", " ".join(lacking)))


def make_disk(path):
    """Write the disk image to `path`."""
    fs = "%s@@%d" % (path, PART_START * SECTOR)
    with open(path, "wb") as f:
        f.truncate(DISK_SECTORS * SECTOR)
    run = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True)
    run("mformat", "-i", fs, "-T", str(DISK_SECTORS - PART_START), "-h", "16", "-s", "63",
        "-H", str(PART_START), "::")
    cfg = os.path.join(os.path.dirname(str(path)), "syslinux.cfg")
    with open(cfg, "w") as f:
        f.write(CONFIG)
    run("mcopy", "-i", fs, MEMTEST, "::memtest.bin")
    run("mcopy", "-i", fs, cfg, "::syslinux.cfg")
    run("syslinux", "--install", "--offset", str(PART_START * SECTOR), str(path))
    with open(MBR, "rb") as f:
        code = f.read(440)
    entry = bytes([0x80, 0xFE, 0xFF, 0xFF, 0x06, 0xFE, 0xFF, 0xFF])  # active, FAT16; CHS past 1024 cylinders
    with open(path, "r+b") as f:
        f.write(code)
        f.seek(446)
        f.write(entry + struct.pack("<II", PART_START, DISK_SECTORS - PART_START))
        f.seek(510)
        f.write(b"\x55\xaa")


class StopAt(io.TextIOBase):
    """A serial output stream that stops the machine once `marker` has
    been written (on the vCPU thread, between instructions)."""

    def __init__(self, marker):
        self.marker = marker
        self.text = ""
        self.machine = None
        self.seen = False

    def writable(self):
        return True

    def write(self, s):
        self.text += s
        if not self.seen and self.marker in self.text[-len(s) - len(self.marker):]:
            self.seen = True
            if self.machine is not None:
                self.machine.stop()
        return len(s)
