/* Interrupt and exception delivery. */
#include "jitemu.h"

static void shutdown(CPUState *s)
{
    /* A fault while delivering a fault we cannot handle: the CPU shuts
     * down, which a PC turns into a reset. */
    s->last_exception = 8;
    __atomic_or_fetch(&s->exit_request, EXIT_RESET, __ATOMIC_SEQ_CST);
}

/* Deliver `vector` with `return_eip` as the saved IP (the faulting
 * instruction for faults, the next one for traps and INT n), pushing
 * `code` as well when has_code (protected mode only). */
void cpu_deliver_error(CPUState *s, int vector, uint32_t return_eip, int has_code, uint32_t code)
{
    if (!(s->cr[0] & 1)) {
        uint32_t ent = s->idt_base + (uint32_t)vector * 4;
        uint32_t off = lin_read(s, ent, 2);
        uint32_t sel = lin_read(s, ent + 2, 2);
        push16(s, s->eflags);
        push16(s, s->seg_sel[R_CS]);
        push16(s, return_eip);
        s->eflags &= ~(IF_MASK | TF_MASK | AC_MASK | RF_MASK);
        seg_load_real(s, R_CS, sel);
        s->eip = off;
        s->halted = 0;
        return;
    }
    /* Protected mode through an interrupt or trap gate, at the current
     * privilege level.  Stack switches, task gates and v8086 are not yet
     * supported: they shut the CPU down rather than run wrongly. */
    if ((uint32_t)vector * 8 + 7 > s->idt_limit) { shutdown(s); return; }
    uint32_t lo = lin_read(s, s->idt_base + vector * 8, 4);
    uint32_t hi = lin_read(s, s->idt_base + vector * 8 + 4, 4);
    uint32_t type = (hi >> 8) & 0x1f;
    if (!(hi & 0x8000) || (type & 7) < 6) { shutdown(s); return; }
    int gate32 = (type & 8) != 0;
    uint32_t sel = lo >> 16, off = (lo & 0xffff) | (gate32 ? (hi & 0xffff0000u) : 0);
    uint32_t old_flags = s->eflags, old_cs = s->seg_sel[R_CS];
    if (seg_load_protected(s, R_CS, sel)) { shutdown(s); return; }
    if (gate32) {
        push32(s, old_flags & ~RF_MASK); push32(s, old_cs); push32(s, return_eip);
        if (has_code) push32(s, code);
    } else {
        push16(s, old_flags); push16(s, old_cs); push16(s, return_eip);
        if (has_code) push16(s, code);
    }
    s->eflags &= ~(TF_MASK | NT_MASK | RF_MASK | VM_MASK);
    if (!(type & 1)) s->eflags &= ~IF_MASK; /* interrupt gate, not trap gate */
    s->eip = off;
    s->halted = 0;
}

void cpu_deliver(CPUState *s, int vector, uint32_t return_eip)
{
    cpu_deliver_error(s, vector, return_eip, 0, 0);
}

/* A fault raised by translated code: EIP is the faulting instruction. */
void helper_raise(CPUState *s, int vector)
{
    s->last_exception = vector;
    s->exc_count++;
    if (vector == 6) {
        s->ud_eip = s->eip;
        py_log(RT(s)->host, 6, s->seg_base[R_CS] + s->eip, s->eip);
    }
    cpu_deliver(s, vector, s->eip);
}

/* INT n, INT3, INTO: EIP is already the next instruction. */
void helper_int(CPUState *s, int vector)
{
    cpu_deliver(s, vector, s->eip);
}

void helper_hlt(CPUState *s)
{
    s->halted = 1;
}

/* Set the INTR line (from the interrupt controller, any thread). */
void cpu_set_irq(CPUState *s, int level)
{
    s->irq_line = level ? 1 : 0;
    if (level)
        __atomic_or_fetch(&s->exit_request, EXIT_IRQ, __ATOMIC_SEQ_CST);
}

/* Any thread may ask the vCPU to leave translated code. */
void cpu_request_exit(CPUState *s, uint32_t bits)
{
    __atomic_or_fetch(&s->exit_request, bits, __ATOMIC_SEQ_CST);
}

void cpu_clear_exit(CPUState *s, uint32_t bits)
{
    __atomic_and_fetch(&s->exit_request, ~bits, __ATOMIC_SEQ_CST);
}
