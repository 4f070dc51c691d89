/* Creating and tearing down a Runtime: the CPU state, guest RAM and the
 * physical page tables the JIT's memory fast path reads. */
#include <stdlib.h>
#include <pthread.h>
#include <sys/mman.h>
#include "jitemu.h"

void rt_destroy(CPUState *s);

/* Guest RAM is mapped far below the shared libraries.  The JIT's code is
 * mapped top-down next to them and reaches the runtime's helpers with
 * 32-bit PC-relative relocations: a few GiB of RAM allocated in between
 * would push later code more than 2 GiB from the helpers (LLVM's
 * RuntimeDyld asserts).  Each machine's RAM takes the next free place in
 * a region of its own (MAP_FIXED_NOREPLACE never lands on a mapping);
 * MAP_NORESERVE because untouched guest RAM should cost nothing. */
#define RAM_REGION 0x100000000000ull
#define RAM_ALIGN (1ull << 30)

static uint8_t *ram_alloc(uint32_t size)
{
    static uint64_t next = RAM_REGION;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    uint64_t len = size ? size : 1;
    void *p = MAP_FAILED;
    pthread_mutex_lock(&lock);
    for (int tries = 0; tries < 64 && p == MAP_FAILED; tries++) {
        void *hint = (void *)next;
        next += (len + RAM_ALIGN - 1) / RAM_ALIGN * RAM_ALIGN + RAM_ALIGN;
#ifdef MAP_FIXED_NOREPLACE
        p = mmap(hint, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
#else
        p = mmap(hint, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
#endif
    }
    pthread_mutex_unlock(&lock);
    if (p == MAP_FAILED) /* no room up there: anywhere */
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

CPUState *rt_create(uint32_t ram_size, void *host)
{
    Runtime *rt = calloc(1, sizeof(Runtime));
    if (!rt) return NULL;
    rt->host = host;
    rt->ram_size = ram_size;
    rt->code_epoch = arena_epoch();
    rt->ram = ram_alloc(ram_size);
    rt->phys_rd = calloc(NPAGES, sizeof(uint8_t *));
    rt->ram_page = calloc(NPAGES, sizeof(uint8_t *));
    rt->code_page = calloc(NPAGES, 1);
    rt->code_lines = calloc((size_t)NPAGES * LINE_WORDS, sizeof(uint64_t)); /* lazily backed */
    rt->tlb_phys = calloc(NPAGES, sizeof(uint32_t));
    rt->tlb_global = calloc(NPAGES, 1);
    rt->tlb_fill = calloc(TLB_FILL_MAX, sizeof(uint32_t));
    rt->cpu.rd_page = calloc(NPAGES, sizeof(uint8_t *));
    rt->cpu.wr_page = calloc(NPAGES, sizeof(uint8_t *));
    rt->block_cap = 1u << 14;
    rt->blocks = calloc(rt->block_cap, sizeof(Block));
    rt->page_keys = calloc(NPAGES, sizeof(PageKeys)); /* lazily backed */
    if (!rt->page_keys || !rt->ram || !rt->phys_rd || !rt->ram_page || !rt->code_page || !rt->code_lines || !rt->tlb_phys ||
        !rt->tlb_global || !rt->tlb_fill || !rt->cpu.rd_page || !rt->cpu.wr_page || !rt->blocks) {
        rt_destroy(&rt->cpu);
        return NULL;
    }
    rt->cpu.a20_mask = 0xffffffffu;
    rt->cpu.last_exception = -1;
    cpu_reset_msrs(&rt->cpu);
    return &rt->cpu;
}

void rt_destroy(CPUState *s)
{
    Runtime *rt = RT(s);
    if (!rt) return;
    if (rt->ram) munmap(rt->ram, rt->ram_size ? rt->ram_size : 1);
    free(rt->phys_rd); free(rt->ram_page); free(rt->code_page); free(rt->code_lines);
    free(rt->tlb_phys); free(rt->tlb_global); free(rt->tlb_fill);
    if (rt->page_keys)
        for (uint32_t i = 0; i < rt->pk_npages; i++) free(rt->page_keys[rt->pk_pages[i]].keys);
    free(rt->page_keys); free(rt->pk_pages);
    free(rt->cpu.rd_page); free(rt->cpu.wr_page); free(rt->blocks); free(rt->bl_defer); free(rt->fio); free(rt);
}

uint8_t *rt_ram(CPUState *s) { return RT(s)->ram; }

/* Map guest physical pages [start, start+len): reads come from `rd`,
 * writes go to `wr` (either may be NULL: open bus / MMIO, or writes
 * dropped), as PAM shadow RAM needs.  Callers map whole pages.  Code
 * translated from a page whose contents change here is dropped. */
void rt_map_rw(CPUState *s, uint32_t start, uint32_t len, uint8_t *rd, uint8_t *wr)
{
    Runtime *rt = RT(s);
    for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
        uint32_t page = (uint32_t)((start + off) >> PAGE_BITS);
        uint8_t *nrd = rd ? rd + off : NULL;
        if (rt->code_page[page] && rt->phys_rd[page] != nrd) smc_invalidate_page(rt, page);
        rt->phys_rd[page] = nrd;
        rt->ram_page[page] = wr ? wr + off : NULL;
    }
    tlb_flush(s); /* entries may point at the old mapping */
}

void rt_map(CPUState *s, uint32_t start, uint32_t len, uint8_t *host, int writable)
{
    rt_map_rw(s, start, len, host, writable ? host : NULL);
}

/* Unmap: accesses go to the slow path (MMIO regions or open bus). */
void rt_unmap(CPUState *s, uint32_t start, uint32_t len)
{
    rt_map(s, start, len, NULL, 0);
}

int rt_add_mmio(CPUState *s, uint32_t start, uint32_t end, int handle)
{
    Runtime *rt = RT(s);
    if (rt->n_mmio >= MAX_MMIO) return -1;
    rt->mmio[rt->n_mmio].start = start;
    rt->mmio[rt->n_mmio].end = end;
    rt->mmio[rt->n_mmio].handle = handle;
    rt->n_mmio++;
    return 0;
}

void rt_stats(CPUState *s, uint64_t *out)
{
    Runtime *rt = RT(s);
    out[0] = rt->block_used - rt->block_dead;
    out[1] = rt->stat_invalidated;
    out[2] = rt->stat_smc_pages;
}
