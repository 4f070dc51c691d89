/* Port I/O from translated code (IN, OUT, and INS/OUTS per element): the
 * ports fastio.c serves stay in C, every other goes to the Python bus. */
#include "jitemu.h"

uint32_t helper_in(CPUState *s, uint32_t port, int size)
{
    Runtime *rt = RT(s);
    uint32_t v;
    port &= 0xffff;
    if (!fio_in(rt, port, size, &v)) {
        fio_drain(rt);
        v = py_io_read(rt->host, port, size);
    }
    return size == 1 ? (v & 0xff) : size == 2 ? (v & 0xffff) : v;
}

void helper_out(CPUState *s, uint32_t port, uint32_t value, int size)
{
    Runtime *rt = RT(s);
    port &= 0xffff;
    if (fio_out(rt, port, value, size)) return;
    fio_drain(rt);
    py_io_write(rt->host, port, value, size);
}

/* IN, OUT, INS, OUTS in protected mode at CPL > IOPL, and always in
 * virtual-8086 mode (where IOPL does not guard them: SDM vol. 3, 20.2.8.1):
 * the TSS's I/O permission bitmap must allow every byte of the access
 * (bits clear, and inside the TSS limit), else #GP(0).  Returns nonzero
 * after the fault. */
int helper_io_check(CPUState *s, uint32_t port, int size)
{
    uint32_t cpl = (s->hflags >> HF_CPL_SHIFT) & 3, iopl = (s->eflags >> 12) & 3;
    if (!(s->cr[0] & 1) || (!(s->eflags & VM_MASK) && cpl <= iopl)) return 0;
    port &= 0xffff;
    /* Only a 32-bit TSS has a bitmap; its offset is the word at 0x66.
     * (The TSS is read as a supervisor: a #PF reading it is raised
     * instead of the #GP, by cpu_raise.) */
    if (s->tr_limit >= 0x67 && (RT(s)->tr_type & 8)) {
        uint32_t base = sys_read(s, s->tr_base + 0x66, 2);
        uint32_t first = base + (port >> 3), last = base + ((port + size - 1) >> 3);
        if (last <= s->tr_limit && !s->fault_pending) {
            uint32_t bits = sys_read(s, s->tr_base + first, last > first ? 2 : 1);
            uint32_t want = ((1u << size) - 1) << (port & 7);
            if (!s->fault_pending && !(bits & want)) return 0;
        }
    }
    return cpu_raise(s, 13, 1, 0);
}
