/* The code cache index: (linear pc, CS base, hflags) -> native code, with
 * the physical range each block was translated from, and per physical
 * page the keys of the blocks with code on it, so that a write to a page
 * finds and drops every translation made from it without a look at the
 * others. */
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
 * phys_hi] spans its code (the running block's span ends it when
 * written); bt_add_code names the bytes in it that are code (a region's
 * blocks need not be contiguous, nor a block's last instruction on its
 * first page), which are what drop it when written. */
/* A table from before the arena was reclaimed (stencil.c: arena_reclaim)
 * names code and jump slots that are gone: it is forgotten, never cut.
 * Callers hold code_enter, so the epoch cannot move meanwhile. */
static int forget_if_stale(Runtime *rt)
{
    if (rt->code_epoch == arena_epoch()) return 0;
    bt_forget(&rt->cpu);
    return 1;
}

int bt_register(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags,
                uint32_t phys_lo, uint32_t phys_hi, void *fn, uint32_t id)
{
    Runtime *rt = RT(s);
    code_enter();
    forget_if_stale(rt);
    Block *old = bt_lookup(rt, pc, cs_base, hflags);
    if (old) { chain_cut(old); old->state = 2; rt->block_dead++; }
    int rc = 0;
    if ((rt->block_used + 1) * 2 > rt->block_cap && bt_grow(rt)) {
        rc = -1;
    } else {
        Block b = {pc, cs_base, hflags, phys_lo, phys_hi, (block_fn)fn, 1, id, NULL, 0, 0};
        bt_put(rt, &b);
    }
    code_leave();
    return rc;
}

/* List the key on `page` (once).  A list that cannot grow becomes PK_ALL
 * until the page is next written: that write scans the whole table. */
static void page_add_key(Runtime *rt, uint32_t page, uint32_t pc, uint32_t cs_base, uint32_t hflags)
{
    PageKeys *pk = &rt->page_keys[page];
    if (pk->n == PK_ALL) return;
    for (uint32_t i = 0; i < pk->n; i++) {
        const uint32_t *k = &pk->keys[3 * i];
        if (k[0] == pc && k[1] == cs_base && k[2] == hflags) return;
    }
    if (pk->n == pk->cap) {
        if (!pk->keys && rt->pk_npages == rt->pk_cap) { /* remember the page, to free its list */
            uint32_t cap = rt->pk_cap ? rt->pk_cap * 2 : 64;
            uint32_t *np = realloc(rt->pk_pages, cap * sizeof(uint32_t));
            if (!np) { pk->n = PK_ALL; return; }
            rt->pk_pages = np;
            rt->pk_cap = cap;
        }
        uint32_t cap = pk->cap ? pk->cap * 2 : 8;
        uint32_t *nk = realloc(pk->keys, (size_t)cap * 3 * sizeof(uint32_t));
        if (!nk) { pk->n = PK_ALL; return; }
        if (!pk->keys) rt->pk_pages[rt->pk_npages++] = page;
        pk->keys = nk;
        pk->cap = cap;
    }
    uint32_t *k = &pk->keys[3 * pk->n++];
    k[0] = pc; k[1] = cs_base; k[2] = hflags;
}

/* The block (pc, cs_base, hflags) has code at physical [lo, hi]: writes
 * there now end in smc_invalidate_page, which drops it. */
void bt_add_code(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags,
                 uint32_t phys_lo, uint32_t phys_hi)
{
    Runtime *rt = RT(s);
    for (uint32_t p = phys_lo >> PAGE_BITS; p <= (phys_hi >> PAGE_BITS); p++) {
        if (!rt->code_page[p]) tlb_drop_writes_to(rt, p); /* writes now take the slow path */
        rt->code_page[p] = 1;
        page_add_key(rt, p, pc, cs_base, hflags);
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
    bt_add_code(s, pc, cs_base, hflags, phys_lo, phys_hi);
    return 0;
}

static inline int on_page(const Block *b, uint32_t lo, uint32_t hi)
{
    return b->state == 1 && b->phys_lo <= hi && b->phys_hi >= lo;
}

static void drop(Runtime *rt, Block *b)
{
    chain_cut(b);
    b->state = 2;
    rt->block_dead++;
    rt->stat_invalidated++;
}

/* A block whose linear page now maps other physical bytes (dispatch.c):
 * its key is made again from what is there now. */
void bt_drop(Runtime *rt, Block *b)
{
    code_enter();
    drop(rt, b);
    code_leave();
}

/* Drop every translation with code on physical page `page`: the blocks
 * its key list names.  A key may be stale (its block dropped through
 * another page, or made again elsewhere): the live block of that key goes
 * only if its span still reaches the page.  The native code stays
 * allocated (a thread may be inside it); only the index forgets it. */
void smc_invalidate_page(Runtime *rt, uint32_t page)
{
    uint32_t lo = page << PAGE_BITS, hi = lo + PAGE_SIZE - 1;
    PageKeys *pk = &rt->page_keys[page];
    code_enter();
    if (forget_if_stale(rt)) {
        code_leave();
        return; /* (nothing is left to drop) */
    }
    if (pk->n == PK_ALL) {
        for (uint32_t i = 0; i < rt->block_cap; i++)
            if (on_page(&rt->blocks[i], lo, hi)) drop(rt, &rt->blocks[i]);
    } else {
        for (uint32_t i = 0; i < pk->n; i++) {
            const uint32_t *k = &pk->keys[3 * i];
            Block *b = bt_lookup(rt, k[0], k[1], k[2]);
            if (b && on_page(b, lo, hi)) drop(rt, b);
        }
    }
    code_leave();
    pk->n = 0;
    rt->code_page[page] = 0; /* write TLB entries refill on the next miss */
    memset(&rt->code_lines[page * LINE_WORDS], 0, LINE_WORDS * sizeof(uint64_t));
    rt->stat_smc_pages++;
    /* The running block may have been made from these bytes: end it at the
     * next instruction boundary so the rest is retranslated. */
    if (rt->cpu.cur_phys_lo <= hi && rt->cpu.cur_phys_hi >= lo)
        __atomic_or_fetch(&rt->cpu.exit_request, EXIT_SMC, __ATOMIC_SEQ_CST);
}

/* A write to the 8-byte line at `phys`, which holds translated code: drop
 * only the blocks whose span reaches that line, and keep the page's other
 * blocks with their keys and code lines (a kernel patching call sites one
 * by one must not lose the patcher's own blocks on the same page each
 * time).  A span is a block's envelope, so a surviving region may mark
 * lines that are not its code: more invalidation, never less. */
void smc_invalidate_line(Runtime *rt, uint32_t phys)
{
    uint32_t page = phys >> PAGE_BITS;
    PageKeys *pk = &rt->page_keys[page];
    if (pk->n == PK_ALL) {
        smc_invalidate_page(rt, page);
        return;
    }
    code_enter();
    if (forget_if_stale(rt)) {
        code_leave();
        return; /* (nothing is left to drop) */
    }
    uint32_t plo = page << PAGE_BITS, phi = plo + PAGE_SIZE - 1;
    uint32_t llo = phys & ~((1u << LINE_BITS) - 1), lhi = llo + (1u << LINE_BITS) - 1;
    uint64_t *lines = &rt->code_lines[page * LINE_WORDS];
    memset(lines, 0, LINE_WORDS * sizeof(uint64_t));
    uint32_t kept = 0;
    for (uint32_t i = 0; i < pk->n; i++) {
        const uint32_t *k = &pk->keys[3 * i];
        Block *b = bt_lookup(rt, k[0], k[1], k[2]);
        if (!b || !on_page(b, plo, phi)) continue; /* a stale key */
        if (on_page(b, llo, lhi)) {
            drop(rt, b);
            continue;
        }
        memmove(&pk->keys[3 * kept++], k, 3 * sizeof(uint32_t));
        uint32_t lo = b->phys_lo < plo ? 0 : b->phys_lo - plo;
        uint32_t hi = b->phys_hi > phi ? PAGE_SIZE - 1 : b->phys_hi - plo;
        for (uint32_t l = lo >> LINE_BITS; l <= hi >> LINE_BITS; l++) lines[l >> 6] |= 1ull << (l & 63);
    }
    code_leave();
    pk->n = kept;
    if (!kept) rt->code_page[page] = 0; /* write TLB entries refill on the next miss */
    rt->stat_smc_pages++;
    if (rt->cpu.cur_phys_lo <= lhi && rt->cpu.cur_phys_hi >= llo)
        __atomic_or_fetch(&rt->cpu.exit_request, EXIT_SMC, __ATOMIC_SEQ_CST);
}

/* Empty the table and the pages' code marks; `cut` unhooks the chains
 * into each block first (their jump slots must still exist). */
static void clear_table(Runtime *rt, int cut)
{
    /* Nothing registered since the last clear (a reset at power-on): no
     * block and no page mark (8 M instructions of walking saved a boot). */
    if (rt->block_used == 0) return;
    for (uint32_t i = 0; i < rt->block_cap; i++) {
        if (rt->blocks[i].state == 1) rt->stat_invalidated++;
        if (cut) chain_cut(&rt->blocks[i]);
        else free(rt->blocks[i].in_slots);
    }
    memset(rt->blocks, 0, rt->block_cap * sizeof(Block));
    rt->block_used = rt->block_dead = 0;
    for (uint32_t p = 0; p < NPAGES; p++)
        if (rt->code_page[p]) {
            rt->code_page[p] = 0;
            rt->page_keys[p].n = 0;
            memset(&rt->code_lines[p * LINE_WORDS], 0, LINE_WORDS * sizeof(uint64_t));
        }
}

/* Drop the whole cache (reset, mode changes that alter every block). */
void bt_flush(CPUState *s)
{
    Runtime *rt = RT(s);
    code_enter();
    if (!forget_if_stale(rt)) clear_table(rt, 1);
    code_leave();
}

/* Forget every translation of a table whose code the arena no longer
 * holds (arena_reclaim): as bt_flush, but the jump slots went with the
 * code, so none is written; the table then belongs to the current epoch. */
void bt_forget(CPUState *s)
{
    Runtime *rt = RT(s);
    clear_table(rt, 0);
    s->last_slot = NULL;
    rt->code_epoch = arena_epoch();
}

/* Translations still live for physical page `page` (tests, monitor). */
uint32_t bt_count_page(CPUState *s, uint32_t page)
{
    Runtime *rt = RT(s);
    uint32_t lo = page << PAGE_BITS, hi = lo + PAGE_SIZE - 1, n = 0;
    for (uint32_t i = 0; i < rt->block_cap; i++) n += on_page(&rt->blocks[i], lo, hi);
    return n;
}

/* The linear addresses of the live translations for (cs_base, hflags)
 * made from physical page `page`: code that has run, for the region
 * compiler.  Returns how many there are (at most `max` written). */
uint32_t bt_page_pcs(CPUState *s, uint32_t page, uint32_t cs_base, uint32_t hflags, uint32_t *out, uint32_t max)
{
    Runtime *rt = RT(s);
    uint32_t n = 0;
    for (uint32_t i = 0; i < rt->block_cap; i++) {
        Block *b = &rt->blocks[i];
        if (b->state == 1 && b->phys_lo >> PAGE_BITS == page && b->cs_base == cs_base && b->hflags == hflags) {
            if (n < max) out[n] = b->pc;
            n++;
        }
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
