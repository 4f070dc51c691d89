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

/* Protected mode: whether [off, off+size) of a stack segment with this
 * limit and flags (hidden-cache format) lies inside the limit, or above
 * it for an expand-down segment (up to FFFFh or FFFFFFFFh as B says):
 * the rule of BlockBuilder.seg_check. */
int ss_in_limit(uint32_t limit, uint32_t flags, uint32_t off, int size)
{
    uint64_t start = off, end = start + (uint32_t)size - 1;
    if ((flags & 0x1c00) == 0x1400) /* data, expand-down */
        return start > limit && end <= ((flags & (1u << 22)) ? 0xffffffffu : 0xffffu);
    return end <= limit;
}

/* Whether ENTER may read (write = 0) or write `w` bytes at SS:off: else
 * #SS(0) (protected mode, outside SS's limit) or #PF is raised. */
static int enter_access(CPUState *s, uint32_t off, int w, int write)
{
    if ((s->cr[0] & 1) && !(s->hflags & HF_FLAT) && !ss_in_limit(s->seg_limit[R_SS], s->seg_flags[R_SS], off, w))
        return cpu_raise(s, 12, 1, 0);
    if (tlb_probe(s, s->seg_base[R_SS] + off, w, write, ((s->hflags >> HF_CPL_SHIFT) & 3) == 3))
        return cpu_raise_pending(s);
    return 0;
}

/* ENTER size, level.  Every access is checked first, and so is a write at
 * the final stack pointer (SDM ENTER: #SS(0) if the new SP is outside the
 * stack segment's limit, #PF if a write using it would fault), so on a
 * fault nothing has changed: not memory, not EBP, not ESP (EIP is on the
 * instruction).  Returns nonzero after raising the fault. */
int helper_enter(CPUState *s, int op32, uint32_t size, uint32_t level)
{
    uint32_t m = sp_mask(s), w = op32 ? 4 : 2, base = s->seg_base[R_SS];
    uint32_t bp = s->regs[R_EBP], frame = (s->regs[R_ESP] - w) & m;
    level &= 31;
    /* The frame: EBP at `frame`, then level-1 frame pointers copied from
     * below EBP, then FrameTemp; below them `size` bytes. */
    if (enter_access(s, frame, w, 1)) return 1;
    for (uint32_t i = 1; i < level; i++)
        if (enter_access(s, (bp - i * w) & m, w, 0) || enter_access(s, (frame - i * w) & m, w, 1)) return 1;
    if (level && enter_access(s, (frame - level * w) & m, w, 1)) return 1;
    uint32_t final = (frame - level * w - size) & m;
    if (enter_access(s, final, w, 1)) return 1;
    uint32_t frame_temp = (s->regs[R_ESP] & ~m) | frame; /* ESP after pushing EBP */
    lin_write(s, base + frame, op32 ? bp : bp & 0xffff, w);
    for (uint32_t i = 1; i < level; i++)
        lin_write(s, base + ((frame - i * w) & m), lin_read(s, base + ((bp - i * w) & m), w), w);
    if (level) lin_write(s, base + ((frame - level * w) & m), op32 ? frame_temp : frame_temp & 0xffff, w);
    if (op32) s->regs[R_EBP] = frame_temp;
    else s->regs[R_EBP] = (s->regs[R_EBP] & 0xffff0000u) | (frame_temp & 0xffff);
    s->regs[R_ESP] = (s->regs[R_ESP] & ~m) | final;
    return 0;
}

void helper_leave(CPUState *s, int op32)
{
    uint32_t m = sp_mask(s);
    s->regs[R_ESP] = (s->regs[R_ESP] & ~m) | (s->regs[R_EBP] & m);
    uint32_t v = pop_op(s, op32);
    s->regs[R_EBP] = op32 ? v : ((s->regs[R_EBP] & 0xffff0000u) | v);
}

void cpu_set_flags(CPUState *s, uint32_t v, uint32_t mask)
{
    s->eflags = (s->eflags & ~mask) | (v & mask) | 2u;
    cpu_update_hflags(s); /* TF */
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
    cpu_set_flags(s, v, pm_flags_mask(s, op32));
}

void helper_sti(CPUState *s) { cpu_set_flags(s, IF_MASK, IF_MASK); }

/* Far transfers: real mode here, protected mode in protected.c,
 * virtual-8086 mode in v86.c.  Each returns nonzero when it faulted (the
 * exception has been delivered). */
static int v86(CPUState *s) { return (s->cr[0] & 1) && (s->eflags & VM_MASK); }

int helper_ljmp(CPUState *s, uint32_t sel, uint32_t off, uint32_t next_eip)
{
    if (v86(s)) return v86_ljmp(s, sel, off);
    if (s->cr[0] & 1) return pm_ljmp(s, sel, off, next_eip);
    seg_load_real(s, R_CS, sel);
    s->eip = off;
    return 0;
}

int helper_lcall(CPUState *s, uint32_t sel, uint32_t off, int op32, uint32_t next_eip)
{
    if (v86(s)) return v86_lcall(s, sel, off, op32, next_eip);
    if (s->cr[0] & 1) return pm_lcall(s, sel, off, op32, next_eip);
    push_op(s, op32, s->seg_sel[R_CS]);
    push_op(s, op32, next_eip);
    seg_load_real(s, R_CS, sel);
    s->eip = off;
    return 0;
}

int helper_retf(CPUState *s, int op32, uint32_t imm)
{
    if (v86(s)) return v86_retf(s, op32, imm);
    if (s->cr[0] & 1) return pm_retf(s, op32, imm);
    uint32_t ip = pop_op(s, op32), cs = pop_op(s, op32), m = sp_mask(s);
    s->regs[R_ESP] = (s->regs[R_ESP] & ~m) | ((s->regs[R_ESP] + imm) & m);
    seg_load_real(s, R_CS, cs);
    s->eip = ip;
    return 0;
}

int helper_iret(CPUState *s, int op32, uint32_t next_eip)
{
    if (v86(s)) return v86_iret(s, op32);
    if (s->cr[0] & 1) return pm_iret(s, op32, next_eip);
    uint32_t ip = pop_op(s, op32), cs = pop_op(s, op32), fl = pop_op(s, op32);
    seg_load_real(s, R_CS, cs);
    s->eip = ip;
    /* Real-mode IRETD loads RF too (SDM: tempEFLAGS AND 257FD5H), where
     * POPFD clears it. */
    cpu_set_flags(s, fl, pm_flags_mask(s, op32) | (op32 ? RF_MASK : 0));
    return 0;
}
