"""LLVM back end: IR text in, native function addresses out.

`ObjectMaker` turns IR text into object code (the first tier's cheap
passes, or the whole -O2 pipeline for hot regions); it holds no JIT, so the
compile worker process (worker.py) uses it too.  `Compiler` adds the one
LLJIT instance per machine that links object code (fresh, from the worker
or from the persistent cache) and binds the helpers by symbol.  The
resource trackers are kept for the machine's lifetime because a thread may
still be running the code (freeing it would be a use-after-free, as Box64
found).
"""
import time

import llvmlite.binding as llvm

_initialised = False


def _init():
    global _initialised
    if not _initialised:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _initialised = True


def host_cpu():
    """The host CPU's name and features: code is made for this machine
    (POPCNT for PF, BMI, ...), so the persistent cache is keyed by them."""
    _init()
    return llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()


class ObjectMaker:
    def __init__(self):
        _init()
        target = llvm.Target.from_default_triple()
        cpu, features = host_cpu()
        # Target machines of our own: the JIT owns its own (sharing one
        # between engines crashes).
        self._tm = target.create_target_machine(cpu, features, opt=0, reloc="pic", codemodel="small")
        self._tm_hot = target.create_target_machine(cpu, features, opt=2, reloc="pic", codemodel="small")
        # Stencils: holes are absolute symbols (a value patched into the
        # instruction), data words and code sit below 2 GiB (runtime/stencil.c).
        self._tm_stencil = target.create_target_machine(cpu, features, opt=2, reloc="static", codemodel="small")

    def _optimise(self, mod):
        # Cheap IR cleanup: registers and flags live in allocas during a
        # block; SROA turns them into SSA and DCE removes flag bits that
        # later instructions overwrite.  The full pipeline is for hot code.
        pto = llvm.create_pipeline_tuning_options(speed_level=0)
        pb = llvm.create_pass_builder(self._tm, pto)
        mpm = llvm.create_new_module_pass_manager()
        mpm.add_sroa_pass()
        mpm.add_simplify_cfg_pass()
        mpm.add_dead_code_elimination_pass()
        mpm.run(mod, pb)

    @staticmethod
    def _optimise_fully(mod, tm):
        # Regions and stencils: LLVM's whole -O2 pipeline (a fresh pass
        # manager per module: reusing one aborts) and -O2 code generation.
        pto = llvm.create_pipeline_tuning_options(speed_level=2)
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(mod, pb)

    def make_stencils(self, ir_text):
        """Object code of a module of stencils (jitemu/jit/stencil.py): the
        whole -O2 pipeline, once per instruction form."""
        mod = llvm.parse_assembly(ir_text)
        mod.verify()
        self._optimise_fully(mod, self._tm_stencil)
        return self._tm_stencil.emit_object(mod)

    def make(self, ir_text, hot=False):
        """Object code for one module of IR text."""
        mod = llvm.parse_assembly(ir_text)
        mod.verify()
        if hot:
            self._optimise_fully(mod, self._tm_hot)
            return self._tm_hot.emit_object(mod)
        self._optimise(mod)
        return self._tm.emit_object(mod)


class Compiler:
    def __init__(self, helper_addresses):
        _init()
        self.maker = ObjectMaker()
        cpu, features = host_cpu()
        target = llvm.Target.from_default_triple()
        self._jit = llvm.create_lljit_compiler(target.create_target_machine(cpu, features, opt=0))
        self._helpers = dict(helper_addresses)
        self._trackers = []
        self.modules = 0
        self.functions = 0
        self.seconds = 0.0
        self.hot_modules = 0

    def compile(self, ir_text, exports, hot=False):
        """Compile one module (with the full optimiser when `hot`); returns
        ({name: address} for `exports`, the object code, which a persistent
        cache can keep)."""
        t0 = time.perf_counter()
        obj = self.maker.make(ir_text, hot)
        if hot:
            self.hot_modules += 1
        addrs = self.link(obj, exports)
        self.seconds += time.perf_counter() - t0
        return addrs, obj

    def link(self, obj, exports):
        """Load object code (fresh or from the cache) into the JIT; helpers
        are bound by symbol.  Raises RuntimeError for an object that does
        not link (a corrupt or foreign cache entry)."""
        lib = llvm.JITLibraryBuilder().add_object_img(obj)
        for name, addr in self._helpers.items():
            lib.import_symbol(name, addr)
        for name in exports:
            lib.export_symbol(name)
        self.modules += 1  # a failed link still uses up its library name
        tracker = lib.link(self._jit, "m%d" % (self.modules - 1))
        self._trackers.append(tracker)
        self.functions += len(exports)
        addrs = {name: tracker[name] for name in exports}
        if not all(addrs.values()):
            raise RuntimeError("object code lacks a block symbol")
        return addrs
