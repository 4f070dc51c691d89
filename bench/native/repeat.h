/* The kernels' one argument: REPEAT, the number of passes (as the firmware
 * source's -DREPEAT=n). */
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
