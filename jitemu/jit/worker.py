"""The background compile worker: hot regions are lifted and compiled with
LLVM's -O2 pipeline in a separate process while the vCPU keeps running
first-tier code, then swapped in at the next instruction boundary.

A process, not a thread: lifting is Python and llvmlite serialises every
binding call behind one lock, so either would stall the vCPU; and the
emulator process then loads neither LLVM nor capstone's Python binding.
Not multiprocessing, whose spawn re-imports the user's main script.
The worker is `python -m jitemu.jit.worker`, speaking length-prefixed
pickles of plain data over its stdin and stdout: (number, job) in, where a
job is IR text or ("region", name, pc, cs_base, hflags, the fields of a
lifting.CodeSnapshot, a persistent cache directory or None); (number,
result or None, error or None) out, where
the result is object code for IR text and (object code, [(first, last)
physical byte of each range lifted], [(linear address, what could not be
lifted)]) for a region.  One worker serves every machine in the process;
it ends when its stdin closes (so with its parent), after the jobs already
sent: the worker stores each region in the persistent cache itself, so a
run that ends before its regions are ready (a boot is shorter than
LLVM's start) still leaves them to the next run.
"""
import atexit
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading

_HEADER = struct.Struct("<I")
MAX_MESSAGE = 256 << 20  # a longer frame from the worker is garbage, not object code
# How the worker is started (tests put a misbehaving stand-in here).
COMMAND = [sys.executable, "-m", "jitemu.jit.worker"]


def _send(f, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    f.write(_HEADER.pack(len(data)) + data)
    f.flush()


def _receive(f):
    head = f.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (n,) = _HEADER.unpack(head)
    if n > MAX_MESSAGE:
        raise ValueError("a %d-byte message" % n)
    data = f.read(n)
    if len(data) < n:
        return None
    return pickle.loads(data)


class CompileWorker:
    """The parent's end.  submit() never waits, not even for the worker to
    start or to read a long module (a pipe holds 64 KiB): a writer thread
    sends; `callback(key, object code or None, error or None)` runs later
    on the reader thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting = {}  # request number -> (callback, key)
        self._seq = 0
        self.ready = False  # set once the worker has loaded LLVM
        self._proc = None   # until the writer thread has started it
        self._failed = False
        self._started = threading.Event()
        self._outbox = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._start_and_write, name="jitemu-compile-requests",
                                        daemon=True)
        self._writer.start()

    def _start_and_write(self):
        # Starting a process (fork, exec, and waiting to see the exec
        # succeed) takes 10-20 ms: not on the vCPU's thread, which asked
        # for the worker in the middle of running the guest.
        try:
            self._proc = subprocess.Popen(COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError:
            with self._lock:
                self._failed = True
            self._started.set()
            self._fail_waiting()
            return
        self._started.set()
        threading.Thread(target=self._read, name="jitemu-compile-results", daemon=True).start()
        self._write()

    def submit(self, key, job, callback):
        """Queue one job (IR text, or a region to lift); False when the
        worker is gone."""
        if not self.alive():
            return False
        with self._lock:
            if self._failed:
                return False
            self._seq += 1
            self._waiting[self._seq] = (callback, key)
            self._outbox.put((self._seq, job))
        return True

    def _write(self):
        while True:
            item = self._outbox.get()
            if item is None:
                return
            try:
                _send(self._proc.stdin, item)
            except (OSError, ValueError):  # the worker is gone: its reader fails what waits
                self._proc.kill()
                return

    def alive(self):
        """Running, or still starting."""
        if self._failed:
            return False
        proc = self._proc
        return proc is None or proc.poll() is None

    @property
    def pid(self):
        """The worker's process id (None if it could not start)."""
        self._started.wait()
        return None if self._failed else self._proc.pid

    def drain(self, timeout):
        """Hand the jobs still queued to the worker (waiting at most
        `timeout` seconds): it finishes them after this process is gone."""
        self._outbox.put(None)
        self._writer.join(timeout)

    def close(self):
        """End the worker (it exits when its input closes) and wait for it."""
        self._outbox.put(None)
        self._writer.join()
        if self._proc is None:
            return
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        self._proc.wait()

    def _read(self):
        try:
            while True:
                msg = _receive(self._proc.stdout)
                if msg is None:
                    break
                seq, obj, error = _checked(msg)
                if seq == 0:
                    self.ready = True
                    continue
                with self._lock:
                    callback, key = self._waiting.pop(seq)
                callback(key, obj, error)
        except Exception:  # noqa: BLE001 - a garbled answer: this worker is not trusted again
            self._proc.kill()
        self._fail_waiting()

    def _fail_waiting(self):
        with self._lock:  # the worker died: nothing still waiting may hang
            waiting, self._waiting = self._waiting, {}
        for callback, key in waiting.values():
            callback(key, None, "the compile worker exited")


def _checked(msg):
    """(request number, result or None, error or None) from a message of
    the worker's; anything else raises.  Object code is an ELF object (the
    runtime's loader rejects a damaged one cleanly)."""
    seq, result, error = msg
    if not isinstance(seq, int) or not (result is None or _object(result) or _region(result)) \
            or not (error is None or isinstance(error, str)) or (result is None) == (error is None) and seq:
        raise ValueError("not an answer: %r" % (msg,)[:80])
    return seq, result, error


def _object(x):
    return isinstance(x, bytes) and x[:4] == b"\x7fELF"


def _region(x):
    return isinstance(x, tuple) and len(x) == 5 and _object(x[0]) \
        and isinstance(x[1], list) and x[1] and all(
            isinstance(r, tuple) and len(r) == 2 and all(isinstance(v, int) for v in r) for r in x[1]) \
        and isinstance(x[2], list) and all(
            isinstance(n, tuple) and len(n) == 2 and isinstance(n[0], int) and isinstance(n[1], str) for n in x[2]) \
        and all(isinstance(pcs, list) and all(isinstance(pc, int) for pc in pcs) for pcs in x[3:])


_shared = None
_starts = 0
MAX_STARTS = 3  # a worker that keeps dying is not restarted for ever


def shared_worker():
    """The process's compile worker, started on first use (None if it
    cannot run: the caller compiles in-process)."""
    global _shared, _starts
    if _shared is None or not _shared.alive():
        if _starts >= MAX_STARTS:
            return None
        _starts += 1
        try:
            _shared = CompileWorker()
        except OSError:
            _shared = None
            return None
    return _shared


@atexit.register
def _drain_at_exit():
    if _shared is not None and _shared.alive():
        _shared.drain(1.0)  # a region's job is a page or two: it fits in the pipe


def main():
    # Ctrl-C in a terminal reaches the whole process group: the parent
    # handles it, and the worker ends when the parent closes the pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # nothing but results goes to the parent's pipe
    from .compiler import ObjectMaker
    maker = ObjectMaker()
    # The lifters and capstone's binding too, before the first region
    # comes (it comes soon after the worker is started, and waits).
    from . import block, lift, lifting  # noqa: F401
    from .decode import Decoder
    Decoder()
    inp = sys.stdin.buffer
    caches = {}
    try:
        _send(out, (0, None, "ready"))  # LLVM is loaded: send work
    except OSError:
        out = None  # the parent is gone: the jobs it sent still go to the cache
    while True:
        msg = _receive(inp)
        if msg is None:
            return 0
        req_id, job = msg
        try:
            result = (req_id, *_do(maker, job, caches))
        except Exception as e:  # noqa: BLE001 - reported to the parent, which stays on tier 1
            result = (req_id, None, "%s: %s" % (type(e).__name__, e))
        if out is not None:
            try:
                _send(out, result)
            except OSError:  # the parent went away (a broken pipe)
                out = None


def _do(maker, job, caches):
    """(result, error) of one job; a region goes to the persistent cache
    it names, if any (the parent does not store what the worker made)."""
    if isinstance(job, str):
        return maker.make(job, hot=True), None
    from .lifting import UNMADE, CodeSnapshot, lift_region
    kind, name, pc, cs_base, hflags, fields, cache_dir = job
    if kind != "region":
        raise ValueError("unknown job %r" % (kind,))
    snap = CodeSnapshot(*fields)
    lifted = lift_region(snap, name, pc, cs_base, hflags)
    if lifted is None:
        return None, UNMADE
    ir, ranges, entries, blocks = lifted
    obj = maker.make(ir, hot=True)
    if cache_dir is not None:
        if cache_dir not in caches:
            from .cache import CodeCache
            caches[cache_dir] = CodeCache(cache_dir)
        caches[cache_dir].store(obj, [(pc, cs_base, hflags, snap.bytes_of(ranges), name)])
    return (obj, [tuple(r) for r in ranges], snap.notes, entries, blocks), None


if __name__ == "__main__":
    sys.exit(main())
