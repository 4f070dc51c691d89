"""The persistent translation cache: object code on disk, keyed by the guest
bytes a block was made from, its linear address, CS base and mode bits.

A second boot of the same firmware finds its blocks here and loads their
object code (microseconds a block) instead of lifting and compiling them
(milliseconds).  Layout under the cache directory:

    <version>/objects/<sha256>.o   object code of one compiled module
    <version>/index                one line per block: pc cs_base hflags
                                   phys length sha256(bytes) object symbol
                                   [phys:length,... of a region's other blocks]

`version` covers everything that changes the meaning of object code: the
translator's source, llvmlite's version, the CPU state layout, the helper
list and the host CPU the code was made for, so a foreign cache is never
read.  An index line that does not parse, an object whose hash does not
match its name, or one that does not load is ignored
and the block is translated again: a corrupt cache never crashes a run.
Nor does an unusable one: a directory that cannot be made (a file, /proc,
/dev/null) or a full or read-only disk while storing gets one warning on
stderr and the run goes on without storing.

Several runs may share a cache.  Objects are written under a temporary
name and renamed, so readers see whole files.  The index is appended to
with one write of whole lines on an O_APPEND descriptor, under flock;
before appending, a run reads the lines others appended since it last
looked and leaves out entries already there, so concurrent runs on one
cache do not store every entry once each.

Location: $JITEMU_CACHE_DIR, else $XDG_CACHE_HOME/jitemu, else
~/.cache/jitemu.  `jitemu boot --no-cache` (Machine(cache=False)) runs
without it.
"""
import errno
import fcntl
import hashlib
import logging
import os

from ..cpu import layout
from . import helpers

log = logging.getLogger("jitemu.jit.cache")


def default_dir():
    d = os.environ.get("JITEMU_CACHE_DIR")
    if d:
        return d
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jitemu")


def _version():
    # jitemu's own version is not asked of importlib.metadata (20 ms at
    # every start): the digest of the translator's source stands for it.
    import llvmlite  # (its version only: LLVM itself is not loaded)
    h = hashlib.sha256()
    for part in (llvmlite.__version__, layout.c_struct(), repr(sorted(helpers.HELPERS.items())),
                 _source_digest(), _host()):
        h.update(part.encode())
        h.update(b"\0")
    return "v" + h.hexdigest()[:16]


def _host():
    """The host CPU that code is made for (LLVM targets the host's model
    and features): its model and feature flags, read without loading LLVM."""
    import platform
    seen = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                name, _, value = line.partition(":")
                name = name.strip()
                if name in ("model name", "flags", "vendor_id", "cpu family", "model") and name not in seen:
                    seen[name] = value.strip()
                if not line.strip() and seen:
                    break
    except OSError:
        pass
    return repr((platform.machine(), sorted(seen.items())))


def _source_files():
    here = os.path.dirname(os.path.abspath(__file__))
    files = [os.path.join(root, f) for root, _, names in sorted(os.walk(here))
             for f in sorted(names) if f.endswith(".py")]
    return here, files + [os.path.join(os.path.dirname(here), "isa", "table.py")]


# The digest of the sources, with their sizes and modification times: a
# start whose sources have not changed since reads it instead of hashing
# them again (15-45 ms, every run, here).
DIGEST_MEMO = ".source-digest"


def _source_digest():
    """The lifters' source: a change to how code is translated must not
    reuse object code made by the old translator."""
    here, files = _source_files()
    try:
        stamp = repr([(os.path.relpath(p, here), st.st_size, st.st_mtime_ns)
                      for p, st in ((p, os.stat(p)) for p in files)])
    except OSError:
        stamp = None
    memo = os.path.join(here, DIGEST_MEMO)
    try:
        with open(memo) as f:
            seen, digest = f.read().split("\n")[:2]
        if stamp is not None and seen == stamp and len(digest) == 64:
            return digest
    except (OSError, ValueError):
        pass
    h = hashlib.sha256()
    for p in files:
        with open(p, "rb") as fh:
            h.update(fh.read())
    digest = h.hexdigest()
    if stamp is not None:  # (a read-only install hashes at every start: still correct)
        write_atomically(memo, ("%s\n%s\n" % (stamp, digest)).encode())
    return digest


def write_atomically(path, data):
    """Write `data` to `path` so that readers never see half a file; False,
    leaving nothing behind, when it cannot be written."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False


class CodeCache:
    def __init__(self, directory=None):
        base = directory or default_dir()
        self.base = base  # what another process (the compile worker) opens to store here too
        self.dir = os.path.join(base, _version())
        self.objects_dir = os.path.join(self.dir, "objects")
        self.index_path = os.path.join(self.dir, "index")
        self._index = {}     # (pc, cs_base, hflags) -> [([(phys, length), ...], digest, obj, symbol)]
        self._linked = {}    # obj id -> {symbol: address} or None (bad object)
        self._symbols = {}   # obj id -> its block symbols
        self._seen = set()   # _key() of every entry in the index, so none is appended twice
        self._read_to = 0    # bytes of the index parsed (whole lines only)
        self._fd = None      # the index, opened for appending by the first store
        self.ignored = 0     # index lines or objects that were unusable
        self.writable = True
        self._warned = False
        try:
            os.makedirs(self.objects_dir, exist_ok=True)
        except (OSError, ValueError) as e:
            self._disable(base, e)
            return
        self._load_index()

    @staticmethod
    def digest(code):
        return hashlib.sha256(code).hexdigest()[:32]

    @staticmethod
    def _key(pc, cs_base, hflags, ranges, digest, symbol):
        # What an entry was made from, and its tier (a region may start
        # where a first-tier block does, from the same bytes).
        return pc, cs_base, hflags, tuple(ranges), digest, symbol[:1]

    def _disable(self, path, error):
        """Stop storing, with one warning: the run goes on without the cache."""
        self.writable = False
        if not self._warned:
            self._warned = True
            reason = getattr(error, "strerror", None) or str(error)
            log.warning("jitemu: warning: translation cache disabled: %s: %s", path, reason)

    def _load_index(self):
        try:
            with open(self.index_path, "rb") as f:
                data = f.read()
        except OSError:
            return
        self._parse(data)

    def _parse(self, data):
        """Take in the whole lines of `data`, which starts at _read_to; a
        last line without its newline is left for the next read."""
        end = data.rfind(b"\n") + 1
        self._read_to += end
        for line in data[:end].decode("ascii", errors="replace").splitlines():
            parts = line.split()
            if not parts:
                continue
            try:
                pc, cs_base, hflags, phys, length = (int(x, 16) for x in parts[:5])
                digest, obj, symbol = parts[5], parts[6], parts[7]
                ranges = [(phys, length)]
                if len(parts) == 9:  # a region: more ranges of guest bytes
                    ranges += [tuple(int(x, 16) for x in r.split(":")) for r in parts[8].split(",")]
                if len(parts) not in (8, 9) or any(len(r) != 2 or not 0 < r[1] <= 4096 + 15 for r in ranges):
                    raise ValueError
            except (ValueError, IndexError):
                self.ignored += 1
                continue
            key = self._key(pc, cs_base, hflags, ranges, digest, symbol)
            if key in self._seen:
                continue
            self._seen.add(key)
            self._index.setdefault((pc, cs_base, hflags), []).append((ranges, digest, obj, symbol))
            self._symbols.setdefault(obj, set()).add(symbol)
        return data[end:]

    def keys(self, regions=False):
        """Every (pc, cs_base, hflags) the index has code for (a region
        for, with `regions`)."""
        return [k for k, entries in self._index.items()
                if not regions or any(e[3].startswith("r") for e in entries)]

    def candidates(self, pc, cs_base, hflags):
        return self._index.get((pc, cs_base, hflags))

    def function(self, obj, symbol, loader):
        """The address of `symbol` in cached object `obj`, loading it (an
        objload.ObjectLoader) the first time; None when the object is
        missing, corrupt or foreign."""
        if obj not in self._linked:
            self._linked[obj] = self._link(obj, loader)
            if self._linked[obj] is None:
                self._forget(obj)
        syms = self._linked[obj]
        return None if syms is None else syms.get(symbol)

    def forget_loaded(self):
        """Objects loaded so far are gone with the arena: load them again."""
        self._linked.clear()

    def _forget(self, obj):
        """A bad object's entries no longer count as stored: the blocks
        translated again in their place are appended."""
        for (pc, cs_base, hflags), entries in self._index.items():
            for ranges, digest, o, symbol in entries:
                if o == obj:
                    self._seen.discard(self._key(pc, cs_base, hflags, ranges, digest, symbol))

    def _link(self, obj, loader):
        try:
            with open(os.path.join(self.objects_dir, obj + ".o"), "rb") as f:
                data = f.read()
        except OSError:
            self.ignored += 1
            return None
        if hashlib.sha256(data).hexdigest()[:32] != obj:
            self.ignored += 1
            return None
        symbols = sorted(self._symbols.get(obj, ()))
        try:
            return loader.load(data, symbols)
        except RuntimeError:
            self.ignored += 1
            return None

    def store(self, obj_code, blocks):
        """Keep a freshly compiled module: blocks are (pc, cs_base, hflags,
        [(phys, guest bytes), ...], symbol); a first-tier block has one
        range, a region one per block in it.  Entries the index already
        has (stored by another run since this one started) are left out."""
        if not self.writable:
            return
        obj = hashlib.sha256(obj_code).hexdigest()[:32]
        path = os.path.join(self.objects_dir, obj + ".o")
        tmp = None
        locked = False
        try:
            if self._fd is None:
                self._fd = os.open(self.index_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                locked = True
            except OSError:
                pass  # no locks (some network file systems): a rare duplicate line, no harm
            size = os.fstat(self._fd).st_size
            torn = self._parse(os.pread(self._fd, max(0, size - self._read_to), self._read_to))
            lines = []
            for pc, cs_base, hflags, made, symbol in blocks:
                ranges = [(phys, len(code)) for phys, code in made]
                digest = self.digest(b"".join(code for _, code in made))
                key = self._key(pc, cs_base, hflags, ranges, digest, symbol)
                if key in self._seen:
                    continue
                self._seen.add(key)
                self._index.setdefault((pc, cs_base, hflags), []).append((ranges, digest, obj, symbol))
                self._symbols.setdefault(obj, set()).add(symbol)
                more = " " + ",".join("%x:%x" % r for r in ranges[1:]) if len(ranges) > 1 else ""
                lines.append("%x %x %x %x %x %s %s %s%s\n" % (pc, cs_base, hflags, ranges[0][0], ranges[0][1],
                                                             digest, obj, symbol, more))
            if not lines:
                return
            if self._linked.get(obj, {}) is None or not os.path.exists(path):
                self._linked.pop(obj, None)  # a bad copy on disk is replaced
                tmp = path + ".%d.tmp" % os.getpid()
                with open(tmp, "wb") as f:
                    f.write(obj_code)
                os.replace(tmp, path)  # readers never see half a file
                tmp = None
            # A torn line (a writer that failed half way) gets its end, so
            # that ours are not glued to it; our own lines are read back
            # with the next tail and skipped as seen.
            data = (("\n" if torn else "") + "".join(lines)).encode("ascii")
            if os.write(self._fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.index_path)
        except OSError as e:
            self._disable(e.filename or self.index_path, e)
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        finally:
            if locked:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
