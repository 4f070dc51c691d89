/* Protected-mode segment loads through the GDT/LDT, at the current
 * privilege level (privilege checks, call gates and task switches are the
 * rest of the 386 system architecture, still to come). */
#include "jitemu.h"

/* Read the descriptor for `sel`; 0 on success, else the exception vector
 * to raise with error code sel & 0xfffc. */
static int read_descriptor(CPUState *s, uint32_t sel, uint32_t *lo, uint32_t *hi)
{
    uint32_t base = (sel & 4) ? s->ldt_base : s->gdt_base;
    uint32_t limit = (sel & 4) ? s->ldt_limit : s->gdt_limit;
    if ((sel & ~7u) + 7 > limit) return 13;
    *lo = lin_read(s, base + (sel & ~7u), 4);
    *hi = lin_read(s, base + (sel & ~7u) + 4, 4);
    return 0;
}

void seg_cache_from_descriptor(CPUState *s, int seg, uint32_t sel, uint32_t lo, uint32_t hi)
{
    uint32_t limit = (lo & 0xffff) | (hi & 0x000f0000u);
    if (hi & (1u << 23)) limit = (limit << 12) | 0xfff;
    s->seg_sel[seg] = sel & 0xffff;
    s->seg_base[seg] = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u);
    s->seg_limit[seg] = limit;
    s->seg_flags[seg] = hi & 0x00f0ff00u;
}

static void raise_error(CPUState *s, int vector, uint32_t code)
{
    s->last_exception = vector;
    s->exc_error_code = code;
    s->exc_count++;
    cpu_deliver_error(s, vector, s->eip, 1, code);
}

/* Load segment register `seg` with `sel` in protected mode.  Returns 0,
 * or nonzero after delivering #GP/#NP/#SS. */
int seg_load_protected(CPUState *s, int seg, uint32_t sel)
{
    uint32_t lo, hi;
    sel &= 0xffff;
    if ((sel & ~3u) == 0) {
        if (seg == R_SS || seg == R_CS) { raise_error(s, 13, 0); return 1; }
        s->seg_sel[seg] = sel;
        s->seg_base[seg] = 0;
        s->seg_limit[seg] = 0;
        s->seg_flags[seg] = 0; /* null: any use faults (when limits are checked) */
        return 0;
    }
    int v = read_descriptor(s, sel, &lo, &hi);
    if (v) { raise_error(s, v, sel & 0xfffc); return 1; }
    int is_code = (hi >> 11) & 1, is_seg = (hi >> 12) & 1, writable = (hi >> 9) & 1;
    if (!is_seg) { raise_error(s, 13, sel & 0xfffc); return 1; }
    if (seg == R_CS && !is_code) { raise_error(s, 13, sel & 0xfffc); return 1; }
    if (seg == R_SS && (is_code || !writable)) { raise_error(s, 13, sel & 0xfffc); return 1; }
    if (seg != R_CS && seg != R_SS && is_code && !((hi >> 9) & 1)) { raise_error(s, 13, sel & 0xfffc); return 1; }
    if (!(hi & (1u << 15))) { raise_error(s, seg == R_SS ? 12 : 11, sel & 0xfffc); return 1; }
    /* Set the accessed bit, as the CPU does. */
    if (!(hi & 0x100)) {
        uint32_t base = (sel & 4) ? s->ldt_base : s->gdt_base;
        hi |= 0x100;
        lin_write(s, base + (sel & ~7u) + 4, hi, 4);
    }
    seg_cache_from_descriptor(s, seg, seg == R_CS ? (sel & ~3u) | (s->hflags >> HF_CPL_SHIFT & 3) : sel, lo, hi);
    cpu_update_hflags(s);
    return 0;
}
