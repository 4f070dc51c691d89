/* The dhry kernel (firmware/src/dhry.asm, include/dhry.inc) for the host:
 * the same records, strings, procedure and checksum.
 * Usage: dhry REPEAT; prints "dhry <8 hex digits>". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernel.h"
#include <string.h>

struct rec { uint32_t kind, ival, aux, link; char str[16]; };

/* Not inlined: the kernel's procedure call, with its frame, is part of the work. */
static __attribute__((noinline)) uint32_t mix(uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t l = a * b, d = (b & 255) + c + 1;
    return ((l / d) ^ (l % d)) + a;
}

static __attribute__((noinline)) uint32_t compare(const char *a, const char *b)
{
    for (;; a++, b++) {
        if (*a != *b)
            return (unsigned char)*a > (unsigned char)*b ? 1 : 2;
        if (!*a)
            return 0;
    }
}

int main(int argc, char **argv)
{
    static struct rec recs[16], glob;
    static char strs[16][16];
    uint32_t acc = 0;
    long repeat = repeat_arg(argc, argv);

    for (int i = 0; i < 16; i++) {
        uint32_t len = (rnd() & 7) + 4;
        for (uint32_t j = 0; j < len; j++)
            strs[i][j] = 'A' + (rnd() & 7);
    }
    for (int i = 0; i < 16; i++) {
        recs[i].kind = rnd() % 5;
        recs[i].ival = rnd();
        recs[i].aux = rnd();
        memcpy(recs[i].str, strs[i], 16);
    }
    for (long p = 0; p < repeat; p++) {
        for (int k = 0; k < 1024; k++) {
            uint32_t t = rnd();
            struct rec *r = &recs[t & 15];
            glob = *r;
            strcpy(glob.str, strs[(t >> 4) & 15]);
            uint32_t c = compare(glob.str, r->str);
            uint32_t v = mix(glob.ival, t, c);
            switch (glob.kind) {
            case 0: acc += v; break;
            case 1: acc ^= v * 3; break;
            case 2: acc -= v >> 3; break;
            case 3: acc = ((acc << 1) | (acc >> 31)) + v; break;
            default: acc += v / 7; break;
            }
            r->ival += acc;
            r->kind = (r->kind + c + 1) % 5;
        }
    }
    printf("dhry %08x\n", acc);
    return 0;
}
