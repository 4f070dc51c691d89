/* String instructions (MOVS CMPS STOS LODS SCAS INS OUTS) with REP,
 * REPE and REPNE, as one helper per instruction execution.  A REP loop is
 * interruptible: it stops between iterations when the host asks, leaving
 * EIP on the instruction so it resumes where it stopped. */
#include <string.h>
#include "flags.h"

enum { S_MOVS, S_CMPS, S_STOS, S_LODS, S_SCAS, S_INS, S_OUTS };
enum { REP_NONE, REP_E, REP_NE };

uint32_t helper_in(CPUState *s, uint32_t port, int size);
void helper_out(CPUState *s, uint32_t port, uint32_t value, int size);

/* How many elements from linear `lin` (offset `off` in its segment) fit
 * in its page, going up or `down`, without wrapping the offset. */
static uint64_t string_room(uint32_t lin, uint32_t off, int size, uint32_t am, int down)
{
    uint64_t in_page = lin & (PAGE_SIZE - 1), page, wrap;
    if ((uint64_t)off + size > (uint64_t)am + 1 || in_page + size > PAGE_SIZE) return 0;
    if (down) {
        page = in_page / size + 1;
        wrap = off / size + 1;
    } else {
        page = (PAGE_SIZE - in_page) / size;
        wrap = ((uint64_t)am + 1 - off) / size;
    }
    return page < wrap ? page : wrap;
}

/* REP MOVS/STOS, as far as the current source and destination pages are
 * plain RAM in the TLB (code pages and devices are not): the iterations
 * run on host pointers, element by element in the CPU's order where
 * source and destination overlap (an overlapping MOVS repeats its
 * pattern).  Returns the iterations done; the caller's loop does the
 * rest one by one. */
static uint32_t string_run(CPUState *s, int op, int size, uint32_t am, int down,
                           uint32_t src, uint32_t dst, uint32_t si, uint32_t di, uint32_t cx)
{
    uint8_t *dp = s->wr_page[dst >> PAGE_BITS];
    if (!dp) return 0;
    uint64_t n = cx, r = string_room(dst, di, size, am, down);
    if (r < n) n = r;
    if (n == 0) return 0;
    uint64_t span = (n - 1) * size;          /* from the first element to the last */
    dp += (dst & (PAGE_SIZE - 1)) - (down ? span : 0);   /* lowest element */
    if (op == S_STOS) {
        uint32_t v = s->regs[R_EAX];
        if (size == 1) memset(dp, (uint8_t)v, n);
        else for (uint64_t i = 0; i <= span; i += size) memcpy(dp + i, &v, size);
        return (uint32_t)n;
    }
    const uint8_t *sp = s->rd_page[src >> PAGE_BITS];
    if (!sp) return 0;
    r = string_room(src, si, size, am, down);
    if (r < n) {
        n = r;
        if (n == 0) return 0;
        dp += down ? span - (n - 1) * size : 0;
        span = (n - 1) * size;
    }
    sp += (src & (PAGE_SIZE - 1)) - (down ? span : 0);
    uint64_t bytes = span + size;
    if (dp >= sp + bytes || sp >= dp + bytes) {
        memcpy(dp, sp, bytes); /* apart: one copy */
    } else {
        for (uint64_t k = 0; k < n; k++) { /* overlap: element by element, in order */
            uint64_t i = down ? span - k * size : k * size;
            uint32_t v;
            memcpy(&v, sp + i, size);
            memcpy(dp + i, &v, size);
        }
    }
    return (uint32_t)n;
}

/* The first of `n` elements that ends a REPE (`ne` = 0: one different) or
 * REPNE (one equal) repetition, or n when none does.  Element k of the
 * scan is at lowest + k * size going up, lowest + (n - 1 - k) * size going
 * `down`; each is compared with the element of `a` at the same place or,
 * without `a` (SCAS), with `v`.  Eight bytes at a time while none ends it. */
static uint64_t scan_stop(const uint8_t *a, const uint8_t *b, uint32_t v, uint64_t n, int size, int down, int ne)
{
    if (!a && !down && ne && size == 1) {
        const uint8_t *hit = memchr(b, (uint8_t)v, n);
        return hit ? (uint64_t)(hit - b) : n;
    }
    uint64_t ones = size == 1 ? 0x0101010101010101ull : size == 2 ? 0x0001000100010001ull : 0x0000000100000001ull;
    uint64_t high = ones << (8 * size - 1), pat = (v & size_mask(size)) * ones, per = 8 / size, k = 0;
    for (; k + per <= n; k += per) {
        uint64_t at = (down ? n - k - per : k) * size, x, y = pat;
        memcpy(&x, b + at, 8);
        if (a) memcpy(&y, a + at, 8);
        x ^= y; /* zero elements: the equal ones */
        if (ne ? ((x - ones) & ~x & high) != 0 : x != 0) break;
    }
    for (; k < n; k++) {
        uint64_t at = (down ? n - 1 - k : k) * size;
        uint32_t x = 0, y = v & size_mask(size);
        memcpy(&x, b + at, size);
        if (a) memcpy(&y, a + at, size);
        if ((x == y) == ne) return k;
    }
    return n;
}

/* REPE/REPNE SCAS and CMPS, and REP LODS, as far as the pages read are
 * plain memory in the TLB (a device's page has no read entry): the scan
 * runs on host pointers and leaves the flags (and LODS's accumulator) as
 * the last iteration would.  Returns the iterations done, 0 for the
 * caller's element loop. */
static uint32_t scan_run(CPUState *s, int op, int size, int rep, uint32_t am, int down,
                         uint32_t src, uint32_t dst, uint32_t si, uint32_t di, uint32_t cx)
{
    const uint8_t *sp = NULL, *dp = NULL;
    uint64_t n = cx, r;
    if (op != S_SCAS) { /* CMPS and LODS read DS:SI */
        if (!(sp = s->rd_page[src >> PAGE_BITS])) return 0;
        if ((r = string_room(src, si, size, am, down)) < n) n = r;
    }
    if (op != S_LODS) { /* CMPS and SCAS read ES:DI */
        if (!(dp = s->rd_page[dst >> PAGE_BITS])) return 0;
        if ((r = string_room(dst, di, size, am, down)) < n) n = r;
    }
    if (n == 0) return 0;
    uint64_t span = (n - 1) * size, last;
    if (sp) sp += (src & (PAGE_SIZE - 1)) - (down ? span : 0); /* lowest element */
    if (dp) dp += (dst & (PAGE_SIZE - 1)) - (down ? span : 0);
    uint32_t a = 0, b = 0, vm = size_mask(size);
    if (op == S_LODS) {
        memcpy(&a, sp + (down ? 0 : span), size);
        s->regs[R_EAX] = (s->regs[R_EAX] & ~vm) | a;
        return (uint32_t)n;
    }
    uint64_t k = scan_stop(sp, dp, s->regs[R_EAX], n, size, down, rep == REP_NE);
    if (k == n) k = n - 1; /* none ended it: the last compared is the last */
    last = (down ? n - 1 - k : k) * size;
    if (sp) memcpy(&a, sp + last, size);
    else a = s->regs[R_EAX];
    memcpy(&b, dp + last, size);
    set_arith(s, flags_sub(a, b, size), ARITH_MASK);
    return (uint32_t)(k + 1);
}

/* Whether CMPS or SCAS just met the element that ends a REPE (ZF clear)
 * or REPNE (ZF set) repetition. */
static int rep_ends(CPUState *s, int op, int rep)
{
    int zf = (s->eflags & ZF_MASK) != 0;
    return (op == S_CMPS || op == S_SCAS) && (rep == REP_E ? !zf : rep == REP_NE && zf);
}

/* Returns 0 when the instruction completed, 1 when it stopped early. */
int helper_string(CPUState *s, int op, int size, int rep, int seg, int addr32)
{
    uint32_t am = addr32 ? 0xffffffffu : 0xffffu;
    int32_t step = (s->eflags & DF_MASK) ? -size : size;
    uint32_t src_base = s->seg_base[seg], dst_base = s->seg_base[R_ES];
    uint32_t vm = size_mask(size);
    int budget = 1 << 16;
    for (;;) {
        if (rep) {
            if ((s->regs[R_ECX] & am) == 0) return 0;
        }
        uint32_t si = s->regs[R_ESI] & am, di = s->regs[R_EDI] & am;
        if (rep && op != S_INS && op != S_OUTS) {
            uint32_t n = op == S_STOS || op == S_MOVS
                ? string_run(s, op, size, am, step < 0, src_base + si, dst_base + di, si, di, s->regs[R_ECX] & am)
                : scan_run(s, op, size, rep, am, step < 0, src_base + si, dst_base + di, si, di, s->regs[R_ECX] & am);
            if (n) {
                if (op != S_STOS && op != S_SCAS) s->regs[R_ESI] = (s->regs[R_ESI] & ~am) | ((si + n * step) & am);
                if (op != S_LODS) s->regs[R_EDI] = (s->regs[R_EDI] & ~am) | ((di + n * step) & am);
                uint32_t cx = (s->regs[R_ECX] - n) & am;
                s->regs[R_ECX] = (s->regs[R_ECX] & ~am) | cx;
                if (cx == 0) return 0;
                if (rep_ends(s, op, rep)) return 0;
                if ((__atomic_load_n(&s->exit_request, __ATOMIC_RELAXED) & ~EXIT_SMC) || --budget == 0)
                    return 1;
                continue;
            }
        }
        int advance_si = 0, advance_di = 0;
        uint32_t f;
        switch (op) {
        case S_MOVS: {
            uint32_t v = lin_read(s, src_base + si, size);
            if (s->fault_pending) return 1;
            lin_write(s, dst_base + di, v, size);
            advance_si = advance_di = 1;
            break;
        }
        case S_CMPS: {
            uint32_t a = lin_read(s, src_base + si, size), b = lin_read(s, dst_base + di, size);
            if (s->fault_pending) return 1;
            f = flags_sub(a, b, size);
            set_arith(s, f, ARITH_MASK);
            advance_si = advance_di = 1;
            break;
        }
        case S_STOS:
            lin_write(s, dst_base + di, s->regs[R_EAX] & vm, size);
            advance_di = 1;
            break;
        case S_LODS: {
            uint32_t v = lin_read(s, src_base + si, size);
            if (s->fault_pending) return 1;
            s->regs[R_EAX] = (s->regs[R_EAX] & ~vm) | v;
            advance_si = 1;
            break;
        }
        case S_SCAS: {
            uint32_t v = lin_read(s, dst_base + di, size);
            if (s->fault_pending) return 1;
            set_arith(s, flags_sub(s->regs[R_EAX], v, size), ARITH_MASK);
            advance_di = 1;
            break;
        }
        case S_INS:
            lin_write(s, dst_base + di, helper_in(s, s->regs[R_EDX] & 0xffff, size), size);
            advance_di = 1;
            break;
        case S_OUTS: {
            uint32_t v = lin_read(s, src_base + si, size);
            if (s->fault_pending) return 1; /* the port sees nothing of a faulting read */
            helper_out(s, s->regs[R_EDX] & 0xffff, v, size);
            advance_si = 1;
            break;
        }
        }
        /* A #PF leaves the registers at this iteration: it restarts here. */
        if (s->fault_pending) return 1;
        if (advance_si) s->regs[R_ESI] = (s->regs[R_ESI] & ~am) | ((si + step) & am);
        if (advance_di) s->regs[R_EDI] = (s->regs[R_EDI] & ~am) | ((di + step) & am);
        if (!rep) return 0;
        uint32_t cx = (s->regs[R_ECX] - 1) & am;
        s->regs[R_ECX] = (s->regs[R_ECX] & ~am) | cx;
        if (rep_ends(s, op, rep)) return 0;
        if (cx == 0) return 0;
        /* Between iterations: honour the host.  A write into translated
         * code (EXIT_SMC) does not stop a REP: the instruction was already
         * decoded, as on a real CPU; the block ends after it. */
        if ((__atomic_load_n(&s->exit_request, __ATOMIC_RELAXED) & ~EXIT_SMC) || --budget == 0) return 1;
    }
}
