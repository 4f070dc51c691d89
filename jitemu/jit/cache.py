"""The persistent translation cache: object code on disk, keyed by the guest
bytes a block was made from, its linear address, CS base and mode bits.

A second boot of the same firmware finds its blocks here and links their
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
match its name, or one that does not link is ignored
and the block is translated again: a corrupt cache never crashes a run.

Location: $JITEMU_CACHE_DIR, else $XDG_CACHE_HOME/jitemu, else
~/.cache/jitemu.  `jitemu boot --no-cache` (Machine(cache=False)) runs
without it.
"""
import hashlib
import os

from ..cpu import layout
from . import helpers


def default_dir():
    d = os.environ.get("JITEMU_CACHE_DIR")
    if d:
        return d
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jitemu")


def _version():
    # jitemu's own version is not asked of importlib.metadata (20 ms at
    # every start): the digest of the translator's source stands for it.
    import llvmlite
    from .compiler import host_cpu
    h = hashlib.sha256()
    for part in (llvmlite.__version__, layout.c_struct(), repr(sorted(helpers.HELPERS.items())),
                 _source_digest(), repr(host_cpu())):
        h.update(part.encode())
        h.update(b"\0")
    return "v" + h.hexdigest()[:16]


def _source_digest():
    """The lifters' source: a change to how code is translated must not
    reuse object code made by the old translator."""
    here = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    for root, _, files in sorted(os.walk(here)):
        for f in sorted(files):
            if f.endswith(".py"):
                with open(os.path.join(root, f), "rb") as fh:
                    h.update(fh.read())
    isa = os.path.join(os.path.dirname(here), "isa", "table.py")
    with open(isa, "rb") as fh:
        h.update(fh.read())
    return h.hexdigest()


class CodeCache:
    def __init__(self, directory=None):
        self.dir = os.path.join(directory or default_dir(), _version())
        self.objects_dir = os.path.join(self.dir, "objects")
        os.makedirs(self.objects_dir, exist_ok=True)
        self.index_path = os.path.join(self.dir, "index")
        self._index = {}     # (pc, cs_base, hflags) -> [([(phys, length), ...], digest, obj, symbol)]
        self._linked = {}    # obj id -> {symbol: address} or None (bad object)
        self._symbols = {}   # obj id -> its block symbols
        self.ignored = 0     # index lines or objects that were unusable
        self._load_index()
        self._out = None

    @staticmethod
    def digest(code):
        return hashlib.sha256(code).hexdigest()[:32]

    def _load_index(self):
        try:
            with open(self.index_path, "r", encoding="ascii", errors="replace") as f:
                lines = f.readlines()
        except OSError:
            return
        for line in lines:
            parts = line.split()
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
            self._index.setdefault((pc, cs_base, hflags), []).append((ranges, digest, obj, symbol))
            self._symbols.setdefault(obj, set()).add(symbol)

    def candidates(self, pc, cs_base, hflags):
        return self._index.get((pc, cs_base, hflags))

    def function(self, obj, symbol, compiler):
        """The address of `symbol` in cached object `obj`, linking it the
        first time; None when the object is missing, corrupt or foreign."""
        if obj not in self._linked:
            self._linked[obj] = self._link(obj, compiler)
        syms = self._linked[obj]
        return None if syms is None else syms.get(symbol)

    def _link(self, obj, compiler):
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
            return compiler.link(data, symbols)
        except RuntimeError:
            self.ignored += 1
            return None

    def store(self, obj_code, blocks):
        """Keep a freshly compiled module: blocks are (pc, cs_base, hflags,
        [(phys, guest bytes), ...], symbol); a first-tier block has one
        range, a region one per block in it."""
        obj = hashlib.sha256(obj_code).hexdigest()[:32]
        path = os.path.join(self.objects_dir, obj + ".o")
        try:
            if not os.path.exists(path):
                tmp = path + ".%d.tmp" % os.getpid()
                with open(tmp, "wb") as f:
                    f.write(obj_code)
                os.replace(tmp, path)  # readers never see half a file
            if self._out is None:
                self._out = open(self.index_path, "a", encoding="ascii")
            for pc, cs_base, hflags, made, symbol in blocks:
                ranges = [(phys, len(code)) for phys, code in made]
                entry = (ranges, self.digest(b"".join(code for _, code in made)), obj, symbol)
                self._index.setdefault((pc, cs_base, hflags), []).append(entry)
                self._symbols.setdefault(obj, set()).add(symbol)
                more = " " + ",".join("%x:%x" % r for r in ranges[1:]) if len(ranges) > 1 else ""
                self._out.write("%x %x %x %x %x %s %s %s%s\n" % (pc, cs_base, hflags, ranges[0][0], ranges[0][1],
                                                                entry[1], obj, symbol, more))
            self._out.flush()
        except OSError:
            pass  # a read-only or full disk: run on without the cache
