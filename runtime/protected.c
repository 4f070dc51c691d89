/* The 386 protected-mode system architecture: descriptors, segment loads
 * with privilege checks, far JMP/CALL/RET and IRET within and across
 * privilege levels (call gates, the TSS stack switch), interrupt and trap
 * gates, and task switches through a TSS or task gate; entering
 * virtual-8086 mode (IRET, task switch) and leaving it (interrupts).
 *
 * Every check happens before the state changes, so a fault leaves the
 * instruction restartable; faults are delivered at once (interrupts.c
 * decides what a fault during a delivery becomes: itself, #DF, or a
 * shutdown).  Descriptor tables, the IDT and the TSS are read and written
 * as a supervisor whatever the CPL (sys_read, sys_write). */
#include "jitemu.h"

#define D_TYPE(hi) (((hi) >> 8) & 0xf)
#define D_S(hi) (((hi) >> 12) & 1)
#define D_DPL(hi) (((hi) >> 13) & 3)
#define D_P(hi) (((hi) >> 15) & 1)
#define IS_CODE(hi) (D_S(hi) && (D_TYPE(hi) & 8))
#define CONFORMING(hi) (D_TYPE(hi) & 4)

static inline uint32_t cpl(CPUState *s) { return (s->hflags >> HF_CPL_SHIFT) & 3; }

/* Raise a fault with an error code (or the #PF an earlier access
 * recorded); returns 1 for "faulted" chaining. */
static int fault(CPUState *s, int vector, uint32_t code) { return cpu_raise(s, vector, 1, code); }

static int desc_addr(CPUState *s, uint32_t sel, uint32_t *addr)
{
    uint32_t base = (sel & 4) ? s->ldt_base : s->gdt_base;
    uint32_t limit = (sel & 4) ? s->ldt_limit : s->gdt_limit;
    if ((sel & ~7u) + 7 > limit) return -1;
    *addr = base + (sel & ~7u);
    return 0;
}

/* 0 and the descriptor, or -1 when the selector is outside its table. */
static int desc_read(CPUState *s, uint32_t sel, uint32_t *lo, uint32_t *hi)
{
    uint32_t a;
    if (desc_addr(s, sel, &a)) return -1;
    *lo = sys_read(s, a, 4);
    *hi = sys_read(s, a + 4, 4);
    return 0;
}

static void desc_set_bit(CPUState *s, uint32_t sel, uint32_t bit, int on)
{
    uint32_t a, hi;
    if (desc_addr(s, sel, &a)) return;
    hi = sys_read(s, a + 4, 4);
    hi = on ? (hi | bit) : (hi & ~bit);
    sys_write(s, a + 4, hi, 4);
}

static uint32_t desc_base(uint32_t lo, uint32_t hi) { return (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000u); }

static uint32_t desc_limit(uint32_t lo, uint32_t hi)
{
    uint32_t limit = (lo & 0xffff) | (hi & 0x000f0000u);
    return (hi & (1u << 23)) ? (limit << 12) | 0xfff : limit;
}

static void set_cache(CPUState *s, int seg, uint32_t sel, uint32_t lo, uint32_t hi)
{
    s->seg_sel[seg] = sel & 0xffff;
    s->seg_base[seg] = desc_base(lo, hi);
    s->seg_limit[seg] = desc_limit(lo, hi);
    s->seg_flags[seg] = hi & 0x00f0ff00u;
}

static void set_accessed(CPUState *s, uint32_t sel, uint32_t *hi)
{
    if (!(*hi & 0x100)) {
        *hi |= 0x100;
        desc_set_bit(s, sel, 0x100, 1);
    }
}

/* MOV/POP/LxS to a data segment register or SS, in protected mode. */
int seg_load_protected(CPUState *s, int seg, uint32_t sel)
{
    uint32_t lo, hi, rpl = sel & 3, c = cpl(s);
    sel &= 0xffff;
    if ((sel & ~3u) == 0) {
        if (seg == R_SS) return fault(s, 13, 0);
        s->seg_sel[seg] = sel;
        s->seg_base[seg] = 0;
        s->seg_limit[seg] = 0;
        s->seg_flags[seg] = 0; /* null */
        return 0;
    }
    if (desc_read(s, sel, &lo, &hi)) return fault(s, 13, sel & 0xfffc);
    if (!D_S(hi)) return fault(s, 13, sel & 0xfffc);
    if (seg == R_SS) {
        if (rpl != c || D_DPL(hi) != c || IS_CODE(hi) || !(D_TYPE(hi) & 2))
            return fault(s, 13, sel & 0xfffc);
        if (!D_P(hi)) return fault(s, 12, sel & 0xfffc);
    } else {
        if (IS_CODE(hi) && !(D_TYPE(hi) & 2)) return fault(s, 13, sel & 0xfffc); /* execute-only */
        if (!(IS_CODE(hi) && CONFORMING(hi)) && (rpl > D_DPL(hi) || c > D_DPL(hi)))
            return fault(s, 13, sel & 0xfffc);
        if (!D_P(hi)) return fault(s, 11, sel & 0xfffc);
    }
    set_accessed(s, sel, &hi);
    set_cache(s, seg, sel, lo, hi);
    cpu_update_hflags(s);
    return 0;
}

/* Load CS for a transfer to a code segment at privilege `new_cpl`. */
static void load_cs(CPUState *s, uint32_t sel, uint32_t lo, uint32_t hi, uint32_t new_cpl)
{
    set_accessed(s, sel, &hi);
    set_cache(s, R_CS, (sel & ~3u) | new_cpl, lo, hi);
    cpu_update_hflags(s);
}

/* A new EIP beyond the target code segment's limit is #GP(0), checked
 * before anything changes (SDM JMP, CALL, RET, IRET, interrupt delivery). */
static int check_eip(CPUState *s, uint32_t eip, uint32_t lo, uint32_t hi)
{
    return eip > desc_limit(lo, hi) ? fault(s, 13, 0) : 0;
}

/* Check a code-segment target of a far JMP/CALL (not through a gate). */
static int check_code_target(CPUState *s, uint32_t sel, uint32_t hi)
{
    uint32_t c = cpl(s);
    if (!IS_CODE(hi)) return fault(s, 13, sel & 0xfffc);
    if (CONFORMING(hi) ? D_DPL(hi) > c : ((sel & 3) > c || D_DPL(hi) != c))
        return fault(s, 13, sel & 0xfffc);
    if (!D_P(hi)) return fault(s, 11, sel & 0xfffc);
    return 0;
}

/* Whether TR holds a 32-bit TSS: LTR and task switches keep the
 * descriptor type in RT(s)->tr_type. */
static int tr_is32(CPUState *s) { return RT(s)->tr_type & 8; }

static int inner_stack(CPUState *s, uint32_t dpl, uint32_t *ss, uint32_t *esp)
{
    if (tr_is32(s)) {
        uint32_t off = 4 + dpl * 8;
        if (off + 5 > s->tr_limit) return fault(s, 10, s->tr_sel & 0xfffc);
        *esp = sys_read(s, s->tr_base + off, 4);
        *ss = sys_read(s, s->tr_base + off + 4, 2);
    } else {
        uint32_t off = 2 + dpl * 4;
        if (off + 3 > s->tr_limit) return fault(s, 10, s->tr_sel & 0xfffc);
        *esp = sys_read(s, s->tr_base + off, 2);
        *ss = sys_read(s, s->tr_base + off + 2, 2);
    }
    return 0;
}

/* A stack segment for privilege `dpl`: a present, writable data segment
 * with RPL = DPL = dpl.  Faults with `vector` (#TS for a TSS stack, #GP for
 * a popped one) or #SS when not present. */
static int check_stack(CPUState *s, uint32_t ss, uint32_t dpl, uint32_t *lo, uint32_t *hi, int vector)
{
    if ((ss & ~3u) == 0 || desc_read(s, ss, lo, hi)) return fault(s, vector, ss & 0xfffc);
    if ((ss & 3) != dpl || D_DPL(*hi) != dpl || !D_S(*hi) || IS_CODE(*hi) || !(D_TYPE(*hi) & 2))
        return fault(s, vector, ss & 0xfffc);
    if (!D_P(*hi)) return fault(s, 12, ss & 0xfffc);
    return 0;
}

/* Validate and load the inner stack SS:ESP for privilege `dpl` (#TS). */
static int switch_stack(CPUState *s, uint32_t dpl, uint32_t *old_ss, uint32_t *old_esp)
{
    uint32_t ss, esp, lo, hi;
    if (inner_stack(s, dpl, &ss, &esp)) return 1;
    if (check_stack(s, ss, dpl, &lo, &hi, 10)) return 1;
    *old_ss = s->seg_sel[R_SS];
    *old_esp = s->regs[R_ESP];
    set_accessed(s, ss, &hi);
    set_cache(s, R_SS, ss, lo, hi);
    s->regs[R_ESP] = esp;
    return 0;
}

static void push_w(CPUState *s, int w32, uint32_t v) { if (w32) push32(s, v); else push16(s, v); }

/* After a return to an outer level: data segments the new CPL may not use
 * become null. */
static void null_inaccessible(CPUState *s)
{
    static const int segs[] = {R_ES, R_DS, R_FS, R_GS};
    uint32_t c = cpl(s);
    for (int i = 0; i < 4; i++) {
        int seg = segs[i];
        uint32_t f = s->seg_flags[seg];
        int code_conf = (f & 0x800) && (f & 0x400);
        if ((s->seg_sel[seg] & ~3u) && !code_conf && ((f >> 13) & 3) < c) {
            s->seg_sel[seg] = 0;
            s->seg_flags[seg] = 0;
        }
    }
    cpu_update_hflags(s);
}

int task_switch(CPUState *s, uint32_t sel, uint32_t lo, uint32_t hi, int source, uint32_t next_eip);

/* Far JMP in protected mode. */
int pm_ljmp(CPUState *s, uint32_t sel, uint32_t off, uint32_t next_eip)
{
    uint32_t lo, hi;
    sel &= 0xffff;
    if ((sel & ~3u) == 0 || desc_read(s, sel, &lo, &hi)) return fault(s, 13, sel & 0xfffc);
    if (D_S(hi)) {
        if (check_code_target(s, sel, hi) || check_eip(s, off, lo, hi)) return 1;
        load_cs(s, sel, lo, hi, cpl(s));
        s->eip = off;
        return 0;
    }
    uint32_t type = D_TYPE(hi), c = cpl(s);
    if (type == 1 || type == 9 || type == 5) {
        if (D_DPL(hi) < c || D_DPL(hi) < (sel & 3)) return fault(s, 13, sel & 0xfffc);
        if (!D_P(hi)) return fault(s, 11, sel & 0xfffc);
        return task_switch(s, sel, lo, hi, 0, next_eip);
    }
    if (type == 4 || type == 12) { /* call gate: same privilege only */
        if (D_DPL(hi) < c || D_DPL(hi) < (sel & 3)) return fault(s, 13, sel & 0xfffc);
        if (!D_P(hi)) return fault(s, 11, sel & 0xfffc);
        uint32_t tsel = lo >> 16, toff = (lo & 0xffff) | (type == 12 ? (hi & 0xffff0000u) : 0), tlo, thi;
        if ((tsel & ~3u) == 0 || desc_read(s, tsel, &tlo, &thi) || !IS_CODE(thi))
            return fault(s, 13, tsel & 0xfffc);
        if (CONFORMING(thi) ? D_DPL(thi) > c : D_DPL(thi) != c) return fault(s, 13, tsel & 0xfffc);
        if (!D_P(thi)) return fault(s, 11, tsel & 0xfffc);
        if (check_eip(s, toff, tlo, thi)) return 1;
        load_cs(s, tsel, tlo, thi, c);
        s->eip = toff;
        return 0;
    }
    return fault(s, 13, sel & 0xfffc);
}

/* Far CALL in protected mode. */
int pm_lcall(CPUState *s, uint32_t sel, uint32_t off, int op32, uint32_t next_eip)
{
    uint32_t lo, hi, c = cpl(s);
    sel &= 0xffff;
    if ((sel & ~3u) == 0 || desc_read(s, sel, &lo, &hi)) return fault(s, 13, sel & 0xfffc);
    if (D_S(hi)) {
        if (check_code_target(s, sel, hi) || check_eip(s, off, lo, hi)) return 1;
        uint32_t old_cs = s->seg_sel[R_CS];
        push_w(s, op32, old_cs);
        push_w(s, op32, next_eip);
        load_cs(s, sel, lo, hi, c);
        s->eip = off;
        return 0;
    }
    uint32_t type = D_TYPE(hi);
    if (type == 1 || type == 9 || type == 5) {
        if (D_DPL(hi) < c || D_DPL(hi) < (sel & 3)) return fault(s, 13, sel & 0xfffc);
        if (!D_P(hi)) return fault(s, 11, sel & 0xfffc);
        return task_switch(s, sel, lo, hi, 1, next_eip);
    }
    if (type != 4 && type != 12) return fault(s, 13, sel & 0xfffc);
    if (D_DPL(hi) < c || D_DPL(hi) < (sel & 3)) return fault(s, 13, sel & 0xfffc);
    if (!D_P(hi)) return fault(s, 11, sel & 0xfffc);
    int g32 = type == 12;
    uint32_t tsel = lo >> 16, toff = (lo & 0xffff) | (g32 ? (hi & 0xffff0000u) : 0), tlo, thi;
    uint32_t nparams = hi & 0x1f;
    if ((tsel & ~3u) == 0 || desc_read(s, tsel, &tlo, &thi) || !IS_CODE(thi) || D_DPL(thi) > c)
        return fault(s, 13, tsel & 0xfffc);
    if (!D_P(thi)) return fault(s, 11, tsel & 0xfffc);
    if (check_eip(s, toff, tlo, thi)) return 1;
    uint32_t old_cs = s->seg_sel[R_CS], old_eip = next_eip;
    if (!CONFORMING(thi) && D_DPL(thi) < c) {
        /* More privileged: new stack from the TSS, parameters copied. */
        uint32_t dpl = D_DPL(thi), old_ss, old_esp;
        uint32_t old_ss_base = s->seg_base[R_SS], old_mask = sp_mask(s), w = g32 ? 4 : 2;
        uint32_t params[32];
        for (uint32_t i = 0; i < nparams; i++)
            params[i] = lin_read(s, old_ss_base + ((s->regs[R_ESP] + i * w) & old_mask), w);
        if (switch_stack(s, dpl, &old_ss, &old_esp)) return 1;
        load_cs(s, tsel, tlo, thi, dpl); /* CPL and SS.B for the pushes */
        push_w(s, g32, old_ss);
        push_w(s, g32, old_esp);
        for (uint32_t i = nparams; i-- > 0;) push_w(s, g32, params[i]);
        push_w(s, g32, old_cs);
        push_w(s, g32, old_eip);
    } else {
        push_w(s, g32, old_cs);
        push_w(s, g32, old_eip);
        load_cs(s, tsel, tlo, thi, c);
    }
    s->eip = toff;
    return 0;
}

static uint32_t peek(CPUState *s, uint32_t byte_off, int w)
{
    return lin_read(s, s->seg_base[R_SS] + ((s->regs[R_ESP] + byte_off) & sp_mask(s)), w);
}

static void release(CPUState *s, uint32_t bytes)
{
    uint32_t m = sp_mask(s);
    s->regs[R_ESP] = (s->regs[R_ESP] & ~m) | ((s->regs[R_ESP] + bytes) & m);
}

/* RETF or IRET to an outer level: check the popped SS, then load CS (at
 * the new CPL), SS:ESP, and null the data segments the new CPL may not
 * use.  Nothing changes when the check faults. */
static int return_to_outer(CPUState *s, uint32_t cs, uint32_t lo, uint32_t hi, uint32_t ss, uint32_t esp)
{
    uint32_t rpl = cs & 3, slo, shi;
    if (check_stack(s, ss, rpl, &slo, &shi, 13)) return 1;
    load_cs(s, cs, lo, hi, rpl);
    set_accessed(s, ss, &shi);
    set_cache(s, R_SS, ss, slo, shi);
    s->regs[R_ESP] = esp;
    cpu_update_hflags(s);
    null_inaccessible(s);
    return 0;
}

/* Check a code segment a RETF/IRET returns to; 0 if fine. */
static int check_return_cs(CPUState *s, uint32_t cs, uint32_t *lo, uint32_t *hi)
{
    uint32_t rpl = cs & 3;
    if ((cs & ~3u) == 0 || desc_read(s, cs, lo, hi) || !IS_CODE(*hi) || rpl < cpl(s))
        return fault(s, 13, cs & 0xfffc);
    if (CONFORMING(*hi) ? D_DPL(*hi) > rpl : D_DPL(*hi) != rpl) return fault(s, 13, cs & 0xfffc);
    if (!D_P(*hi)) return fault(s, 11, cs & 0xfffc);
    return 0;
}

int pm_retf(CPUState *s, int op32, uint32_t imm)
{
    int w = op32 ? 4 : 2;
    uint32_t ip = peek(s, 0, w), cs = peek(s, w, w) & 0xffff, lo, hi;
    if (check_return_cs(s, cs, &lo, &hi) || check_eip(s, ip, lo, hi)) return 1;
    uint32_t rpl = cs & 3;
    if (rpl == cpl(s)) {
        load_cs(s, cs, lo, hi, rpl);
        release(s, 2 * w + imm);
    } else {
        uint32_t esp = peek(s, 2 * w + imm, w), ss = peek(s, 3 * w + imm, w) & 0xffff;
        if (return_to_outer(s, cs, lo, hi, ss, esp)) return 1;
        release(s, imm);
    }
    s->eip = ip;
    return 0;
}

void cpu_set_flags(CPUState *s, uint32_t v, uint32_t mask);

/* EFLAGS bits POPF/IRET may change at the current privilege level. */
uint32_t pm_flags_mask(CPUState *s, int op32)
{
    uint32_t m = CF_MASK | PF_MASK | AF_MASK | ZF_MASK | SF_MASK | TF_MASK | DF_MASK | OF_MASK | NT_MASK;
    uint32_t c = cpl(s), iopl = (s->eflags >> 12) & 3;
    if (!(s->cr[0] & 1) || c == 0) m |= IOPL_MASK;
    if (!(s->cr[0] & 1) || c <= iopl) m |= IF_MASK;
    if (op32) m |= AC_MASK | 0x200000u;
    return op32 ? m : (m & 0xffff);
}

/* SDM IRET: RETURN-TO-VIRTUAL-8086-MODE.  Below EIP CS EFLAGS the ring-0
 * stack holds ESP SS ES DS FS GS (dwords); EFLAGS is loaded whole (IOPL
 * and VM too), every segment real-mode style, at CPL 3.  An EIP beyond
 * the new CS's 64 KiB limit is #GP(0) before anything changes (QEMU
 * truncates it instead). */
static int iret_to_v86(CPUState *s, uint32_t ip, uint32_t cs, uint32_t fl)
{
    uint32_t esp = peek(s, 12, 4), sel[6];
    sel[R_SS] = peek(s, 16, 4);
    sel[R_ES] = peek(s, 20, 4);
    sel[R_DS] = peek(s, 24, 4);
    sel[R_FS] = peek(s, 28, 4);
    sel[R_GS] = peek(s, 32, 4);
    sel[R_CS] = cs;
    if (s->fault_pending) return cpu_raise_pending(s);
    if (ip > 0xffff) return fault(s, 13, 0);
    v86_load_segs(s, sel);
    s->regs[R_ESP] = esp;
    s->eip = ip;
    cpu_set_flags(s, fl, 0x3f7fd5u); /* CPL 3, 16-bit code and stack from here (hflags) */
    return 0;
}

int pm_iret(CPUState *s, int op32, uint32_t next_eip)
{
    if (s->eflags & NT_MASK) {
        /* Return from a nested task: back to the task in the back link. */
        uint32_t back = sys_read(s, s->tr_base, 2), lo, hi;
        if ((back & 4) || desc_read(s, back, &lo, &hi)) return fault(s, 10, back & 0xfffc);
        if (D_S(hi) || (D_TYPE(hi) != 3 && D_TYPE(hi) != 11)) return fault(s, 10, back & 0xfffc);
        if (!D_P(hi)) return fault(s, 11, back & 0xfffc);
        return task_switch(s, back, lo, hi, 2, next_eip);
    }
    int w = op32 ? 4 : 2;
    uint32_t ip = peek(s, 0, w), cs = peek(s, w, w) & 0xffff, fl = peek(s, 2 * w, w), lo, hi;
    /* At CPL 0 a 32-bit IRET whose EFLAGS image has VM set returns to
     * virtual-8086 mode (at CPL > 0 the VM bit is ignored, as the SDM
     * says). */
    if (op32 && cpl(s) == 0 && (fl & VM_MASK)) return iret_to_v86(s, ip, cs, fl);
    if (check_return_cs(s, cs, &lo, &hi) || check_eip(s, ip, lo, hi)) return 1;
    uint32_t rpl = cs & 3, mask = pm_flags_mask(s, op32); /* at the old CPL */
    if (rpl == cpl(s)) {
        load_cs(s, cs, lo, hi, rpl);
        release(s, 3 * w);
    } else {
        uint32_t esp = peek(s, 3 * w, w), ss = peek(s, 4 * w, w) & 0xffff;
        if (return_to_outer(s, cs, lo, hi, ss, esp)) return 1;
    }
    s->eip = ip;
    cpu_set_flags(s, fl, mask);
    return 0;
}

/* Whether `n` slots of `w` bytes pushed below `sp` fit a stack segment
 * (base, limit and flags as in a hidden cache) and can be written at
 * privilege `pl`: 0, or the #SS(ss_code) or #PF raised.  Nothing is
 * written. */
int frame_check(CPUState *s, uint32_t base, uint32_t limit, uint32_t flags, uint32_t sp, int n, int w,
                uint32_t pl, uint32_t ss_code)
{
    uint32_t mask = (flags & (1u << 22)) ? 0xffffffffu : 0xffffu;
    for (int i = 1; i <= n; i++)
        if (!ss_in_limit(limit, flags, (sp - (uint32_t)(i * w)) & mask, w)) return fault(s, 12, ss_code);
    for (int i = 1; i <= n; i++)
        if (tlb_probe(s, base + ((sp - (uint32_t)(i * w)) & mask), w, 1, pl == 3)) return cpu_raise_pending(s);
    return 0;
}

/* Interrupt or exception through the IDT in protected mode.  `sw` is set
 * for INT n/INT3/INTO, whose gate DPL is checked against CPL.  Returns 0,
 * or nonzero when the delivery itself faulted: that fault has been raised
 * (interrupts.c classes it) and nothing of this delivery changed the
 * state, because the IDT entry, the descriptors, the TSS stack and the
 * whole frame (stack limit and pages) are checked before the first
 * change.  (A delivery through a task gate is a task switch: see there.) */
int pm_deliver(CPUState *s, int vector, uint32_t return_eip, int has_code, uint32_t code, int sw)
{
    uint32_t lo, hi, ext = sw ? 0 : 1, c = cpl(s), from_v86 = (s->eflags & VM_MASK) != 0;
    uint32_t idt_err = (uint32_t)vector * 8 + 2 + ext;
    if ((uint32_t)vector * 8 + 7 > s->idt_limit) return fault(s, 13, idt_err);
    lo = sys_read(s, s->idt_base + vector * 8, 4);
    hi = sys_read(s, s->idt_base + vector * 8 + 4, 4);
    if (s->fault_pending) return cpu_raise_pending(s);
    uint32_t type = D_TYPE(hi);
    if (D_S(hi) || (type != 5 && type != 6 && type != 7 && type != 14 && type != 15))
        return fault(s, 13, idt_err);
    if (sw && D_DPL(hi) < c) return fault(s, 13, idt_err);
    if (!D_P(hi)) return fault(s, 11, idt_err);
    if (type == 5) {
        uint32_t tsel = lo >> 16, tlo, thi;
        if ((tsel & 4) || desc_read(s, tsel, &tlo, &thi) || D_S(thi) || (D_TYPE(thi) != 1 && D_TYPE(thi) != 9))
            return fault(s, 10, tsel & 0xfffc);
        if (!D_P(thi)) return fault(s, 11, tsel & 0xfffc);
        if (task_switch(s, tsel, tlo, thi, 1, return_eip)) return 1;
        if (has_code) push_w(s, D_TYPE(thi) == 9, code);
        return 0;
    }
    int g32 = (type & 8) != 0, w = g32 ? 4 : 2;
    uint32_t sel = lo >> 16, off = (lo & 0xffff) | (g32 ? (hi & 0xffff0000u) : 0), clo, chi;
    if ((sel & ~3u) == 0 || desc_read(s, sel, &clo, &chi) || !IS_CODE(chi) || D_DPL(chi) > c)
        return fault(s, 13, (sel & 0xfffc) + ext);
    if (!D_P(chi)) return fault(s, 11, (sel & 0xfffc) + ext);
    /* From virtual-8086 mode only a ring-0 non-conforming handler will do
     * (SDM INT n: INTERRUPT-FROM-VIRTUAL-8086-MODE). */
    if (from_v86 && (CONFORMING(chi) || D_DPL(chi) != 0)) return fault(s, 13, (sel & 0xfffc) + ext);
    if (check_eip(s, off, clo, chi)) return 1;
    /* The stack the frame goes on: the TSS's for a more privileged
     * handler, else this one. */
    uint32_t new_cpl = (!CONFORMING(chi) && D_DPL(chi) < c) ? D_DPL(chi) : c, inner = new_cpl != c;
    uint32_t ss = s->seg_sel[R_SS], esp = s->regs[R_ESP], slo = 0, shi = 0;
    uint32_t ss_base = s->seg_base[R_SS], ss_limit = s->seg_limit[R_SS], ss_flags = s->seg_flags[R_SS];
    if (inner) {
        if (inner_stack(s, new_cpl, &ss, &esp) || check_stack(s, ss, new_cpl, &slo, &shi, 10)) return 1;
        ss_base = desc_base(slo, shi);
        ss_limit = desc_limit(slo, shi);
        ss_flags = shi & 0x00f0ff00u;
    }
    uint32_t frame[10];
    int n = 0;
    if (from_v86) {
        frame[n++] = s->seg_sel[R_GS];
        frame[n++] = s->seg_sel[R_FS];
        frame[n++] = s->seg_sel[R_DS];
        frame[n++] = s->seg_sel[R_ES];
    }
    if (inner) { frame[n++] = s->seg_sel[R_SS]; frame[n++] = s->regs[R_ESP]; }
    frame[n++] = s->eflags & (g32 ? ~RF_MASK : 0xffffu);
    frame[n++] = s->seg_sel[R_CS];
    frame[n++] = return_eip;
    if (has_code) frame[n++] = code;
    if (frame_check(s, ss_base, ss_limit, ss_flags, esp, n, w, new_cpl, inner ? ss & 0xfffc : 0)) return 1;
    /* Nothing can fault from here on.  (VM goes first: CPL and SS.B for
     * the pushes come from the hflags the loads below compute.) */
    if (from_v86) {
        s->eflags &= ~VM_MASK;
        for (int g = R_ES; g <= R_GS; g++) {
            if (g == R_CS || g == R_SS) continue;
            s->seg_sel[g] = 0; /* null: the handler may not use the 8086 paragraphs */
            s->seg_base[g] = s->seg_limit[g] = s->seg_flags[g] = 0;
        }
    }
    if (inner) {
        set_accessed(s, ss, &shi);
        set_cache(s, R_SS, ss, slo, shi);
        s->regs[R_ESP] = esp;
    }
    load_cs(s, sel, clo, chi, new_cpl); /* CPL and SS.B for the pushes */
    for (int i = 0; i < n; i++) push_w(s, g32, frame[i]);
    s->eflags &= ~(TF_MASK | NT_MASK | RF_MASK | VM_MASK);
    if (!(type & 1)) s->eflags &= ~IF_MASK; /* interrupt gate, not trap gate */
    cpu_update_hflags(s);
    s->eip = off;
    s->halted = 0;
    return 0;
}

/* Task switch (386 semantics).  source: 0 JMP, 1 CALL or interrupt,
 * 2 IRET.  `next_eip` is saved as the old task's EIP. */
int task_switch(CPUState *s, uint32_t sel, uint32_t lo, uint32_t hi, int source, uint32_t next_eip)
{
    Runtime *rt = RT(s);
    int new32 = (D_TYPE(hi) & 8) != 0, old32 = tr_is32(s);
    uint32_t nbase = desc_base(lo, hi), nlimit = desc_limit(lo, hi);
    if (nlimit < (new32 ? 0x67u : 0x2bu)) return fault(s, 10, sel & 0xfffc);
    if (source != 2 && (D_TYPE(hi) & 2)) return fault(s, 13, sel & 0xfffc); /* busy */
    /* Read the incoming task first: a #PF there changes nothing. */
    uint32_t eip, nfl, regs[8], segs[6] = {0}, ldt, cr3 = s->cr[3];
    if (new32) {
        cr3 = sys_read(s, nbase + 0x1c, 4);
        eip = sys_read(s, nbase + 0x20, 4);
        nfl = sys_read(s, nbase + 0x24, 4);
        for (int r = 0; r < 8; r++) regs[r] = sys_read(s, nbase + 0x28 + 4 * r, 4);
        for (int g = 0; g < 6; g++) segs[g] = sys_read(s, nbase + 0x48 + 4 * g, 2);
        ldt = sys_read(s, nbase + 0x60, 2);
    } else {
        eip = sys_read(s, nbase + 0x0e, 2);
        nfl = sys_read(s, nbase + 0x10, 2);
        /* A 16-bit TSS holds the low words.  The SDM says only that the
         * upper halves "are modified and not maintained" (vol. 3, 7.6,
         * "16-Bit Task-State Segment"); a 386 sets them to FFFFh, as Bochs
         * does.  (QEMU keeps them, which the SDM rules out.) */
        for (int r = 0; r < 8; r++) regs[r] = 0xffff0000u | sys_read(s, nbase + 0x12 + 2 * r, 2);
        for (int g = 0; g < 4; g++) segs[g] = sys_read(s, nbase + 0x22 + 2 * g, 2);
        ldt = sys_read(s, nbase + 0x2a, 2);
    }
    if (s->fault_pending) return cpu_raise_pending(s);
    /* Save the outgoing task's dynamic state. */
    uint32_t ob = s->tr_base, fl = s->eflags;
    if (source == 2) fl &= ~NT_MASK;
    if (old32) {
        sys_write(s, ob + 0x20, next_eip, 4);
        sys_write(s, ob + 0x24, fl, 4);
        for (int r = 0; r < 8; r++) sys_write(s, ob + 0x28 + 4 * r, s->regs[r], 4);
        for (int g = 0; g < 6; g++) sys_write(s, ob + 0x48 + 4 * g, s->seg_sel[g], 2);
    } else {
        sys_write(s, ob + 0x0e, next_eip, 2);
        sys_write(s, ob + 0x10, fl, 2);
        for (int r = 0; r < 8; r++) sys_write(s, ob + 0x12 + 2 * r, s->regs[r], 2);
        for (int g = 0; g < 4; g++) sys_write(s, ob + 0x22 + 2 * g, s->seg_sel[g], 2);
    }
    if (s->fault_pending) return cpu_raise_pending(s);
    if (source != 1) desc_set_bit(s, s->tr_sel, 0x200, 0); /* old task no longer busy */
    if (source == 1) sys_write(s, nbase, s->tr_sel, 2); /* back link */
    if (source != 2) desc_set_bit(s, sel, 0x200, 1);
    if (source == 1) nfl |= NT_MASK;
    s->tr_sel = sel;
    s->tr_base = nbase;
    s->tr_limit = nlimit;
    rt->tr_type = D_TYPE(hi) | 2;
    s->cr[0] |= 8; /* TS */
    /* (With PAE paging, a new CR3 whose PDPTEs have reserved bits is left
     * unloaded: the task switch's #GP for it is not modelled.) */
    if (new32 && (s->cr[0] & 0x80000000u) && cr3 != s->cr[3]) cpu_load_cr3(s, cr3);
    s->eflags = (nfl & 0x3f7fd7u) | 2u; /* hflags follow with CS below */
    s->eip = eip;
    for (int r = 0; r < 8; r++) s->regs[r] = regs[r];
    /* LDTR, then the segment registers (faults now belong to the new task). */
    uint32_t llo, lhi;
    if ((ldt & ~3u) == 0) { s->ldt_sel = 0; s->ldt_base = 0; s->ldt_limit = 0; }
    else if ((ldt & 4) || desc_read(s, ldt, &llo, &lhi) || D_S(lhi) || D_TYPE(lhi) != 2)
        return fault(s, 10, ldt & 0xfffc);
    else { s->ldt_sel = ldt; s->ldt_base = desc_base(llo, lhi); s->ldt_limit = desc_limit(llo, lhi); }
    if (s->eflags & VM_MASK) { /* a 32-bit TSS of a virtual-8086 task: no descriptors to check */
        v86_load_segs(s, segs);
        cpu_update_hflags(s);
        return 0;
    }
    uint32_t clo, chi, cs = segs[R_CS];
    if ((cs & ~3u) == 0 || desc_read(s, cs, &clo, &chi) || !IS_CODE(chi)) return fault(s, 10, cs & 0xfffc);
    if (!D_P(chi)) return fault(s, 11, cs & 0xfffc);
    set_cache(s, R_CS, cs, clo, chi);
    cpu_update_hflags(s);
    static const int order[] = {R_SS, R_ES, R_DS, R_FS, R_GS};
    for (int i = 0; i < 5; i++) {
        int g = order[i];
        if (!new32 && g >= R_FS) { s->seg_sel[g] = 0; s->seg_flags[g] = 0; continue; }
        if (seg_load_protected(s, g, segs[g])) return 1;
    }
    return 0;
}

/* LTR, LLDT, STR, SLDT, and the descriptor queries. */
int helper_ltr(CPUState *s, uint32_t sel)
{
    uint32_t lo, hi;
    sel &= 0xffff;
    if (cpl(s)) return fault(s, 13, 0);
    if ((sel & ~3u) == 0 || (sel & 4) || desc_read(s, sel, &lo, &hi)) return fault(s, 13, sel & 0xfffc);
    if (D_S(hi) || (D_TYPE(hi) != 1 && D_TYPE(hi) != 9)) return fault(s, 13, sel & 0xfffc);
    if (!D_P(hi)) return fault(s, 11, sel & 0xfffc);
    desc_set_bit(s, sel, 0x200, 1);
    s->tr_sel = sel;
    s->tr_base = desc_base(lo, hi);
    s->tr_limit = desc_limit(lo, hi);
    RT(s)->tr_type = D_TYPE(hi) | 2;
    return 0;
}

int helper_lldt(CPUState *s, uint32_t sel)
{
    uint32_t lo, hi;
    sel &= 0xffff;
    if (cpl(s)) return fault(s, 13, 0);
    if ((sel & ~3u) == 0) { s->ldt_sel = sel; s->ldt_base = 0; s->ldt_limit = 0; return 0; }
    if ((sel & 4) || desc_read(s, sel, &lo, &hi)) return fault(s, 13, sel & 0xfffc);
    if (D_S(hi) || D_TYPE(hi) != 2) return fault(s, 13, sel & 0xfffc);
    if (!D_P(hi)) return fault(s, 11, sel & 0xfffc);
    s->ldt_sel = sel;
    s->ldt_base = desc_base(lo, hi);
    s->ldt_limit = desc_limit(lo, hi);
    return 0;
}

/* LAR (which 0), LSL (1), VERR (2), VERW (3): returns the value for LAR
 * and LSL and sets or clears ZF in EFLAGS. */
uint32_t helper_desc_query(CPUState *s, int which, uint32_t sel)
{
    uint32_t lo, hi, c = cpl(s), rpl = sel & 3, ok = 0, v = 0;
    sel &= 0xffff;
    if ((sel & ~3u) && !desc_read(s, sel, &lo, &hi)) {
        int conf_code = IS_CODE(hi) && CONFORMING(hi);
        int priv = conf_code || (D_DPL(hi) >= c && D_DPL(hi) >= rpl);
        uint32_t type = D_TYPE(hi);
        if (!D_S(hi)) {
            /* LAR accepts TSS, LDT, gates; LSL only TSS and LDT. */
            int lar_ok = type == 1 || type == 2 || type == 3 || type == 4 || type == 5 || type == 9 ||
                         type == 11 || type == 12;
            int lsl_ok = type == 1 || type == 2 || type == 3 || type == 9 || type == 11;
            ok = priv && ((which == 0 && lar_ok) || (which == 1 && lsl_ok));
        } else if (which <= 1) {
            ok = priv;
        } else if (which == 2) {
            ok = priv && (!IS_CODE(hi) || (type & 2));
        } else {
            ok = priv && !IS_CODE(hi) && (type & 2);
        }
        if (ok) v = which == 0 ? (hi & 0x00f0ff00u) : desc_limit(lo, hi);
    }
    s->eflags = ok ? (s->eflags | ZF_MASK) : (s->eflags & ~ZF_MASK);
    return v;
}
