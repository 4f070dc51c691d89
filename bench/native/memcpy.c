/* The memcpy kernel (firmware/src/memcpy.asm, memcpy32.asm) for the host:
 * the same LCG-drawn copies between two 32 KiB buffers, by the same eight
 * methods, and the same checksum.  Usage: memcpy REPEAT; prints
 * "memcpy <8 hex digits>". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernel.h"
#include <string.h>

#define HALF 0x8000
#define COPIES 256

/* The methods: n (1..2048) bytes from s to d, which never overlap. */
static void copy(int method, unsigned char *d, const unsigned char *s, unsigned n)
{
    unsigned i;
    switch (method) {
    case 0: case 1: case 2:             /* REP MOVSB / MOVSW / MOVSD with tails */
        memcpy(d, s, n);
        break;
    case 3:                             /* a word loop and a byte */
        for (i = 0; i + 2 <= n; i += 2)
            memcpy(d + i, s + i, 2);
        if (n & 1)
            d[i] = s[i];
        break;
    case 4:                             /* a dword loop and REP MOVSB */
        for (i = 0; i + 4 <= n; i += 4)
            memcpy(d + i, s + i, 4);
        memcpy(d + i, s + i, n & 3);
        break;
    case 5:                             /* backwards */
        for (i = n; i--; )
            d[i] = s[i];
        break;
    case 6:                             /* head to an aligned destination, dwords, tail */
        i = (unsigned)(-(uintptr_t)d & 3);
        memcpy(d, s, i < n ? i : n);
        if (i < n)
            memcpy(d + i, s + i, n - i);
        break;
    default:                            /* a byte loop */
        for (i = 0; i < n; i++)
            d[i] = s[i];
    }
}

int main(int argc, char **argv)
{
    static unsigned char buf[2 * HALF] __attribute__((aligned(4)));
    uint32_t h = 0;
    long repeat = repeat_arg(argc, argv);

    for (int i = 0; i < 2 * HALF; i++)
        buf[i] = lcg() >> 24;
    for (long p = 0; p < repeat; p++) {
        unsigned char *src = buf + (p & 1 ? HALF : 0), *dst = buf + (p & 1 ? 0 : HALF);
        for (int c = 0; c < COPIES; c++) {
            uint32_t t = rnd();
            unsigned mask = !(t & 0x10) ? 63 : !(t & 0x08) ? 511 : 4095;
            unsigned n = ((t >> 5) & mask) + 1;
            unsigned so = (rnd() * (HALF + 1 - n)) >> 16;
            unsigned d0 = (rnd() * (HALF + 1 - n)) >> 16;
            copy(t & 7, dst + d0, src + so, n);
        }
    }
    for (int i = 0; i < 2 * HALF; i += 4) {
        h += buf[i] | buf[i + 1] << 8 | buf[i + 2] << 16 | (uint32_t)buf[i + 3] << 24;
        h = (h << 5) | (h >> 27);
    }
    printf("memcpy %08x\n", h);
    return 0;
}
