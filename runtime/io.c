/* Port I/O from translated code: every port goes to the Python bus. */
#include "jitemu.h"

uint32_t helper_in(CPUState *s, uint32_t port, int size)
{
    uint32_t v = py_io_read(RT(s)->host, port & 0xffff, size);
    return size == 1 ? (v & 0xff) : size == 2 ? (v & 0xffff) : v;
}

void helper_out(CPUState *s, uint32_t port, uint32_t value, int size)
{
    py_io_write(RT(s)->host, port & 0xffff, value, size);
}
