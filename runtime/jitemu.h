/* The runtime's shared declarations: constants that the JIT, the C helpers
 * and Python agree on, and the Runtime that wraps the CPU state.
 * The CPUState struct itself is generated from jitemu/cpu/layout.py. */
#ifndef JITEMU_H
#define JITEMU_H
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "cpu_state.h"

/* Segment register indices (encoding order). */
enum { R_ES, R_CS, R_SS, R_DS, R_FS, R_GS };
/* General registers (encoding order). */
enum { R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI, R_EDI };

/* EFLAGS bits. */
#define CF_MASK 0x0001u
#define PF_MASK 0x0004u
#define AF_MASK 0x0010u
#define ZF_MASK 0x0040u
#define SF_MASK 0x0080u
#define TF_MASK 0x0100u
#define IF_MASK 0x0200u
#define DF_MASK 0x0400u
#define OF_MASK 0x0800u
#define IOPL_MASK 0x3000u
#define NT_MASK 0x4000u
#define RF_MASK 0x10000u
#define VM_MASK 0x20000u
#define AC_MASK 0x40000u
#define ARITH_MASK (CF_MASK | PF_MASK | AF_MASK | ZF_MASK | SF_MASK | OF_MASK)

/* Whether the CPU has an x87 FPU: CPUID says so, and the PC's CMOS
 * equipment byte follows (Machine.has_fpu).  The whole 387 instruction set
 * with P6's FCOMI/FCMOVcc, and FXSAVE/FXRSTOR (runtime/fpu.c). */
#define CPU_HAS_FPU 1
/* py_log kind: the FPU asserted FERR# (CR0.NE=0: the PC's IRQ13). */
#define LOG_FERR 13
/* py_log kind: the guest wrote IA32_APIC_BASE (a = low half, b = high),
 * which a local APIC device follows (enable bit 11). */
#define LOG_APIC_BASE 14

/* exit_request bits: why translated code must return to the dispatcher. */
#define EXIT_STOP 1u   /* the host asked the vCPU to stop */
#define EXIT_RESET 2u  /* a reset was requested */
#define EXIT_IRQ 4u    /* an interrupt became pending */
#define EXIT_SMC 8u    /* the running block's code was overwritten */
#define EXIT_IO 16u    /* a device handler asked to leave (e.g. debug exit) */
#define EXIT_HOT 32u   /* a first-tier block got hot: recompile it optimised */
#define EXIT_INSTALL 64u /* the compile worker finished a region: swap it in */
#define EXIT_WARM 128u   /* a first-tier block is warming up: start the compile worker */

/* cpu_run results. */
#define RUN_MISS 1   /* no translation for miss_pc/miss_cs_base/miss_hflags */
#define RUN_EXIT 2   /* exit_request was set; it is left set for the caller */
#define RUN_HLT 3    /* the CPU halted with no deliverable interrupt */
#define RUN_LIMIT 4  /* icount reached icount_limit */
#define RUN_SHUTDOWN 5 /* triple fault */
#define RUN_DEBUG 6  /* a breakpoint: EIP is on it, nothing there ran */
#define RUN_STEP 7   /* single-step: one instruction ran */
#define RUN_STALE 8  /* the block table is from before the arena was reclaimed: bt_forget it */
#define RUN_RECLAIM 9 /* the code arena is over its limit: reclaim it (arena_reclaim) */

/* hflags: mode bits in every code-cache key. */
#define HF_CODE32 1u
#define HF_SS32 2u
#define HF_PE 4u
#define HF_VM 8u
#define HF_PG 16u
#define HF_TF 32u  /* single-step: one instruction per block, then #DB */
#define HF_FLAT 64u /* protected mode; CS DS ES SS are base 0, limit 4 GiB */
#define HF_STEP 128u /* a debugger single-steps: one instruction per block */
#define HF_NOREGION (1u << 20) /* key of first-tier code run after a region's side exit */

/* debug_flags and trace_flags */
#define DEBUG_STEP 1u
/* Machine.run's exact budget (a timer deadline, an instruction count):
 * near the limit the dispatcher runs one block per dispatch (a block it
 * chains to stops in its prologue) from first-tier keys (HF_NOREGION: no
 * region runs thousands of instructions past the budget), and for the
 * last few instructions one instruction per block (HF_STEP keys), without
 * returning after each as DEBUG_STEP does. */
#define DEBUG_ALONE 2u
#define DEBUG_EXACT 4u
#define TRACE_EXEC 1u  /* every block execution */
#define TRACE_CPU 2u   /* the registers before every block */
#define TRACE_INT 4u   /* interrupts and exceptions */
#define HF_CPL_SHIFT 8

/* CR4 bits (those this CPU has: sysregs.c CR4_VALID) */
#define CR4_TSD 0x4u
#define CR4_PSE 0x10u
#define CR4_PAE 0x20u
#define CR4_PGE 0x80u
#define CR4_PCE 0x100u
#define CR4_OSFXSR 0x200u /* no effect without SSE (fpu.c helper_fxsave) */

/* Page-table entries cover 4 GiB in 4 KiB pages. */
#define PAGE_BITS 12
#define PAGE_SIZE 4096u
#define NPAGES (1u << 20)
#define LINE_BITS 3 /* self-modifying code is tracked in 8-byte lines */
#define LINE_WORDS (PAGE_SIZE >> LINE_BITS >> 6) /* uint64 words per page */
static inline int code_line_hit(const uint64_t *lines, uint32_t phys)
{
    uint32_t line = (phys & (PAGE_SIZE - 1)) >> LINE_BITS;
    return (lines[(phys >> PAGE_BITS) * LINE_WORDS + (line >> 6)] >> (line & 63)) & 1;
}

typedef void (*block_fn)(CPUState *);

typedef struct Block {
    uint32_t pc, cs_base, hflags;
    uint32_t phys_lo, phys_hi; /* physical bytes [lo, hi] holding the code */
    block_fn fn;
    uint32_t state; /* 0 empty, 1 live, 2 deleted */
    uint32_t id;
    void **in_slots; /* jump slots of other blocks that chain to this one */
    uint32_t n_in, cap_in;
} Block;

void chain_return(CPUState *s);
void chain_link(Block *target, void **slot);
void chain_cut(Block *b);

/* The keys (pc, cs_base, hflags) of the blocks with code on one physical
 * page (blocktable.c), so that a write there finds them without scanning
 * the table.  n == PK_ALL: the list could not grow, scan the table. */
typedef struct PageKeys {
    uint32_t *keys; /* 3 words a key */
    uint32_t n, cap;
} PageKeys;
#define PK_ALL 0xffffffffu

#define MAX_MMIO 32
typedef struct MmioRegion {
    uint32_t start, end; /* inclusive range */
    int handle;          /* passed back to Python */
} MmioRegion;

/* fastio.c: ports served in C.  An entry per port (the table is made on
 * the first one), with what reads and what writes do; FIO_COUNTER's shape
 * is offset | width << 8 | bits << 16, FIO_TIMED's bit | period_ns << 8. */
enum { FIO_NONE, FIO_LATCH, FIO_COUNTER, FIO_SINK, FIO_TIMED };
typedef struct FastPort {
    uint32_t rd, wr; /* FIO_NONE (Python), FIO_LATCH, FIO_COUNTER or FIO_TIMED; FIO_NONE or FIO_SINK */
    uint32_t value, shape;
    uint64_t until; /* FIO_TIMED: guest ns from which the device answers again */
} FastPort;
#define FIO_SINK_CAP 4096

typedef struct Runtime {
    CPUState cpu; /* must stay first: helpers cast CPUState* to Runtime* */
    void *host;   /* the Python Machine's cffi handle */
    uint8_t *ram;
    uint32_t ram_size;
    uint8_t **phys_rd;   /* physical map: host pointer to read each page, or NULL */
    uint8_t **ram_page;  /* physical map: host pointer to write each page, or NULL */
    uint8_t *code_page;  /* nonzero when translated code was made from it */
    uint64_t *code_lines; /* per page, LINE_WORDS words: which 8-byte lines hold translated code */
    uint32_t *tlb_phys;  /* physical page behind each filled TLB entry */
    uint8_t *tlb_global; /* each filled entry: made from a global page (CR4.PGE) */
    uint32_t *tlb_fill;  /* filled TLB entries, for a cheap flush */
    uint32_t tlb_nfill;  /* entries in tlb_fill; TLB_FILL_MAX means "all" */
    Block *blocks;
    uint32_t block_cap, block_used, block_dead;
    PageKeys *page_keys;  /* per physical page (lazily backed) */
    uint32_t *pk_pages;   /* pages whose key list has memory, to free it */
    uint32_t pk_npages, pk_cap;
    MmioRegion mmio[MAX_MMIO];
    int n_mmio;
    uint64_t stat_invalidated, stat_smc_pages, stat_lookups;
    /* MSRs (sysregs.c; cpu_reset_msrs gives their reset values) */
    uint64_t msr_apic_base, msr_pat, msr_misc_enable, msr_bios_sign_id;
    uint64_t msr_sysenter_cs, msr_sysenter_esp, msr_sysenter_eip;
    uint64_t mtrr_var[16];  /* PhysBase0, PhysMask0, ... PhysMask7 (0x200-0x20F) */
    uint64_t mtrr_fixed[11]; /* 0x250, 0x258, 0x259, 0x268-0x26F */
    uint64_t mtrr_def_type;
    uint64_t tsc_adjust; /* what WRMSR to the TSC moved it by (the clock stays) */
    int apic_present;    /* a local APIC device is attached (rt_set_apic): CPUID reports it */
    uint32_t tr_type;    /* descriptor type of the task register's TSS */
    int delivering;      /* class (DLV_*) of the event being delivered, for a fault in it */
    /* The baseline tier's C block loop (baseline.c): on when Python says
     * (rt_set_baseline); the keys Python keeps for itself (code it may
     * reinstate: regions, the persistent cache); blocks it made. */
    int bl_enabled;
    uint32_t *bl_defer; /* 3 words a key, open addressing; all zero: empty */
    uint32_t bl_defer_cap, bl_defer_used;
    uint64_t bl_blocks;
    FastPort *fio;        /* 65536 entries, or NULL: every port goes to Python */
    uint32_t sink_len, sink_port; /* bytes written to FIO_SINK port sink_port, */
    uint8_t sink_buf[FIO_SINK_CAP]; /* not yet handed to its device */
    uint32_t code_epoch;  /* the arena's epoch the block table's code belongs to */
} Runtime;

#define RT(s) ((Runtime *)(s))

/* Python side (extern "Python" in the cdef). */
uint32_t py_io_read(void *host, uint32_t port, int size);
void py_io_write(void *host, uint32_t port, uint32_t value, int size);
uint32_t py_mmio_read(void *host, int handle, uint32_t addr, int size);
void py_mmio_write(void *host, int handle, uint32_t addr, uint32_t value, int size);
void py_log(void *host, int kind, uint32_t a, uint32_t b);
int py_irq_ack(void *host);
void py_trace(void *host, int kind, uint32_t a, uint32_t b, uint32_t c);
void py_sink_drain(void *host);

#define TLB_FILL_MAX 8192

/* fastio.c */
int fio_in(Runtime *rt, uint32_t port, int size, uint32_t *v);
int fio_out(Runtime *rt, uint32_t port, uint32_t value, int size);
/* Hand the debug console's buffered bytes to Python before anything else
 * Python sees of the guest (a port or MMIO callback, a trace event, the end
 * of cpu_run).  Bytes a failed drain did not take are dropped: the failure
 * ends the run. */
static inline void fio_drain(Runtime *rt)
{
    if (rt->sink_len) {
        py_sink_drain(rt->host);
        rt->sink_len = 0;
    }
}

/* memory.c: slow paths take linear addresses */
uint32_t mem_read_slow(CPUState *s, uint32_t lin, int size);
void mem_write_slow(CPUState *s, uint32_t lin, uint32_t value, int size);
uint64_t mem_read_slow8(CPUState *s, uint32_t lin);
void mem_write_slow8(CPUState *s, uint32_t lin, uint32_t lo, uint32_t hi);
uint32_t phys_read(CPUState *s, uint32_t phys, int size);
void phys_write(CPUState *s, uint32_t phys, uint32_t value, int size);

/* tlb.c */
int tlb_translate(CPUState *s, uint32_t lin, int write, int fill, uint32_t *phys);
int tlb_translate_as(CPUState *s, uint32_t lin, int write, int fill, uint32_t *phys, int user);
int tlb_probe(CPUState *s, uint32_t lin, int size, int write, int user);
void tlb_flush(CPUState *s);
void tlb_flush_page(CPUState *s, uint32_t lin);
void tlb_flush_nonglobal(CPUState *s);
int cpu_load_pdptes(CPUState *s, uint32_t cr3);
void tlb_drop_writes_to(Runtime *rt, uint32_t phys_page);
uint32_t lin_read(CPUState *s, uint32_t lin, int size);
void lin_write(CPUState *s, uint32_t lin, uint32_t value, int size);
uint32_t sys_read(CPUState *s, uint32_t lin, int size);
void sys_write(CPUState *s, uint32_t lin, uint32_t value, int size);
void smc_invalidate_page(Runtime *rt, uint32_t page);
void smc_invalidate_line(Runtime *rt, uint32_t phys);

/* blocktable.c */
Block *bt_lookup(Runtime *rt, uint32_t pc, uint32_t cs_base, uint32_t hflags);
void bt_flush(CPUState *s);
void bt_forget(CPUState *s);

/* sysregs.c */
void cpu_reset_msrs(CPUState *s);
int cpu_load_cr3(CPUState *s, uint32_t v);

/* segments.c */
void cpu_update_hflags(CPUState *s);
void seg_load_real(CPUState *s, int seg, uint32_t sel);

/* v86.c: virtual-8086 mode.  Its segment caches are always base sel << 4,
 * limit FFFFh, a present writable data segment of DPL 3 (what the SDM's
 * 8086 emulation loads; the JIT relies on it: no type checks there). */
#define V86_SEG_FLAGS 0xf300u
void v86_load_seg(CPUState *s, int seg, uint32_t sel);
void v86_load_segs(CPUState *s, const uint32_t *sel);
int v86_ljmp(CPUState *s, uint32_t sel, uint32_t off);
int v86_lcall(CPUState *s, uint32_t sel, uint32_t off, int op32, uint32_t next_eip);
int v86_retf(CPUState *s, int op32, uint32_t imm);
int v86_iret(CPUState *s, int op32);

/* interrupts.c */
void cpu_deliver(CPUState *s, int vector, uint32_t return_eip);
void cpu_deliver_error(CPUState *s, int vector, uint32_t return_eip, int has_code, uint32_t code);
void cpu_deliver_irq(CPUState *s, int vector);
int cpu_raise(CPUState *s, int vector, int has_code, uint32_t code);
int cpu_raise_pending(CPUState *s);
/* What is being delivered (Runtime.delivering), as the SDM classes events
 * for a fault during their delivery (vol. 3, 6.15, "Interrupt 8—Double
 * Fault Exception"). */
enum { DLV_NONE, DLV_BENIGN, DLV_CONTRIBUTORY, DLV_PAGE_FAULT, DLV_DOUBLE_FAULT };

/* protected.c */
int seg_load_protected(CPUState *s, int seg, uint32_t sel);
int pm_ljmp(CPUState *s, uint32_t sel, uint32_t off, uint32_t next_eip);
int pm_lcall(CPUState *s, uint32_t sel, uint32_t off, int op32, uint32_t next_eip);
int pm_retf(CPUState *s, int op32, uint32_t imm);
int pm_iret(CPUState *s, int op32, uint32_t next_eip);
int pm_deliver(CPUState *s, int vector, uint32_t return_eip, int has_code, uint32_t code, int sw);
uint32_t pm_flags_mask(CPUState *s, int op32);
void cpu_set_flags(CPUState *s, uint32_t v, uint32_t mask);

/* stencil.c: the copy-and-patch baseline tier.  Each stencil instance has
 * BL_HOLES hole values: operands, and for a DATA reference with index i,
 * hole i holds the number of the block's data word it names (Python reads
 * this number through bl_holes()).  A relocation's second word is
 * type | kind << 8 | index << 16, kind one of: */
#define BL_HOLES 16
#define BL_KIND_HOLE 0     /* S = hole value */
#define BL_KIND_HELPER 1   /* S = helper's trampoline (PC32, PLT32) or address (64) */
#define BL_KIND_CONTINUE 2 /* S = the next stencil instance */
#define BL_KIND_DATA 3     /* S = the data word a hole names */
int bl_holes(void);
int bl_load(const uint8_t *code, uint32_t code_len,
            const uint32_t *stencils, uint32_t n_stencils,
            const uint32_t *relocs, uint32_t n_relocs,
            const uint64_t *helpers, uint32_t n_helpers);
void *bl_assemble(uint32_t n, const uint16_t *ids, const uint32_t *holes,
                  uint32_t n_data, const uint64_t *data_init);
uint64_t *bl_last_data(void);
void bl_stats(uint64_t *out3);
/* A stencil's meta bits: what ends a block (bl_meta). */
#define BL_META_TERMINATED 1
#define BL_META_END_AFTER 2
#define BL_META_SLOTS_SHIFT 2 /* data words above */
int bl_meta(uint32_t first, uint32_t n, const uint8_t *meta);
uint32_t bl_generation(void);
/* Internal to stencil.c and baseline.c: */
void bl_lock_acquire(void);
void bl_lock_release(void);
void *bl_assemble_locked(uint32_t n, const uint16_t *ids, const uint32_t *holes,
                         uint32_t n_data, const uint64_t *data_init);
int bl_stencil_meta(uint32_t id);
void bl_forms_clear(void);
/* The code arena (below 2 GiB) that stencil blocks and loaded objects
 * share, under bl_lock. */
#define BL_TRAMP 16 /* a trampoline: ff 25 00 00 00 00 <abs64>, padded */
uint8_t *arena_reserve(uint64_t size);
void arena_commit(uint8_t *p, uint64_t size);
uint8_t *arena_trampolines(const uint64_t *addrs, uint32_t n);
void code_enter(void);
void code_leave(void);
int arena_over(void);
uint32_t arena_epoch(void);
int reloc_patch(uint8_t *P, uint32_t type, uint64_t S, int64_t A);

/* objload.c: LLVM's object code (first tier, regions) placed in the arena
 * without a JIT linker.  A relocation is 4 words: offset in the image,
 * type | kind << 8, value, addend; kind one of: */
#define LD_KIND_LOCAL 0  /* S = image base + value */
#define LD_KIND_HELPER 1 /* S = helper `value`'s trampoline (rel32, 32-bit) or address (64) */
int ld_helpers(const uint64_t *addrs, uint32_t n);
void *ld_place(const uint8_t *image, uint32_t len, uint32_t align, const uint32_t *relocs, uint32_t n);

/* baseline.c: the tier's block loop in C */
int bl_decoder_open(const char *path);
int bl_signature(uint32_t hflags, const uint8_t *code, uint32_t len, uint32_t eip,
                 uint8_t *sig_out, uint32_t *values);
int bl_sig_size(void);
int bl_known(uint32_t hflags, const uint8_t *code, uint32_t len, uint32_t eip);
int bl_forms(uint32_t n, const uint32_t *hflags, const uint8_t *code, const uint8_t *lens, const uint16_t *ids);
void bl_structural(uint32_t mode, int kind, int flag, uint32_t id);
int bl_translate(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags);
int bl_deferred(Runtime *rt, uint32_t pc, uint32_t cs_base, uint32_t hflags);
int cpu_code_phys(CPUState *s, uint32_t lin, uint32_t *phys);
int bt_insert(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags,
              uint32_t phys_lo, uint32_t phys_hi, void *fn, uint32_t id);

/* stack.c */
void push16(CPUState *s, uint32_t v);
void push32(CPUState *s, uint32_t v);
uint32_t pop16(CPUState *s);
uint32_t pop32(CPUState *s);

int ss_in_limit(uint32_t limit, uint32_t flags, uint32_t off, int size);
int frame_check(CPUState *s, uint32_t base, uint32_t limit, uint32_t flags, uint32_t sp, int n, int w,
                uint32_t pl, uint32_t ss_code);

static inline uint32_t sp_mask(CPUState *s) { return (s->hflags & HF_SS32) ? 0xffffffffu : 0xffffu; }

static inline int parity8(uint32_t v) { return !(__builtin_popcount(v & 0xff) & 1); }

#endif
