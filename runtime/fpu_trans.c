/* The x87 transcendentals (FSIN FCOS FSINCOS FPTAN FPATAN F2XM1 FYL2X
 * FYL2XP1) in a wide soft-float: a sign, an int32 exponent and a 128-bit
 * significand whose low bit is sticky, so every step errs by about 2^-127
 * and exact cases (log2 of a power of two, atan2 of zeros...) stay exact.
 * The one rounding to 64 bits (f80_round_wide: RC, C1, PE, UE, OE) is
 * then correct except within ~2^-60 ulp of a rounding boundary.
 * Trigonometric arguments are reduced modulo pi/2 by multiplying with 2/pi
 * to 384 bits (Payne-Hanek): for every |x| < 2^63 the quadrant is exact and
 * the reduced argument keeps over 120 bits even next to a multiple of
 * pi/2, where the 387's 66-bit pi loses them.  Series: Taylor for sin, cos
 * and expm1 (|r| <= pi/4, |g| <= ln2/2); atan and atanh (for logarithms)
 * after reduction to |u| <= tan(pi/8) and |u| <= 0.172. */
#include "fpu_soft.h"

#define BIAS 16383
#define INT_BIT 0x8000000000000000ull
#define TOP ((u128)1 << 127)

/* (-1)^s * m/2^127 * 2^e; m = 0 is a zero, otherwise m >= 2^127. */
typedef struct { int s; int32_t e; u128 m; } W;

#define WK(hi, lo, ex) {0, (ex), ((u128)(hi) << 64) | (lo)}
/* Truncated to 128 bits (computed offline). */
static const W ONE = {0, 0, TOP};
static const W PI = WK(0xc90fdaa22168c234ull, 0xc4c6628b80dc1cd1ull, 1);
static const W PIO2 = WK(0xc90fdaa22168c234ull, 0xc4c6628b80dc1cd1ull, 0);
static const W PIO4 = WK(0xc90fdaa22168c234ull, 0xc4c6628b80dc1cd1ull, -1);
static const W PI3O4 = WK(0x96cbe3f9990e91a7ull, 0x9394c9e8a0a5159cull, 1);
static const W LN2 = WK(0xb17217f7d1cf79abull, 0xc9e3b39803f2f6afull, -1);
static const W LOG2E = WK(0xb8aa3b295c17f0bbull, 0xbe87fed0691d3e88ull, 0);
/* 2/pi * 2^384, least significant limb first. */
static const uint64_t TWO_OVER_PI[6] = {0x06492eea09d1921cull, 0xb7246e3a424dd2e0ull, 0xfe5163abdebbc561ull,
                                        0xdb6295993c439041ull, 0xfc2757d1f534ddc0ull, 0xa2f9836e4e441529ull};
#define TAN_PI8_HI 0xd413cccfe7799210ull /* tan(pi/8) = hi/2^63 * 2^-2 */
#define SQRT2_HI 0xb504f333f9de6484ull   /* sqrt(2) = hi/2^63 */

static W w_make(int s, int32_t e, u128 m)
{
    W r = {s, e, m};
    if (m) {
        int sh = clz128(m);
        r.m = m << sh;
        r.e = e - sh;
    }
    return r;
}

static W w_neg(W a) { a.s ^= 1; return a; }
static W w_abs(W a) { a.s = 0; return a; }
static W w_int(int32_t n) { return w_make(n < 0, 127, (u128)(n < 0 ? -(int64_t)n : n)); }

/* A finite nonzero f80, exactly. */
static W w_from(f80 a)
{
    int32_t ex = F80_EXP(a) ? F80_EXP(a) : 1;
    return w_make(F80_SIGN(a), ex - BIAS, (u128)a.m << 64);
}

static f80 w_round(Fenv *e, W a)
{
    if (!a.m) { f80 z = {0, (uint16_t)(a.s << 15)}; return z; }
    return f80_round_wide(e, a.s, a.e + BIAS, a.m);
}

/* |a| < |b| */
static int w_less(W a, W b)
{
    if (!a.m || !b.m) return b.m != 0;
    return a.e < b.e || (a.e == b.e && a.m < b.m);
}

static W w_add(W a, W b)
{
    if (!a.m) return b;
    if (!b.m) return a;
    if (w_less(a, b)) { W t = a; a = b; b = t; }
    u128 A = shr_jam(a.m, 1), B = shr_jam(b.m, a.e - b.e + 1);
    u128 R = a.s == b.s ? A + B : A - B;
    if (!R) { W z = {0, 0, 0}; return z; }
    return w_make(a.s, a.e + 1, R);
}

static W w_sub(W a, W b) { return w_add(a, w_neg(b)); }

static W w_mul(W a, W b)
{
    int s = a.s ^ b.s;
    if (!a.m || !b.m) { W z = {s, 0, 0}; return z; }
    uint64_t a1 = (uint64_t)(a.m >> 64), a0 = (uint64_t)a.m, b1 = (uint64_t)(b.m >> 64), b0 = (uint64_t)b.m;
    u128 p11 = (u128)a1 * b1, p10 = (u128)a1 * b0, p01 = (u128)a0 * b1, p00 = (u128)a0 * b0;
    u128 mid = (p00 >> 64) + (uint64_t)p10 + (uint64_t)p01;
    u128 hi = p11 + (p10 >> 64) + (p01 >> 64) + (mid >> 64);
    int sticky = (uint64_t)mid != 0 || (uint64_t)p00 != 0;
    return w_make(s, a.e + b.e + 1, hi | (u128)sticky);
}

/* a / d for a small positive integer d: 192 quotient bits, then 128. */
static W w_divu(W a, uint64_t d)
{
    if (!a.m) return a;
    u128 q1 = a.m / d, r = a.m % d, n2 = r << 64;
    uint64_t q2 = (uint64_t)(n2 / d);
    int sticky = n2 % d != 0;
    int sh = clz128(q1); /* <= 64: q1 >= 2^127 / d */
    u128 m = (q1 << sh) | (sh ? (u128)(q2 >> (64 - sh)) : 0);
    if (sh < 64 && (q2 << sh)) sticky = 1;
    W w = {a.s, a.e - sh, m | (u128)sticky};
    return w;
}

/* a / b (b nonzero): restoring division, 128 quotient bits. */
static W w_div(W a, W b)
{
    int s = a.s ^ b.s;
    if (!a.m) { W z = {s, 0, 0}; return z; }
    u128 r = a.m, q = 0;
    int32_t e = a.e - b.e;
    int carry = 0;
    if (r < b.m) { carry = (int)(r >> 127); r <<= 1; e--; }
    for (int i = 0; i < 128; i++) {
        q <<= 1;
        if (carry || r >= b.m) { r -= b.m; q |= 1; }
        carry = (int)(r >> 127);
        r <<= 1;
    }
    W w = {s, e, q | (u128)(carry || r)};
    return w;
}

static int negligible(W t, W sum) { return !t.m || t.e < sum.e - 132; }

/* Taylor series t0 - t0 r^2 / ((n0-1) n0) + ...: sin (t0 = r, n0 = 3) and
 * cos (t0 = 1, n0 = 2) for |r| <= pi/4. */
static W sincos_series(W t, W r, uint64_t n)
{
    W r2 = w_mul(r, r), sum = t;
    for (; n < 200; n += 2) {
        t = w_neg(w_divu(w_mul(t, r2), (n - 1) * n));
        sum = w_add(sum, t);
        if (negligible(t, sum)) break;
    }
    return sum;
}

/* u + u^3/3 + u^5/5 ... (atanh), or with alternating signs (atan). */
static W odd_series(W u, int alternate)
{
    W u2 = w_mul(u, u), p = u, sum = u;
    for (uint64_t k = 3; k < 400; k += 2) {
        p = w_mul(p, u2);
        if (alternate) p = w_neg(p);
        W t = w_divu(p, k);
        sum = w_add(sum, t);
        if (negligible(t, sum)) break;
    }
    return sum;
}

/* expm1(g) for |g| <= ln2/2 (Taylor). */
static W expm1_series(W g)
{
    W t = g, sum = g;
    for (uint64_t k = 2; k < 200; k++) {
        t = w_divu(w_mul(t, g), k);
        sum = w_add(sum, t);
        if (negligible(t, sum)) break;
    }
    return sum;
}

static uint64_t bits64(const uint64_t *p, int n, int pos)
{
    int i = pos >> 6, o = pos & 63;
    uint64_t lo = i < n ? p[i] : 0, hi = i + 1 < n ? p[i + 1] : 0;
    return o ? (lo >> o) | (hi << (64 - o)) : lo;
}

/* |x| = r + q * pi/2 with |r| <= pi/4 (x finite, nonzero, |x| < 2^63):
 * returns q mod 4. */
static int reduce(W x, W *r)
{
    x.s = 0;
    if (!w_less(PIO4, x)) { *r = x; return 0; }
    uint64_t m = (uint64_t)(x.m >> 64); /* 64 significant bits: |x| = m * 2^(e - 63) */
    uint64_t p[7];
    u128 c = 0;
    for (int i = 0; i < 6; i++) {
        c += (u128)m * TWO_OVER_PI[i];
        p[i] = (uint64_t)c;
        c >>= 64;
    }
    p[6] = (uint64_t)c;
    int point = 384 - (x.e - 63); /* the bit of 2^0 in x * 2/pi (385..448) */
    int q = (int)(bits64(p, 7, point) & 3);
    uint64_t f2 = bits64(p, 7, point - 64), f1 = bits64(p, 7, point - 128), f0 = bits64(p, 7, point - 192);
    int neg = 0;
    if (f2 >> 63) { /* fraction >= 1/2: round the quotient up, the remainder is negative */
        q++;
        neg = 1;
        f0 = ~f0 + 1;
        f1 = ~f1 + (f0 == 0);
        f2 = ~f2 + (f0 == 0 && f1 == 0);
    }
    u128 h = ((u128)f2 << 64) | f1;
    int32_t e = -1;
    if (!h && !f0) { W z = {0, 0, 0}; *r = z; return q & 3; }
    while (!(h >> 127)) { h = (h << 1) | (f0 >> 63); f0 <<= 1; e--; }
    W f = {neg, e, h | (u128)(f0 != 0)};
    *r = w_mul(f, PIO2);
    return q & 3;
}

static f80 one(void) { f80 r = {INT_BIT, 0x3fff}; return r; }

/* Operands a transcendental cannot take: 1 when *out is already the result. */
static int screen(Fenv *e, f80 a, int *c, f80 *out)
{
    *c = f80_class(a);
    if (*c == FC_UNSUPPORTED) { e->flags |= FX_IE; *out = f80_indefinite(); return 1; }
    if (*c == FC_NAN) { *out = f80_nan(e, a, a); return 1; }
    if (*c == FC_DENORMAL) e->flags |= FX_DE;
    return 0;
}

int f80_sincos(Fenv *e, f80 a, f80 *so, f80 *co)
{
    int c;
    f80 r;
    if (screen(e, a, &c, &r) || c == FC_INF) {
        if (c == FC_INF) { e->flags |= FX_IE; r = f80_indefinite(); }
        if (so) *so = r;
        if (co) *co = r;
        return 0;
    }
    if (c == FC_ZERO) {
        if (so) *so = a;
        if (co) *co = one();
        return 0;
    }
    if (F80_EXP(a) >= BIAS + 63) return 1;
    W x = w_from(a), red;
    int q = reduce(x, &red);
    W s = sincos_series(red, red, 3), k = sincos_series(ONE, red, 2);
    W sv[4] = {s, k, w_neg(s), w_neg(k)}, cv[4] = {k, w_neg(s), w_neg(k), s};
    if (so) *so = w_round(e, x.s ? w_neg(sv[q]) : sv[q]);
    if (co) *co = w_round(e, cv[q]);
    return 0;
}

int f80_tan(Fenv *e, f80 a, f80 *out)
{
    int c;
    if (screen(e, a, &c, out)) return 0;
    if (c == FC_INF) { e->flags |= FX_IE; *out = f80_indefinite(); return 0; }
    if (c == FC_ZERO) { *out = a; return 0; }
    if (F80_EXP(a) >= BIAS + 63) return 1;
    W x = w_from(a), red;
    int q = reduce(x, &red);
    W s = sincos_series(red, red, 3), k = sincos_series(ONE, red, 2);
    W t = q & 1 ? w_neg(w_div(k, s)) : w_div(s, k);
    *out = w_round(e, x.s ? w_neg(t) : t);
    return 0;
}

/* atan(z) for 0 <= z <= 1. */
static W atan01(W z)
{
    if (z.m && (z.e > -2 || (z.e == -2 && (uint64_t)(z.m >> 64) > TAN_PI8_HI)))
        return w_add(PIO4, odd_series(w_div(w_sub(z, ONE), w_add(z, ONE)), 1));
    return odd_series(z, 1);
}

f80 f80_atan2(Fenv *e, f80 y, f80 x)
{
    int cx, cy;
    f80 special;
    if (f80_screen2(e, y, x, &cy, &cx, &special)) return special;
    int sy = F80_SIGN(y), sx = F80_SIGN(x);
    W r;
    if (cy == FC_ZERO || (cx == FC_INF && cy != FC_INF)) {
        /* on the x axis: +-0, or +-pi toward negative x */
        if (!sx) { f80 z = {0, (uint16_t)(sy << 15)}; return z; }
        r = PI;
    } else if (cy == FC_INF) {
        r = cx == FC_INF ? (sx ? PI3O4 : PIO4) : PIO2;
    } else if (cx == FC_ZERO) {
        r = PIO2;
    } else {
        W ay = w_abs(w_from(y)), ax = w_abs(w_from(x));
        r = w_less(ax, ay) ? w_sub(PIO2, atan01(w_div(ax, ay))) : atan01(w_div(ay, ax));
        if (sx) r = w_sub(PI, r);
    }
    r.s = sy;
    return w_round(e, r);
}

f80 f80_2xm1(Fenv *e, f80 a)
{
    int c;
    f80 r;
    if (screen(e, a, &c, &r)) return r;
    if (c == FC_ZERO) return a;
    if (c == FC_INF) { if (!F80_SIGN(a)) return a; f80 m1 = one(); m1.se |= 0x8000; return m1; }
    /* 2^x - 1 = 2^n (expm1(f ln2) + 1) - 1 with n the nearest integer to x,
     * |f| <= 1/2.  Beyond the SDM's -1..1 the result is undefined; it is
     * still the function's value, overflowing or going to -1. */
    W x = w_from(a);
    int32_t n = 0;
    if (x.e >= 20) n = x.s ? -20000 : 20000;
    else if (x.e >= -1) {
        int sh = 127 - x.e;
        n = (sh < 128 ? (int32_t)(x.m >> sh) : 0) + (int32_t)((x.m >> (sh - 1)) & 1);
        if (x.s) n = -n;
    }
    W f = x.e >= 20 ? (W){0, 0, 0} : w_sub(x, w_int(n));
    W em1 = expm1_series(w_mul(f, LN2));
    if (n == 0) return w_round(e, em1);
    W p = w_add(em1, ONE);
    p.e += n;
    return w_round(e, w_sub(p, ONE));
}

/* log2(t) for t > 0: t = M * 2^E with M in [sqrt(2)/2, sqrt(2)),
 * ln M = 2 atanh((M - 1) / (M + 1)). */
static W log2_wide(W t)
{
    int32_t E = t.e;
    W M = t;
    M.e = 0;
    if ((uint64_t)(M.m >> 64) > SQRT2_HI) { M.e = -1; E++; }
    W l = w_mul(odd_series(w_div(w_sub(M, ONE), w_add(M, ONE)), 0), LOG2E);
    if (l.m) l.e++;
    return w_add(w_int(E), l);
}

/* y * log2(x) where x may be exactly 0, 1 or infinite (FYL2X's table;
 * FYL2XP1 comes here for x + 1 out of its small range).  `xs` the sign
 * of x, `xc` its class, `t` its value when finite and nonzero. */
static f80 ylog(Fenv *e, int xs, int xc, W t, f80 y)
{
    int cy = f80_class(y), sy = F80_SIGN(y);
    f80 inf = {INT_BIT, 0x7fff}, zero = {0, 0};
    if (xs && xc != FC_ZERO) { e->flags |= FX_IE; return f80_indefinite(); }
    if (xc == FC_ZERO) {
        if (cy == FC_ZERO) { e->flags |= FX_IE; return f80_indefinite(); }
        if (cy != FC_INF) e->flags |= FX_ZE;
        inf.se |= (uint16_t)(!sy << 15);
        return inf;
    }
    if (xc == FC_INF) {
        if (cy == FC_ZERO) { e->flags |= FX_IE; return f80_indefinite(); }
        inf.se |= (uint16_t)(sy << 15);
        return inf;
    }
    int is_one = t.e == 0 && t.m == TOP;
    int below = t.e < 0; /* x < 1 */
    if (cy == FC_INF) {
        if (is_one) { e->flags |= FX_IE; return f80_indefinite(); }
        inf.se |= (uint16_t)((sy ^ below) << 15);
        return inf;
    }
    if (cy == FC_ZERO || is_one) {
        zero.se = (uint16_t)((sy ^ (below && !is_one)) << 15);
        return zero;
    }
    return w_round(e, w_mul(w_from(y), log2_wide(t)));
}

f80 f80_yl2x(Fenv *e, f80 x, f80 y)
{
    int cx, cy;
    f80 r;
    if (f80_screen2(e, y, x, &cy, &cx, &r)) return r;
    W t = {0, 0, 0};
    if (cx != FC_ZERO && cx != FC_INF) t = w_from(x);
    return ylog(e, F80_SIGN(x), cx, t, y);
}

f80 f80_yl2xp1(Fenv *e, f80 x, f80 y)
{
    int cx, cy;
    f80 r;
    if (f80_screen2(e, y, x, &cy, &cx, &r)) return r;
    int sy = F80_SIGN(y), sx = F80_SIGN(x);
    if (cx == FC_ZERO) {
        /* log2(1 + 0) = 0: y * (+-0), invalid for an infinite y */
        if (cy == FC_INF) { e->flags |= FX_IE; return f80_indefinite(); }
        f80 z = {0, (uint16_t)((sy ^ sx) << 15)};
        return z;
    }
    if (cx == FC_INF) return ylog(e, sx, FC_INF, (W){0, 0, 0}, y);
    W xv = w_from(x);
    if (xv.e < -2) { /* |x| < 1/4: log2(1 + x) = 2 atanh(x / (2 + x)) log2(e), no cancellation */
        if (cy == FC_INF || cy == FC_ZERO) return ylog(e, 0, FC_NORMAL, w_add(ONE, xv), y);
        W l = w_mul(odd_series(w_div(xv, w_add(w_int(2), xv)), 0), LOG2E);
        l.e++;
        return w_round(e, w_mul(w_from(y), l));
    }
    W t = w_add(ONE, xv); /* exact: x has 64 bits at 2^-66 or above */
    if (!t.m) return ylog(e, 0, FC_ZERO, t, y);
    return ylog(e, t.s, FC_NORMAL, t, y);
}
