/* Virtual-8086 mode (SDM vol. 3, chapter 20): segment loads and the far
 * transfers that stay in it.  Entering it (IRET at CPL 0, a task switch)
 * and leaving it (an interrupt or exception to a ring-0 handler) are in
 * protected.c, next to the protected-mode paths they branch from.
 *
 * Segments are loaded as in real mode, but the hidden cache is rewritten
 * whole (base sel << 4, limit FFFFh, V86_SEG_FLAGS): no "unreal" limits
 * survive, and offsets beyond FFFFh are #GP(0) (#SS(0) on the stack), as
 * the SDM says for this mode.  Every read is made and every write probed
 * before state changes, so a #PF (paging applies, at user level) or a
 * limit fault leaves the instruction restartable. */
#include "jitemu.h"

void v86_load_seg(CPUState *s, int seg, uint32_t sel)
{
    sel &= 0xffff;
    s->seg_sel[seg] = sel;
    s->seg_base[seg] = sel << 4;
    s->seg_limit[seg] = 0xffff;
    s->seg_flags[seg] = V86_SEG_FLAGS;
}

/* All six, in R_ES..R_GS order (IRET to the mode, a task switch to it). */
void v86_load_segs(CPUState *s, const uint32_t *sel)
{
    for (int g = R_ES; g <= R_GS; g++) v86_load_seg(s, g, sel[g]);
}

static int gp0(CPUState *s) { return cpu_raise(s, 13, 1, 0); }

/* Read `n` stack slots of `w` bytes from SS:SP up (SP wraps at 64 KiB),
 * after the limit check: 0, or the #SS(0) or #PF raised. */
static int pop_slots(CPUState *s, uint32_t *out, int n, int w)
{
    uint32_t sp = s->regs[R_ESP] & 0xffff;
    for (int i = 0; i < n; i++)
        if (!ss_in_limit(0xffff, V86_SEG_FLAGS, (sp + (uint32_t)(i * w)) & 0xffff, w)) return cpu_raise(s, 12, 1, 0);
    for (int i = 0; i < n; i++) out[i] = lin_read(s, s->seg_base[R_SS] + ((sp + (uint32_t)(i * w)) & 0xffff), w);
    return s->fault_pending ? cpu_raise_pending(s) : 0;
}

static void release(CPUState *s, uint32_t bytes)
{
    s->regs[R_ESP] = (s->regs[R_ESP] & 0xffff0000u) | ((s->regs[R_ESP] + bytes) & 0xffff);
}

/* A new IP beyond CS's limit (an operand-size prefix allows 32 bits) is
 * #GP(0), before the transfer (SDM JMP, CALL, RET, IRET). */
int v86_ljmp(CPUState *s, uint32_t sel, uint32_t off)
{
    if (off > 0xffff) return gp0(s);
    v86_load_seg(s, R_CS, sel);
    s->eip = off;
    return 0;
}

int v86_lcall(CPUState *s, uint32_t sel, uint32_t off, int op32, uint32_t next_eip)
{
    int w = op32 ? 4 : 2;
    if (off > 0xffff) return gp0(s);
    if (frame_check(s, s->seg_base[R_SS], 0xffff, V86_SEG_FLAGS, s->regs[R_ESP], 2, w, 3, 0)) return 1;
    uint32_t cs = s->seg_sel[R_CS];
    if (op32) { push32(s, cs); push32(s, next_eip); }
    else { push16(s, cs); push16(s, next_eip); }
    v86_load_seg(s, R_CS, sel);
    s->eip = off;
    return 0;
}

int v86_retf(CPUState *s, int op32, uint32_t imm)
{
    uint32_t v[2];
    int w = op32 ? 4 : 2;
    if (pop_slots(s, v, 2, w)) return 1;
    if (v[0] > 0xffff) return gp0(s);
    release(s, 2 * w + imm);
    v86_load_seg(s, R_CS, v[1]);
    s->eip = v[0];
    return 0;
}

/* IRET inside the mode (SDM IRET: RETURN-FROM-VIRTUAL-8086-MODE): with
 * IOPL 3 it pops IP, CS and FLAGS as in real mode, leaving IOPL and VM
 * alone; with IOPL < 3 it traps to the monitor, #GP(0). */
int v86_iret(CPUState *s, int op32)
{
    uint32_t v[3];
    int w = op32 ? 4 : 2;
    if (((s->eflags & IOPL_MASK) >> 12) < 3) return gp0(s);
    if (pop_slots(s, v, 3, w)) return 1;
    if (v[0] > 0xffff) return gp0(s);
    release(s, 3 * w);
    v86_load_seg(s, R_CS, v[1]);
    s->eip = v[0];
    /* (IRETD loads RF, as in real mode; pm_flags_mask at CPL 3 = IOPL
     * lets IF through but not IOPL, and never VM.) */
    cpu_set_flags(s, v[2], pm_flags_mask(s, op32) | (op32 ? RF_MASK : 0));
    return 0;
}
