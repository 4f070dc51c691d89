/* Ports served in C: the accesses firmware makes tens of thousands of
 * times (a timer it polls, a status byte it reads back, the debug console
 * it prints through) without a round trip to the Python device per access.
 * The Python device stays the model: it opts a port in (jitemu/ports.py
 * PortBus.fast_*), keeps what C serves up to date, and gets every access C
 * does not serve.  Kinds:
 *
 *   FIO_LATCH    a byte read returns `value`, which the device refreshes
 *                whenever the state behind it changes; writes and wider
 *                reads go to the device (their side effects stay there).
 *   FIO_COUNTER  a read inside a `width`-byte register of a free-running
 *                counter of the virtual clock: (now * hz / 1e9) mod 2^bits,
 *                little-endian; now = icount + tsc_offset ns, what
 *                jitemu/clock.py reads at the same moment (every tier
 *                brings icount up to the IN before helper_in: block.py's
 *                timed calls, so the value does not depend on where the
 *                block began).  Writes go to the device.
 *   FIO_TIMED    a byte read before guest time `until` returns `value` with
 *                bit `bit` toggling every `period` ns of the virtual clock
 *                (port 0x61: its refresh bit, and channel 2's output
 *                steady until its next edge); from `until` on reads go to
 *                the device, which sets the entry again.  Writes go to the
 *                device.
 *   FIO_SINK     a byte write is appended to a buffer that Python drains
 *                into the device (py_sink_drain): at a newline, when full,
 *                before any other Python device callback (so output keeps
 *                its order against the serial port's) and when cpu_run
 *                returns.  Reads go to the device.
 *
 * A port may have a read kind and a write kind (the debug console: a
 * latch and a sink).  The table belongs to the vCPU; other threads change
 * an entry with aligned 32-bit stores, the value before the kind. */
#include <stdlib.h>
#include "jitemu.h"

static inline uint32_t size_mask(int size) { return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1; }

static FastPort *fio_entry(Runtime *rt, uint32_t port)
{
    if (!rt->fio) {
        rt->fio = calloc(65536, sizeof(FastPort)); /* lazily backed: untouched pages cost nothing */
        if (!rt->fio) return NULL;
    }
    return &rt->fio[port & 0xffff];
}

/* Python's side.  Each returns 0, or -1 when the table cannot be made. */
int fio_set_latch(CPUState *s, uint32_t port, uint32_t value)
{
    FastPort *f = fio_entry(RT(s), port);
    if (!f) return -1;
    __atomic_store_n(&f->value, value & 0xff, __ATOMIC_RELAXED);
    __atomic_store_n(&f->rd, FIO_LATCH, __ATOMIC_RELEASE);
    return 0;
}

/* A counter register of `width` bytes (1-4) at ports [port, port+width). */
int fio_set_counter(CPUState *s, uint32_t port, int width, uint32_t hz, int bits)
{
    if (width < 1 || width > 4 || bits < 1 || bits > 32) return -1;
    for (int i = 0; i < width; i++) {
        FastPort *f = fio_entry(RT(s), port + i);
        if (!f) return -1;
        __atomic_store_n(&f->value, hz, __ATOMIC_RELAXED);
        __atomic_store_n(&f->shape, (uint32_t)(i | width << 8 | bits << 16), __ATOMIC_RELAXED);
        __atomic_store_n(&f->rd, FIO_COUNTER, __ATOMIC_RELEASE);
    }
    return 0;
}

int fio_set_timed(CPUState *s, uint32_t port, uint32_t value, uint64_t until, int bit, uint32_t period)
{
    if (bit < 0 || bit > 7 || period == 0 || period >= 1u << 24) return -1;
    FastPort *f = fio_entry(RT(s), port);
    if (!f) return -1;
    __atomic_store_n(&f->rd, FIO_NONE, __ATOMIC_RELEASE); /* not half-set while the fields change */
    __atomic_store_n(&f->value, value & 0xff & ~(1u << bit), __ATOMIC_RELAXED);
    __atomic_store_n(&f->shape, (uint32_t)bit | period << 8, __ATOMIC_RELAXED);
    __atomic_store_n(&f->until, until, __ATOMIC_RELAXED);
    __atomic_store_n(&f->rd, FIO_TIMED, __ATOMIC_RELEASE);
    return 0;
}

int fio_set_sink(CPUState *s, uint32_t port)
{
    FastPort *f = fio_entry(RT(s), port);
    if (!f) return -1;
    __atomic_store_n(&f->wr, FIO_SINK, __ATOMIC_RELEASE);
    return 0;
}

void fio_clear(CPUState *s, uint32_t port)
{
    Runtime *rt = RT(s);
    if (!rt->fio) return;
    __atomic_store_n(&rt->fio[port & 0xffff].rd, FIO_NONE, __ATOMIC_RELEASE);
    __atomic_store_n(&rt->fio[port & 0xffff].wr, FIO_NONE, __ATOMIC_RELEASE);
}

/* What serves reads, and (<< 8) writes, of `port`. */
uint32_t fio_kind(CPUState *s, uint32_t port)
{
    Runtime *rt = RT(s);
    if (!rt->fio) return FIO_NONE;
    FastPort *f = &rt->fio[port & 0xffff];
    return __atomic_load_n(&f->rd, __ATOMIC_ACQUIRE) | __atomic_load_n(&f->wr, __ATOMIC_ACQUIRE) << 8;
}

static uint32_t counter_read(CPUState *s, const FastPort *f, int size, int *served)
{
    uint32_t shape = f->shape, off = shape & 0xff, width = (shape >> 8) & 0xff, bits = shape >> 16;
    if (off + (uint32_t)size > width) return 0; /* runs past the register: the device decides */
    uint64_t now = s->icount + s->tsc_offset;
    uint64_t count = (uint64_t)((unsigned __int128)now * f->value / 1000000000u);
    count &= (1ull << bits) - 1;
    *served = 1;
    return (uint32_t)(count >> (8 * off)) & size_mask(size);
}

/* A read C serves: sets *v and returns 1; else 0 (the device's). */
int fio_in(Runtime *rt, uint32_t port, int size, uint32_t *v)
{
    if (!rt->fio) return 0;
    FastPort *f = &rt->fio[port];
    int served = 0;
    switch (__atomic_load_n(&f->rd, __ATOMIC_ACQUIRE)) {
    case FIO_LATCH:
        if (size != 1) return 0;
        *v = __atomic_load_n(&f->value, __ATOMIC_RELAXED);
        return 1;
    case FIO_COUNTER:
        *v = counter_read(&rt->cpu, f, size, &served);
        return served;
    case FIO_TIMED: {
        uint64_t now = rt->cpu.icount + rt->cpu.tsc_offset;
        if (size != 1 || now >= __atomic_load_n(&f->until, __ATOMIC_RELAXED)) return 0;
        uint32_t shape = __atomic_load_n(&f->shape, __ATOMIC_RELAXED), bit = shape & 0xff;
        *v = __atomic_load_n(&f->value, __ATOMIC_RELAXED) | (uint32_t)((now / (shape >> 8)) & 1) << bit;
        return 1;
    }
    }
    return 0;
}

/* A write C takes: returns 1; else 0 (the device's). */
int fio_out(Runtime *rt, uint32_t port, uint32_t value, int size)
{
    if (!rt->fio || size != 1 || __atomic_load_n(&rt->fio[port].wr, __ATOMIC_ACQUIRE) != FIO_SINK)
        return 0;
    /* One port's bytes at a time, so each drain goes to one device. */
    if (rt->sink_len && rt->sink_port != port) fio_drain(rt);
    rt->sink_port = port;
    rt->sink_buf[rt->sink_len++] = (uint8_t)value;
    if ((value & 0xff) == '\n' || rt->sink_len == FIO_SINK_CAP) fio_drain(rt);
    return 1;
}

/* Python-side access (PortBus.read on a fast port): what the guest would
 * read now, or -1 for a read C does not serve. */
int64_t fio_read(CPUState *s, uint32_t port, int size)
{
    uint32_t v;
    return fio_in(RT(s), port & 0xffff, size, &v) ? (int64_t)v : -1;
}

/* The drain: Python takes the buffered bytes (at most FIO_SINK_CAP) and
 * the port they were written to; the buffer is empty after. */
uint32_t fio_sink_take(CPUState *s, uint8_t *out, uint32_t *port)
{
    Runtime *rt = RT(s);
    uint32_t n = rt->sink_len;
    memcpy(out, rt->sink_buf, n);
    *port = rt->sink_port;
    rt->sink_len = 0;
    return n;
}

uint32_t fio_sink_pending(CPUState *s) { return RT(s)->sink_len; }
