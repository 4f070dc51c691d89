/* Control registers, descriptor-table registers, CPUID, RDTSC, RDPMC,
 * MSRs, SYSENTER and SYSEXIT. */
#include "jitemu.h"

/* CPUID: a Pentium II (family 6, model 3, stepping 3: signature 0x633,
 * also EDX at reset).  Model 3 because Linux drops SEP on family 6 model <
 * 3 stepping < 3, where SYSENTER was not there (the Pentium Pro).  Leaf 1
 * EDX says exactly what is implemented: the x87 (FPU, bit 0) when
 * CPU_HAS_FPU, PSE TSC MSR PAE CX8 SEP MTRR PGE CMOV FXSR, and APIC (bit 9) when
 * a local APIC is attached and IA32_APIC_BASE enables it (SDM: the flag
 * follows the global enable); no VME DE MCE MCA PAT PSE-36 MMX (and so, FXSR without SSE).  No leaf 80000008h: physical addresses have 36 bits
 * (MAXPHYADDR). */
#define CPUID_SIGNATURE 0x633u
#define CPUID_MAX_LEAF 2u
#define CPUID_FEATURES ((1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 11) | \
                        (1u << 12) | (1u << 13) | (1u << 15) | (1u << 24)) /* PSE TSC MSR PAE CX8 SEP MTRR PGE CMOV FXSR */
#define APIC_BASE_ENABLE 0x800u /* IA32_APIC_BASE bit 11: the APIC's global enable */
#define MICROCODE_REV 1u /* as QEMU reports for Intel parts */

void helper_cpuid(CPUState *s)
{
    uint32_t leaf = s->regs[R_EAX], a = 0, b = 0, c = 0, d = 0;
    /* Above the highest leaf (extended leaves too: a Pentium II has none)
     * Intel returns the highest basic leaf's data (SDM CPUID). */
    if (leaf > CPUID_MAX_LEAF) leaf = CPUID_MAX_LEAF;
    if (leaf == 0) {
        a = CPUID_MAX_LEAF;
        b = 0x756e6547; d = 0x49656e69; c = 0x6c65746e; /* GenuineIntel */
    } else if (leaf == 1) {
        a = CPUID_SIGNATURE;
        d = (CPU_HAS_FPU ? 1u : 0u) | CPUID_FEATURES;
        if (RT(s)->apic_present && (RT(s)->msr_apic_base & APIC_BASE_ENABLE)) d |= 1u << 9;
        /* CPUID 1 also loads the microcode revision into BIOS_SIGN_ID
         * (SDM 9.11.7.1: write 0, CPUID 1, read the MSR). */
        RT(s)->msr_bios_sign_id = (uint64_t)MICROCODE_REV << 32;
    } else {
        /* Leaf 2, cache and TLB descriptors, one call's worth (AL = 1): a
         * Pentium II's: 32- and 64-entry 4 KiB I/D TLBs, 2- and 8-entry
         * 4 MiB TLBs, 16 KiB L1 I and D, 512 KiB L2. */
        a = 0x03020101;
        d = 0x0c040843;
    }
    s->regs[R_EAX] = a; s->regs[R_EBX] = b; s->regs[R_ECX] = c; s->regs[R_EDX] = d;
}

static inline uint32_t cpl(CPUState *s) { return (s->hflags >> HF_CPL_SHIFT) & 3; }

static void gp0(CPUState *s)
{
    s->last_exception = 13;
    s->exc_error_code = 0;
    s->exc_count++;
    s->icount++; /* an exception takes guest time too (layout.py: icount) */
    cpu_deliver_error(s, 13, s->eip, 1, 0);
}

/* The TSC counts retired guest instructions (deterministic across runs):
 * the guest clock (jitemu/clock.py: icount + tsc_offset, which also skips
 * halted time) plus what WRMSR moved it by.  (Its callers are timed
 * helper calls: icount is exact.) */
static uint64_t tsc(CPUState *s)
{
    return s->icount + s->tsc_offset + RT(s)->tsc_adjust;
}

/* RDTSC; #GP(0) at CPL > 0 with CR4.TSD. */
int helper_rdtsc(CPUState *s)
{
    if ((s->cr[4] & CR4_TSD) && cpl(s)) { gp0(s); return 1; }
    uint64_t t = tsc(s);
    s->regs[R_EAX] = (uint32_t)t;
    s->regs[R_EDX] = (uint32_t)(t >> 32);
    return 0;
}

/* RDPMC: #GP(0) at CPL > 0 without CR4.PCE, and for a counter a P6 does
 * not have (ECX other than 0 or 1).  No events are modelled, so both
 * 40-bit counters read 0 (their event-select MSRs, 0x186-0x187, are not
 * there: WRMSR to them is #GP, and Linux then counts in software). */
int helper_rdpmc(CPUState *s)
{
    if ((!(s->cr[4] & CR4_PCE) && cpl(s)) || s->regs[R_ECX] > 1) { gp0(s); return 1; }
    s->regs[R_EAX] = 0;
    s->regs[R_EDX] = 0;
    return 0;
}

/* SYSENTER and SYSEXIT load flat CS and SS without reading the GDT: the
 * hidden caches get fixed values (SDM: base 0, limit 4 GiB, G, D/B, P, S;
 * CS execute/read accessed, SS read/write accessed; DPL 0 or 3). */
#define FLAT_CODE 0x00c09b00u
#define FLAT_DATA 0x00c09300u

static void load_flat(CPUState *s, int seg, uint32_t sel, uint32_t flags)
{
    s->seg_sel[seg] = sel & 0xffff;
    s->seg_base[seg] = 0;
    s->seg_limit[seg] = 0xffffffffu;
    s->seg_flags[seg] = flags;
}

/* SYSENTER: #GP(0) in real mode or with SYSENTER_CS[15:2] zero; clears
 * VM IF RF; ring 0 at SYSENTER_CS:SYSENTER_EIP, SS = CS + 8, ESP =
 * SYSENTER_ESP.  Returns nonzero after a fault. */
int helper_sysenter(CPUState *s)
{
    Runtime *rt = RT(s);
    uint32_t cs = (uint32_t)rt->msr_sysenter_cs & 0xffff;
    if (!(s->cr[0] & 1) || !(cs & 0xfffc)) { gp0(s); return 1; }
    s->eflags &= ~(VM_MASK | IF_MASK | RF_MASK);
    load_flat(s, R_CS, cs & 0xfffc, FLAT_CODE);
    load_flat(s, R_SS, (cs & 0xfffc) + 8, FLAT_DATA);
    s->regs[R_ESP] = (uint32_t)rt->msr_sysenter_esp;
    s->eip = (uint32_t)rt->msr_sysenter_eip;
    cpu_update_hflags(s);
    return 0;
}

/* SYSEXIT: #GP(0) in real mode, at CPL > 0 or with SYSENTER_CS[15:2]
 * zero; ring 3 at CS = SYSENTER_CS + 16, SS = SYSENTER_CS + 24 (RPL 3),
 * EIP = EDX, ESP = ECX.  Flags are left alone. */
int helper_sysexit(CPUState *s)
{
    Runtime *rt = RT(s);
    uint32_t cs = (uint32_t)rt->msr_sysenter_cs & 0xffff;
    if (!(s->cr[0] & 1) || cpl(s) || !(cs & 0xfffc)) { gp0(s); return 1; }
    load_flat(s, R_CS, ((cs + 16) & 0xffff) | 3, FLAT_CODE | 0x6000);
    load_flat(s, R_SS, ((cs + 24) & 0xffff) | 3, FLAT_DATA | 0x6000);
    s->regs[R_ESP] = s->regs[R_ECX];
    s->eip = s->regs[R_EDX];
    cpu_update_hflags(s);
    return 0;
}

/* MSRs: the ones Linux touches on a family 6 part at boot.  Any other
 * index is #GP(0) (SDM RDMSR/WRMSR; QEMU with KVM does the same, QEMU's
 * TCG reads 0), as is a write to a read-only one or of reserved bits. */
#define MSR_TSC 0x10
#define MSR_PLATFORM_ID 0x17
#define MSR_APIC_BASE 0x1b
#define MSR_BIOS_SIGN_ID 0x8b
#define MSR_MTRRCAP 0xfe
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define MSR_MISC_ENABLE 0x1a0
#define MSR_MTRR_VAR 0x200 /* 0x200-0x20f */
#define MSR_PAT 0x277
#define MSR_MTRR_DEF_TYPE 0x2ff
/* MTRRcap: 8 variable ranges, the fixed ranges, write-combining. */
#define MTRRCAP (8u | (1u << 8) | (1u << 10))
/* A P6 has 36 physical address bits (MAXPHYADDR; SeaBIOS assumes 36 too
 * when CPUID has no leaf 80000008h): MTRR bits 63:36 are reserved. */
#define PHYS_MASK 0xfffffffffull
#define MISC_ENABLE_RESET 1u /* fast strings, as QEMU */

/* The fixed-range MTRR at `msr` (its index in mtrr_fixed), or -1. */
static int mtrr_fixed_index(uint32_t msr)
{
    if (msr == 0x250) return 0;
    if (msr == 0x258 || msr == 0x259) return 1 + (msr - 0x258);
    if (msr >= 0x268 && msr <= 0x26f) return 3 + (msr - 0x268);
    return -1;
}

/* A memory type the MTRRs take: UC WC WT WP WB (2, 3 and 7 up are not). */
static int mtrr_type_ok(uint64_t t) { return t == 0 || t == 1 || t == 4 || t == 5 || t == 6; }

static int mtrr_bytes_ok(uint64_t v)
{
    for (int i = 0; i < 8; i++)
        if (!mtrr_type_ok((v >> (8 * i)) & 0xff)) return 0;
    return 1;
}

/* PAT entries: UC WC WT WP WB UC- (2 and 3 reserved), bits 7:3 zero. */
static int pat_ok(uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        uint64_t t = (v >> (8 * i)) & 0xff;
        if (t > 7 || t == 2 || t == 3) return 0;
    }
    return 1;
}

void cpu_reset_msrs(CPUState *s)
{
    Runtime *rt = RT(s);
    rt->msr_apic_base = 0xfee00900u; /* BSP, enabled, default base */
    rt->msr_pat = 0x0007040600070406ull;
    rt->msr_misc_enable = MISC_ENABLE_RESET;
    rt->msr_bios_sign_id = (uint64_t)MICROCODE_REV << 32;
    rt->msr_sysenter_cs = rt->msr_sysenter_esp = rt->msr_sysenter_eip = 0;
    memset(rt->mtrr_var, 0, sizeof rt->mtrr_var);
    memset(rt->mtrr_fixed, 0, sizeof rt->mtrr_fixed);
    rt->mtrr_def_type = 0; /* MTRRs disabled: everything UC */
    rt->tsc_adjust = 0;
}

int helper_rdmsr(CPUState *s)
{
    Runtime *rt = RT(s);
    uint32_t msr = s->regs[R_ECX];
    int fx = mtrr_fixed_index(msr);
    uint64_t v;
    if (fx >= 0) v = rt->mtrr_fixed[fx];
    else if (msr >= MSR_MTRR_VAR && msr < MSR_MTRR_VAR + 16) v = rt->mtrr_var[msr - MSR_MTRR_VAR];
    else switch (msr) {
    case MSR_TSC: v = tsc(s); break;
    case MSR_PLATFORM_ID: v = 0; break; /* platform 0 (bits 52:50) */
    case MSR_APIC_BASE: v = rt->msr_apic_base; break;
    case MSR_BIOS_SIGN_ID: v = rt->msr_bios_sign_id; break;
    case MSR_MTRRCAP: v = MTRRCAP; break;
    case MSR_SYSENTER_CS: v = rt->msr_sysenter_cs; break;
    case MSR_SYSENTER_ESP: v = rt->msr_sysenter_esp; break;
    case MSR_SYSENTER_EIP: v = rt->msr_sysenter_eip; break;
    case MSR_MISC_ENABLE: v = rt->msr_misc_enable; break;
    case MSR_PAT: v = rt->msr_pat; break;
    case MSR_MTRR_DEF_TYPE: v = rt->mtrr_def_type; break;
    default: gp0(s); return 1;
    }
    s->regs[R_EAX] = (uint32_t)v;
    s->regs[R_EDX] = (uint32_t)(v >> 32);
    return 0;
}

int helper_wrmsr(CPUState *s)
{
    Runtime *rt = RT(s);
    uint32_t msr = s->regs[R_ECX];
    uint64_t v = ((uint64_t)s->regs[R_EDX] << 32) | s->regs[R_EAX];
    int fx = mtrr_fixed_index(msr);
    if (fx >= 0) {
        if (!mtrr_bytes_ok(v)) goto gp;
        rt->mtrr_fixed[fx] = v;
        return 0;
    }
    if (msr >= MSR_MTRR_VAR && msr < MSR_MTRR_VAR + 16) {
        /* PhysBase: type 7:0, base 31:12; PhysMask: valid 11, mask 31:12 */
        int mask = msr & 1;
        uint64_t ok = mask ? (PHYS_MASK & ~0xfffull) | 0x800 : (PHYS_MASK & ~0xfffull) | 0xff;
        if ((v & ~ok) || (!mask && !mtrr_type_ok(v & 0xff))) goto gp;
        rt->mtrr_var[msr - MSR_MTRR_VAR] = v;
        return 0;
    }
    switch (msr) {
    case MSR_TSC:
        /* A P6 writes the low 32 bits and clears the high ones (SDM
         * 17.17: before family 0FH model 03H). */
        rt->tsc_adjust = (v & 0xffffffffu) - tsc(s) + rt->tsc_adjust;
        return 0;
    case MSR_APIC_BASE:
        /* BSP (bit 8) is read-only; the base and enable go to the local
         * APIC device, which follows them. */
        rt->msr_apic_base = (v & ~0x100ull) | (rt->msr_apic_base & 0x100u);
        if (rt->apic_present) {
            fio_drain(rt);
            py_log(rt->host, LOG_APIC_BASE, (uint32_t)rt->msr_apic_base, (uint32_t)(rt->msr_apic_base >> 32));
        }
        return 0;
    case MSR_BIOS_SIGN_ID: rt->msr_bios_sign_id = v; return 0; /* the update-signature protocol writes 0 */
    case MSR_SYSENTER_CS: rt->msr_sysenter_cs = v & 0xffff; return 0; /* the selector is all there is */
    case MSR_SYSENTER_ESP: rt->msr_sysenter_esp = v & 0xffffffffu; return 0;
    case MSR_SYSENTER_EIP: rt->msr_sysenter_eip = v & 0xffffffffu; return 0;
    case MSR_MISC_ENABLE: rt->msr_misc_enable = v; return 0;
    case MSR_PAT:
        if (!pat_ok(v)) goto gp;
        rt->msr_pat = v;
        return 0;
    case MSR_MTRR_DEF_TYPE:
        /* type 7:0, FE 10, E 11 */
        if ((v & ~0xcffull) || !mtrr_type_ok(v & 0xff)) goto gp;
        rt->mtrr_def_type = v;
        return 0;
    }
gp:
    gp0(s); /* unknown, read-only (PLATFORM_ID, MTRRcap), or reserved bits */
    return 1;
}

uint32_t helper_read_cr(CPUState *s, int n) { return s->cr[n]; }

/* The CR4 bits of this CPU: setting any other is #GP(0) (SDM MOV to CR4:
 * reserved bits, and those of features CPUID does not report). */
#define CR4_VALID (CR4_TSD | CR4_PSE | CR4_PAE | CR4_PGE | CR4_PCE | CR4_OSFXSR)

static int pae_paging(uint32_t cr0, uint32_t cr4) { return (cr0 & 0x80000000u) && (cr4 & CR4_PAE); }

/* A new CR3 (MOV to CR3, a task switch): with PAE paging its PDPTEs
 * (-1, nothing changed, when one has reserved bits: the MOV is #GP(0));
 * then the TLB but its global entries, and the code cache (blocks are
 * keyed by linear address). */
int cpu_load_cr3(CPUState *s, uint32_t v)
{
    if (pae_paging(s->cr[0], s->cr[4]) && cpu_load_pdptes(s, v)) return -1;
    s->cr[3] = v;
    if (s->cr[4] & CR4_PGE) tlb_flush_nonglobal(s);
    else tlb_flush(s);
    bt_flush(s);
    return 0;
}

/* MOV to CRn; returns nonzero after a #GP.  The block ends after it, since
 * PE and PG change what code means. */
int helper_write_cr(CPUState *s, int n, uint32_t v)
{
    if (n == 0) {
        if ((v & 0x80000000u) && !(v & 1)) { gp0(s); return 1; } /* PG without PE */
        v |= 0x10; /* ET is hardwired on 486+ */
    }
    if (n == 4 && (v & ~CR4_VALID)) { gp0(s); return 1; }
    if (n == 3) {
        if (cpu_load_cr3(s, v)) { gp0(s); return 1; }
        return 0;
    }
    uint32_t old = s->cr[n];
    /* PAE paging after a MOV that changes PG (CR0), or PAE PGE PSE (CR4):
     * the PDPTEs are loaded now (SDM 4.4.1), a bad one is #GP(0). */
    uint32_t cr0 = n == 0 ? v : s->cr[0], cr4 = n == 4 ? v : s->cr[4];
    uint32_t reload = n == 0 ? 0x80000000u : n == 4 ? (CR4_PAE | CR4_PGE | CR4_PSE) : 0;
    if (pae_paging(cr0, cr4) && ((old ^ v) & reload) && cpu_load_pdptes(s, s->cr[3])) { gp0(s); return 1; }
    s->cr[n] = v;
    cpu_update_hflags(s);
    /* A change of PE, PG or WP, or of CR4's PSE, PAE or PGE, flushes the
     * whole TLB, global entries too; the code cache goes as well when the
     * linear-to-physical map may change. */
    uint32_t paging_bits = n == 0 ? 0x80010001u : n == 4 ? (CR4_PSE | CR4_PAE | CR4_PGE) : 0;
    if ((old ^ v) & paging_bits) {
        tlb_flush(s);
        if (n == 4 || ((old | v) & 0x80000000u)) bt_flush(s);
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

/* A local APIC device is attached (or removed): CPUID.1:EDX bit 9 and the
 * IA32_APIC_BASE write notices follow. */
void rt_set_apic(CPUState *s, int on) { RT(s)->apic_present = on ? 1 : 0; }
