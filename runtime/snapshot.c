/* The architectural state the Runtime keeps outside CPUState, for
 * snapshots (jitemu/snapshot.py): MSRs and the task register's type.  A new
 * field of that kind belongs here too, or a restored machine loses it. */
#include "jitemu.h"

#define RT_ARCH_WORDS (11 + 16 + 11)

int rt_arch_words(void) { return RT_ARCH_WORDS; }

void rt_arch_get(CPUState *s, uint64_t *out)
{
    Runtime *rt = RT(s);
    out[0] = rt->msr_apic_base;
    out[1] = rt->msr_pat;
    out[2] = rt->tr_type;
    out[3] = rt->msr_misc_enable;
    out[4] = rt->msr_bios_sign_id;
    out[5] = rt->msr_sysenter_cs;
    out[6] = rt->msr_sysenter_esp;
    out[7] = rt->msr_sysenter_eip;
    out[8] = rt->mtrr_def_type;
    out[9] = rt->tsc_adjust;
    out[10] = 0; /* (spare, so the MTRR arrays start at a round place) */
    memcpy(out + 11, rt->mtrr_var, sizeof rt->mtrr_var);
    memcpy(out + 27, rt->mtrr_fixed, sizeof rt->mtrr_fixed);
}

void rt_arch_set(CPUState *s, const uint64_t *in)
{
    Runtime *rt = RT(s);
    rt->msr_apic_base = in[0];
    rt->msr_pat = in[1];
    rt->tr_type = (uint32_t)in[2];
    rt->msr_misc_enable = in[3];
    rt->msr_bios_sign_id = in[4];
    rt->msr_sysenter_cs = in[5];
    rt->msr_sysenter_esp = in[6];
    rt->msr_sysenter_eip = in[7];
    rt->mtrr_def_type = in[8];
    rt->tsc_adjust = in[9];
    memcpy(rt->mtrr_var, in + 11, sizeof rt->mtrr_var);
    memcpy(rt->mtrr_fixed, in + 27, sizeof rt->mtrr_fixed);
    rt->delivering = DLV_NONE; /* (a snapshot is taken between instructions) */
}

/* Guest RAM pages that are not all zero: their numbers go to `out` (room
 * for every page); returns how many. */
uint32_t rt_ram_nonzero(CPUState *s, uint32_t *out)
{
    Runtime *rt = RT(s);
    uint32_t n = 0, pages = rt->ram_size / PAGE_SIZE;
    for (uint32_t p = 0; p < pages; p++) {
        const uint64_t *w = (const uint64_t *)(rt->ram + (size_t)p * PAGE_SIZE);
        uint64_t acc = 0;
        for (uint32_t i = 0; i < PAGE_SIZE / 8; i++) acc |= w[i];
        if (acc) out[n++] = p;
    }
    return n;
}
