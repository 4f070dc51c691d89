/* The code cache index: (linear pc, CS base, hflags) -> native code, with
 * the physical range each block was translated from, so that writes to a
 * page can find and drop every translation made from it. */
#include <stdlib.h>
#include "jitemu.h"

static inline uint32_t bt_hash(uint32_t pc, uint32_t cs_base, uint32_t hflags)
{
    uint32_t h = pc * 0x9e3779b1u ^ cs_base * 0x85ebca6bu ^ hflags * 0xc2b2ae35u;
    return h ^ (h >> 15);
}

Block *bt_lookup(Runtime *rt, uint32_t pc, uint32_t cs_base, uint32_t hflags)
{
    uint32_t mask = rt->block_cap - 1;
    for (uint32_t i = bt_hash(pc, cs_base, hflags) & mask;; i = (i + 1) & mask) {
        Block *b = &rt->blocks[i];
        if (b->state == 0) return NULL;
        if (b->state == 1 && b->pc == pc && b->cs_base == cs_base && b->hflags == hflags)
            return b;
    }
}

static void bt_put(Runtime *rt, const Block *nb)
{
    uint32_t mask = rt->block_cap - 1;
    for (uint32_t i = bt_hash(nb->pc, nb->cs_base, nb->hflags) & mask;; i = (i + 1) & mask) {
        if (rt->blocks[i].state != 1) {
            if (rt->blocks[i].state == 2) rt->block_dead--;
            else rt->block_used++;
            rt->blocks[i] = *nb;
            rt->blocks[i].state = 1;
            return;
        }
    }
}

static int bt_grow(Runtime *rt)
{
    uint32_t old_cap = rt->block_cap;
    Block *old = rt->blocks;
    uint32_t cap = old_cap;
    if ((rt->block_used - rt->block_dead) * 4 >= old_cap) cap *= 2;
    Block *nb = calloc(cap, sizeof(Block));
    if (!nb) return -1;
    rt->blocks = nb;
    rt->block_cap = cap;
    rt->block_used = rt->block_dead = 0;
    for (uint32_t i = 0; i < old_cap; i++)
        if (old[i].state == 1) bt_put(rt, &old[i]);
    free(old);
    return 0;
}

/* Register a translation; replaces one with the same key.  [phys_lo,
 * phys_hi] is the span whose pages drop it when written; bt_mark_code says
 * which bytes in it are code (a region's blocks need not be contiguous). */
int bt_register(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags,
                uint32_t phys_lo, uint32_t phys_hi, void *fn, uint32_t id)
{
    Runtime *rt = RT(s);
    Block *old = bt_lookup(rt, pc, cs_base, hflags);
    if (old) { chain_cut(old); old->state = 2; rt->block_dead++; }
    if ((rt->block_used + 1) * 2 > rt->block_cap && bt_grow(rt)) return -1;
    Block b = {pc, cs_base, hflags, phys_lo, phys_hi, (block_fn)fn, 1, id, NULL, 0, 0};
    bt_put(rt, &b);
    return 0;
}

/* Writes to physical [lo, hi] now end in smc_invalidate_page. */
void bt_mark_code(CPUState *s, uint32_t phys_lo, uint32_t phys_hi)
{
    Runtime *rt = RT(s);
    for (uint32_t p = phys_lo >> PAGE_BITS; p <= (phys_hi >> PAGE_BITS); p++) {
        if (!rt->code_page[p]) tlb_drop_writes_to(rt, p); /* writes now take the slow path */
        rt->code_page[p] = 1;
        uint32_t lo = p == (phys_lo >> PAGE_BITS) ? (phys_lo & (PAGE_SIZE - 1)) : 0;
        uint32_t hi = p == (phys_hi >> PAGE_BITS) ? (phys_hi & (PAGE_SIZE - 1)) : PAGE_SIZE - 1;
        for (uint32_t l = lo >> LINE_BITS; l <= hi >> LINE_BITS; l++)
            rt->code_lines[p * LINE_WORDS + (l >> 6)] |= 1ull << (l & 63);
    }
}

int bt_insert(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags,
              uint32_t phys_lo, uint32_t phys_hi, void *fn, uint32_t id)
{
    if (bt_register(s, pc, cs_base, hflags, phys_lo, phys_hi, fn, id)) return -1;
    bt_mark_code(s, phys_lo, phys_hi);
    return 0;
}

/* Drop every translation made from physical page `page`.  The native code
 * stays allocated (a thread may be inside it); only the index forgets it. */
void smc_invalidate_page(Runtime *rt, uint32_t page)
{
    uint32_t lo = page << PAGE_BITS, hi = lo + PAGE_SIZE - 1;
    for (uint32_t i = 0; i < rt->block_cap; i++) {
        Block *b = &rt->blocks[i];
        if (b->state == 1 && b->phys_lo <= hi && b->phys_hi >= lo) {
            chain_cut(b);
            b->state = 2;
            rt->block_dead++;
            rt->stat_invalidated++;
        }
    }
    rt->code_page[page] = 0; /* write TLB entries refill on the next miss */
    memset(&rt->code_lines[page * LINE_WORDS], 0, LINE_WORDS * sizeof(uint64_t));
    rt->stat_smc_pages++;
    /* The running block may have been made from these bytes: end it at the
     * next instruction boundary so the rest is retranslated. */
    if (rt->cpu.cur_phys_lo <= hi && rt->cpu.cur_phys_hi >= lo)
        __atomic_or_fetch(&rt->cpu.exit_request, EXIT_SMC, __ATOMIC_SEQ_CST);
}

/* Drop the whole cache (reset, mode changes that alter every block). */
void bt_flush(CPUState *s)
{
    Runtime *rt = RT(s);
    for (uint32_t i = 0; i < rt->block_cap; i++) {
        if (rt->blocks[i].state == 1) rt->stat_invalidated++;
        chain_cut(&rt->blocks[i]);
    }
    memset(rt->blocks, 0, rt->block_cap * sizeof(Block));
    rt->block_used = rt->block_dead = 0;
    for (uint32_t p = 0; p < NPAGES; p++)
        if (rt->code_page[p]) {
            rt->code_page[p] = 0;
            memset(&rt->code_lines[p * LINE_WORDS], 0, LINE_WORDS * sizeof(uint64_t));
        }
}

/* Translations still live for physical page `page` (tests, monitor). */
uint32_t bt_count_page(CPUState *s, uint32_t page)
{
    Runtime *rt = RT(s);
    uint32_t lo = page << PAGE_BITS, hi = lo + PAGE_SIZE - 1, n = 0;
    for (uint32_t i = 0; i < rt->block_cap; i++) {
        Block *b = &rt->blocks[i];
        if (b->state == 1 && b->phys_lo <= hi && b->phys_hi >= lo) n++;
    }
    return n;
}

/* Physical address a live translation for this key was made from, or
 * 0xffffffff: code made elsewhere (the compile worker) is installed only
 * over a translation of the same bytes, which proves the mapping. */
uint32_t bt_phys(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags)
{
    Block *b = bt_lookup(RT(s), pc, cs_base, hflags);
    return b ? b->phys_lo : 0xffffffffu;
}

int bt_contains(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags)
{
    return bt_lookup(RT(s), pc, cs_base, hflags) != NULL;
}
