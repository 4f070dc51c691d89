/* The sieve kernel (firmware/src/sieve.asm, sieve32.asm) for the host: the
 * sieve of Eratosthenes on a 60 KiB byte array, refilled each pass, and the
 * primes counted.  Usage: sieve REPEAT; prints "primes <count>". */
#include <stdio.h>
#include <stdlib.h>

#include "kernel.h"
#include <string.h>

#define N 61440

int main(int argc, char **argv)
{
    static unsigned char a[N];
    unsigned count = 0;
    long repeat = repeat_arg(argc, argv);

    for (long p = 0; p < repeat; p++) {
        memset(a, 1, N);
        a[0] = a[1] = 0;
        for (unsigned i = 2; i * i < N; i++)
            if (a[i])
                for (unsigned j = i * i; j < N; j += i)
                    a[j] = 0;
        count = 0;
        for (unsigned i = 0; i < N; i++)
            count += a[i];
    }
    printf("primes %u\n", count);
    return 0;
}
