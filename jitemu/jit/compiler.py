"""LLVM back end: IR text in, native function addresses out.

One LLJIT instance per machine owns every compiled library; the resource
trackers are kept for the machine's lifetime because a thread may still be
running the code (freeing it would be a use-after-free, as Box64 found).
Modules are compiled to object code with a target machine that is never
shared with the JIT, then added as object images; object code is what a
persistent cache will store.
"""
import time

import llvmlite.binding as llvm

from . import helpers

_initialised = False


def _init():
    global _initialised
    if not _initialised:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _initialised = True


class Compiler:
    def __init__(self, helper_addresses):
        _init()
        target = llvm.Target.from_default_triple()
        # Separate target machines: the JIT owns its own (sharing one
        # between engines crashes).
        self._emit_tm = target.create_target_machine(opt=0, reloc="pic", codemodel="small")
        self._jit = llvm.create_lljit_compiler(target.create_target_machine(opt=0))
        self._helpers = dict(helper_addresses)
        self._trackers = []
        self.modules = 0
        self.functions = 0
        self.seconds = 0.0

    def _optimise(self, mod):
        # Cheap IR cleanup: registers and flags live in allocas during a
        # block; SROA turns them into SSA and DCE removes flag bits that
        # later instructions overwrite.  The full pipeline is for hot code.
        pto = llvm.create_pipeline_tuning_options(speed_level=0)
        pb = llvm.create_pass_builder(self._emit_tm, pto)
        mpm = llvm.create_new_module_pass_manager()
        mpm.add_sroa_pass()
        mpm.add_simplify_cfg_pass()
        mpm.add_dead_code_elimination_pass()
        mpm.run(mod, pb)

    def compile(self, ir_text, exports):
        """Compile one module and return {name: address} for `exports`."""
        t0 = time.perf_counter()
        mod = llvm.parse_assembly(ir_text)
        mod.verify()
        self._optimise(mod)
        obj = self._emit_tm.emit_object(mod)
        lib = llvm.JITLibraryBuilder().add_object_img(obj)
        for name, addr in self._helpers.items():
            lib.import_symbol(name, addr)
        for name in exports:
            lib.export_symbol(name)
        tracker = lib.link(self._jit, "m%d" % self.modules)
        self._trackers.append(tracker)
        self.modules += 1
        self.functions += len(exports)
        self.seconds += time.perf_counter() - t0
        return {name: tracker[name] for name in exports}


def declarations():
    """LLVM declarations of every helper, for the top of each module."""
    return "\n".join(helpers.llvm_declarations())
