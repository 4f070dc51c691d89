/* Soft-float for the x87: 80-bit extended values (64-bit significand with
 * an explicit integer bit, 15-bit exponent), rounded as the control
 * word's RC and PC say, with the exception flags the SDM gives
 * (runtime/fpu_soft.c; the instruction layer is runtime/fpu.c). */
#ifndef FPU_SOFT_H
#define FPU_SOFT_H
#include <stdint.h>

typedef struct { uint64_t m; uint16_t se; } f80;
typedef unsigned __int128 u128;

static inline int clz128(u128 r)
{
    uint64_t hi = (uint64_t)(r >> 64);
    return hi ? __builtin_clzll(hi) : 64 + __builtin_clzll((uint64_t)r);
}

/* r >> n, any bits shifted out ORed into the lowest (sticky). */
static inline u128 shr_jam(u128 r, int32_t n)
{
    if (n <= 0) return r;
    if (n >= 128) return r != 0;
    return (r >> n) | ((r & (((u128)1 << n) - 1)) != 0);
}

/* Exception flags, as in the status word's low bits; FX_C1 = the result
 * was rounded up (C1 after an inexact result). */
#define FX_IE 0x01u
#define FX_DE 0x02u
#define FX_ZE 0x04u
#define FX_OE 0x08u
#define FX_UE 0x10u
#define FX_PE 0x20u
#define FX_SF 0x40u
#define FX_C1 0x200u

enum { RC_NEAR, RC_DOWN, RC_UP, RC_ZERO };

/* What an operation needs of the control word, and what it reports. */
typedef struct {
    uint32_t cw;    /* control word: masks (bits 0-5), PC (8-9), RC (10-11) */
    uint32_t flags; /* FX_* raised */
} Fenv;

#define F80_EXP(a) ((a).se & 0x7fff)
#define F80_SIGN(a) ((a).se >> 15)

/* Classes, as FXAM tells them (and "unsupported" encodings). */
enum { FC_UNSUPPORTED, FC_NAN, FC_NORMAL, FC_INF, FC_ZERO, FC_DENORMAL };
int f80_class(f80 a);
int f80_is_snan(f80 a);
f80 f80_indefinite(void);

f80 f80_add(Fenv *e, f80 a, f80 b, int sub);
f80 f80_mul(Fenv *e, f80 a, f80 b);
f80 f80_div(Fenv *e, f80 a, f80 b);
f80 f80_sqrt(Fenv *e, f80 a);
f80 f80_round_int(Fenv *e, f80 a);
f80 f80_scale(Fenv *e, f80 a, f80 b);
/* FPREM (near = 0) and FPREM1 (near = 1): the partial remainder, and in
 * *cc the status bits C0 C1 C2 C3 (in status-word positions). */
f80 f80_rem(Fenv *e, f80 a, f80 b, int near, uint32_t *cc);
/* FXTRACT: *exp_out gets the exponent, the significand is returned. */
f80 f80_xtract(Fenv *e, f80 a, f80 *exp_out);
/* Compare: 0 less, 1 equal, 2 greater, 3 unordered; `quiet` (FUCOM):
 * only a signalling NaN is invalid. */
int f80_compare(Fenv *e, f80 a, f80 b, int quiet);
/* Round an operand first (a load from a value that is already exact
 * except for denormals: flags DE and IE for SNaN). */
f80 f80_check_operand(Fenv *e, f80 a);

f80 f80_from_i64(int64_t v);
f80 f80_from_f32(Fenv *e, uint32_t v);
f80 f80_from_f64(Fenv *e, uint64_t v);
/* To an integer of `bits` (16, 32, 64), rounding per RC (or toward zero
 * when `trunc`); out of range or NaN: IE and the integer indefinite. */
int64_t f80_to_int(Fenv *e, f80 a, int bits);
/* To binary32/binary64 as FST m32/m64 does.  *store = 0 when an unmasked
 * overflow, underflow or invalid operation leaves memory unchanged. */
uint32_t f80_to_f32(Fenv *e, f80 a, int *store);
uint64_t f80_to_f64(Fenv *e, f80 a, int *store);
/* FBLD / FBSTP: 10-byte packed BCD. */
f80 f80_from_bcd(const uint8_t *b);
int f80_to_bcd(Fenv *e, f80 a, uint8_t *out);
/* FLDPI and friends: 0..4 = L2T L2E PI LG2 LN2, rounded per RC. */
f80 f80_constant(int which, int rc);

/* A value R/2^127 * 2^(exp - 16383) (R nonzero, any width of exponent)
 * rounded to 64 bits per RC: what the transcendentals (which ignore PC)
 * round their wide results with. */
f80 f80_round_wide(Fenv *e, int sign, int32_t exp, u128 R);
/* Two operands screened: unsupported encodings (IE, the indefinite) and
 * NaNs (table 4-7) give the result in *r and 1; denormals raise DE. */
int f80_screen2(Fenv *e, f80 a, f80 b, int *ca, int *cb, f80 *r);
/* The NaN result of an operation with NaN operand(s) a or b (IE for SNaN). */
f80 f80_nan(Fenv *e, f80 a, f80 b);

/* Transcendentals (runtime/fpu_trans.c), computed to about 128 bits and
 * rounded once to 64 per RC (C1 = rounded up).  The trigonometric ones
 * return 1 and leave *out alone when |a| >= 2^63 (the caller sets C2);
 * sin_out or cos_out may be NULL. */
int f80_sincos(Fenv *e, f80 a, f80 *sin_out, f80 *cos_out);
int f80_tan(Fenv *e, f80 a, f80 *out);
f80 f80_atan2(Fenv *e, f80 y, f80 x);  /* FPATAN: atan(y/x) in the quadrant of (x, y) */
f80 f80_2xm1(Fenv *e, f80 a);          /* F2XM1 */
f80 f80_yl2x(Fenv *e, f80 x, f80 y);   /* FYL2X: y * log2(x) */
f80 f80_yl2xp1(Fenv *e, f80 x, f80 y); /* FYL2XP1: y * log2(x + 1) */

#endif
