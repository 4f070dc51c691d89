/* The x87 instructions: one helper for every escape opcode (D8-DF), given
 * the 11-bit opcode (FOP: the escape's low 3 bits and the ModRM byte), the
 * memory operand's linear address and offset, and its segment and the
 * operand size.  The register stack, the tag word, the status and control
 * words, exceptions (masked responses; unmasked ones set ES and are
 * reported at the next waiting instruction as #MF when CR0.NE=1, at once
 * on FERR# -> IRQ13 when CR0.NE=0), the environment (FSTENV/FLDENV/
 * FSAVE/FRSTOR in their four layouts) and the last-instruction pointers.
 * Arithmetic is runtime/fpu_soft.c.  Memory is read before anything
 * changes and a store is probed first, so a faulting instruction leaves
 * the FPU as it was.  Returns 1 when an exception was delivered. */
#include "jitemu.h"
#include "fpu_soft.h"

#define SW_C0 0x0100u
#define SW_C1 0x0200u
#define SW_C2 0x0400u
#define SW_C3 0x4000u
#define SW_CC (SW_C0 | SW_C1 | SW_C2 | SW_C3)
#define SW_ES 0x0080u
#define SW_B 0x8000u
#define CR0_NE 0x20u

void helper_raise(CPUState *s, int vector);

enum { K_ADD = 0, K_MUL = 1, K_COM = 2, K_COMP = 3, K_SUB = 4, K_SUBR = 5, K_DIV = 6, K_DIVR = 7 };

/* -- registers and tags ------------------------------------------------ */
static int phys(CPUState *s, int i) { return (s->fpu_top + i) & 7; }
static int empty(CPUState *s, int i) { return ((s->fpu_tag >> (2 * phys(s, i))) & 3) == 3; }
static f80 get(CPUState *s, int i) { int p = phys(s, i); f80 r = {s->fpr_sig[p], s->fpr_se[p]}; return r; }

static int tag_of(f80 v)
{
    switch (f80_class(v)) {
    case FC_NORMAL: return 0;
    case FC_ZERO: return 1;
    default: return 2;
    }
}

static void set_tag(CPUState *s, int p, int t) { s->fpu_tag = (s->fpu_tag & ~(3u << (2 * p))) | ((uint32_t)t << (2 * p)); }

static void put(CPUState *s, int i, f80 v)
{
    int p = phys(s, i);
    s->fpr_sig[p] = v.m;
    s->fpr_se[p] = v.se;
    set_tag(s, p, tag_of(v));
}

static void pop(CPUState *s)
{
    set_tag(s, phys(s, 0), 3);
    s->fpu_top = (s->fpu_top + 1) & 7;
}

static void push(CPUState *s, f80 v)
{
    s->fpu_top = (s->fpu_top - 1) & 7;
    put(s, 0, v);
}

static uint32_t status(CPUState *s) { return (s->fpu_sw & ~0x3800u) | (s->fpu_top << 11); }

/* -- exceptions -------------------------------------------------------- */
static void ferr(CPUState *s)
{
    /* CR0.NE=0: the PC routes FERR# to IRQ13 (cleared by a write to port F0). */
    if (!(s->cr[0] & CR0_NE) && !s->fpu_ferr) {
        s->fpu_ferr = 1;
        py_log(RT(s)->host, LOG_FERR, 1, 0);
    }
}

static void summary(CPUState *s)
{
    if (s->fpu_sw & ~s->fpu_cw & 0x3f) {
        s->fpu_sw |= SW_ES | SW_B;
        ferr(s);
    } else {
        s->fpu_sw &= ~(SW_ES | SW_B);
    }
}

/* The flags of an operation into the status word.  Returns 1 when an
 * unmasked invalid operation, denormal or zero divide means the result
 * must not be written.  C1 is the round-up bit unless a stack fault set it. */
static int raise_flags(CPUState *s, uint32_t fl)
{
    uint32_t unmasked = fl & ~s->fpu_cw & 0x3f;
    int block = 0;
    if (unmasked & FX_IE) { fl &= FX_IE | FX_SF | FX_C1; block = 1; }
    else if (unmasked & FX_DE) { fl &= FX_IE | FX_DE; block = 1; }
    else if (unmasked & FX_ZE) { fl &= FX_IE | FX_DE | FX_ZE; block = 1; }
    s->fpu_sw = (s->fpu_sw & ~SW_C1) | (fl & (0x7f | FX_C1));
    summary(s);
    return block;
}

/* Stack underflow (an empty source) or overflow (a full destination). */
static int stack_fault(CPUState *s, int overflow)
{
    return raise_flags(s, FX_IE | FX_SF | (overflow ? FX_C1 : 0));
}

/* -- memory ------------------------------------------------------------ */
static int user(CPUState *s) { return ((s->hflags >> HF_CPL_SHIFT) & 3) == 3; }

static int rd(CPUState *s, uint32_t lin, uint8_t *buf, int n)
{
    for (int i = 0; i < n; i += 4) {
        int k = n - i < 4 ? n - i : 4;
        uint32_t v = lin_read(s, lin + i, k);
        if (s->fault_pending) return -1;
        memcpy(buf + i, &v, k);
    }
    return 0;
}

static int wr_check(CPUState *s, uint32_t lin, int n) { return tlb_probe(s, lin, n, 1, user(s)); }

static void wr(CPUState *s, uint32_t lin, const uint8_t *buf, int n)
{
    for (int i = 0; i < n; i += 4) {
        int k = n - i < 4 ? n - i : 4;
        uint32_t v = 0;
        memcpy(&v, buf + i, k);
        lin_write(s, lin + i, v, k);
    }
}

static int fault(CPUState *s) { return cpu_raise_pending(s); }

/* -- arithmetic ---------------------------------------------------------- */
static f80 arith(Fenv *e, int k, f80 a, f80 b)
{
    switch (k) {
    case K_ADD: return f80_add(e, a, b, 0);
    case K_MUL: return f80_mul(e, a, b);
    case K_SUB: return f80_add(e, a, b, 1);
    case K_SUBR: return f80_add(e, b, a, 1);
    case K_DIV: return f80_div(e, a, b);
    default: return f80_div(e, b, a);
    }
}

static void set_cc(CPUState *s, uint32_t cc) { s->fpu_sw = (s->fpu_sw & ~SW_CC) | cc; }

static const uint32_t CMP_CC[4] = {SW_C0, SW_C3, 0, SW_C0 | SW_C2 | SW_C3}; /* less equal greater unordered */
static const uint32_t CMP_EFL[4] = {CF_MASK, ZF_MASK, 0, ZF_MASK | PF_MASK | CF_MASK};

/* FCOM family: compare ST0 with b, then pop `pops` times. */
static void compare(CPUState *s, f80 b, int b_empty, int quiet, int pops, int eflags)
{
    if (empty(s, 0) || b_empty) {
        if (stack_fault(s, 0)) return;
        if (eflags) s->eflags = (s->eflags & ~ARITH_MASK) | CMP_EFL[3];
        else set_cc(s, CMP_CC[3]);
    } else {
        Fenv e = {s->fpu_cw, 0};
        int r = f80_compare(&e, get(s, 0), b, quiet);
        if (raise_flags(s, e.flags)) return;
        if (eflags) s->eflags = (s->eflags & ~ARITH_MASK) | CMP_EFL[r];
        else set_cc(s, CMP_CC[r]);
    }
    while (pops--) pop(s);
}

/* dest (stack index) = a op b, then pop `pops`. */
static void binop(CPUState *s, int k, int dest, int ia, f80 b, int b_empty, int pops)
{
    if (empty(s, ia) || b_empty) {
        if (stack_fault(s, 0)) return;
        put(s, dest, f80_indefinite());
    } else {
        Fenv e = {s->fpu_cw, 0};
        f80 r = arith(&e, k, get(s, ia), b);
        if (raise_flags(s, e.flags)) return;
        put(s, dest, r);
    }
    while (pops--) pop(s);
}

/* A load: push v (computed with flags fl). */
static void load(CPUState *s, f80 v, uint32_t fl)
{
    if (!empty(s, 7)) {
        if (stack_fault(s, 1)) return;
        push(s, f80_indefinite());
        return;
    }
    if (raise_flags(s, fl)) return;
    push(s, v);
}

/* Replace ST0 by f(ST0) (FCHS FABS FSQRT FRNDINT F2XM1). */
static void unary(CPUState *s, int which)
{
    if (empty(s, 0)) {
        if (!stack_fault(s, 0)) put(s, 0, f80_indefinite());
        return;
    }
    f80 a = get(s, 0);
    Fenv e = {s->fpu_cw, 0};
    switch (which) {
    case 0: a.se ^= 0x8000; break;
    case 1: a.se &= 0x7fff; break;
    case 2: a = f80_sqrt(&e, a); break;
    case 3: a = f80_round_int(&e, a); break;
    default: a = f80_2xm1(&e, a); break;
    }
    if (raise_flags(s, e.flags)) return;
    put(s, 0, a);
}

/* FSIN FCOS (0 1) replace ST0; FPTAN (2) replaces it and pushes 1.0 (the
 * NaN again for a NaN result); FSINCOS (3) replaces it by the sine and
 * pushes the cosine (C1: the cosine's rounding).  |ST0| >= 2^63: C2 = 1
 * and nothing changes. */
static void trig(CPUState *s, int which)
{
    int pushes = which >= 2;
    s->fpu_sw &= ~(SW_C1 | SW_C2);
    if (empty(s, 0) || (pushes && !empty(s, 7))) {
        if (stack_fault(s, !empty(s, 0))) return;
        put(s, 0, f80_indefinite());
        if (pushes) push(s, f80_indefinite());
        return;
    }
    f80 a = get(s, 0), r, r2 = {0x8000000000000000ull, 0x3fff};
    Fenv e = {s->fpu_cw, 0}, es = {s->fpu_cw, 0};
    int out;
    switch (which) {
    case 0: out = f80_sincos(&e, a, &r, NULL); break;
    case 1: out = f80_sincos(&e, a, NULL, &r); break;
    case 2: out = f80_tan(&e, a, &r); if (f80_class(r) == FC_NAN) r2 = r; break;
    default: out = f80_sincos(&es, a, &r, NULL); f80_sincos(&e, a, NULL, &r2); e.flags |= es.flags & 0x7f; break;
    }
    if (out) { s->fpu_sw |= SW_C2; return; }
    if (raise_flags(s, e.flags)) return;
    put(s, 0, r);
    if (pushes) push(s, r2);
}

/* FPATAN (0), FYL2X (1), FYL2XP1 (2): ST1 = f(ST1, ST0), then pop. */
static void binary_pop(CPUState *s, int which)
{
    if (empty(s, 0) || empty(s, 1)) {
        if (!stack_fault(s, 0)) { put(s, 1, f80_indefinite()); pop(s); }
        return;
    }
    Fenv e = {s->fpu_cw, 0};
    f80 x = get(s, 0), y = get(s, 1);
    f80 r = which == 0 ? f80_atan2(&e, y, x) : which == 1 ? f80_yl2x(&e, x, y) : f80_yl2xp1(&e, x, y);
    if (raise_flags(s, e.flags)) return;
    put(s, 1, r);
    pop(s);
}

/* FXCH st(i), and its aliases. */
static void fxch(CPUState *s, int i)
{
    if (empty(s, 0) || empty(s, i)) {
        if (stack_fault(s, 0)) return;
        if (empty(s, 0)) put(s, 0, f80_indefinite());
        if (empty(s, i)) put(s, i, f80_indefinite());
    }
    f80 a = get(s, 0), b = get(s, i);
    put(s, 0, b);
    put(s, i, a);
    s->fpu_sw &= ~SW_C1;
}

/* FST/FSTP st(i), and FSTP's aliases. */
static void fst_reg(CPUState *s, int i, int popping)
{
    if (empty(s, 0)) { if (stack_fault(s, 0)) return; put(s, i, f80_indefinite()); }
    else { put(s, i, get(s, 0)); s->fpu_sw &= ~SW_C1; }
    if (popping) pop(s);
}

static int cond(CPUState *s, int c)
{
    uint32_t f = s->eflags;
    switch (c & 3) {
    case 0: return (f & CF_MASK) != 0;
    case 1: return (f & ZF_MASK) != 0;
    case 2: return (f & (CF_MASK | ZF_MASK)) != 0;
    default: return (f & PF_MASK) != 0;
    }
}

static void fxam(CPUState *s)
{
    static const uint32_t CC[6] = {0, SW_C0, SW_C2, SW_C2 | SW_C0, SW_C3, SW_C3 | SW_C2};
    f80 a = get(s, 0);
    uint32_t cc = F80_SIGN(a) ? SW_C1 : 0;
    cc |= empty(s, 0) ? SW_C3 | SW_C0 : CC[f80_class(a)];
    set_cc(s, cc);
}

/* -- the environment ----------------------------------------------------- */
static uint32_t full_tags(CPUState *s)
{
    uint32_t t = 0;
    for (int p = 0; p < 8; p++) {
        uint32_t e = ((s->fpu_tag >> (2 * p)) & 3) == 3 ? 3 : (uint32_t)tag_of((f80){s->fpr_sig[p], s->fpr_se[p]});
        t |= e << (2 * p);
    }
    return t;
}

static int real_mode(CPUState *s) { return !(s->cr[0] & 1) || (s->eflags & VM_MASK); }

/* The 14- or 28-byte environment image. */
static int env_image(CPUState *s, uint8_t *b, int size32)
{
    uint32_t w[7];
    w[0] = s->fpu_cw;
    w[1] = status(s);
    w[2] = full_tags(s);
    if (real_mode(s)) {
        uint32_t ip = (s->fpu_fcs << 4) + s->fpu_fip, dp = (s->fpu_fds << 4) + s->fpu_fdp;
        w[3] = ip & 0xffff;
        w[4] = ((ip >> 16) << 12) | (s->fpu_fop & 0x7ff);
        w[5] = dp & 0xffff;
        w[6] = (dp >> 16) << 12;
    } else {
        w[3] = s->fpu_fip;
        w[4] = (s->fpu_fcs & 0xffff) | (size32 ? (s->fpu_fop & 0x7ff) << 16 : 0);
        w[5] = s->fpu_fdp;
        w[6] = s->fpu_fds & 0xffff;
    }
    for (int i = 0; i < 7; i++) {
        if (size32) memcpy(b + 4 * i, &w[i], 4);
        else { uint16_t h = (uint16_t)w[i]; memcpy(b + 2 * i, &h, 2); }
    }
    return size32 ? 28 : 14;
}

static void env_load(CPUState *s, const uint8_t *b, int size32)
{
    uint32_t w[7];
    for (int i = 0; i < 7; i++) {
        if (size32) memcpy(&w[i], b + 4 * i, 4);
        else { uint16_t h; memcpy(&h, b + 2 * i, 2); w[i] = h; }
    }
    s->fpu_cw = (w[0] & 0x1f7f) | 0x40;
    s->fpu_top = (w[1] >> 11) & 7;
    s->fpu_sw = w[1] & ~0x3800u & 0xffff;
    /* Empty stays empty; the other tags follow the registers' contents. */
    s->fpu_tag = 0;
    for (int p = 0; p < 8; p++)
        set_tag(s, p, ((w[2] >> (2 * p)) & 3) == 3 ? 3 : tag_of((f80){s->fpr_sig[p], s->fpr_se[p]}));
    if (real_mode(s)) {
        s->fpu_fip = (w[3] & 0xffff) | ((w[4] >> 12) << 16);
        s->fpu_fop = w[4] & 0x7ff;
        s->fpu_fdp = (w[5] & 0xffff) | ((w[6] >> 12) << 16);
        s->fpu_fcs = s->fpu_fds = 0;
    } else {
        s->fpu_fip = w[3];
        s->fpu_fcs = w[4] & 0xffff;
        s->fpu_fop = size32 ? (w[4] >> 16) & 0x7ff : 0;
        s->fpu_fdp = w[5];
        s->fpu_fds = w[6] & 0xffff;
    }
    summary(s);
}

void fpu_init(CPUState *s)
{
    s->fpu_cw = 0x037f;
    s->fpu_sw = 0;
    s->fpu_top = 0;
    s->fpu_tag = 0xffff;
    s->fpu_fip = s->fpu_fcs = s->fpu_fop = s->fpu_fdp = s->fpu_fds = 0;
}

/* -- the helper ---------------------------------------------------------- */
static int ud(CPUState *s)
{
    helper_raise(s, 6); /* an x87 opcode the 387 (+ P6's FCOMI/FCMOV) does not have: logged */
    return 1;
}

static int is_control(int esc, int modrm)
{
    int reg = (modrm >> 3) & 7;
    if (modrm < 0xc0) return (esc == 1 && reg >= 4) || (esc == 5 && (reg == 4 || reg >= 6));
    return (esc == 3 && modrm >= 0xe0 && modrm <= 0xe4) || (esc == 7 && modrm == 0xe0);
}

static int nowait(int esc, int modrm)
{
    int reg = (modrm >> 3) & 7;
    if (modrm < 0xc0) return (esc == 1 && reg >= 6) || (esc == 5 && reg >= 6);
    return (esc == 3 && modrm >= 0xe0 && modrm <= 0xe4) || (esc == 7 && modrm == 0xe0);
}

/* WAIT/FWAIT: an unmasked exception pending is reported here. */
int helper_fwait(CPUState *s)
{
    if ((s->fpu_sw & SW_ES) && (s->cr[0] & CR0_NE)) return cpu_raise(s, 16, 0, 0);
    return 0;
}

/* FXSAVE (restore = 0) and FXRSTOR (1): the 512-byte image, SDM table
 * 10-2 for a CPU outside 64-bit mode: FCW, FSW, the abridged tag byte (1 =
 * not empty), FOP, FIP, FCS, FDP, FDS at 0-23, ST0-ST7 in 16-byte slots
 * from 32.  This CPU has FXSR but no SSE: it has no MXCSR or XMM
 * registers, so bytes 24-31 and 160-511 are neither written nor read
 * (whatever CR4.OSFXSR says), nor the slots' reserved bytes, as QEMU.  The
 * whole operand must be accessible; a misaligned one (linear address not a
 * multiple of 16) is #GP(0).  Neither waits for a pending exception. */
int helper_fxsave(CPUState *s, uint32_t lin, int restore)
{
    uint8_t b[512];
    if (lin & 15) return cpu_raise(s, 13, 1, 0);
    if (!restore) {
        if (wr_check(s, lin, 512)) return fault(s);
        uint32_t tags = full_tags(s), abridged = 0;
        for (int p = 0; p < 8; p++) abridged |= (((tags >> (2 * p)) & 3) != 3) << p;
        uint16_t w[12] = {(uint16_t)s->fpu_cw, (uint16_t)status(s), (uint16_t)abridged, (uint16_t)s->fpu_fop,
                          (uint16_t)s->fpu_fip, (uint16_t)(s->fpu_fip >> 16), (uint16_t)s->fpu_fcs, 0,
                          (uint16_t)s->fpu_fdp, (uint16_t)(s->fpu_fdp >> 16), (uint16_t)s->fpu_fds, 0};
        memcpy(b, w, 24);
        wr(s, lin, b, 24);
        for (int i = 0; i < 8; i++) {
            f80 v = get(s, i);
            memcpy(b, &v.m, 8);
            memcpy(b + 8, &v.se, 2);
            wr(s, lin + 32 + 16 * i, b, 10);
        }
        return 0;
    }
    if (rd(s, lin, b, 512)) return fault(s);
    uint16_t w[12];
    memcpy(w, b, 24);
    s->fpu_cw = (w[0] & 0x1f7f) | 0x40;
    s->fpu_top = (w[1] >> 11) & 7;
    s->fpu_sw = w[1] & ~0x3800u;
    s->fpu_fop = w[3] & 0x7ff;
    s->fpu_fip = w[4] | (uint32_t)w[5] << 16;
    s->fpu_fcs = w[6];
    s->fpu_fdp = w[8] | (uint32_t)w[9] << 16;
    s->fpu_fds = w[10];
    for (int i = 0; i < 8; i++) {
        int p = phys(s, i);
        memcpy(&s->fpr_sig[p], b + 32 + 16 * i, 8);
        memcpy(&s->fpr_se[p], b + 32 + 16 * i + 8, 2);
    }
    for (int p = 0; p < 8; p++)
        set_tag(s, p, (w[2] >> p) & 1 ? tag_of((f80){s->fpr_sig[p], s->fpr_se[p]}) : 3);
    summary(s);
    return 0;
}

static int mem_op(CPUState *s, int esc, int reg, uint32_t lin, int size32);
static int reg_op(CPUState *s, int esc, int modrm);

int helper_fpu(CPUState *s, uint32_t fop, uint32_t lin, uint32_t ea, uint32_t segsz)
{
    int esc = (fop >> 8) & 7, modrm = fop & 0xff;
    if (!nowait(esc, modrm) && (s->fpu_sw & SW_ES) && (s->cr[0] & CR0_NE)) return cpu_raise(s, 16, 0, 0);
    uint32_t ip = s->eip, cs = s->seg_sel[R_CS];
    int r = modrm < 0xc0 ? mem_op(s, esc, (modrm >> 3) & 7, lin, (segsz >> 8) == 4) : reg_op(s, esc, modrm);
    if (r == 0 && !is_control(esc, modrm)) {
        s->fpu_fip = ip;
        s->fpu_fcs = cs;
        s->fpu_fop = fop & 0x7ff;
        if (modrm < 0xc0) {
            s->fpu_fdp = ea;
            s->fpu_fds = s->seg_sel[segsz & 7];
        }
    }
    return r;
}

static const int INT_SIZE[4] = {4, 4, 8, 2}; /* DA: m32int, DE: m16int (index esc >> 1) */

static int mem_op(CPUState *s, int esc, int reg, uint32_t lin, int size32)
{
    uint8_t b[108];
    uint32_t v32;
    uint64_t v64;
    uint16_t v16;
    Fenv e = {s->fpu_cw, 0};
    if (!(esc & 1)) { /* D8 DA DC DE: arithmetic with a memory source */
        int n = esc == 0 || esc == 2 ? 4 : esc == 4 ? 8 : 2;
        if (rd(s, lin, b, n)) return fault(s);
        f80 src;
        if (esc == 0) { memcpy(&v32, b, 4); src = f80_from_f32(&e, v32); }
        else if (esc == 4) { memcpy(&v64, b, 8); src = f80_from_f64(&e, v64); }
        else if (esc == 2) { memcpy(&v32, b, 4); src = f80_from_i64((int32_t)v32); }
        else { memcpy(&v16, b, 2); src = f80_from_i64((int16_t)v16); }
        (void)INT_SIZE;
        if (reg == K_COM || reg == K_COMP) {
            /* flags of the conversion (SNaN, denormal) come with the compare's */
            if (e.flags & ~s->fpu_cw & (FX_IE | FX_DE)) { raise_flags(s, e.flags); return 0; }
            compare(s, src, 0, 0, reg == K_COMP, 0);
            if (e.flags) s->fpu_sw |= e.flags & 0x3f, summary(s);
            return 0;
        }
        if (e.flags & ~s->fpu_cw & (FX_IE | FX_DE)) { raise_flags(s, e.flags); return 0; }
        if (empty(s, 0)) { if (!stack_fault(s, 0)) put(s, 0, f80_indefinite()); return 0; }
        f80 r = arith(&e, reg, get(s, 0), src);
        if (!raise_flags(s, e.flags)) put(s, 0, r);
        return 0;
    }
    switch (esc << 3 | reg) {
    case 1 << 3 | 0: /* FLD m32 */
        if (rd(s, lin, b, 4)) return fault(s);
        memcpy(&v32, b, 4);
        { f80 v = f80_from_f32(&e, v32); load(s, v, e.flags); }
        return 0;
    case 5 << 3 | 0: /* FLD m64 */
        if (rd(s, lin, b, 8)) return fault(s);
        memcpy(&v64, b, 8);
        { f80 v = f80_from_f64(&e, v64); load(s, v, e.flags); }
        return 0;
    case 3 << 3 | 5: /* FLD m80 */
        if (rd(s, lin, b, 10)) return fault(s);
        { f80 v; memcpy(&v.m, b, 8); memcpy(&v.se, b + 8, 2); load(s, v, 0); }
        return 0;
    case 3 << 3 | 0: /* FILD m32 */
        if (rd(s, lin, b, 4)) return fault(s);
        memcpy(&v32, b, 4);
        load(s, f80_from_i64((int32_t)v32), 0);
        return 0;
    case 7 << 3 | 0: /* FILD m16 */
        if (rd(s, lin, b, 2)) return fault(s);
        memcpy(&v16, b, 2);
        load(s, f80_from_i64((int16_t)v16), 0);
        return 0;
    case 7 << 3 | 5: /* FILD m64 */
        if (rd(s, lin, b, 8)) return fault(s);
        memcpy(&v64, b, 8);
        load(s, f80_from_i64((int64_t)v64), 0);
        return 0;
    case 7 << 3 | 4: /* FBLD */
        if (rd(s, lin, b, 10)) return fault(s);
        load(s, f80_from_bcd(b), 0);
        return 0;
    case 1 << 3 | 2: case 1 << 3 | 3: case 5 << 3 | 2: case 5 << 3 | 3: case 3 << 3 | 7:
    case 3 << 3 | 2: case 3 << 3 | 3: case 7 << 3 | 2: case 7 << 3 | 3: case 7 << 3 | 7: case 7 << 3 | 6: {
        /* FST/FSTP m32 m64 m80, FIST/FISTP m16 m32 m64, FBSTP */
        int popping = reg != 2, n, store = 1;
        f80 a = get(s, 0);
        int was_empty = empty(s, 0);
        switch (esc << 3 | reg) {
        case 1 << 3 | 2: case 1 << 3 | 3: n = 4; break;
        case 5 << 3 | 2: case 5 << 3 | 3: n = 8; break;
        case 3 << 3 | 7: case 7 << 3 | 6: n = 10; break;
        case 7 << 3 | 7: n = 8; break;
        case 7 << 3 | 2: case 7 << 3 | 3: n = 2; break;
        default: n = 4; break;
        }
        if (wr_check(s, lin, n)) return fault(s);
        if (was_empty) {
            e.flags = FX_IE | FX_SF;
            a = f80_indefinite();
        }
        if (!was_empty || (s->fpu_cw & FX_IE)) {
            switch (esc << 3 | reg) {
            case 1 << 3 | 2: case 1 << 3 | 3: v32 = f80_to_f32(&e, a, &store); memcpy(b, &v32, 4); break;
            case 5 << 3 | 2: case 5 << 3 | 3: v64 = f80_to_f64(&e, a, &store); memcpy(b, &v64, 8); break;
            case 3 << 3 | 7: memcpy(b, &a.m, 8); memcpy(b + 8, &a.se, 2); break;
            case 7 << 3 | 6: store = f80_to_bcd(&e, a, b); break;
            default: {
                int64_t iv = f80_to_int(&e, a, n * 8);
                memcpy(b, &iv, n);
                if ((e.flags & FX_IE) && !(s->fpu_cw & FX_IE)) store = 0;
            }
            }
        } else {
            store = 0;
        }
        if (raise_flags(s, e.flags) || !store) return 0;
        wr(s, lin, b, n);
        if (popping) pop(s);
        return 0;
    }
    case 1 << 3 | 5: /* FLDCW */
        if (rd(s, lin, b, 2)) return fault(s);
        memcpy(&v16, b, 2);
        s->fpu_cw = (v16 & 0x1f7f) | 0x40;
        summary(s);
        return 0;
    case 1 << 3 | 7: /* FNSTCW */
    case 5 << 3 | 7: /* FNSTSW m16 */
        v16 = (uint16_t)(reg == 7 && esc == 1 ? s->fpu_cw : status(s));
        if (wr_check(s, lin, 2)) return fault(s);
        wr(s, lin, (uint8_t *)&v16, 2);
        return 0;
    case 1 << 3 | 6: { /* FNSTENV */
        int n = env_image(s, b, size32);
        if (wr_check(s, lin, n)) return fault(s);
        wr(s, lin, b, n);
        s->fpu_cw |= 0x3f; /* all exceptions masked afterwards */
        summary(s);
        return 0;
    }
    case 1 << 3 | 4: /* FLDENV */
        if (rd(s, lin, b, size32 ? 28 : 14)) return fault(s);
        env_load(s, b, size32);
        return 0;
    case 5 << 3 | 6: { /* FNSAVE */
        int n = env_image(s, b, size32);
        for (int i = 0; i < 8; i++) {
            f80 v = get(s, i);
            memcpy(b + n + 10 * i, &v.m, 8);
            memcpy(b + n + 10 * i + 8, &v.se, 2);
        }
        if (wr_check(s, lin, n + 80)) return fault(s);
        wr(s, lin, b, n + 80);
        fpu_init(s);
        return 0;
    }
    case 5 << 3 | 4: { /* FRSTOR */
        int n = size32 ? 28 : 14;
        if (rd(s, lin, b, n + 80)) return fault(s);
        /* registers first (in stack order from the image's TOP), then tags */
        int top = (b[size32 ? 5 : 3] >> 3) & 7;
        for (int i = 0; i < 8; i++) {
            int p = (top + i) & 7;
            memcpy(&s->fpr_sig[p], b + n + 10 * i, 8);
            memcpy(&s->fpr_se[p], b + n + 10 * i + 8, 2);
        }
        env_load(s, b, size32);
        return 0;
    }
    }
    return ud(s); /* FISTTP (SSE3) and the reserved encodings */
}

static int reg_op(CPUState *s, int esc, int modrm)
{
    int reg = (modrm >> 3) & 7, i = modrm & 7;
    Fenv e = {s->fpu_cw, 0};
    switch (esc) {
    case 0: /* FADD FMUL FCOM FCOMP FSUB FSUBR FDIV FDIVR st, st(i) */
        if (reg == K_COM || reg == K_COMP) compare(s, get(s, i), empty(s, i), 0, reg == K_COMP, 0);
        else binop(s, reg, 0, 0, get(s, i), empty(s, i), 0);
        return 0;
    case 4: case 6: /* st(i) = st(i) op st; P: then pop */
        if (reg == 2 || reg == 3) {
            if (esc == 6 && modrm == 0xd9) { compare(s, get(s, 1), empty(s, 1), 0, 2, 0); return 0; } /* FCOMPP */
            if (esc == 6 && reg == 3) return ud(s);
            compare(s, get(s, i), empty(s, i), 0, reg == 3 || esc == 6, 0); /* FCOM2 FCOMP3 FCOMP5 */
            return 0;
        }
        binop(s, reg >= 4 ? reg ^ 1 : reg, i, i, get(s, 0), empty(s, 0), esc == 6);
        return 0;
    case 1:
        switch (reg) {
        case 0: /* FLD st(i) */
            if (empty(s, i)) { if (!empty(s, 7)) { stack_fault(s, 1); return 0; } if (stack_fault(s, 0)) return 0; push(s, f80_indefinite()); return 0; }
            load(s, get(s, i), 0);
            return 0;
        case 1: fxch(s, i); return 0;
        case 2:
            if (i == 0) return 0; /* FNOP */
            return ud(s);
        case 3:
            fst_reg(s, i, 1); /* FSTP1 */
            return 0;
        case 4:
            switch (i) {
            case 0: unary(s, 0); return 0; /* FCHS */
            case 1: unary(s, 1); return 0; /* FABS */
            case 4: /* FTST */
                compare(s, (f80){0, 0}, 0, 0, 0, 0);
                return 0;
            case 5: fxam(s); return 0;
            }
            return ud(s);
        case 5:
            if (i == 7) return ud(s);
            if (i == 6) { load(s, (f80){0, 0}, 0); return 0; }           /* FLDZ */
            if (i == 0) { load(s, (f80){0x8000000000000000ull, 0x3fff}, 0); return 0; } /* FLD1 */
            load(s, f80_constant(i - 1, (s->fpu_cw >> 10) & 3), 0);
            return 0;
        case 6:
            switch (i) {
            case 0: unary(s, 4); return 0;      /* F2XM1 */
            case 1: binary_pop(s, 1); return 0; /* FYL2X */
            case 2: trig(s, 2); return 0;       /* FPTAN */
            case 3: binary_pop(s, 0); return 0; /* FPATAN */
            case 4: { /* FXTRACT */
                if (empty(s, 0)) { if (!stack_fault(s, 0)) { put(s, 0, f80_indefinite()); push(s, f80_indefinite()); } return 0; }
                if (!empty(s, 7)) { if (!stack_fault(s, 1)) { put(s, 0, f80_indefinite()); push(s, f80_indefinite()); } return 0; }
                f80 ex, sig = f80_xtract(&e, get(s, 0), &ex);
                if (raise_flags(s, e.flags)) return 0;
                put(s, 0, ex);
                push(s, sig);
                return 0;
            }
            case 6: s->fpu_top = (s->fpu_top - 1) & 7; s->fpu_sw &= ~SW_C1; return 0; /* FDECSTP */
            case 7: s->fpu_top = (s->fpu_top + 1) & 7; s->fpu_sw &= ~SW_C1; return 0; /* FINCSTP */
            }
            __attribute__((fallthrough)); /* FPREM1 */
        case 7:
            switch (reg == 6 ? 0 : i) {
            case 0: { /* FPREM1, FPREM */
                if (empty(s, 0) || empty(s, 1)) { if (!stack_fault(s, 0)) put(s, 0, f80_indefinite()); return 0; }
                uint32_t cc;
                f80 r = f80_rem(&e, get(s, 0), get(s, 1), reg == 6, &cc);
                if (raise_flags(s, e.flags & ~FX_C1)) return 0;
                put(s, 0, r);
                set_cc(s, cc);
                return 0;
            }
            case 1: binary_pop(s, 2); return 0; /* FYL2XP1 */
            case 2: unary(s, 2); return 0;      /* FSQRT */
            case 3: trig(s, 3); return 0;       /* FSINCOS */
            case 4: unary(s, 3); return 0;      /* FRNDINT */
            case 5: /* FSCALE */
                if (empty(s, 0) || empty(s, 1)) { if (!stack_fault(s, 0)) put(s, 0, f80_indefinite()); return 0; }
                { f80 r = f80_scale(&e, get(s, 0), get(s, 1)); if (!raise_flags(s, e.flags)) put(s, 0, r); }
                return 0;
            case 6: trig(s, 0); return 0;       /* FSIN */
            default: trig(s, 1); return 0;      /* FCOS */
            }
        }
        return ud(s);
    case 2: case 3:
        if (reg <= 3) { /* FCMOVcc */
            int take = cond(s, reg) ^ (esc == 3);
            if (empty(s, 0) || empty(s, i)) {
                if (stack_fault(s, 0)) return 0;
                if (take) put(s, 0, f80_indefinite());
                return 0;
            }
            s->fpu_sw &= ~SW_C1;
            if (take) put(s, 0, get(s, i));
            return 0;
        }
        if (esc == 2 && modrm == 0xe9) { compare(s, get(s, 1), empty(s, 1), 1, 2, 0); return 0; } /* FUCOMPP */
        if (esc == 3) {
            if (modrm == 0xe2) { s->fpu_sw &= 0x7f00; return 0; }              /* FNCLEX */
            if (modrm == 0xe3) { fpu_init(s); return 0; }                      /* FNINIT */
            if (modrm == 0xe0 || modrm == 0xe1 || modrm == 0xe4) return 0;      /* FENI FDISI FSETPM: no-ops on a 387 */
            if (reg == 5 || reg == 6) { compare(s, get(s, i), empty(s, i), reg == 5, 0, 1); return 0; } /* FUCOMI FCOMI */
        }
        return ud(s);
    case 5:
        switch (reg) {
        case 0: set_tag(s, phys(s, i), 3); return 0; /* FFREE */
        case 1: fxch(s, i); return 0; /* FXCH4 */
        case 2: case 3: fst_reg(s, i, reg == 3); return 0; /* FST FSTP st(i) */
        case 4: case 5: /* FUCOM FUCOMP */
            compare(s, get(s, i), empty(s, i), 1, reg == 5, 0);
            return 0;
        }
        return ud(s);
    case 7:
        switch (reg) {
        case 0: set_tag(s, phys(s, i), 3); pop(s); return 0; /* FFREEP */
        case 1: fxch(s, i); return 0;                         /* FXCH7 */
        case 2: case 3: fst_reg(s, i, 1); return 0;           /* FSTP8 FSTP9 */
        }
        if (modrm == 0xe0) { /* FNSTSW AX */
            s->regs[R_EAX] = (s->regs[R_EAX] & 0xffff0000u) | status(s);
            return 0;
        }
        if (reg == 5 || reg == 6) { compare(s, get(s, i), empty(s, i), reg == 5, 1, 1); return 0; } /* FUCOMIP FCOMIP */
        return ud(s);
    }
    return ud(s);
}
