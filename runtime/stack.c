/* Stack pushes and pops for C helpers (SS base, SP or ESP per SS.B). */
#include "jitemu.h"

void push16(CPUState *s, uint32_t v)
{
    uint32_t m = sp_mask(s), sp = (s->regs[R_ESP] - 2) & m;
    lin_write(s, s->seg_base[R_SS] + sp, v & 0xffff, 2);
    s->regs[R_ESP] = (s->regs[R_ESP] & ~m) | sp;
}

void push32(CPUState *s, uint32_t v)
{
    uint32_t m = sp_mask(s), sp = (s->regs[R_ESP] - 4) & m;
    lin_write(s, s->seg_base[R_SS] + sp, v, 4);
    s->regs[R_ESP] = (s->regs[R_ESP] & ~m) | sp;
}

uint32_t pop16(CPUState *s)
{
    uint32_t m = sp_mask(s), sp = s->regs[R_ESP] & m;
    uint32_t v = lin_read(s, s->seg_base[R_SS] + sp, 2);
    s->regs[R_ESP] = (s->regs[R_ESP] & ~m) | ((sp + 2) & m);
    return v;
}

uint32_t pop32(CPUState *s)
{
    uint32_t m = sp_mask(s), sp = s->regs[R_ESP] & m;
    uint32_t v = lin_read(s, s->seg_base[R_SS] + sp, 4);
    s->regs[R_ESP] = (s->regs[R_ESP] & ~m) | ((sp + 4) & m);
    return v;
}

static void push_op(CPUState *s, int op32, uint32_t v) { if (op32) push32(s, v); else push16(s, v); }
static uint32_t pop_op(CPUState *s, int op32) { return op32 ? pop32(s) : pop16(s); }

void helper_pusha(CPUState *s, int op32)
{
    uint32_t sp = s->regs[R_ESP];
    for (int r = R_EAX; r <= R_EDI; r++) push_op(s, op32, r == R_ESP ? sp : s->regs[r]);
}

void helper_popa(CPUState *s, int op32)
{
    for (int r = R_EDI; r >= R_EAX; r--) {
        uint32_t v = pop_op(s, op32);
        if (r == R_ESP) continue; /* the saved SP is discarded */
        s->regs[r] = op32 ? v : ((s->regs[r] & 0xffff0000u) | v);
    }
}

void helper_enter(CPUState *s, int op32, uint32_t size, uint32_t level)
{
    uint32_t m = sp_mask(s);
    uint32_t bp = s->regs[R_EBP];
    level &= 31;
    push_op(s, op32, bp);
    uint32_t frame = s->regs[R_ESP];
    if (level) {
        int w = op32 ? 4 : 2;
        for (uint32_t i = 1; i < level; i++) {
            bp = (bp & ~m) | ((bp - w) & m);
            push_op(s, op32, lin_read(s, s->seg_base[R_SS] + (bp & m), w));
        }
        push_op(s, op32, frame);
    }
    if (op32) s->regs[R_EBP] = frame;
    else s->regs[R_EBP] = (s->regs[R_EBP] & 0xffff0000u) | (frame & 0xffff);
    s->regs[R_ESP] = (s->regs[R_ESP] & ~m) | ((s->regs[R_ESP] - size) & m);
}

void helper_leave(CPUState *s, int op32)
{
    uint32_t m = sp_mask(s);
    s->regs[R_ESP] = (s->regs[R_ESP] & ~m) | (s->regs[R_EBP] & m);
    uint32_t v = pop_op(s, op32);
    s->regs[R_EBP] = op32 ? v : ((s->regs[R_EBP] & 0xffff0000u) | v);
}

/* Bits of EFLAGS that POPF/IRET may change (486+ keeps AC and ID). */
static uint32_t flags_writable(CPUState *s, int op32)
{
    uint32_t m = CF_MASK | PF_MASK | AF_MASK | ZF_MASK | SF_MASK | TF_MASK | DF_MASK |
                 OF_MASK | NT_MASK | IF_MASK | IOPL_MASK;
    if (op32) m |= AC_MASK | 0x200000u; /* ID */
    (void)s;
    return m;
}

void cpu_set_flags(CPUState *s, uint32_t v, uint32_t mask)
{
    s->eflags = (s->eflags & ~mask) | (v & mask) | 2u;
    if (s->irq_line > 0 && (s->eflags & IF_MASK))
        __atomic_or_fetch(&s->exit_request, EXIT_IRQ, __ATOMIC_SEQ_CST);
}

void helper_pushf(CPUState *s, int op32)
{
    push_op(s, op32, s->eflags & ~(VM_MASK | RF_MASK));
}

void helper_popf(CPUState *s, int op32)
{
    uint32_t v = pop_op(s, op32);
    cpu_set_flags(s, v, flags_writable(s, op32) & (op32 ? 0xffffffffu : 0xffffu));
}

void helper_sti(CPUState *s) { cpu_set_flags(s, IF_MASK, IF_MASK); }

/* Load CS for a far transfer: real mode sets the paragraph; protected
 * mode loads the descriptor (same privilege level only, so far). */
static int load_cs(CPUState *s, uint32_t sel)
{
    if (!(s->cr[0] & 1)) { seg_load_real(s, R_CS, sel); return 0; }
    return seg_load_protected(s, R_CS, sel);
}

int helper_ljmp(CPUState *s, uint32_t sel, uint32_t off)
{
    if (load_cs(s, sel)) return 1;
    s->eip = off;
    return 0;
}

int helper_lcall(CPUState *s, uint32_t sel, uint32_t off, int op32, uint32_t next_eip)
{
    uint32_t old_cs = s->seg_sel[R_CS];
    if (load_cs(s, sel)) return 1;
    push_op(s, op32, old_cs);
    push_op(s, op32, next_eip);
    s->eip = off;
    return 0;
}

/* Read the n-th stack slot of width w without popping, so a fault while
 * loading CS leaves ESP as it was (fault restart). */
static uint32_t peek(CPUState *s, int n, int w)
{
    uint32_t m = sp_mask(s);
    return lin_read(s, s->seg_base[R_SS] + ((s->regs[R_ESP] + n * w) & m), w);
}

static void release(CPUState *s, uint32_t bytes)
{
    uint32_t m = sp_mask(s);
    s->regs[R_ESP] = (s->regs[R_ESP] & ~m) | ((s->regs[R_ESP] + bytes) & m);
}

int helper_retf(CPUState *s, int op32, uint32_t imm)
{
    int w = op32 ? 4 : 2;
    uint32_t ip = peek(s, 0, w), cs = peek(s, 1, w) & 0xffff;
    if (load_cs(s, cs)) return 1;
    release(s, 2 * w + imm);
    s->eip = ip;
    return 0;
}

int helper_iret(CPUState *s, int op32)
{
    int w = op32 ? 4 : 2;
    uint32_t ip = peek(s, 0, w), cs = peek(s, 1, w) & 0xffff, fl = peek(s, 2, w);
    if (load_cs(s, cs)) return 1;
    release(s, 3 * w);
    s->eip = ip;
    cpu_set_flags(s, fl, flags_writable(s, op32) & (op32 ? 0xffffffffu : 0xffffu));
    return 0;
}
