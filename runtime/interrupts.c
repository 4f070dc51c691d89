/* Interrupt and exception delivery. */
#include "jitemu.h"

void helper_raise_err(CPUState *s, int vector, uint32_t code);

static void shutdown(CPUState *s)
{
    /* A fault while delivering a fault we cannot handle: the CPU shuts
     * down, which a PC turns into a reset. */
    s->last_exception = 8;
    __atomic_or_fetch(&s->exit_request, EXIT_RESET, __ATOMIC_SEQ_CST);
}

/* Protected mode: a fault while delivering becomes #DF, a fault while
 * delivering #DF shuts the CPU down (a triple fault). */
/* -d int: every interrupt and exception, as it is delivered. */
static void trace_interrupt(CPUState *s, int vector, int has_code, uint32_t code, uint32_t return_eip)
{
    if (s->trace_flags & TRACE_INT) {
        fio_drain(RT(s));
        py_trace(RT(s)->host, 2, (uint32_t)vector, has_code ? code : 0xffffffffu, s->seg_base[R_CS] + return_eip);
    }
}

static void deliver_pm(CPUState *s, int vector, uint32_t return_eip, int has_code, uint32_t code, int sw)
{
    Runtime *rt = RT(s);
    if (rt->delivering >= 2) { shutdown(s); return; }
    if (rt->delivering == 1) { vector = 8; has_code = 1; code = 0; sw = 0; }
    trace_interrupt(s, vector, has_code, code, return_eip);
    rt->delivering++;
    pm_deliver(s, vector, return_eip, has_code, code, sw);
    rt->delivering--;
}

/* Deliver `vector` with `return_eip` as the saved IP (the faulting
 * instruction for faults, the next one for traps and INT n), pushing
 * `code` as well when has_code (protected mode only). */
void cpu_deliver_error(CPUState *s, int vector, uint32_t return_eip, int has_code, uint32_t code)
{
    if (!(s->cr[0] & 1)) {
        trace_interrupt(s, vector, 0, 0, return_eip);
        uint32_t ent = s->idt_base + (uint32_t)vector * 4;
        uint32_t off = lin_read(s, ent, 2);
        uint32_t sel = lin_read(s, ent + 2, 2);
        push16(s, s->eflags);
        push16(s, s->seg_sel[R_CS]);
        push16(s, return_eip);
        s->eflags &= ~(IF_MASK | TF_MASK | AC_MASK | RF_MASK);
        cpu_update_hflags(s);
        seg_load_real(s, R_CS, sel);
        s->eip = off;
        s->halted = 0;
        return;
    }
    deliver_pm(s, vector, return_eip, has_code, code, 0);
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
    s->icount++; /* an exception takes guest time too (layout.py: icount) */
    if (vector == 6) {
        s->ud_eip = s->eip;
        py_log(RT(s)->host, 6, s->seg_base[R_CS] + s->eip, s->eip);
    }
    cpu_deliver(s, vector, s->eip);
}

/* INT n, INT3, INTO: EIP is already the next instruction; in protected
 * mode the gate's DPL is checked against CPL. */
void helper_int(CPUState *s, int vector, uint32_t insn_eip)
{
    if (!(s->cr[0] & 1)) { cpu_deliver(s, vector, s->eip); return; }
    /* A gate the program may not use (DPL < CPL) or outside the IDT is a
     * #GP of the INT instruction itself, not a fault during delivery. */
    uint32_t c = (s->hflags >> HF_CPL_SHIFT) & 3;
    if ((uint32_t)vector * 8 + 7 > s->idt_limit ||
        ((lin_read(s, s->idt_base + vector * 8 + 4, 4) >> 13) & 3) < c) {
        s->eip = insn_eip;
        helper_raise_err(s, 13, (uint32_t)vector * 8 + 2);
        return;
    }
    deliver_pm(s, vector, s->eip, 0, 0, 1);
}

/* A fault with an error code (#GP(0) from a privilege check, ...). */
void helper_raise_err(CPUState *s, int vector, uint32_t code)
{
    s->last_exception = vector;
    s->exc_error_code = code;
    s->exc_count++;
    s->icount++; /* an exception takes guest time too (layout.py: icount) */
    cpu_deliver_error(s, vector, s->eip, 1, code);
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
