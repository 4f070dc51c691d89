"""A Linux initramfs built in Python: a gzip'd newc cpio archive (the
format the kernel's init/initramfs.c unpacks) holding a static busybox
and an /init shell script.

The /init mounts proc, sys and dev, prints MARKER on the console and
starts a shell on it (cttyhack gives the shell the console as its
controlling terminal).  Files are stored with mode, uid 0 and mtime 0, so
the same inputs give the same bytes.
"""
import gzip
import io

MARKER = "JITEMU-LINUX-SHELL"

INIT = """#!/bin/sh
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s /bin
echo %s
exec setsid cttyhack sh
""" % MARKER

S_IFCHR, S_IFDIR, S_IFREG, S_IFLNK = 0o020000, 0o040000, 0o100000, 0o120000


def _entry(ino, name, mode, data=b"", rdev=(0, 0)):
    """One newc header (magic 070701, thirteen 8-digit hex fields), the
    NUL-terminated name and the data, each padded to 4 bytes."""
    fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0)
    head = b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0"
    head += bytes(-len(head) % 4)
    return head + data + bytes(-len(data) % 4)


def cpio_newc(entries):
    """entries: (name, mode, data[, (major, minor)]) in order; the archive
    ends with the TRAILER!!! entry."""
    out = io.BytesIO()
    for ino, entry in enumerate(entries, 1):
        out.write(_entry(ino, *entry))
    out.write(_entry(0, "TRAILER!!!", 0))
    return out.getvalue()


def build(busybox, init=INIT):
    """The gzip'd archive for `busybox` (the static binary's bytes)."""
    entries = [
        ("bin", S_IFDIR | 0o755, b""),
        ("bin/busybox", S_IFREG | 0o755, busybox),
        ("bin/sh", S_IFLNK | 0o777, b"busybox"),
        ("dev", S_IFDIR | 0o755, b""),
        # The kernel opens /dev/console for init's standard streams before
        # init runs, so the node must be in the archive.
        ("dev/console", S_IFCHR | 0o600, b"", (5, 1)),
        ("init", S_IFREG | 0o755, init.encode()),
    ]
    return gzip.compress(cpio_newc(entries), compresslevel=6, mtime=0)
