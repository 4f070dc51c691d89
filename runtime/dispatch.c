/* The native dispatch loop: find the next block and call it, until
 * something needs the host (a miss, an exit request, HLT, the budget). */
#include "jitemu.h"

static int at_breakpoint(CPUState *s, uint32_t pc)
{
    for (uint32_t i = 0; i < s->bp_count; i++)
        if (s->bp[i] == pc) return 1;
    return 0;
}

/* The physical page linear `lin` maps now, from the TLB or a walk that
 * fills it; -1 with the fetch's fault recorded (as cpu_code_phys). */
static int code_page_now(CPUState *s, uint32_t lin, uint32_t *ppage)
{
    uint32_t lp = lin >> PAGE_BITS, phys;
    if (s->rd_page[lp]) {
        *ppage = RT(s)->tlb_phys[lp];
        return 0;
    }
    int r = tlb_translate(s, lin, 0, 1, &phys);
    if (r > 0 && !s->fault_pending) {
        s->fault_pending = 6; /* a fetch from nothing */
        s->fault_error = 0;
    }
    if (r) return -1;
    *ppage = phys >> PAGE_BITS;
    return 0;
}

/* With paging, blocks are found by linear address but made from physical
 * bytes: a block runs only while its page maps what it was made from.  A
 * CR3 load or INVLPG leaves translations alone and this check catches a
 * changed map, as QEMU finds its blocks by physical address.  (A block
 * whose last instruction runs onto the next page has an envelope of two
 * physical pages, in either order: its first page must be one of them,
 * and the next page is not checked.)  1: it does; 0: it does not; -1: the
 * fetch faults. */
static int block_mapped(CPUState *s, const Block *b, uint32_t pc)
{
    uint32_t pp;
    if (code_page_now(s, pc, &pp)) return -1;
    return pp == b->phys_lo >> PAGE_BITS || pp == b->phys_hi >> PAGE_BITS;
}

static int run(CPUState *s)
{
    Runtime *rt = RT(s);
    /* The linear page of the block this loop last called: with paging,
     * every block a chain reaches from it is on that page too. */
    uint32_t entered_page = 0xffffffffu;
    for (;;) {
        uint32_t req = __atomic_load_n(&s->exit_request, __ATOMIC_ACQUIRE);
        if (req) {
            if (req & (EXIT_SMC | EXIT_MAP)) { /* handled: the lookup below retranslates, or checks the map */
                __atomic_and_fetch(&s->exit_request, ~(EXIT_SMC | EXIT_MAP), __ATOMIC_SEQ_CST);
                req &= ~(EXIT_SMC | EXIT_MAP);
                if (!req) continue;
            }
            if (req & EXIT_IRQ) {
                __atomic_and_fetch(&s->exit_request, ~EXIT_IRQ, __ATOMIC_SEQ_CST);
                if (s->irq_line > 0 && (s->eflags & IF_MASK)) {
                    /* INTA: the controller names the vector (or -1 when the
                     * request went away: a spurious interrupt). */
                    int v = py_irq_ack(rt->host);
                    if (v >= 0) {
                        s->halted = 0;
                        cpu_deliver_irq(s, v);
                    }
                }
                continue;
            }
            return RUN_EXIT;
        }
        if (s->fault_pending) {
            /* A #PF recorded by a memory access or an instruction fetch, or
             * the #UD of a fetch from nothing (memory.c, cpu_code_phys):
             * EIP is the faulting instruction. */
            cpu_raise_pending(s);
            continue;
        }
        if (s->halted) return RUN_HLT;
        if (s->icount >= s->icount_limit) return RUN_LIMIT;
        uint32_t cs_base = s->seg_base[R_CS];
        uint32_t pc = cs_base + s->eip;
        /* Resuming from a breakpoint (bp_skip) runs past it once. */
        if (s->bp_count && pc != s->bp_skip && at_breakpoint(s, pc)) return RUN_DEBUG;
        void **slot = (void **)s->last_slot;
        s->last_slot = NULL;
        uint32_t key = s->hflags;
        /* the region could not run this instruction, or an exact budget is near */
        if (s->side_exit || (s->debug_flags & DEBUG_ALONE)) key |= HF_NOREGION;
        Block *b = bt_lookup(rt, pc, cs_base, key);
        int paging = (s->cr[0] & 0x80000000u) != 0;
        if (b && paging) {
            int m = block_mapped(s, b, pc);
            if (m < 0) continue; /* the fetch faults: delivered above */
            if (!m) {
                bt_drop(rt, b);
                b = NULL;
            }
        }
        if (!b && rt->bl_enabled && !s->bp_count && !s->trace_flags &&
            !((key & HF_TF) || ((key & HF_STEP) && !(s->debug_flags & DEBUG_EXACT))) &&
            !bl_deferred(rt, pc, cs_base, key)) {
            /* The baseline tier makes it here when every form is known;
             * else Python does (or the LLVM tier). */
            int r = bl_translate(s, pc, cs_base, key);
            if (r < 0) continue; /* the fetch faulted: delivered above */
            if (r > 0 && arena_over()) return RUN_RECLAIM; /* (the block runs after) */
            if (r > 0) b = bt_lookup(rt, pc, cs_base, key);
        }
        if (!b) {
            s->miss_pc = pc;
            s->miss_cs_base = cs_base;
            s->miss_hflags = key;
            return RUN_MISS;
        }
        s->side_exit = 0;
        /* Chain the exit the last block took to this block, unless a
         * debugger needs every block boundary or the mode changed. */
        if (slot && s->last_hflags == s->hflags && !s->bp_count &&
            !(s->hflags & (HF_STEP | HF_TF)) && !s->trace_flags && !(s->debug_flags & DEBUG_ALONE) &&
            /* with paging, not across pages: the next page's map is checked here */
            (!paging || (pc >> PAGE_BITS == entered_page && b->phys_hi >> PAGE_BITS == b->phys_lo >> PAGE_BITS)))
            chain_link(b, slot);
        entered_page = pc >> PAGE_BITS;
        s->cur_phys_lo = b->phys_lo;
        s->cur_phys_hi = b->phys_hi;
        s->bp_skip = 0xffffffffu;
        if (s->trace_flags & (TRACE_EXEC | TRACE_CPU)) {
            fio_drain(rt);
            py_trace(rt->host, 1, pc, cs_base, b->id);
        }
        if ((s->hflags & HF_STEP) && (s->debug_flags & DEBUG_STEP)) {
            b->fn(s);
            s->last_slot = NULL;
            s->block_execs++;
            return RUN_STEP;
        }
        if (s->hflags & HF_TF) {
            /* Single-step: the block is one instruction; unless it raised
             * an exception, #DB (a trap, DR6.BS) follows it. */
            uint32_t exc = s->exc_count;
            b->fn(s);
            s->block_execs++;
            if (s->exc_count == exc && !s->fault_pending && !(s->exit_request & EXIT_SMC)) {
                s->dr[6] |= 0x4000;
                s->last_exception = 1;
                s->exc_count++;
                s->icount++; /* an exception takes guest time too (layout.py: icount) */
                cpu_deliver(s, 1, s->eip);
            }
            continue;
        }
        if (s->hflags & HF_STEP) { /* DEBUG_EXACT: the budget check above stops it */
            b->fn(s);
            s->last_slot = NULL;
            s->block_execs++;
            continue;
        }
        if (s->debug_flags & DEBUG_ALONE) {
            /* One block: one that it (or an old chain) jumps to stops in
             * its prologue, as the budget is reached for it. */
            uint64_t limit = s->icount_limit;
            s->icount_limit = s->icount + 1;
            b->fn(s);
            s->icount_limit = limit;
            s->block_execs++;
            continue;
        }
        b->fn(s);
        s->block_execs++;
    }
}

/* Whatever made the run return, the host sees the debug console's output
 * up to here. */
int cpu_run(CPUState *s)
{
    code_enter();
    int r = RT(s)->code_epoch == arena_epoch() ? run(s) : RUN_STALE;
    code_leave();
    fio_drain(RT(s));
    return r;
}
