/* Interrupt and exception delivery, and what a fault during a delivery
 * becomes (SDM vol. 3, 6.15 "Interrupt 8—Double Fault Exception", table
 * "Conditions for Generating a Double Fault"):
 *
 *   being delivered        fault during it      becomes
 *   benign (#DB NMI #BP    anything             that fault, delivered as
 *   #OF #BR #UD #NM #MF,                        itself (serially)
 *   INT n, interrupts)
 *   contributory (#DE      contributory         #DF
 *   #TS #NP #SS #GP)       #PF                  #PF (serially)
 *   #PF                    contributory, #PF    #DF
 *   #DF                    anything             shutdown (a triple fault)
 *
 * A fault during a delivery is raised at once, from inside it (delivery
 * checks everything before it changes any state), so the nested delivery
 * sees the class of the one it interrupted in Runtime.delivering. */
#include "jitemu.h"

enum { SRC_EXCEPTION, SRC_SOFTWARE, SRC_EXTERNAL };

static int exception_class(int vector)
{
    switch (vector) {
    case 0: case 10: case 11: case 12: case 13: return DLV_CONTRIBUTORY;
    case 14: return DLV_PAGE_FAULT;
    case 8: return DLV_DOUBLE_FAULT;
    default: return DLV_BENIGN;
    }
}

static void shutdown(CPUState *s)
{
    /* The CPU stops; a PC turns the shutdown cycle into a reset. */
    s->last_exception = 8;
    __atomic_or_fetch(&s->exit_request, EXIT_RESET, __ATOMIC_SEQ_CST);
}

/* -d int: every interrupt and exception, as it is delivered. */
static void trace_interrupt(CPUState *s, int vector, int has_code, uint32_t code, uint32_t return_eip)
{
    if (s->trace_flags & TRACE_INT) {
        fio_drain(RT(s));
        py_trace(RT(s)->host, 2, (uint32_t)vector, has_code ? code : 0xffffffffu, s->seg_base[R_CS] + return_eip);
    }
}

/* Real mode: through the interrupt vector table.  An entry beyond the
 * IDTR limit is a #GP (SDM vol. 2, INT n, real-address mode; QEMU's
 * do_interrupt_real too), which the classes above turn into #DF and then
 * a shutdown when the table is too small for those vectors as well (the
 * 286/386 manuals' "interrupt table limit too small"). */
static int deliver_real(CPUState *s, int vector, uint32_t return_eip)
{
    if ((uint32_t)vector * 4 + 3 > s->idt_limit) return cpu_raise(s, 13, 0, 0);
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
    return 0;
}

/* Deliver `vector` with `return_eip` as the saved IP (the faulting
 * instruction for faults, the next one for traps and INT n), pushing
 * `code` as well when has_code (protected mode only).  s->eip is the
 * instruction a fault during the delivery names. */
static void deliver(CPUState *s, int vector, uint32_t return_eip, int has_code, uint32_t code, int src)
{
    Runtime *rt = RT(s);
    int first = rt->delivering, second = src == SRC_EXCEPTION ? exception_class(vector) : DLV_BENIGN;
    if (first == DLV_DOUBLE_FAULT) { shutdown(s); return; }
    if ((first == DLV_CONTRIBUTORY && second == DLV_CONTRIBUTORY) ||
        (first == DLV_PAGE_FAULT && (second == DLV_CONTRIBUTORY || second == DLV_PAGE_FAULT))) {
        vector = 8; has_code = 1; code = 0; src = SRC_EXCEPTION; second = DLV_DOUBLE_FAULT;
        s->last_exception = 8;
        s->exc_error_code = 0;
    }
    trace_interrupt(s, vector, has_code && (s->cr[0] & 1), code, return_eip);
    rt->delivering = second;
    int faulted = (s->cr[0] & 1) ? pm_deliver(s, vector, return_eip, has_code, code, src == SRC_SOFTWARE)
                                 : deliver_real(s, vector, return_eip);
    /* A #PF recorded by an access no check caught (a task switch's): a
     * fault during this delivery too. */
    if (!faulted && s->fault_pending) cpu_raise_pending(s);
    rt->delivering = first;
}

/* An exception at s->eip (a fault): counted, then delivered; returns 1 so
 * helpers can `return cpu_raise(...)` for "faulted".  A #PF that an
 * earlier access of the same instruction or delivery recorded comes
 * first: the check that fails now may have read what that access could
 * not. */
int cpu_raise(CPUState *s, int vector, int has_code, uint32_t code)
{
    if (s->fault_pending) return cpu_raise_pending(s);
    s->last_exception = vector;
    s->exc_error_code = code;
    s->exc_count++;
    s->icount++; /* an exception takes guest time too (layout.py: icount) */
    deliver(s, vector, s->eip, has_code, code, SRC_EXCEPTION);
    return 1;
}

static void log_ud(CPUState *s)
{
    s->ud_eip = s->eip;
    py_log(RT(s)->host, 6, s->seg_base[R_CS] + s->eip, s->eip);
}

/* The #PF an access recorded in fault_pending, raised now; or the #UD of
 * an instruction fetch from nothing (memory.c, cpu_code_phys). */
int cpu_raise_pending(CPUState *s)
{
    int v = (int)s->fault_pending;
    s->fault_pending = 0;
    if (v == 6) {
        log_ud(s);
        return cpu_raise(s, 6, 0, 0);
    }
    return cpu_raise(s, v, 1, s->fault_error);
}

/* Exceptions whose saved IP the caller chooses (#DB traps, #DE). */
void cpu_deliver_error(CPUState *s, int vector, uint32_t return_eip, int has_code, uint32_t code)
{
    deliver(s, vector, return_eip, has_code, code, SRC_EXCEPTION);
}

void cpu_deliver(CPUState *s, int vector, uint32_t return_eip)
{
    cpu_deliver_error(s, vector, return_eip, 0, 0);
}

/* An external interrupt (the controller named `vector`) before the
 * instruction at EIP. */
void cpu_deliver_irq(CPUState *s, int vector)
{
    deliver(s, vector, s->eip, 0, 0, SRC_EXTERNAL);
}

/* A fault raised by translated code: EIP is the faulting instruction. */
void helper_raise(CPUState *s, int vector)
{
    if (vector == 6) log_ud(s);
    cpu_raise(s, vector, 0, 0);
}

/* INT n, INT3, INTO: EIP is the next instruction on entry.  A software
 * interrupt is benign: a fault while delivering it (a gate beyond the IDT
 * limit, or with DPL < CPL: #GP(vector*8+2)) is delivered as itself, and
 * names the INT instruction. */
void helper_int(CPUState *s, int vector, uint32_t insn_eip)
{
    uint32_t next = s->eip;
    s->eip = insn_eip;
    deliver(s, vector, next, 0, 0, SRC_SOFTWARE);
}

/* A fault with an error code (#GP(0) from a privilege check, ...). */
void helper_raise_err(CPUState *s, int vector, uint32_t code)
{
    cpu_raise(s, vector, 1, code);
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
