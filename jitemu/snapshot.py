"""Machine snapshots: Machine.snapshot() and Machine.restore(snap), and
their files (`jitemu ... --save-at N FILE`, `--restore FILE`).

A snapshot holds the CPU state (every field of the CPU state struct but the
runtime's own bookkeeping: TLB and chaining pointers, the code-cache miss
and hot keys, debugging), the architectural state the runtime keeps beside
it (MSRs, the task register's type), guest RAM (its non-zero pages), every
device's state (device.snapshot(); the PAM registers, and with them the
ROM/shadow mapping, are the host bridge's) with the guest time each device
timer is due, and the order of timers due at the same time.  Guest time is
the instruction count and the TSC offset, both in the CPU state, so a
restored machine continues exactly as the original would have.  Translated
code is never carried over: restoring drops the code cache (native code is
reused only where its guest bytes are verified, as after a reset).

A snapshot is taken between instructions: with no run in progress, or on
the vCPU thread between native runs (Machine.at_icount).  A device may
refuse while it holds a continuation it cannot save (a floppy transfer
waiting for its DMA channel, an ATAPI packet command between blocks).

The file: MAGIC, a version, the lengths of two zlib streams (JSON with the
state, then RAM pages), the streams, and a SHA-256 of all that; a foreign,
truncated or corrupt file, or one of another machine (firmware, RAM size,
devices, disk), is a SnapshotError with a one-line message.
"""
import base64
import hashlib
import heapq
import itertools
import json
import os
import struct
import threading
import zlib

from ._runtime import ffi, lib
from .cpu.layout import FIELDS

MAGIC = b"JITEMU-SNAPSHOT\n"
VERSION = 2  # 2: the P6 MSRs (runtime/snapshot.c) and the PAE PDPTEs
PAGE = 4096
ZERO_PAGE = bytes(PAGE)
_HEADER = struct.Struct("<16sIQQ")
_DIGEST = 32

EXIT_RESET, EXIT_IRQ, EXIT_SMC, EXIT_IO = 2, 4, 8, 16
# Not machine state: the runtime's caches and pointers, the code-cache
# keys of the last miss or hot block, debugging and tracing, the budget.
_NOT_STATE = {"hflags", "exit_request", "rd_page", "wr_page", "icount_limit", "block_execs",
              "cur_phys_lo", "cur_phys_hi", "last_slot", "last_hflags", "hot_pc", "hot_cs_base",
              "hot_hflags", "side_exit", "miss_pc", "miss_cs_base", "miss_hflags", "bp", "bp_count",
              "bp_skip", "debug_flags", "trace_flags"}
CPU_FIELDS = [(name, count) for name, ctype, count in FIELDS if name not in _NOT_STATE and "*" not in ctype]


class SnapshotError(ValueError):
    """A snapshot that cannot be read or does not fit the machine (one line)."""


class Snapshot:
    """A machine's state at one instruction boundary: `meta` (plain data)
    and `pages` (page number -> 4 KiB of RAM, the non-zero pages)."""

    def __init__(self, meta, pages):
        self.meta, self.pages = meta, pages

    @property
    def icount(self):
        return self.meta["cpu"]["icount"]

    def save(self, path):
        save(self, path)


# -- taking and restoring ------------------------------------------------------
def _rom_digest(m):
    if m._rom is None:
        return None
    cached = getattr(m, "_rom_digest", None)
    if cached is None or cached[0] is not m._rom:
        cached = (m._rom, hashlib.sha256(ffi.buffer(m._rom)).hexdigest())
        m._rom_digest = cached
    return cached[1]


def _config(m):
    return {"ram_size": m.ram_size, "firmware": _rom_digest(m),
            "devices": [type(d).__name__ for d in m.devices]}


def _check_thread(m):
    if m._in_run and threading.current_thread() is not m._run_thread:
        raise RuntimeError("the machine is running: stop it first (or use Machine.at_icount)")


def capture(m, intern=None):
    """The machine's state as a Snapshot.  `intern` (a dict) shares equal
    RAM pages between snapshots kept in memory."""
    _check_thread(m)
    s = m.s
    cpu = {}
    for name, count in CPU_FIELDS:
        v = getattr(s, name)
        cpu[name] = [v[i] for i in range(count)] if count else v
    arch = ffi.new("uint64_t[]", lib.rt_arch_words())
    lib.rt_arch_get(s, arch)
    devices = []
    for d in m.devices:
        fn = getattr(d, "snapshot", None)
        if fn is None:
            raise SnapshotError("device %s has no saved state (no snapshot())" % type(d).__name__)
        try:
            devices.append(fn())
        except ValueError as e:  # a device in the middle of something it cannot save
            raise SnapshotError("no snapshot at instruction %d: %s: %s" % (s.icount, type(d).__name__, e)) from e
    if intern is not None:
        devices = _interned(devices, intern)
    meta = {
        "config": _config(m),
        "cpu": cpu,
        "arch": list(arch),
        "exit_irq": bool(s.exit_request & EXIT_IRQ),
        "reset_pending": (list(m._reset_sources) if s.exit_request & EXIT_RESET else None),
        "devices": devices,
        "timers": _timers(m),
        "resets": dict(m.resets),
        "resets_coalesced": dict(m.resets_coalesced),
    }
    return Snapshot(meta, _ram_pages(m, intern))


def _interned(obj, intern):
    """Equal large bytes (an option ROM, CMOS RAM) shared between snapshots."""
    if isinstance(obj, bytes) and len(obj) >= 128:
        return intern.setdefault(obj, obj)
    if isinstance(obj, dict):
        return {k: _interned(v, intern) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_interned(v, intern) for v in obj]
    return obj


def _timers(m):
    """Pending timers as (when, device index, method), in firing order."""
    out = []
    for when, _seq, t in sorted(m.clock._heap, key=lambda e: (e[0], e[1])):
        if t.cancelled:
            continue
        owner = getattr(t.fn, "__self__", None)
        idx = next((i for i, d in enumerate(m.devices) if d is owner), None)
        if idx is None:
            raise SnapshotError("a timer not owned by a device cannot be saved: %r" % (t.fn,))
        out.append([when, idx, t.fn.__name__])
    return out


def _nonzero_pages(m):
    out = ffi.new("uint32_t[]", m.ram_size // PAGE)
    n = lib.rt_ram_nonzero(m.s, out)
    return list(ffi.unpack(out, n))


def _ram_pages(m, intern):
    ram = ffi.buffer(m._ram, m.ram_size)
    pages = {}
    for i in _nonzero_pages(m):
        data = ram[i * PAGE:(i + 1) * PAGE]
        if intern is not None:
            data = intern.setdefault(data, data)
        pages[i] = data
    return pages


def restore(m, snap):
    """Put `snap` back into machine `m` (of the same configuration)."""
    _check_thread(m)
    meta = snap.meta
    try:
        mine, theirs = _config(m), meta["config"]
        for key, what in (("firmware", "firmware image"), ("ram_size", "RAM size"), ("devices", "device list")):
            if mine[key] != theirs[key]:
                raise SnapshotError("the snapshot is of another machine: its %s differs" % what)
        s = m.s
        m.flush_code_cache()  # first: RAM is written behind the code cache's back
        _write_ram(m, snap.pages)
        for name, count in CPU_FIELDS:
            v = meta["cpu"][name]
            if count:
                arr = getattr(s, name)
                for i in range(count):
                    arr[i] = v[i]
            else:
                setattr(s, name, v)
        arch = ffi.new("uint64_t[]", meta["arch"])
        lib.rt_arch_set(s, arch)
        lib.cpu_update_hflags(s)
        m.clock.clear()
        for d, state in zip(m.devices, meta["devices"]):
            try:
                d.restore(state)
            except ValueError as e:
                raise SnapshotError("the snapshot is of another machine: %s: %s" % (type(d).__name__, e)) from e
        _order_timers(m, meta["timers"])
        lib.cpu_clear_exit(s, EXIT_RESET | EXIT_IRQ | EXIT_SMC | EXIT_IO)
        with m._req_lock:
            m._reset_sources = list(meta["reset_pending"] or [])
            m._resetting = False
            if meta["reset_pending"] is not None:
                lib.cpu_request_exit(s, EXIT_RESET)
        if meta["exit_irq"]:
            lib.cpu_request_exit(s, EXIT_IRQ)
        m.resets = dict(meta["resets"])
        m.resets_coalesced = dict(meta["resets_coalesced"])
        lib.cpu_tlb_flush(s)
        m.flush_code_cache()  # (devices may have mapped pages again)
    except SnapshotError:
        raise
    except (KeyError, TypeError, IndexError, AttributeError, OverflowError) as e:
        raise SnapshotError("the snapshot does not fit this machine (%s: %s)" % (type(e).__name__, e)) from e


def _write_ram(m, pages):
    ram = m._ram
    for i in _nonzero_pages(m):
        if i not in pages:
            ffi.memmove(ram + i * PAGE, ZERO_PAGE, PAGE)
    for i, data in pages.items():
        ffi.memmove(ram + i * PAGE, data, PAGE)


def _order_timers(m, saved):
    """The devices re-armed their timers; give them the saved firing order
    (timers due at the same time fire in the order they were armed)."""
    clock = m.clock
    live = [t for _, _, t in clock._heap if not t.cancelled]
    rank = {}
    for i, (when, idx, name) in enumerate(saved):
        rank.setdefault((when, idx, name), []).append(i)
    heap = []
    for t in live:
        owner = getattr(t.fn, "__self__", None)
        idx = next((i for i, d in enumerate(m.devices) if d is owner), None)
        slots = rank.get((t.when, idx, t.fn.__name__))
        if not slots:
            raise SnapshotError("a restored device armed a timer the snapshot does not have: %s.%s at %d"
                                % (type(owner).__name__, t.fn.__name__, t.when))
        heap.append((t.when, slots.pop(0), t))
    missing = sum(len(v) for v in rank.values())
    if missing:
        raise SnapshotError("%d saved timers were not re-armed by their devices" % missing)
    heapq.heapify(heap)
    clock._heap = heap
    clock._seq = itertools.count(len(saved))


# -- files ---------------------------------------------------------------------
def _encode(obj):
    if isinstance(obj, bytes):
        return {"$b": base64.b64encode(obj).decode()}
    if isinstance(obj, dict):
        return {str(k): _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    return obj


def _decode(obj):
    if isinstance(obj, dict):
        if set(obj) == {"$b"}:
            return base64.b64decode(obj["$b"])
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


def to_bytes(snap):
    meta = zlib.compress(json.dumps(_encode(snap.meta), separators=(",", ":")).encode(), 6)
    order = sorted(snap.pages)
    ram = zlib.compress(struct.pack("<I%dI" % len(order), len(order), *order)
                        + b"".join(snap.pages[i] for i in order), 6)
    body = _HEADER.pack(MAGIC, VERSION, len(meta), len(ram)) + meta + ram
    return body + hashlib.sha256(body).digest()


def from_bytes(data, name="snapshot"):
    if len(data) < len(MAGIC) or not data.startswith(MAGIC):
        raise SnapshotError("%s is not a jitemu snapshot" % name)
    if len(data) < _HEADER.size + _DIGEST:
        raise SnapshotError("%s is truncated" % name)
    _, version, meta_len, ram_len = _HEADER.unpack_from(data)
    if version != VERSION:
        raise SnapshotError("%s is a version %d snapshot; this jitemu reads version %d" % (name, version, VERSION))
    end = _HEADER.size + meta_len + ram_len
    if len(data) < end + _DIGEST:
        raise SnapshotError("%s is truncated (%d of %d bytes)" % (name, len(data), end + _DIGEST))
    if len(data) > end + _DIGEST or hashlib.sha256(data[:end]).digest() != data[end:]:
        raise SnapshotError("%s is corrupt (checksum mismatch)" % name)
    try:
        meta = _decode(json.loads(zlib.decompress(data[_HEADER.size:_HEADER.size + meta_len])))
        raw = zlib.decompress(data[_HEADER.size + meta_len:end])
        (n,) = struct.unpack_from("<I", raw)
        order = struct.unpack_from("<%dI" % n, raw, 4)
        base = 4 + 4 * n
        if len(raw) != base + n * PAGE:
            raise ValueError("RAM pages do not add up")
        pages = {i: raw[base + k * PAGE:base + (k + 1) * PAGE] for k, i in enumerate(order)}
        meta["cpu"]["icount"]
    except (ValueError, KeyError, TypeError, struct.error, zlib.error) as e:
        raise SnapshotError("%s is corrupt (%s)" % (name, e)) from e
    return Snapshot(meta, pages)


def save(snap, path):
    """Write a snapshot file (atomically: a temporary file, renamed)."""
    tmp = "%s.tmp%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(to_bytes(snap))
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise SnapshotError("cannot write snapshot %s: %s" % (path, e.strerror or e)) from e


def load(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise SnapshotError("cannot read snapshot %s: %s" % (path, e.strerror or e)) from e
    return from_bytes(data, path)
