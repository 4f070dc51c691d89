/* The lz kernel (firmware/src/lz.asm, lz32.asm) for the host: the same
 * 16 KiB input, compressed once by the same greedy LZSS, then decompressed
 * REPEAT times with the same checksum.  Usage: lz REPEAT; prints
 * "lz ok <8 hex digits>" (or "lz BAD ..."). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernel.h"
#include <string.h>

#define N 16384
#define WINDOW 4095
#define MAXLEN 18
#define LONGMIN 8

static unsigned hash(const unsigned char *p)
{
    return ((p[0] << 8) ^ (p[1] << 4) ^ p[2]) & 0xFFF;
}

int main(int argc, char **argv)
{
    static unsigned char in[N], comp[2 * N], out[N];
    static uint16_t head[4096];         /* position + 1; 0 = none */
    long repeat = repeat_arg(argc, argv);
    unsigned pos = 0, len = 0;
    uint32_t h = 0;

    while (pos < N) {
        uint32_t t = rnd();
        if ((t & 7) || pos == 0) {
            in[pos++] = 'a' + ((t >> 3) & 15);
            continue;
        }
        unsigned dist = ((t >> 3) & 0x3FF) + 1, n = (rnd() & 31) + 3;
        if (dist > pos)
            dist = pos;
        while (n-- && pos < N) {
            in[pos] = in[pos - dist];
            pos++;
        }
    }

    unsigned char *c = comp, *flags = NULL, bit = 0;
    for (unsigned s = 0; s < N; bit <<= 1) {
        if (!bit) {
            flags = c++;
            *flags = 0;
            bit = 1;
        }
        unsigned m = 0, dist = 0;
        if (s <= N - 3) {
            unsigned hv = hash(in + s), cand = head[hv];
            head[hv] = s + 1;
            if (cand && (dist = s - (cand - 1)) <= WINDOW) {
                unsigned most = N - s < MAXLEN ? N - s : MAXLEN;
                while (m < most && in[s + m] == in[cand - 1 + m])
                    m++;
            }
        }
        if (m < 3) {
            *flags |= bit;
            *c++ = in[s++];
            continue;
        }
        unsigned token = (m - 3) << 12 | dist;
        *c++ = token, *c++ = token >> 8;
        for (unsigned k = 1; k < m; k++)
            if (s + k <= N - 3)
                head[hash(in + s + k)] = s + k + 1;
        s += m;
    }
    len = c - comp;

    for (long p = repeat; p > 0; p--) {
        uint32_t fill = ~((uint32_t)(p & 0xFFFF) * 0x10001u);
        for (int i = 0; i < N; i += 4)
            memcpy(out + i, &fill, 4);
        const unsigned char *s = comp, *end = comp + len;
        unsigned char *d = out;
        unsigned bits = 0;
        while (s < end) {
            bits >>= 1;
            if (!(bits & 0x100))
                bits = *s++ | 0xFF00;
            if (bits & 1) {
                *d++ = *s++;
                continue;
            }
            unsigned token = s[0] | s[1] << 8, n = (token >> 12) + 3;
            const unsigned char *from = d - (token & 0xFFF);
            s += 2;
            if (n >= LONGMIN)
                while (n--)             /* REP MOVSB: byte by byte, may overlap */
                    *d++ = *from++;
            else
                for (; n; n--)
                    *d++ = *from++;
        }
        for (int i = 0; i < N; i += 4) {
            h += out[i] | out[i + 1] << 8 | out[i + 2] << 16 | (uint32_t)out[i + 3] << 24;
            h = (h << 5) | (h >> 27);
        }
    }
    printf("lz %s %08x\n", memcmp(in, out, N) ? "BAD" : "ok", h);
    return 0;
}
