/* The crc32 kernel (firmware/src/cpuloop.asm) for the host: a bitwise
 * reflected CRC32 (polynomial 0xEDB88320) over a 32 KiB LCG-filled buffer,
 * REPEAT times in a row.  Usage: crc32 REPEAT; prints "crc32 <8 hex digits>". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernel.h"

#define LEN 0x8000

int main(int argc, char **argv)
{
    static unsigned char buf[LEN];
    uint32_t crc = 0xFFFFFFFF;
    long repeat = repeat_arg(argc, argv);

    for (int i = 0; i < LEN; i++)
        buf[i] = lcg() >> 24;
    for (long p = 0; p < repeat; p++)
        for (int i = 0; i < LEN; i++) {
            crc ^= buf[i];
            for (int b = 0; b < 8; b++)
                crc = crc & 1 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
    printf("crc32 %08x\n", ~crc);
    return 0;
}
