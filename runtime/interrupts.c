/* Interrupt and exception delivery. */
#include "jitemu.h"

/* Deliver `vector` with `return_eip` as the saved IP (the faulting
 * instruction for faults, the next one for traps and INT n). */
void cpu_deliver(CPUState *s, int vector, uint32_t return_eip)
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
    /* Protected-mode delivery comes with the 386 system architecture. */
    __atomic_or_fetch(&s->exit_request, EXIT_RESET, __ATOMIC_SEQ_CST);
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

/* Raise a maskable interrupt line (from the interrupt controller). */
void cpu_set_irq(CPUState *s, int vector)
{
    s->irq_vector = vector;
    if (vector >= 0)
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
