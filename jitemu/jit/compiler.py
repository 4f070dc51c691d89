"""LLVM back end: IR text in, native function addresses out.

`ObjectMaker` turns IR text into object code (the first tier's cheap
passes, or the whole -O2 pipeline for hot regions and stencils); the
compile worker process (worker.py) uses it too.  All of it is made for the
small code model with static relocations, so the runtime places it itself
below 2 GiB (objload.py, runtime/objload.c): there is no JIT linker, and a
process that only loads code (regions from the worker or the persistent
cache) never loads LLVM.  `Compiler` is the in-process path: make, then load.
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
        # Code and data sit below 2 GiB (the runtime's code arena), so the
        # small code model with static relocations fits; for stencils that
        # also makes holes absolute symbols (a value patched into the
        # instruction, runtime/stencil.c).
        self._tm = target.create_target_machine(cpu, features, opt=0, reloc="static", codemodel="small")
        self._tm_hot = target.create_target_machine(cpu, features, opt=2, reloc="static", codemodel="small")

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
        self._optimise_fully(mod, self._tm_hot)
        return self._tm_hot.emit_object(mod)

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
    """Compile in this process (the first tier; regions when there is no
    worker) and load the code with the runtime's loader."""

    def __init__(self, loader):
        self.maker = ObjectMaker()
        self.loader = loader
        self.modules = 0
        self.seconds = 0.0
        self.hot_modules = 0

    def compile(self, ir_text, exports, hot=False):
        """Compile one module (with the full optimiser when `hot`); returns
        ({name: address} for `exports`, the object code, which a persistent
        cache can keep)."""
        t0 = time.perf_counter()
        obj = self.maker.make(ir_text, hot)
        self.modules += 1
        if hot:
            self.hot_modules += 1
        try:
            addrs = self.loader.load(obj, exports)
        finally:
            self.seconds += time.perf_counter() - t0
        return addrs, obj
