/* Linear-to-physical translation and the software TLB.
 *
 * Translated code indexes s->rd_page / s->wr_page by linear page.  An empty
 * entry sends the access to the slow path, which translates here (A20,
 * then the 386 two-level page walk with 4 MiB PSE pages, accessed/dirty
 * bits, U/S and R/W with CR0.WP), raises #PF through fault_pending, and
 * fills the entry when the physical page is plain memory.  A write entry
 * is filled only for a page whose dirty bit is set and that holds no
 * translated code, so the fast path never skips a D-bit update or an SMC
 * check. */
#include "jitemu.h"

static void fill(CPUState *s, uint32_t lpage, uint32_t ppage, int write)
{
    Runtime *rt = RT(s);
    uint8_t *rd = rt->phys_rd[ppage];
    uint8_t *wr = (write && !rt->code_page[ppage]) ? rt->ram_page[ppage] : NULL;
    if (!rd && !wr) return;
    if (!s->rd_page[lpage] && !s->wr_page[lpage]) {
        if (rt->tlb_nfill < TLB_FILL_MAX) rt->tlb_fill[rt->tlb_nfill++] = lpage;
        else rt->tlb_nfill = TLB_FILL_MAX; /* too many to list: flush all */
    }
    rt->tlb_phys[lpage] = ppage;
    s->rd_page[lpage] = rd;
    if (wr) s->wr_page[lpage] = wr;
}

static int page_fault(CPUState *s, uint32_t lin, uint32_t code)
{
    /* The first access that faulted is the #PF (a helper may try a few
     * before it looks: a descriptor's two halves). */
    if (!s->fault_pending) {
        s->cr[2] = lin;
        s->fault_error = code;
        s->fault_pending = 14;
    }
    return -1;
}

/* Translate `lin` for an access at CPL 3 (`user`) or a supervisor one;
 * returns 0 and sets *phys, or -1 after recording a #PF in fault_pending.
 * With `fill` (which only an access at the current CPL may ask: TLB
 * entries carry its checks), a successful translation fills the TLB
 * entry for the page. */
int tlb_translate_as(CPUState *s, uint32_t lin, int write, int do_fill, uint32_t *phys, int user)
{
    if (!(s->cr[0] & 0x80000000u)) {
        uint32_t p = lin & s->a20_mask;
        *phys = p;
        if (do_fill) fill(s, lin >> PAGE_BITS, p >> PAGE_BITS, write);
        return 0;
    }
    uint32_t err = (write ? 2 : 0) | (user ? 4 : 0);
    uint32_t pde_addr = ((s->cr[3] & ~0xfffu) + ((lin >> 22) << 2)) & s->a20_mask;
    uint32_t pde = phys_read(s, pde_addr, 4);
    if (!(pde & 1)) return page_fault(s, lin, err);
    uint32_t pte_addr = 0, pte, base, flags, pbase;
    int big = (pde & 0x80) && (s->cr[4] & 0x10);
    if (big) {
        pte = pde;
        flags = pde;
        pbase = (pde & 0xffc00000u) | (lin & 0x003ff000u);
    } else {
        pte_addr = ((pde & ~0xfffu) + (((lin >> 12) & 0x3ff) << 2)) & s->a20_mask;
        pte = phys_read(s, pte_addr, 4);
        if (!(pte & 1)) return page_fault(s, lin, err);
        flags = pde & pte; /* U/S and R/W: the stricter of the two */
        pbase = pte & ~0xfffu;
    }
    int writable = (flags & 2) != 0, user_ok = (flags & 4) != 0;
    if (user && !user_ok) return page_fault(s, lin, err | 1);
    if (write && !writable && (user || (s->cr[0] & 0x10000u))) return page_fault(s, lin, err | 1);
    /* Accessed and dirty bits, as the CPU writes them. */
    if (!(pde & 0x20) || (big && write && !(pde & 0x40))) {
        pde |= 0x20 | (big && write ? 0x40 : 0);
        phys_write(s, pde_addr, pde, 4);
    }
    if (!big && (!(pte & 0x20) || (write && !(pte & 0x40)))) {
        pte |= 0x20 | (write ? 0x40 : 0);
        phys_write(s, pte_addr, pte, 4);
    }
    base = pbase & s->a20_mask;
    *phys = base | (lin & 0xfffu);
    /* A clean page gets a read entry only, so the first write comes back
     * here and sets D; a read-only page (for this CPL) never gets a write
     * entry. */
    int dirty = big ? (pde & 0x40) : (pte & 0x40);
    int can_write = writable || (!user && !(s->cr[0] & 0x10000u));
    if (do_fill) fill(s, lin >> PAGE_BITS, base >> PAGE_BITS, write || (dirty && can_write));
    return 0;
}

/* Translate `lin` for an access at the current CPL. */
int tlb_translate(CPUState *s, uint32_t lin, int write, int do_fill, uint32_t *phys)
{
    return tlb_translate_as(s, lin, write, do_fill, phys, ((s->hflags >> HF_CPL_SHIFT) & 3) == 3);
}

/* Whether [lin, lin+size) could be read (or written) at CPL 3 (`user`) or
 * as a supervisor: 0, or -1 with the #PF recorded in fault_pending.
 * Nothing is accessed but the page tables (accessed and dirty bits, as
 * the access that follows would set them), and the TLB is not filled:
 * helpers check a whole frame this way before they change anything. */
static int probe_page(CPUState *s, uint32_t lin, int write, int user)
{
    uint32_t phys;
    /* A TLB entry says yes at once: it was filled at this CPL (user, or a
     * supervisor access, which a CPL 3 entry allows too), a write entry
     * only for a dirty page. */
    if ((!user || ((s->hflags >> HF_CPL_SHIFT) & 3) == 3) && (write ? s->wr_page : s->rd_page)[lin >> PAGE_BITS])
        return 0;
    return tlb_translate_as(s, lin, write, 0, &phys, user);
}

int tlb_probe(CPUState *s, uint32_t lin, int size, int write, int user)
{
    uint32_t next = (lin | (PAGE_SIZE - 1)) + 1; /* where the access enters a second page */
    if (probe_page(s, lin, write, user)) return -1;
    /* (CR2 is that page's first byte, as for a split access: memory.c) */
    if (next - lin < (uint32_t)size && probe_page(s, next, write, user)) return -1;
    return 0;
}

void tlb_flush(CPUState *s)
{
    Runtime *rt = RT(s);
    if (rt->tlb_nfill >= TLB_FILL_MAX) {
        memset(s->rd_page, 0, NPAGES * sizeof(uint8_t *));
        memset(s->wr_page, 0, NPAGES * sizeof(uint8_t *));
    } else {
        for (uint32_t i = 0; i < rt->tlb_nfill; i++) {
            s->rd_page[rt->tlb_fill[i]] = NULL;
            s->wr_page[rt->tlb_fill[i]] = NULL;
        }
    }
    rt->tlb_nfill = 0;
}

void tlb_flush_page(CPUState *s, uint32_t lin)
{
    s->rd_page[lin >> PAGE_BITS] = NULL;
    s->wr_page[lin >> PAGE_BITS] = NULL;
}

/* A physical page now holds translated code: writes to it must take the
 * slow path, whatever linear page they come through. */
void tlb_drop_writes_to(Runtime *rt, uint32_t ppage)
{
    CPUState *s = &rt->cpu;
    if (rt->tlb_nfill >= TLB_FILL_MAX) {
        for (uint32_t p = 0; p < NPAGES; p++)
            if (s->wr_page[p] && rt->tlb_phys[p] == ppage) s->wr_page[p] = NULL;
        return;
    }
    for (uint32_t i = 0; i < rt->tlb_nfill; i++) {
        uint32_t p = rt->tlb_fill[i];
        if (s->wr_page[p] && rt->tlb_phys[p] == ppage) s->wr_page[p] = NULL;
    }
}

/* INVLPG and the flushes the host asks for. */
void helper_invlpg(CPUState *s, uint32_t lin)
{
    tlb_flush_page(s, lin);
    bt_flush(s); /* blocks are keyed by linear address */
}
void cpu_tlb_flush(CPUState *s) { tlb_flush(s); }
