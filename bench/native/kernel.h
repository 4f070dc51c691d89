/* Shared by the kernels' C twins: their one argument, REPEAT (the number of
 * passes, as the firmware source's -DREPEAT=n), and the firmware's LCG. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static long repeat_arg(int argc, char **argv)
{
    char *end;
    long n = argc == 2 ? strtol(argv[1], &end, 10) : 0;
    if (argc != 2 || *end || n < 1) {
        fprintf(stderr, "usage: %s REPEAT (a positive number of passes)\n", argv[0]);
        exit(2);
    }
    return n;
}

/* x = x * 1103515245 + 12345 (mod 2^32), seed 1 */
static uint32_t lcg_x = 1;

static inline uint32_t lcg(void)
{
    return lcg_x = lcg_x * 1103515245u + 12345u;
}

/* The kernels' draw: the high 16 bits of the next state. */
static inline uint32_t rnd(void)
{
    return lcg() >> 16;
}
