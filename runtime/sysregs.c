/* Control registers, descriptor-table registers, CPUID, RDTSC and MSRs. */
#include "jitemu.h"

/* CPUID: a family-6 Intel part with PSE, TSC and MSRs, and x87 when
 * CPU_HAS_FPU; leaf 1 EAX equals EDX at reset (Machine.reset). */
void helper_cpuid(CPUState *s)
{
    uint32_t leaf = s->regs[R_EAX], a = 0, b = 0, c = 0, d = 0;
    if (leaf == 0) {
        a = 1;
        b = 0x756e6547; d = 0x49656e69; c = 0x6c65746e; /* GenuineIntel */
    } else if (leaf == 1) {
        a = 0x633;
        d = (CPU_HAS_FPU ? 1u : 0u) | (1u << 3) | (1u << 4) | (1u << 5); /* FPU PSE TSC MSR */
    }
    s->regs[R_EAX] = a; s->regs[R_EBX] = b; s->regs[R_ECX] = c; s->regs[R_EDX] = d;
}

/* RDTSC counts retired guest instructions: deterministic across runs. */
void helper_rdtsc(CPUState *s)
{
    uint64_t t = s->icount + s->tsc_offset;
    s->regs[R_EAX] = (uint32_t)t;
    s->regs[R_EDX] = (uint32_t)(t >> 32);
}

static void gp0(CPUState *s)
{
    s->last_exception = 13;
    s->exc_error_code = 0;
    s->exc_count++;
    s->icount++; /* an exception takes guest time too (layout.py: icount) */
    cpu_deliver_error(s, 13, s->eip, 1, 0);
}

int helper_rdmsr(CPUState *s)
{
    Runtime *rt = RT(s);
    uint64_t v;
    switch (s->regs[R_ECX]) {
    case 0x10: v = s->icount + s->tsc_offset; break;
    case 0x1b: v = rt->msr_apic_base; break;
    case 0x277: v = rt->msr_pat; break;
    default: gp0(s); return 1;
    }
    s->regs[R_EAX] = (uint32_t)v;
    s->regs[R_EDX] = (uint32_t)(v >> 32);
    return 0;
}

int helper_wrmsr(CPUState *s)
{
    Runtime *rt = RT(s);
    uint64_t v = ((uint64_t)s->regs[R_EDX] << 32) | s->regs[R_EAX];
    switch (s->regs[R_ECX]) {
    case 0x10: s->tsc_offset = v - s->icount; break;
    case 0x1b: rt->msr_apic_base = v; break;
    case 0x277: rt->msr_pat = v; break;
    default: gp0(s); return 1;
    }
    return 0;
}

uint32_t helper_read_cr(CPUState *s, int n) { return s->cr[n]; }

/* MOV to CRn; returns nonzero after a #GP.  The block ends after it, since
 * PE and PG change what code means. */
int helper_write_cr(CPUState *s, int n, uint32_t v)
{
    if (n == 0) {
        if ((v & 0x80000000u) && !(v & 1)) { gp0(s); return 1; } /* PG without PE */
        v |= 0x10; /* ET is hardwired on 486+ */
    }
    uint32_t old = s->cr[n];
    s->cr[n] = v;
    cpu_update_hflags(s);
    /* New translations: the TLB always, and the code cache (keyed by
     * linear address) whenever the linear-to-physical map may change. */
    if (n == 3 || n == 4 || (n == 0 && ((old ^ v) & 0x80010001u))) {
        tlb_flush(s);
        if (n != 0 || ((old | v) & 0x80000000u)) bt_flush(s);
    }
    return 0;
}

/* LGDT/LIDT (which 0/1) from the 6-byte operand at `lin`. */
void helper_lgdt(CPUState *s, int which, uint32_t lin, int op32)
{
    uint32_t limit = lin_read(s, lin, 2), base = lin_read(s, lin + 2, 4);
    if (!op32) base &= 0x00ffffffu;
    if (which) { s->idt_base = base; s->idt_limit = limit; }
    else { s->gdt_base = base; s->gdt_limit = limit; }
}

void helper_sgdt(CPUState *s, int which, uint32_t lin)
{
    lin_write(s, lin, which ? s->idt_limit : s->gdt_limit, 2);
    lin_write(s, lin + 2, which ? s->idt_base : s->gdt_base, 4);
}

/* LMSW: loads PE MP EM TS; cannot clear PE. */
void helper_lmsw(CPUState *s, uint32_t v)
{
    uint32_t cr0 = s->cr[0];
    cr0 = (cr0 & ~0xeu) | (v & 0xe) | (cr0 & 1) | (v & 1);
    s->cr[0] = cr0;
    cpu_update_hflags(s);
}
