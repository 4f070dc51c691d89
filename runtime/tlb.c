/* Linear-to-physical translation and the software TLB.
 *
 * Translated code indexes s->rd_page / s->wr_page by linear page.  An empty
 * entry sends the access to the slow path, which translates here (A20,
 * then the 386 two-level page walk with 4 MiB PSE pages, or PAE's three
 * levels with 2 MiB pages; accessed/dirty bits, U/S and R/W with CR0.WP),
 * raises #PF through fault_pending, and fills the entry when the physical
 * page is plain memory.  A write entry
 * is filled only for a page whose dirty bit is set and that holds no
 * translated code, so the fast path never skips a D-bit update or an SMC
 * check.  With CR4.PGE, entries of global pages survive CR3 loads. */
#include "jitemu.h"

static void fill(CPUState *s, uint32_t lpage, uint32_t ppage, int write, int global)
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
    rt->tlb_global[lpage] = global;
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

/* PAE entries: address bits 35:12 (MAXPHYADDR 36); bits 63:36 are
 * reserved (no NX without EFER), as are bits 20:13 of a 2 MiB PDE and, in
 * a PDPTE, bits 2:1 and 8:5. */
#define PAE_ADDR 0x0000000ffffff000ull
#define PAE_RSVD 0xfffffff000000000ull
#define PAE_RSVD_2M 0x00000000001fe000ull
#define PDPTE_RSVD (PAE_RSVD | 0x1e6ull)
#define BEYOND (1ull << 32) /* physical addresses from here hold nothing */

/* A paging-structure entry at physical `a`: 4 or 8 bytes.  Above 4 GiB
 * there is nothing (open bus: all ones). */
static uint64_t read_entry(CPUState *s, uint64_t a, int size)
{
    if (a >= BEYOND) return ~0ull;
    uint32_t p = (uint32_t)a & s->a20_mask;
    uint64_t v = phys_read(s, p, 4);
    if (size == 8) v |= (uint64_t)phys_read(s, (p + 4) & s->a20_mask, 4) << 32;
    return v;
}

/* Accessed and dirty bits live in an entry's low dword. */
static void write_entry(CPUState *s, uint64_t a, uint32_t low)
{
    if (a < BEYOND) phys_write(s, (uint32_t)a & s->a20_mask, low, 4);
}

/* PAE: the PDPTEs from CR3 into the CPU, as MOV to CR3 (and to CR0/CR4
 * turning PAE paging on) loads them: -1, and nothing loaded, when a
 * present one has a reserved bit set (the MOV is then #GP(0)). */
int cpu_load_pdptes(CPUState *s, uint32_t cr3)
{
    uint64_t e[4];
    for (int i = 0; i < 4; i++) {
        e[i] = read_entry(s, (cr3 & ~0x1fu) + 8u * i, 8);
        if ((e[i] & 1) && (e[i] & PDPTE_RSVD)) return -1;
    }
    for (int i = 0; i < 4; i++) s->pdpte[i] = e[i];
    return 0;
}

/* Translate `lin` for an access at CPL 3 (`user`) or a supervisor one;
 * returns 0 and sets *phys, -1 after recording a #PF in fault_pending, or
 * 1 when it maps to a physical address at or above 4 GiB (PAE), where
 * this machine has nothing.  With `fill` (which only an access at the
 * current CPL may ask: TLB entries carry its checks), a successful
 * translation to memory fills the TLB entry for the page.  The walks: the
 * 386's two levels (4 MiB pages with CR4.PSE), or PAE's PDPTE (the
 * register), directory and table of 8-byte entries (2 MiB pages), which
 * check reserved bits (#PF with RSVD, bit 3). */
int tlb_translate_as(CPUState *s, uint32_t lin, int write, int do_fill, uint32_t *phys, int user)
{
    if (!(s->cr[0] & 0x80000000u)) {
        uint32_t p = lin & s->a20_mask;
        *phys = p;
        if (do_fill) fill(s, lin >> PAGE_BITS, p >> PAGE_BITS, write, 0);
        return 0;
    }
    uint32_t err = (write ? 2 : 0) | (user ? 4 : 0);
    uint64_t dir_addr, tbl_addr = 0, dir, tbl, pbase;
    int big;
    if (s->cr[4] & CR4_PAE) {
        uint64_t pdpte = s->pdpte[lin >> 30];
        if (!(pdpte & 1)) return page_fault(s, lin, err);
        dir_addr = (pdpte & PAE_ADDR) + 8u * ((lin >> 21) & 0x1ff);
        dir = read_entry(s, dir_addr, 8);
        if (!(dir & 1)) return page_fault(s, lin, err);
        big = (dir & 0x80) != 0; /* 2 MiB pages whatever CR4.PSE says */
        if ((dir & PAE_RSVD) || (big && (dir & PAE_RSVD_2M))) return page_fault(s, lin, err | 9);
        if (big) {
            tbl = dir;
            pbase = (dir & PAE_ADDR & ~0x1fffffull) | (lin & 0x001ff000u);
        } else {
            tbl_addr = (dir & PAE_ADDR) + 8u * ((lin >> 12) & 0x1ff);
            tbl = read_entry(s, tbl_addr, 8);
            if (!(tbl & 1)) return page_fault(s, lin, err);
            if (tbl & PAE_RSVD) return page_fault(s, lin, err | 9);
            pbase = tbl & PAE_ADDR;
        }
    } else {
        dir_addr = (s->cr[3] & ~0xfffu) + ((lin >> 22) << 2);
        dir = read_entry(s, dir_addr, 4);
        if (!(dir & 1)) return page_fault(s, lin, err);
        big = (dir & 0x80) && (s->cr[4] & CR4_PSE);
        if (big) {
            tbl = dir;
            pbase = (dir & 0xffc00000u) | (lin & 0x003ff000u);
        } else {
            tbl_addr = (dir & ~0xfffu) + (((lin >> 12) & 0x3ff) << 2);
            tbl = read_entry(s, tbl_addr, 4);
            if (!(tbl & 1)) return page_fault(s, lin, err);
            pbase = tbl & ~0xfffu;
        }
    }
    uint32_t pde = (uint32_t)dir, pte = (uint32_t)tbl;
    uint32_t flags = big ? pde : pde & pte; /* U/S and R/W: the stricter of the two */
    int writable = (flags & 2) != 0, user_ok = (flags & 4) != 0;
    if (user && !user_ok) return page_fault(s, lin, err | 1);
    if (write && !writable && (user || (s->cr[0] & 0x10000u))) return page_fault(s, lin, err | 1);
    /* Accessed and dirty bits, as the CPU writes them. */
    if (!(pde & 0x20) || (big && write && !(pde & 0x40))) {
        pde |= 0x20 | (big && write ? 0x40 : 0);
        write_entry(s, dir_addr, pde);
    }
    if (!big && (!(pte & 0x20) || (write && !(pte & 0x40)))) {
        pte |= 0x20 | (write ? 0x40 : 0);
        write_entry(s, tbl_addr, pte);
    }
    if (pbase >= BEYOND) {
        *phys = 0;
        return 1;
    }
    uint32_t base = (uint32_t)pbase & s->a20_mask;
    *phys = base | (lin & 0xfffu);
    /* A clean page gets a read entry only, so the first write comes back
     * here and sets D; a read-only page (for this CPL) never gets a write
     * entry. */
    int dirty = big ? (pde & 0x40) : (pte & 0x40);
    int can_write = writable || (!user && !(s->cr[0] & 0x10000u));
    /* CR4.PGE: a global page's entry (G in the PTE, or in a large page's
     * PDE) outlives a CR3 load. */
    int global = (s->cr[4] & CR4_PGE) && (pte & 0x100);
    if (do_fill) fill(s, lin >> PAGE_BITS, base >> PAGE_BITS, write || (dirty && can_write), global);
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
 * helpers check a whole frame this way before they change anything.  (A
 * page above 4 GiB can be accessed: nothing is there.) */
static int probe_page(CPUState *s, uint32_t lin, int write, int user)
{
    uint32_t phys;
    /* A TLB entry says yes at once: it was filled at this CPL (user, or a
     * supervisor access, which a CPL 3 entry allows too), a write entry
     * only for a dirty page. */
    if ((!user || ((s->hflags >> HF_CPL_SHIFT) & 3) == 3) && (write ? s->wr_page : s->rd_page)[lin >> PAGE_BITS])
        return 0;
    return tlb_translate_as(s, lin, write, 0, &phys, user) < 0 ? -1 : 0;
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

/* A CR3 load (MOV to CR3, a task switch): every entry but the global
 * ones (tlb_global is set only while CR4.PGE is, and a CR4 write that
 * changes PGE flushes everything). */
void tlb_flush_nonglobal(CPUState *s)
{
    Runtime *rt = RT(s);
    uint32_t kept = 0;
    if (rt->tlb_nfill >= TLB_FILL_MAX) {
        for (uint32_t p = 0; p < NPAGES; p++) {
            if (!s->rd_page[p] && !s->wr_page[p]) continue;
            if (rt->tlb_global[p] && kept < TLB_FILL_MAX) { rt->tlb_fill[kept++] = p; continue; }
            s->rd_page[p] = s->wr_page[p] = NULL;
        }
    } else {
        for (uint32_t i = 0; i < rt->tlb_nfill; i++) {
            uint32_t p = rt->tlb_fill[i];
            if (rt->tlb_global[p]) rt->tlb_fill[kept++] = p;
            else s->rd_page[p] = s->wr_page[p] = NULL;
        }
    }
    rt->tlb_nfill = kept;
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

/* INVLPG and the flushes the host asks for.  Translations stay: blocks
 * are keyed by linear address, and the dispatcher checks that a block's
 * page still maps the physical page it was made from before it runs it
 * (chains never cross a page with paging on).  The running chain stops
 * at the next block, so that check comes at once. */
void helper_invlpg(CPUState *s, uint32_t lin)
{
    tlb_flush_page(s, lin);
    __atomic_or_fetch(&s->exit_request, EXIT_MAP, __ATOMIC_SEQ_CST);
}
void cpu_tlb_flush(CPUState *s) { tlb_flush(s); }
