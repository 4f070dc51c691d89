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
        /* Only a write to a line that translated code came from drops the
         * page's translations: data next to code stays cheap. */
        if (rt->code_page[page] && code_line_hit(rt->code_lines, phys))
            smc_invalidate_page(rt, page);
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

uint32_t phys_read(CPUState *s, uint32_t phys, int size)
{
    uint32_t v = 0;
    for (int i = 0; i < size; i++) v |= read_byte(s, phys + i) << (8 * i);
    return v;
}

void phys_write(CPUState *s, uint32_t phys, uint32_t value, int size)
{
    for (int i = 0; i < size; i++) write_byte(s, phys + i, (uint8_t)(value >> (8 * i)));
}

/* An access of `size` bytes at `lin`, split where it crosses a page (each
 * part translated on its own, as the CPU does), at CPL 3 (`user`) or as a
 * supervisor.  On a fault nothing is written and fault_pending is set.
 * `fill`: the TLB may keep the translation (accesses at the current CPL). */
static uint32_t read_as(CPUState *s, uint32_t lin, int size, int user, int fill)
{
    uint32_t p0, p1, first = PAGE_SIZE - (lin & (PAGE_SIZE - 1));
    if (tlb_translate_as(s, lin, 0, fill, &p0, user)) return 0;
    if ((uint32_t)size <= first) return phys_read(s, p0, size);
    if (tlb_translate_as(s, lin + first, 0, fill, &p1, user)) return 0;
    return phys_read(s, p0, first) | (phys_read(s, p1, size - first) << (8 * first));
}

static void write_as(CPUState *s, uint32_t lin, uint32_t value, int size, int user, int fill)
{
    uint32_t p0, p1, first = PAGE_SIZE - (lin & (PAGE_SIZE - 1));
    if (tlb_translate_as(s, lin, 1, fill, &p0, user)) return;
    if ((uint32_t)size <= first) { phys_write(s, p0, value, size); return; }
    if (tlb_translate_as(s, lin + first, 1, fill, &p1, user)) return;
    phys_write(s, p0, value, first);
    phys_write(s, p1, value >> (8 * first), size - first);
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
 * (through fault_pending) when the page is not there. */
int cpu_code_phys(CPUState *s, uint32_t lin, uint32_t *phys)
{
    return tlb_translate(s, lin, 0, 0, phys);
}
