/* Arithmetic flag computation shared by the C helpers. */
#ifndef JITEMU_FLAGS_H
#define JITEMU_FLAGS_H
#include "jitemu.h"

static inline uint32_t size_mask(int size) { return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1; }
static inline uint32_t sign_bit(int size) { return 1u << (8 * size - 1); }

static inline uint32_t flags_szp(uint32_t res, int size)
{
    uint32_t f = 0;
    res &= size_mask(size);
    if (!res) f |= ZF_MASK;
    if (res & sign_bit(size)) f |= SF_MASK;
    if (parity8(res)) f |= PF_MASK;
    return f;
}

/* Flags of a - b (CMP, SUB) at operand size `size`. */
static inline uint32_t flags_sub(uint32_t a, uint32_t b, int size)
{
    uint32_t m = size_mask(size), r = (a - b) & m;
    a &= m; b &= m;
    uint32_t f = flags_szp(r, size);
    if (a < b) f |= CF_MASK;
    if ((a ^ b ^ r) & 0x10) f |= AF_MASK;
    if ((a ^ b) & (a ^ r) & sign_bit(size)) f |= OF_MASK;
    return f;
}

static inline void set_arith(CPUState *s, uint32_t f, uint32_t mask)
{
    s->eflags = (s->eflags & ~mask) | (f & mask);
}
#endif
