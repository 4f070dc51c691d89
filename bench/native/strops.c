/* The strops kernel (firmware/src/strops.asm, include/strops.inc) for the
 * host: the same text, searches, comparisons and checksum.
 * Usage: strops REPEAT; prints "strops <8 hex digits>". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernel.h"
#include <string.h>

#define LEN 8192
#define PAIRS 16

static uint32_t h;
static unsigned char text[LEN], copy[LEN];

static void fold(uint32_t v)
{
    h = ((h << 5) | (h >> 27)) + v;
}

/* REPE CMPSB (equal = 1) or REPNE CMPSB (equal = 0) of 64 bytes at two
 * drawn offsets: the count left, and the last compared bytes. */
static uint32_t compare(int equal, int *a, int *b)
{
    const unsigned char *s = text + (rnd() & 4095), *d = text + (rnd() & 4095);
    uint32_t n = 64;
    do {
        *a = *s++, *b = *d++;
        n--;
    } while (n && (*a == *b) == equal);
    return n;
}

int main(int argc, char **argv)
{
    long repeat = repeat_arg(argc, argv);

    for (int i = 0; i < LEN; i++) {
        unsigned b = rnd() >> 8;
        text[i] = b < 16 ? 0 : 'a' + (b & 15);
    }
    text[LEN - 1] = 0;
    for (long p = 0; p < repeat; p++) {
        int k = 'a' + (rnd() & 15), a, b;
        for (const unsigned char *s = text; s < text + LEN; s++) {
            size_t n = strlen((const char *)s);
            fold(n);
            s += n;
        }
        for (size_t i = 0; i < LEN; i += strlen(strcpy((char *)copy + i, (const char *)text + i)) + 1)
            ;
        copy[rnd() & (LEN - 1)] ^= 1;
        uint32_t n = 0;
        for (const unsigned char *s = text; (s = memchr(s, k, text + LEN - s)); s++)
            n++;
        fold(n);
        n = 0;
        for (int i = 0; i < LEN; i += 2)
            n += text[i] == k && text[i + 1] == k + 1;
        fold(n);
        int i = 0;
        while (i < LEN && text[i] == copy[i])
            i++;
        fold(LEN - i - 1);
        for (int j = 0; j < PAIRS; j++) {
            n = compare(1, &a, &b);
            fold(n + (a == b ? 0 : a > b ? 0x100 : 0x200));
        }
        for (int j = 0; j < PAIRS; j++) {
            n = compare(0, &a, &b);
            fold(n + (a == b ? 0x100 : 0));
        }
        for (int j = 0; j < PAIRS; j++) {
            const unsigned char *s = text + (rnd() & (LEN - 1)), *q = s;
            while (*q != k && *q)
                q++;
            fold(q + 1 - s + (*q == k ? 0x100 : 0));
        }
    }
    printf("strops %08x\n", h);
    return 0;
}
