"""cffi build script for the native runtime (run by setuptools at install).

The CPU state struct comes from jitemu/cpu/layout.py, loaded by path, so the
C header, the cdef and the JIT's LLVM type all come from one description.
"""
import importlib.util
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _layout():
    spec = importlib.util.spec_from_file_location(
        "_jitemu_layout", os.path.join(ROOT, "jitemu", "cpu", "layout.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


layout = _layout()
STRUCT = layout.c_struct()
GEN_DIR = os.path.join(ROOT, "build", "runtime-gen")
os.makedirs(GEN_DIR, exist_ok=True)
with open(os.path.join(GEN_DIR, "cpu_state.h"), "w") as f:
    f.write("/* Generated from jitemu/cpu/layout.py by runtime/build.py. */\n"
            "#ifndef CPU_STATE_H\n#define CPU_STATE_H\n#include <stdint.h>\n%s\n#endif\n" % STRUCT)

# setuptools wants paths relative to setup.py.
SOURCES = sorted("runtime/" + n for n in os.listdir(HERE) if n.endswith(".c"))

# What Python and the JIT may call.  Helper names are also the symbols that
# translated code imports (jitemu/jit/helpers.py lists their signatures).
API = """
CPUState *rt_create(uint32_t ram_size, void *host);
void rt_destroy(CPUState *s);
uint8_t *rt_ram(CPUState *s);
void rt_map(CPUState *s, uint32_t start, uint32_t len, uint8_t *host, int writable);
void rt_unmap(CPUState *s, uint32_t start, uint32_t len);
void rt_map_rw(CPUState *s, uint32_t start, uint32_t len, uint8_t *rd, uint8_t *wr);
int rt_add_mmio(CPUState *s, uint32_t start, uint32_t end, int handle);
void rt_stats(CPUState *s, uint64_t *out);
int cpu_run(CPUState *s);
void cpu_update_hflags(CPUState *s);
void cpu_set_irq(CPUState *s, int level);
void chain_return(CPUState *s);
void cpu_deliver(CPUState *s, int vector, uint32_t return_eip);
int bt_insert(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags,
              uint32_t phys_lo, uint32_t phys_hi, void *fn, uint32_t id);
int bt_register(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags,
                uint32_t phys_lo, uint32_t phys_hi, void *fn, uint32_t id);
void bt_add_code(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags,
                 uint32_t phys_lo, uint32_t phys_hi);
void bt_flush(CPUState *s);
void bt_forget(CPUState *s);
int arena_over(void);
void arena_set_limit(uint64_t bytes);
uint32_t arena_epoch(void);
int arena_reclaim(void);
void code_enter(void);
void code_leave(void);
uint32_t bt_count_page(CPUState *s, uint32_t page);
uint32_t bt_page_pcs(CPUState *s, uint32_t page, uint32_t cs_base, uint32_t hflags, uint32_t *out, uint32_t max);
int bt_contains(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags);
uint32_t bt_phys(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags);
void cpu_request_exit(CPUState *s, uint32_t bits);
void cpu_clear_exit(CPUState *s, uint32_t bits);
void phys_read_bytes(CPUState *s, uint32_t phys, uint8_t *out, uint32_t len);
void phys_write_bytes(CPUState *s, uint32_t phys, const uint8_t *in, uint32_t len);
uint32_t mem_read_slow(CPUState *s, uint32_t phys, int size);
void mem_write_slow(CPUState *s, uint32_t phys, uint32_t value, int size);
uint64_t mem_read_slow8(CPUState *s, uint32_t lin);
void mem_write_slow8(CPUState *s, uint32_t lin, uint32_t lo, uint32_t hi);

uint32_t helper_in(CPUState *s, uint32_t port, int size);
int helper_io_check(CPUState *s, uint32_t port, int size);
void helper_out(CPUState *s, uint32_t port, uint32_t value, int size);
void helper_raise(CPUState *s, int vector);
void helper_raise_err(CPUState *s, int vector, uint32_t code);
int helper_ltr(CPUState *s, uint32_t sel);
int helper_lldt(CPUState *s, uint32_t sel);
uint32_t helper_desc_query(CPUState *s, int which, uint32_t sel);
void helper_int(CPUState *s, int vector, uint32_t insn_eip);
void helper_hlt(CPUState *s);
int helper_load_seg(CPUState *s, int seg, uint32_t sel);
int helper_ljmp(CPUState *s, uint32_t sel, uint32_t off, uint32_t next_eip);
int helper_lcall(CPUState *s, uint32_t sel, uint32_t off, int op32, uint32_t next_eip);
int helper_retf(CPUState *s, int op32, uint32_t imm);
int helper_iret(CPUState *s, int op32, uint32_t next_eip);
void helper_pusha(CPUState *s, int op32);
void helper_popa(CPUState *s, int op32);
int helper_enter(CPUState *s, int op32, uint32_t size, uint32_t level);
void helper_leave(CPUState *s, int op32);
void helper_pushf(CPUState *s, int op32);
void helper_popf(CPUState *s, int op32);
void helper_sti(CPUState *s);
int helper_string(CPUState *s, int op, int size, int rep, int seg, int addr32);
int helper_div(CPUState *s, int is_signed, int size, uint32_t divisor);
int helper_bcd(CPUState *s, int op, uint32_t imm);
uint32_t helper_rotc(CPUState *s, int right, int size, uint32_t v, uint32_t count);
uint32_t helper_shd(CPUState *s, int right, int size, uint32_t dst, uint32_t src, uint32_t count);
void helper_cpuid(CPUState *s);
int helper_rdtsc(CPUState *s);
int helper_rdpmc(CPUState *s);
int helper_rdmsr(CPUState *s);
int helper_wrmsr(CPUState *s);
int helper_sysenter(CPUState *s);
int helper_sysexit(CPUState *s);
void cpu_reset_msrs(CPUState *s);
uint32_t helper_read_cr(CPUState *s, int n);
int helper_write_cr(CPUState *s, int n, uint32_t v);
void helper_lgdt(CPUState *s, int which, uint32_t lin, int op32);
void helper_sgdt(CPUState *s, int which, uint32_t lin);
void helper_lmsw(CPUState *s, uint32_t v);
void helper_invlpg(CPUState *s, uint32_t lin);
int helper_fpu(CPUState *s, uint32_t fop, uint32_t lin, uint32_t ea, uint32_t segsz);
int helper_fwait(CPUState *s);
int helper_fxsave(CPUState *s, uint32_t lin, int restore);
void fpu_init(CPUState *s);
void cpu_tlb_flush(CPUState *s);
int cpu_code_phys(CPUState *s, uint32_t lin, uint32_t *phys);

int bl_holes(void);
int bl_load(const uint8_t *code, uint32_t code_len,
            const uint32_t *stencils, uint32_t n_stencils,
            const uint32_t *relocs, uint32_t n_relocs,
            const uint64_t *helpers, uint32_t n_helpers);
void *bl_assemble(uint32_t n, const uint16_t *ids, const uint32_t *holes,
                  uint32_t n_data, const uint64_t *data_init);
uint64_t *bl_last_data(void);
void bl_stats(uint64_t *out3);
int bl_meta(uint32_t first, uint32_t n, const uint8_t *meta);
uint32_t bl_generation(void);
int ld_helpers(const uint64_t *addrs, uint32_t n);
void *ld_place(const uint8_t *image, uint32_t len, uint32_t align, const uint32_t *relocs, uint32_t n);
int bl_decoder_open(const char *path);
int bl_signature(uint32_t hflags, const uint8_t *code, uint32_t len, uint32_t eip,
                 uint8_t *sig_out, uint32_t *values);
int bl_sig_size(void);
int bl_known(uint32_t hflags, const uint8_t *code, uint32_t len, uint32_t eip);
int bl_forms(uint32_t n, const uint32_t *hflags, const uint8_t *code, const uint8_t *lens, const uint16_t *ids);
void bl_structural(uint32_t mode, int kind, int flag, uint32_t id);
int bl_translate(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags);
void rt_set_baseline(CPUState *s, int on);
void rt_set_apic(CPUState *s, int on);
uint64_t rt_baseline_blocks(CPUState *s);
int rt_defer(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags);
int rt_arch_words(void);
void rt_arch_get(CPUState *s, uint64_t *out);
void rt_arch_set(CPUState *s, const uint64_t *in);
uint32_t rt_ram_nonzero(CPUState *s, uint32_t *out);

int fio_set_latch(CPUState *s, uint32_t port, uint32_t value);
int fio_set_counter(CPUState *s, uint32_t port, int width, uint32_t hz, int bits);
int fio_set_sink(CPUState *s, uint32_t port);
int fio_set_timed(CPUState *s, uint32_t port, uint32_t value, uint64_t until, int bit, uint32_t period);
void fio_clear(CPUState *s, uint32_t port);
uint32_t fio_kind(CPUState *s, uint32_t port);
int64_t fio_read(CPUState *s, uint32_t port, int size);
uint32_t fio_sink_take(CPUState *s, uint8_t *out, uint32_t *port);
uint32_t fio_sink_pending(CPUState *s);
"""

# Python callbacks the runtime calls (non-static so every C file can).
CALLBACKS = """
extern "Python+C" uint32_t py_io_read(void *host, uint32_t port, int size);
extern "Python+C" void py_io_write(void *host, uint32_t port, uint32_t value, int size);
extern "Python+C" uint32_t py_mmio_read(void *host, int handle, uint32_t addr, int size);
extern "Python+C" void py_mmio_write(void *host, int handle, uint32_t addr, uint32_t value, int size);
extern "Python+C" void py_log(void *host, int kind, uint32_t a, uint32_t b);
extern "Python+C" int py_irq_ack(void *host);
extern "Python+C" void py_trace(void *host, int kind, uint32_t a, uint32_t b, uint32_t c);
extern "Python+C" void py_sink_drain(void *host);
"""

with open(os.path.join(GEN_DIR, "api.h"), "w") as f:
    f.write("/* Generated by runtime/build.py. */\n#include \"jitemu.h\"\n%s\n" % API)


def _capstone_include():
    """capstone's C headers, from the capstone wheel (a build requirement).
    Only the headers: runtime/baseline.c dlopens the library the Python
    binding uses at run time, and checks its version against these."""
    spec = importlib.util.find_spec("capstone")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the capstone package is needed to build the runtime")
    return os.path.join(spec.submodule_search_locations[0], "include")


ffibuilder = FFI()
# Constants of jitemu.h that Python reads (lib.NAME).
CONSTANTS = """
#define CPU_HAS_FPU ...
#define LOG_FERR ...
#define LOG_APIC_BASE ...
"""

ffibuilder.cdef(STRUCT + CONSTANTS + API + CALLBACKS)
ffibuilder.set_source(
    "jitemu._runtime",
    '#include "api.h"\n',
    sources=SOURCES,
    include_dirs=[HERE, GEN_DIR, _capstone_include()],
    libraries=["dl"],
    extra_compile_args=["-O2", "-std=gnu11", "-fno-strict-aliasing"],
)
