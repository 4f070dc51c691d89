/* Segment register loads and the mode bits (hflags) derived from them. */
#include "jitemu.h"

void cpu_update_hflags(CPUState *s)
{
    uint32_t old = s->hflags, h = 0;
    if ((s->cr[0] & 1) && (s->eflags & VM_MASK)) {
        /* Virtual-8086 mode: CPL 3, 16-bit code and stack (the CS
         * selector's low bits are part of a paragraph, not an RPL). */
        h |= HF_PE | HF_VM | (3u << HF_CPL_SHIFT);
    } else if (s->cr[0] & 1) {
        h |= HF_PE;
        if (s->seg_flags[R_CS] & (1u << 22)) h |= HF_CODE32;
        if (s->seg_flags[R_SS] & (1u << 22)) h |= HF_SS32;
        h |= (s->seg_sel[R_CS] & 3) << HF_CPL_SHIFT;
    }
    if (s->cr[0] & 0x80000000u) h |= HF_PG;
    if (s->eflags & TF_MASK) h |= HF_TF;
    if (s->debug_flags & (DEBUG_STEP | DEBUG_EXACT)) h |= HF_STEP;
    if ((h & HF_PE) && !(h & HF_VM)) {
        /* Flat segments need neither a base add nor a limit check, nor
         * (ES SS DS being writable data) a type check; CS-override
         * accesses are still type-checked. */
        int flat = 1;
        for (int g = R_ES; g <= R_DS; g++) {
            uint32_t f = s->seg_flags[g];
            int writable_data = (f & 0x1e00) == 0x1200; /* S, not code, not expand-down, W */
            if (s->seg_base[g] || s->seg_limit[g] != 0xffffffffu || !(f & 0x8000)) flat = 0;
            if (g != R_CS && !writable_data) flat = 0;
        }
        if (flat) h |= HF_FLAT;
    }
    s->hflags = h;
    /* TLB entries carry permission checks made for one CPL and mode. */
    if ((old ^ h) & (HF_PG | HF_PE | HF_VM | (3u << HF_CPL_SHIFT))) tlb_flush(s);
}

/* Real mode: the selector is the paragraph; limit and attributes stay as
 * they are in the hidden cache, which is what makes "unreal mode" work. */
void seg_load_real(CPUState *s, int seg, uint32_t sel)
{
    sel &= 0xffff;
    s->seg_sel[seg] = sel;
    s->seg_base[seg] = sel << 4;
}

/* MOV/POP to a segment register from translated code.  Returns nonzero if
 * the load faulted (the exception has been delivered). */
int helper_load_seg(CPUState *s, int seg, uint32_t sel)
{
    if (!(s->cr[0] & 1)) {
        seg_load_real(s, seg, sel);
        return 0;
    }
    if (s->eflags & VM_MASK) {
        v86_load_seg(s, seg, sel);
        return 0;
    }
    return seg_load_protected(s, seg, sel);
}
