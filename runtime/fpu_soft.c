/* Soft-float arithmetic on 80-bit extended values, exact to the SDM's
 * rules for rounding (RC), precision control (PC: the significand rounded
 * to 24, 53 or 64 bits, the exponent range kept), denormals (tininess is
 * detected before rounding, as the x87 does), masked and unmasked
 * overflow and underflow (a register destination gets the exponent
 * wrapped by 24576), NaN propagation (SDM vol. 1, table 4-7) and the
 * invalid operand encodings (unnormals, pseudo-NaNs, pseudo-infinities).
 * Wide intermediate values use unsigned __int128. */
#include <string.h>
#include "fpu_soft.h"

#define BIAS 16383
#define INT_BIT 0x8000000000000000ull
#define QNAN_BIT 0x4000000000000000ull
#define WRAP 24576

static f80 mk(int s, int e, uint64_t m) { f80 r = {m, (uint16_t)((s << 15) | e)}; return r; }
f80 f80_indefinite(void) { return mk(1, 0x7fff, 0xC000000000000000ull); }

int f80_class(f80 a)
{
    int e = F80_EXP(a);
    if (e == 0) return a.m ? FC_DENORMAL : FC_ZERO; /* pseudo-denormals too */
    if (!(a.m & INT_BIT)) return FC_UNSUPPORTED;   /* unnormal, pseudo-NaN, pseudo-infinity */
    if (e == 0x7fff) return (a.m << 1) ? FC_NAN : FC_INF;
    return FC_NORMAL;
}

int f80_is_snan(f80 a) { return f80_class(a) == FC_NAN && !(a.m & QNAN_BIT); }
static f80 quiet(f80 a) { a.m |= QNAN_BIT; return a; }
static f80 inf(int s) { return mk(s, 0x7fff, INT_BIT); }

/* A finite nonzero value as ma * 2^(exp - BIAS - 63), ma normalized. */
static int32_t norm(f80 a, uint64_t *m)
{
    int32_t e = F80_EXP(a) ? F80_EXP(a) : 1;
    int sh = __builtin_clzll(a.m);
    *m = a.m << sh;
    return e - sh;
}

static int pc_bits(uint32_t cw)
{
    static const int bits[4] = {24, 64, 53, 64}; /* PC 01 is reserved: 64 */
    return bits[(cw >> 8) & 3];
}

/* Rounds R (nonzero; the value R/2^127 * 2^(exp - BIAS)) to p bits in a
 * format with exponent bias `fb` and all-ones exponent `fmax`.  Returns the
 * significand (integer bit at p-1 when normal) and in *pexp the biased
 * exponent.  `wrap`: the unmasked overflow/underflow response of a
 * register destination; 0 for memory, where *ok = 0 says "store nothing". */
static uint64_t round_core(Fenv *e, int sign, int32_t *pexp, u128 R, int p, int fb, int fmax, int wrap, int *ok)
{
    int sh = clz128(R);
    R <<= sh;
    int32_t x = *pexp - sh - BIAS + fb;
    int rc = (e->cw >> 10) & 3;
    int um = e->cw & FX_UE, om = e->cw & FX_OE; /* set = masked */
    *ok = 1;
    int tiny = x < 1;
    if (tiny && !um) {
        e->flags |= FX_UE;
        if (!wrap) { *ok = 0; return 0; }
        x += wrap;
        tiny = 0;
    }
    if (tiny) {
        R = shr_jam(R, 1 - x);
        x = 0;
    }
    int drop = 128 - p;
    u128 rem = R & (((u128)1 << drop) - 1), half = (u128)1 << (drop - 1);
    uint64_t q = (uint64_t)(R >> drop);
    int inc = 0;
    if (rem) {
        switch (rc) {
        case RC_NEAR: inc = rem > half || (rem == half && (q & 1)); break;
        case RC_UP: inc = !sign; break;
        case RC_DOWN: inc = sign; break;
        default: break;
        }
    }
    if (inc) {
        q++;
        if (p == 64 ? q == 0 : q >> p) { q = 1ull << (p - 1); x++; }
        else if (tiny && (q >> (p - 1))) x = 1; /* rounded up to the smallest normal */
    }
    if (rem) {
        e->flags |= FX_PE | (inc ? FX_C1 : 0);
        if (tiny) e->flags |= FX_UE;
    }
    if (x >= fmax) {
        if (!om) {
            e->flags |= FX_OE;
            if (!wrap) { *ok = 0; return 0; }
            x -= wrap;
        } else {
            int to_inf = rc == RC_NEAR || (rc == RC_UP && !sign) || (rc == RC_DOWN && sign);
            e->flags = (e->flags & ~FX_C1) | FX_OE | FX_PE;
            if (to_inf) { x = fmax; q = 1ull << (p - 1); e->flags |= FX_C1; }
            else { x = fmax - 1; q = p == 64 ? ~0ull : (1ull << p) - 1; }
        }
    }
    *pexp = x;
    return q;
}

/* A register result at precision p (24, 53, 64). */
static f80 pack(Fenv *e, int sign, int32_t exp, u128 R, int p)
{
    int ok;
    uint64_t q = round_core(e, sign, &exp, R, p, BIAS, 0x7fff, WRAP, &ok);
    return mk(sign, exp, p == 64 ? q : q << (64 - p));
}

static f80 pack_pc(Fenv *e, int sign, int32_t exp, u128 R) { return pack(e, sign, exp, R, pc_bits(e->cw)); }

f80 f80_round_wide(Fenv *e, int sign, int32_t exp, u128 R) { return pack(e, sign, exp, R, 64); }

/* NaN operands (at least one): table 4-7's rules for the x87. */
static f80 nan2(Fenv *e, f80 a, f80 b)
{
    int an = f80_class(a) == FC_NAN, bn = f80_class(b) == FC_NAN;
    int as = f80_is_snan(a), bs = f80_is_snan(b);
    if (as || bs) e->flags |= FX_IE;
    if (an && bn) {
        if (as != bs) return quiet(as ? b : a); /* the QNaN */
        uint64_t ma = a.m | QNAN_BIT, mb = b.m | QNAN_BIT;
        if (ma != mb) return quiet(ma > mb ? a : b);
        return quiet(F80_SIGN(a) ? b : a);
    }
    return quiet(an ? a : b);
}

f80 f80_nan(Fenv *e, f80 a, f80 b) { return nan2(e, a, b); }

/* Common operand screening: 1 when *r holds the result already. */
int f80_screen2(Fenv *e, f80 a, f80 b, int *ca, int *cb, f80 *r)
{
    *ca = f80_class(a);
    *cb = f80_class(b);
    if (*ca == FC_UNSUPPORTED || *cb == FC_UNSUPPORTED) { e->flags |= FX_IE; *r = f80_indefinite(); return 1; }
    if (*ca == FC_NAN || *cb == FC_NAN) { *r = nan2(e, a, b); return 1; }
    if (*ca == FC_DENORMAL || *cb == FC_DENORMAL) e->flags |= FX_DE;
    return 0;
}

f80 f80_check_operand(Fenv *e, f80 a)
{
    int c = f80_class(a);
    if (c == FC_UNSUPPORTED) { e->flags |= FX_IE; return f80_indefinite(); }
    if (c == FC_NAN) { if (f80_is_snan(a)) e->flags |= FX_IE; return quiet(a); }
    if (c == FC_DENORMAL) e->flags |= FX_DE;
    return a;
}

f80 f80_add(Fenv *e, f80 a, f80 b, int sub)
{
    int ca, cb;
    f80 r;
    if (f80_screen2(e, a, b, &ca, &cb, &r)) return r;
    int sa = F80_SIGN(a), sb = F80_SIGN(b) ^ sub;
    int rc = (e->cw >> 10) & 3;
    if (ca == FC_INF || cb == FC_INF) {
        if (ca == FC_INF && cb == FC_INF && sa != sb) { e->flags |= FX_IE; return f80_indefinite(); }
        return inf(ca == FC_INF ? sa : sb);
    }
    if (ca == FC_ZERO && cb == FC_ZERO) return mk(sa == sb ? sa : rc == RC_DOWN, 0, 0);
    uint64_t ma, mb;
    if (cb == FC_ZERO) { int32_t ea = norm(a, &ma); return pack_pc(e, sa, ea, (u128)ma << 64); }
    if (ca == FC_ZERO) { int32_t eb = norm(b, &mb); return pack_pc(e, sb, eb, (u128)mb << 64); }
    int32_t ea = norm(a, &ma), eb = norm(b, &mb);
    if (ea < eb || (ea == eb && ma < mb)) {
        int32_t t = ea; ea = eb; eb = t;
        uint64_t tm = ma; ma = mb; mb = tm;
        int ts = sa; sa = sb; sb = ts;
    }
    u128 A = (u128)ma << 63, B = shr_jam((u128)mb << 63, ea - eb);
    u128 R = sa == sb ? A + B : A - B;
    if (R == 0) return mk(rc == RC_DOWN, 0, 0);
    return pack_pc(e, sa, ea + 1, R);
}

f80 f80_mul(Fenv *e, f80 a, f80 b)
{
    int ca, cb;
    f80 r;
    if (f80_screen2(e, a, b, &ca, &cb, &r)) return r;
    int s = F80_SIGN(a) ^ F80_SIGN(b);
    if (ca == FC_INF || cb == FC_INF) {
        if (ca == FC_ZERO || cb == FC_ZERO) { e->flags |= FX_IE; return f80_indefinite(); }
        return inf(s);
    }
    if (ca == FC_ZERO || cb == FC_ZERO) return mk(s, 0, 0);
    uint64_t ma, mb;
    int32_t ea = norm(a, &ma), eb = norm(b, &mb);
    return pack_pc(e, s, ea + eb - BIAS + 1, (u128)ma * mb);
}

f80 f80_div(Fenv *e, f80 a, f80 b)
{
    int ca, cb;
    f80 r;
    if (f80_screen2(e, a, b, &ca, &cb, &r)) return r;
    int s = F80_SIGN(a) ^ F80_SIGN(b);
    if (ca == FC_INF) {
        if (cb == FC_INF) { e->flags |= FX_IE; return f80_indefinite(); }
        return inf(s);
    }
    if (cb == FC_INF) return mk(s, 0, 0);
    if (cb == FC_ZERO) {
        if (ca == FC_ZERO) { e->flags |= FX_IE; return f80_indefinite(); }
        e->flags |= FX_ZE;
        return inf(s);
    }
    if (ca == FC_ZERO) return mk(s, 0, 0);
    uint64_t ma, mb;
    int32_t ea = norm(a, &ma), eb = norm(b, &mb);
    uint64_t r0 = ma, q0 = 0;
    if (ma >= mb) { q0 = 1; r0 = ma - mb; }
    u128 n1 = (u128)r0 << 64;
    uint64_t q1 = (uint64_t)(n1 / mb), r1 = (uint64_t)(n1 % mb);
    u128 n2 = (u128)r1 << 64;
    uint64_t q2 = (uint64_t)(n2 / mb), r2 = (uint64_t)(n2 % mb);
    if (q0) {
        u128 R = ((u128)1 << 127) | ((u128)q1 << 63) | (q2 >> 1) | ((q2 & 1) | (r2 != 0));
        return pack_pc(e, s, ea - eb + BIAS, R);
    }
    return pack_pc(e, s, ea - eb + BIAS - 1, ((u128)q1 << 64) | q2 | (r2 != 0));
}

static uint64_t isqrt128(u128 n)
{
    uint64_t r = 0;
    for (int b = 63; b >= 0; b--) {
        uint64_t t = r | (1ull << b);
        if ((u128)t * t <= n) r = t;
    }
    return r;
}

f80 f80_sqrt(Fenv *e, f80 a)
{
    int c = f80_class(a);
    if (c == FC_UNSUPPORTED) { e->flags |= FX_IE; return f80_indefinite(); }
    if (c == FC_NAN) return nan2(e, a, a);
    if (c == FC_ZERO) return a;
    if (F80_SIGN(a)) { e->flags |= FX_IE; return f80_indefinite(); }
    if (c == FC_INF) return a;
    if (c == FC_DENORMAL) e->flags |= FX_DE;
    uint64_t ma;
    int32_t k = norm(a, &ma) - BIAS - 63; /* a = ma * 2^k */
    int sh = (k & 1) ? 63 : 64;           /* k - sh even */
    u128 N = (u128)ma << sh;
    uint64_t r = isqrt128(N);
    u128 rem = N - (u128)r * r;
    int guard = rem > r, sticky = guard || rem != 0;
    u128 R = ((u128)r << 64) | ((u128)guard << 63) | (u128)sticky;
    return pack_pc(e, 0, BIAS + (k - sh) / 2 + 63, R);
}

/* |value| = ma * 2^(ea - BIAS - 63) rounded to an integer per `rc`:
 * the magnitude, or *big = 1 when it needs more than 64 bits.  *fl gets
 * PE and C1 when inexact. */
static uint64_t to_integer(int sign, int32_t ea, uint64_t ma, int rc, uint32_t *fl, int *big)
{
    int32_t d = BIAS + 63 - ea; /* bits below the binary point */
    *big = 0;
    if (d <= 0) {
        if (d < 0) *big = 1;
        return ma;
    }
    uint64_t q;
    int cmp, nonzero;
    if (d > 64) { q = 0; cmp = -1; nonzero = 1; }
    else if (d == 64) { q = 0; cmp = ma > INT_BIT ? 1 : ma == INT_BIT ? 0 : -1; nonzero = 1; }
    else {
        q = ma >> d;
        uint64_t rem = ma & ((1ull << d) - 1), half = 1ull << (d - 1);
        cmp = rem > half ? 1 : rem == half ? 0 : -1;
        nonzero = rem != 0;
    }
    int inc = 0;
    if (nonzero) {
        switch (rc) {
        case RC_NEAR: inc = cmp > 0 || (cmp == 0 && (q & 1)); break;
        case RC_UP: inc = !sign; break;
        case RC_DOWN: inc = sign; break;
        default: break;
        }
        *fl |= FX_PE | (inc ? FX_C1 : 0);
    }
    return q + inc;
}

f80 f80_round_int(Fenv *e, f80 a)
{
    int c = f80_class(a);
    if (c == FC_UNSUPPORTED) { e->flags |= FX_IE; return f80_indefinite(); }
    if (c == FC_NAN) return nan2(e, a, a);
    if (c == FC_INF || c == FC_ZERO) return a;
    if (c == FC_DENORMAL) e->flags |= FX_DE;
    uint64_t ma;
    int32_t ea = norm(a, &ma);
    int big, s = F80_SIGN(a);
    uint64_t q = to_integer(s, ea, ma, (e->cw >> 10) & 3, &e->flags, &big);
    if (big || ea >= BIAS + 63) return a;
    if (q == 0) return mk(s, 0, 0);
    int sh = __builtin_clzll(q);
    return mk(s, BIAS + 63 - sh, q << sh);
}

f80 f80_scale(Fenv *e, f80 a, f80 b)
{
    int ca, cb;
    f80 r;
    if (f80_screen2(e, a, b, &ca, &cb, &r)) return r;
    int sa = F80_SIGN(a), sb = F80_SIGN(b);
    if (cb == FC_INF) {
        if (!sb) { if (ca == FC_ZERO) { e->flags |= FX_IE; return f80_indefinite(); } return ca == FC_INF ? a : inf(sa); }
        if (ca == FC_INF) { e->flags |= FX_IE; return f80_indefinite(); }
        return mk(sa, 0, 0);
    }
    if (ca == FC_INF || ca == FC_ZERO) return a;
    int32_t n = 0;
    if (cb != FC_ZERO) {
        uint64_t mb;
        int32_t eb = norm(b, &mb);
        if (eb >= BIAS + 20) n = 1 << 20; /* beyond any exponent: saturate */
        else if (eb >= BIAS) n = (int32_t)(mb >> (BIAS + 63 - eb));
        if (sb) n = -n;
    }
    uint64_t ma;
    int32_t ea = norm(a, &ma);
    return pack(e, sa, ea + n, (u128)ma << 64, 64);
}

f80 f80_rem(Fenv *e, f80 a, f80 b, int near, uint32_t *cc)
{
    int ca, cb;
    f80 r;
    *cc = 0;
    if (f80_screen2(e, a, b, &ca, &cb, &r)) return r;
    if (ca == FC_INF || cb == FC_ZERO) { e->flags |= FX_IE; return f80_indefinite(); }
    if (ca == FC_ZERO || cb == FC_INF) return a;
    int sa = F80_SIGN(a);
    uint64_t ma, mb;
    int32_t ea = norm(a, &ma), eb = norm(b, &mb), d = ea - eb;
    if (d < -1) return pack(e, sa, ea, (u128)ma << 64, 64);
    int partial = d > 63;
    if (partial) { eb += d - 63; d = 63; } /* reduce the exponent by d - 63: C2 says "incomplete" */
    u128 A = (u128)ma << (d + 1), B = (u128)mb << 1;
    u128 q = A / B, rm = A % B;
    int s = sa;
    if (near && !partial && (2 * rm > B || (2 * rm == B && (q & 1)))) { rm = B - rm; q++; s ^= 1; }
    if (partial) *cc = 0x400;
    else *cc = ((q & 4) ? 0x100 : 0) | ((q & 2) ? 0x4000 : 0) | ((q & 1) ? 0x200 : 0);
    if (rm == 0) return mk(sa, 0, 0);
    return pack(e, s, eb + 63, rm, 64);
}

f80 f80_xtract(Fenv *e, f80 a, f80 *exp_out)
{
    int c = f80_class(a);
    if (c == FC_UNSUPPORTED) { e->flags |= FX_IE; *exp_out = f80_indefinite(); return f80_indefinite(); }
    if (c == FC_NAN) { f80 q = nan2(e, a, a); *exp_out = q; return q; }
    if (c == FC_INF) { *exp_out = inf(0); return a; }
    if (c == FC_ZERO) { e->flags |= FX_ZE; *exp_out = inf(1); return a; }
    if (c == FC_DENORMAL) e->flags |= FX_DE;
    uint64_t ma;
    int32_t ea = norm(a, &ma);
    *exp_out = f80_from_i64(ea - BIAS);
    return mk(F80_SIGN(a), BIAS, ma);
}

int f80_compare(Fenv *e, f80 a, f80 b, int quiet_cmp)
{
    int ca = f80_class(a), cb = f80_class(b);
    if (ca == FC_UNSUPPORTED || cb == FC_UNSUPPORTED) { e->flags |= FX_IE; return 3; }
    if (ca == FC_NAN || cb == FC_NAN) {
        if (!quiet_cmp || f80_is_snan(a) || f80_is_snan(b)) e->flags |= FX_IE;
        return 3;
    }
    if (ca == FC_DENORMAL || cb == FC_DENORMAL) e->flags |= FX_DE;
    if (ca == FC_ZERO && cb == FC_ZERO) return 1;
    int sa = F80_SIGN(a), sb = F80_SIGN(b);
    if (ca == FC_ZERO) return sb ? 2 : 0;
    if (cb == FC_ZERO) return sa ? 0 : 2;
    if (sa != sb) return sa ? 0 : 2;
    uint64_t ma, mb;
    int32_t ea = ca == FC_INF ? 0x10000 : norm(a, &ma), eb = cb == FC_INF ? 0x10000 : norm(b, &mb);
    if (ca == FC_INF) ma = 0;
    if (cb == FC_INF) mb = 0;
    int m = ea != eb ? (ea > eb ? 2 : 0) : ma != mb ? (ma > mb ? 2 : 0) : 1;
    return sa && m != 1 ? 2 - m : m;
}

f80 f80_from_i64(int64_t v)
{
    if (v == 0) return mk(0, 0, 0);
    int s = v < 0;
    uint64_t m = s ? 0 - (uint64_t)v : (uint64_t)v;
    int sh = __builtin_clzll(m);
    return mk(s, BIAS + 63 - sh, m << sh);
}

/* A binary32/binary64 (fraction `fr` of `fb` bits, exponent `ex` of a
 * format with bias `bias` and all-ones exponent `emax`), exactly. */
static f80 from_binary(Fenv *e, int s, uint32_t ex, uint64_t fr, int fb, int bias, uint32_t emax)
{
    if (ex == emax) {
        if (!fr) return inf(s);
        uint64_t m = INT_BIT | (fr << (63 - fb));
        if (!(m & QNAN_BIT)) e->flags |= FX_IE;
        return mk(s, 0x7fff, m | QNAN_BIT);
    }
    if (ex == 0) {
        if (!fr) return mk(s, 0, 0);
        e->flags |= FX_DE;
        uint64_t m = fr << (63 - fb);
        int sh = __builtin_clzll(m);
        return mk(s, BIAS - bias + 1 - sh, m << sh);
    }
    return mk(s, (int)ex - bias + BIAS, INT_BIT | (fr << (63 - fb)));
}

f80 f80_from_f32(Fenv *e, uint32_t v) { return from_binary(e, v >> 31, (v >> 23) & 0xff, v & 0x7fffff, 23, 127, 0xff); }
f80 f80_from_f64(Fenv *e, uint64_t v)
{
    return from_binary(e, (int)(v >> 63), (v >> 52) & 0x7ff, v & 0xfffffffffffffull, 52, 1023, 0x7ff);
}

int64_t f80_to_int(Fenv *e, f80 a, int bits)
{
    int64_t indefinite = (int64_t)(~0ull << (bits - 1));
    int c = f80_class(a);
    if (c == FC_ZERO) return 0;
    if (c == FC_UNSUPPORTED || c == FC_NAN || c == FC_INF) { e->flags |= FX_IE; return indefinite; }
    uint64_t ma;
    int32_t ea = norm(a, &ma);
    int big, s = F80_SIGN(a);
    uint32_t fl = 0;
    uint64_t q = to_integer(s, ea, ma, (e->cw >> 10) & 3, &fl, &big);
    uint64_t lim = (1ull << (bits - 1)) - (s ? 0 : 1);
    if (big || q > lim) { e->flags |= FX_IE; return indefinite; }
    e->flags |= fl;
    return s ? (int64_t)(0 - q) : (int64_t)q;
}

/* FST to a binary format of p bits (fraction p-1), bias, all-ones emax. */
static uint64_t to_binary(Fenv *e, f80 a, int p, int bias, int emax, int *store)
{
    int c = f80_class(a), s = F80_SIGN(a);
    uint64_t sbit = (uint64_t)s << (p - 1 + (emax == 0xff ? 8 : 11));
    int fbits = p - 1, ebits = emax == 0xff ? 8 : 11;
    uint64_t expo_all = (uint64_t)emax << fbits;
    *store = 1;
    if (c == FC_ZERO) return sbit;
    if (c == FC_INF) return sbit | expo_all;
    if (c == FC_UNSUPPORTED || c == FC_NAN) {
        if (c == FC_UNSUPPORTED || f80_is_snan(a)) {
            e->flags |= FX_IE;
            if (!(e->cw & FX_IE)) { *store = 0; return 0; }
        }
        if (c == FC_UNSUPPORTED) return (1ull << (p + ebits - 1)) | expo_all | (1ull << (fbits - 1));
        return sbit | expo_all | (1ull << (fbits - 1)) | ((a.m << 1) >> (64 - fbits));
    }
    uint64_t ma;
    int32_t ea = norm(a, &ma);
    int ok;
    uint64_t q = round_core(e, s, &ea, (u128)ma << 64, p, bias, emax, 0, &ok);
    if (!ok) { *store = 0; return 0; }
    return sbit | ((uint64_t)ea << fbits) | (q & ((1ull << fbits) - 1));
}

uint32_t f80_to_f32(Fenv *e, f80 a, int *store) { return (uint32_t)to_binary(e, a, 24, 127, 0xff, store); }
uint64_t f80_to_f64(Fenv *e, f80 a, int *store) { return to_binary(e, a, 53, 1023, 0x7ff, store); }

f80 f80_from_bcd(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 8; i >= 0; i--) v = v * 100 + (b[i] >> 4) * 10 + (b[i] & 15);
    f80 r = f80_from_i64((int64_t)v);
    if (b[9] & 0x80) r.se |= 0x8000;
    return r;
}

int f80_to_bcd(Fenv *e, f80 a, uint8_t *out)
{
    int c = f80_class(a), s = F80_SIGN(a);
    uint64_t q = 0;
    int bad = c == FC_UNSUPPORTED || c == FC_NAN || c == FC_INF;
    uint32_t fl = 0;
    if (!bad && c != FC_ZERO) {
        uint64_t ma;
        int big;
        int32_t ea = norm(a, &ma);
        q = to_integer(s, ea, ma, (e->cw >> 10) & 3, &fl, &big);
        bad = big || q > 999999999999999999ull;
    }
    if (bad) {
        e->flags |= FX_IE;
        if (!(e->cw & FX_IE)) return 0;
        memset(out, 0, 10);
        out[7] = 0xc0; out[8] = out[9] = 0xff; /* the packed BCD indefinite */
        return 1;
    }
    e->flags |= fl;
    for (int i = 0; i < 9; i++) { out[i] = (uint8_t)((q % 10) | ((q / 10 % 10) << 4)); q /= 100; }
    out[9] = s ? 0x80 : 0;
    return 1;
}

f80 f80_constant(int which, int rc)
{
    /* The significands truncated, and whether the rounded-to-nearest one
     * is one ULP above (the next bits past 64 are 1100 0100..., 1011
     * 1110..., 0100 1001..., 1000 1111..., 1100 1001...). */
    static const struct { uint16_t se; uint64_t m; int near_up; } k[5] = {
        {0x4000, 0xD49A784BCD1B8AFEull, 0}, /* log2(10) */
        {0x3fff, 0xB8AA3B295C17F0BBull, 1}, /* log2(e) */
        {0x4000, 0xC90FDAA22168C234ull, 1}, /* pi */
        {0x3ffd, 0x9A209A84FBCFF798ull, 1}, /* log10(2) */
        {0x3ffe, 0xB17217F7D1CF79ABull, 1}, /* ln(2) */
    };
    f80 r = {k[which].m, k[which].se};
    if (rc == RC_UP || (rc == RC_NEAR && k[which].near_up)) r.m++; /* all positive: up = away */
    return r;
}
