/* DIV and IDIV.  MUL and IMUL are inline in translated code. */
#include "flags.h"

/* Returns nonzero when a #DE was raised (and delivered). */
int helper_div(CPUState *s, int is_signed, int size, uint32_t divisor)
{
    uint32_t *r = s->regs;
    if (size == 1) {
        uint32_t ax = r[R_EAX] & 0xffff, q, rem;
        divisor &= 0xff;
        if (!divisor) goto de;
        if (is_signed) {
            int32_t n = (int16_t)ax, d = (int8_t)divisor, qs = n / d;
            if (qs > 127 || qs < -128) goto de;
            q = (uint32_t)qs & 0xff; rem = (uint32_t)(n % d) & 0xff;
        } else {
            q = ax / divisor; rem = ax % divisor;
            if (q > 0xff) goto de;
        }
        r[R_EAX] = (r[R_EAX] & 0xffff0000u) | (rem << 8) | q;
    } else if (size == 2) {
        uint32_t n = ((r[R_EDX] & 0xffff) << 16) | (r[R_EAX] & 0xffff), q, rem;
        divisor &= 0xffff;
        if (!divisor) goto de;
        if (is_signed) {
            int64_t ns = (int32_t)n, d = (int16_t)divisor, qs = ns / d;
            if (qs > 32767 || qs < -32768) goto de;
            q = (uint32_t)qs & 0xffff; rem = (uint32_t)(ns % d) & 0xffff;
        } else {
            q = n / divisor; rem = n % divisor;
            if (q > 0xffff) goto de;
        }
        r[R_EAX] = (r[R_EAX] & 0xffff0000u) | q;
        r[R_EDX] = (r[R_EDX] & 0xffff0000u) | rem;
    } else {
        uint64_t n = ((uint64_t)r[R_EDX] << 32) | r[R_EAX];
        if (!divisor) goto de;
        if (is_signed) {
            int64_t ns = (int64_t)n, d = (int32_t)divisor;
            if (ns == INT64_MIN && d == -1) goto de;
            int64_t qs = ns / d;
            if (qs > INT32_MAX || qs < INT32_MIN) goto de;
            r[R_EAX] = (uint32_t)qs;
            r[R_EDX] = (uint32_t)(ns % d);
        } else {
            uint64_t q = n / divisor;
            if (q > 0xffffffffu) goto de;
            r[R_EAX] = (uint32_t)q;
            r[R_EDX] = (uint32_t)(n % divisor);
        }
    }
    return 0;
de:
    s->last_exception = 0;
    s->exc_count++;
    s->icount++; /* an exception takes guest time too (layout.py: icount) */
    cpu_deliver(s, 0, s->eip);
    return 1;
}
