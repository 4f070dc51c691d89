/* Guest memory slow paths: TLB misses, page-crossing accesses, ROM writes,
 * MMIO, open bus, and writes that hit pages holding translated code.
 * Translated code and C helpers pass linear addresses; devices and the
 * page walker use physical ones. */
#include "jitemu.h"

static uint32_t read_byte(CPUState *s, uint32_t phys)
{
    Runtime *rt = RT(s);
    uint8_t *page = rt->phys_rd[phys >> PAGE_BITS];
    if (page) return page[phys & (PAGE_SIZE - 1)];
    for (int i = 0; i < rt->n_mmio; i++)
        if (phys >= rt->mmio[i].start && phys <= rt->mmio[i].end) {
            fio_drain(rt);
            return py_mmio_read(rt->host, rt->mmio[i].handle, phys, 1) & 0xff;
        }
    return 0xff; /* open bus */
}

static void write_byte(CPUState *s, uint32_t phys, uint8_t v)
{
    Runtime *rt = RT(s);
    uint32_t page = phys >> PAGE_BITS;
    uint8_t *host = rt->ram_page[page];
    if (host) {
        /* Only a write to a line that translated code came from drops
         * translations, those reaching that line: data next to code and
         * code elsewhere on the page stay. */
        if (rt->code_page[page] && code_line_hit(rt->code_lines, phys))
            smc_invalidate_line(rt, phys);
        host[phys & (PAGE_SIZE - 1)] = v;
        return;
    }
    for (int i = 0; i < rt->n_mmio; i++)
        if (phys >= rt->mmio[i].start && phys <= rt->mmio[i].end) {
            fio_drain(rt);
            py_mmio_write(rt->host, rt->mmio[i].handle, phys, v, 1);
            return;
        }
    /* ROM or nothing: writes are dropped. */
}

/* The MMIO region holding all of [phys, phys+size) in one page, or -1:
 * such an access reaches its device as one call of the guest's size (a
 * VGA's word writes are one call, not two), as map_mmio promises. */
static int mmio_whole(Runtime *rt, uint32_t phys, int size)
{
    if (size < 2 || (phys & (PAGE_SIZE - 1)) > PAGE_SIZE - (uint32_t)size) return -1;
    for (int i = 0; i < rt->n_mmio; i++)
        if (phys >= rt->mmio[i].start && phys + (uint32_t)size - 1 <= rt->mmio[i].end) return i;
    return -1;
}

uint32_t phys_read(CPUState *s, uint32_t phys, int size)
{
    Runtime *rt = RT(s);
    int m = rt->phys_rd[phys >> PAGE_BITS] ? -1 : mmio_whole(rt, phys, size);
    if (m >= 0) {
        fio_drain(rt);
        return py_mmio_read(rt->host, rt->mmio[m].handle, phys, size);
    }
    uint32_t v = 0;
    for (int i = 0; i < size; i++) v |= read_byte(s, phys + i) << (8 * i);
    return v;
}

void phys_write(CPUState *s, uint32_t phys, uint32_t value, int size)
{
    Runtime *rt = RT(s);
    int m = rt->ram_page[phys >> PAGE_BITS] ? -1 : mmio_whole(rt, phys, size);
    if (m >= 0) {
        fio_drain(rt);
        py_mmio_write(rt->host, rt->mmio[m].handle, phys, value, size);
        return;
    }
    for (int i = 0; i < size; i++) write_byte(s, phys + i, (uint8_t)(value >> (8 * i)));
}

/* One page's part of an access, after tlb_translate gave `r` for it:
 * memory, or (r = 1: a PAE mapping above 4 GiB) nothing, read as all
 * ones, written nowhere. */
static uint32_t read_part(CPUState *s, int r, uint32_t p, int n)
{
    return r ? (uint32_t)((1ull << (8 * n)) - 1) : phys_read(s, p, n);
}

static void write_part(CPUState *s, int r, uint32_t p, uint32_t v, int n)
{
    if (!r) phys_write(s, p, v, n);
}

/* An access of `size` bytes at `lin`, split where it crosses a page (each
 * part translated on its own, as the CPU does), at CPL 3 (`user`) or as a
 * supervisor.  On a fault nothing is written and fault_pending is set.
 * `fill`: the TLB may keep the translation (accesses at the current CPL). */
static uint32_t read_as(CPUState *s, uint32_t lin, int size, int user, int fill)
{
    uint32_t p0, p1, first = PAGE_SIZE - (lin & (PAGE_SIZE - 1));
    int r0 = tlb_translate_as(s, lin, 0, fill, &p0, user), r1;
    if (r0 < 0) return 0;
    if ((uint32_t)size <= first) return read_part(s, r0, p0, size);
    if ((r1 = tlb_translate_as(s, lin + first, 0, fill, &p1, user)) < 0) return 0;
    return read_part(s, r0, p0, first) | (read_part(s, r1, p1, size - first) << (8 * first));
}

static void write_as(CPUState *s, uint32_t lin, uint32_t value, int size, int user, int fill)
{
    uint32_t p0, p1, first = PAGE_SIZE - (lin & (PAGE_SIZE - 1));
    int r0 = tlb_translate_as(s, lin, 1, fill, &p0, user), r1;
    if (r0 < 0) return;
    if ((uint32_t)size <= first) { write_part(s, r0, p0, value, size); return; }
    if ((r1 = tlb_translate_as(s, lin + first, 1, fill, &p1, user)) < 0) return;
    write_part(s, r0, p0, value, first);
    write_part(s, r1, p1, value >> (8 * first), size - first);
}

static int user_mode(CPUState *s) { return ((s->hflags >> HF_CPL_SHIFT) & 3) == 3; }

uint32_t mem_read_slow(CPUState *s, uint32_t lin, int size)
{
    return read_as(s, lin, size, user_mode(s), 1);
}

void mem_write_slow(CPUState *s, uint32_t lin, uint32_t value, int size)
{
    write_as(s, lin, value, size, user_mode(s), 1);
}

/* The 8-byte accesses of CMPXCHG8B: both pages are translated (and a
 * #PF recorded) before any byte moves, so a fault leaves memory as it was
 * and the instruction restartable.  r[i]: tlb_translate's answer for the
 * page of byte i (1: nothing there). */
static int translate8(CPUState *s, uint32_t lin, int write, uint32_t *p, int *r)
{
    uint32_t first = PAGE_SIZE - (lin & (PAGE_SIZE - 1)), p0, p1 = 0;
    int r0 = tlb_translate(s, lin, write, 1, &p0), r1 = r0;
    if (r0 < 0) return -1;
    if (first < 8 && (r1 = tlb_translate(s, lin + first, write, 1, &p1)) < 0) return -1;
    for (uint32_t i = 0; i < 8; i++) {
        p[i] = i < first ? p0 + i : p1 + (i - first);
        r[i] = i < first ? r0 : r1;
    }
    return 0;
}

uint64_t mem_read_slow8(CPUState *s, uint32_t lin)
{
    uint32_t p[8];
    int r[8];
    uint64_t v = 0;
    if (translate8(s, lin, 0, p, r)) return 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)read_part(s, r[i], p[i], 1) << (8 * i);
    return v;
}

void mem_write_slow8(CPUState *s, uint32_t lin, uint32_t lo, uint32_t hi)
{
    uint32_t p[8];
    int r[8];
    uint64_t v = (uint64_t)hi << 32 | lo;
    if (translate8(s, lin, 1, p, r)) return;
    for (int i = 0; i < 8; i++) write_part(s, r[i], p[i], (uint8_t)(v >> (8 * i)), 1);
}

/* Linear accesses for C helpers: the same TLB as translated code. */
uint32_t lin_read(CPUState *s, uint32_t lin, int size)
{
    uint8_t *page = s->rd_page[lin >> PAGE_BITS];
    uint32_t off = lin & (PAGE_SIZE - 1);
    if (page && off <= PAGE_SIZE - size) {
        if (size == 1) return page[off];
        if (size == 2) { uint16_t v; memcpy(&v, page + off, 2); return v; }
        uint32_t v; memcpy(&v, page + off, 4); return v;
    }
    return mem_read_slow(s, lin, size);
}

void lin_write(CPUState *s, uint32_t lin, uint32_t value, int size)
{
    uint8_t *page = s->wr_page[lin >> PAGE_BITS];
    uint32_t off = lin & (PAGE_SIZE - 1);
    if (page && off <= PAGE_SIZE - size) {
        memcpy(page + off, &value, size); /* little-endian host */
        return;
    }
    mem_write_slow(s, lin, value, size);
}

/* Implicit supervisor accesses: the CPU reads and writes the GDT, LDT,
 * IDT and TSS as a supervisor whatever the CPL (SDM vol. 3, 4.6 "Access
 * Rights"), so at CPL 3 they bypass the TLB, whose entries carry CPL 3's
 * checks. */
uint32_t sys_read(CPUState *s, uint32_t lin, int size)
{
    return user_mode(s) ? read_as(s, lin, size, 0, 0) : lin_read(s, lin, size);
}

void sys_write(CPUState *s, uint32_t lin, uint32_t value, int size)
{
    if (user_mode(s)) write_as(s, lin, value, size, 0, 0);
    else lin_write(s, lin, value, size);
}

/* Host-side access (Python devices, DMA, loaders): physical, with the same
 * rules as the guest, so writes into translated code invalidate it. */
void phys_read_bytes(CPUState *s, uint32_t phys, uint8_t *out, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) out[i] = read_byte(s, phys + i);
}

void phys_write_bytes(CPUState *s, uint32_t phys, const uint8_t *in, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) write_byte(s, phys + i, in[i]);
}

/* Instruction fetch for the translator: linear to physical, raising #PF
 * (through fault_pending) when the page is not there, and #UD for a PAE
 * mapping above 4 GiB: nothing is there, and the all-ones bytes of an
 * empty bus (FF FF) are no instruction. */
int cpu_code_phys(CPUState *s, uint32_t lin, uint32_t *phys)
{
    int r = tlb_translate(s, lin, 0, 0, phys);
    if (r > 0) {
        if (!s->fault_pending) {
            s->fault_pending = 6;
            s->fault_error = 0;
        }
        return -1;
    }
    return r;
}
