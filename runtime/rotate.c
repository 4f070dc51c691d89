/* Rotates through carry (RCL, RCR) and double shifts (SHLD, SHRD).  The
 * plain shifts and rotates are inline in translated code. */
#include "flags.h"

uint32_t helper_rotc(CPUState *s, int right, int size, uint32_t v, uint32_t count)
{
    int bits = 8 * size;
    uint32_t m = size_mask(size);
    count &= 0x1f;
    if (size == 1) count %= 9;
    else if (size == 2) count %= 17;
    if (!count) return v & m;
    uint64_t cf = (s->eflags & CF_MASK) ? 1 : 0, x = v & m;
    for (uint32_t i = 0; i < count; i++) {
        if (right) {
            uint64_t out = x & 1;
            x = (x >> 1) | (cf << (bits - 1));
            cf = out;
        } else {
            uint64_t out = (x >> (bits - 1)) & 1;
            x = ((x << 1) | cf) & m;
            cf = out;
        }
    }
    uint32_t r = (uint32_t)x, of;
    if (right) of = ((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1;
    else of = ((r >> (bits - 1)) & 1) ^ (uint32_t)cf;
    set_arith(s, (cf ? CF_MASK : 0) | (of ? OF_MASK : 0), CF_MASK | OF_MASK);
    return r;
}

uint32_t helper_shd(CPUState *s, int right, int size, uint32_t dst, uint32_t src, uint32_t count)
{
    int bits = 8 * size;
    uint32_t m = size_mask(size);
    count &= 0x1f;
    dst &= m; src &= m;
    if (!count) return dst;
    uint32_t r, cf;
    if (size == 2) {
        /* 16-bit with counts above 16 is undefined; rotate through a 48-bit
         * dst:src:dst value as QEMU and later Intel parts do. */
        uint64_t x;
        if (right) {
            x = (uint64_t)dst | ((uint64_t)src << 16) | ((uint64_t)dst << 32);
            r = (uint32_t)(x >> count) & m;
            cf = (uint32_t)(x >> (count - 1)) & 1;
        } else {
            x = ((uint64_t)dst << 32) | ((uint64_t)src << 16) | dst;
            r = (uint32_t)(x >> (32 - count)) & m;
            cf = (uint32_t)(x >> (48 - count)) & 1;
        }
    } else if (right) {
        uint64_t x = ((uint64_t)src << bits) | dst;
        r = (uint32_t)(x >> count) & m;
        cf = (uint32_t)(x >> (count - 1)) & 1;
    } else {
        uint64_t x = ((uint64_t)dst << bits) | src;
        r = (uint32_t)((x << count) >> bits) & m;
        cf = (uint32_t)((x << (count - 1)) >> (2 * bits - 1)) & 1;
    }
    uint32_t of = ((r ^ dst) >> (bits - 1)) & 1;
    set_arith(s, flags_szp(r, size) | (cf ? CF_MASK : 0) | (of ? OF_MASK : 0),
              CF_MASK | OF_MASK | SF_MASK | ZF_MASK | PF_MASK);
    return r;
}
