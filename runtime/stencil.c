/* Baseline tier by copy-and-patch.  At install time LLVM compiles one small
 * function ("stencil") per instruction form, whose operands are external
 * symbols ("holes"); bl_load takes that library once, and bl_assemble copies
 * a block's stencils end to end into executable memory and patches their
 * relocations with the block's hole values.  No LLVM at run time.
 *
 * The arena is mapped below 2 GiB (MAP_32BIT): stencils are compiled for the
 * small code model, so they may reference code and data words with 32-bit
 * absolute (32S) or PC-relative relocations.  Helpers live in the shared
 * library, out of rel32 reach: PC-relative calls to them go through a
 * trampoline in the arena.  Code is never freed (a thread may still be in
 * it), so failed assemblies only reuse space that was never published.
 *
 * One library and one arena per process; a mutex keeps several Machines'
 * vCPU threads (each assembles only on its own thread) from interleaving. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "jitemu.h"

enum { R_64 = 1, R_PC32 = 2, R_PLT32 = 4, R_32 = 10, R_32S = 11, R_16 = 12, R_8 = 14 };
enum { K_HOLE = BL_KIND_HOLE, K_HELPER = BL_KIND_HELPER, K_CONTINUE = BL_KIND_CONTINUE, K_DATA = BL_KIND_DATA };

#define BL_CHUNK (16u << 20)

typedef struct {
    uint32_t off;
    uint8_t type, kind;
    uint16_t index;
    int32_t addend;
} BlReloc;

typedef struct {
    uint32_t code_off;
    uint32_t len;          /* bytes copied: the trailing jmp CONTINUE elided */
    uint32_t reloc_first;  /* into lib.relocs, which omits elided jumps */
    uint32_t reloc_count;
    uint32_t continues;    /* it falls through to a next stencil */
    int meta;              /* BL_META_* from bl_meta, or -1 before it */
} BlStencil;

typedef struct {
    uint8_t *code;
    BlStencil *st;
    BlReloc *relocs;
    uint64_t *helpers;  /* absolute addresses, for R_X86_64_64 */
    uint8_t *tramp;     /* n_helpers trampolines in the arena */
    uint32_t n_st, n_helpers;
} BlLib;

static BlLib lib;
/* A bump allocator over chunks below 2 GiB: code (executable, 16-aligned)
 * and blocks' data words (writable only, a cache line each: see code's). */
typedef struct {
    uint8_t *cur, *end;
    uintptr_t align;
    int prot;
} Pool;
static Pool code_pool = {NULL, NULL, 16, PROT_READ | PROT_WRITE | PROT_EXEC};
/* Blocks' data words (run counters, jump slots) live in their own pages,
 * never next to code: a store into a cache line the CPU is executing from
 * costs a pipeline flush (a self-modifying-code machine clear) on every
 * run counter increment. */
static Pool data_pool = {NULL, NULL, 64, PROT_READ | PROT_WRITE};
/* Code and data chunks, returned to the system when the arena is reclaimed
 * (arena_reclaim); trampolines live apart and stay. */
#define MAX_CHUNKS 4096
static uint8_t *chunks[MAX_CHUNKS];
static uint32_t n_chunks;
static uint64_t arena_used;             /* bytes of code and data taken since the last reclaim */
static uint64_t arena_limit = 64u << 20;  /* blocks of a whole boot take ~2 MiB */
static uint32_t epoch;                  /* reclaims so far */
static pthread_rwlock_t code_rw = PTHREAD_RWLOCK_INITIALIZER;
static uint64_t stat_code, stat_data, stat_blocks;
static uint64_t *last_data;
static uint32_t generation; /* libraries loaded so far */
static pthread_mutex_t bl_lock = PTHREAD_MUTEX_INITIALIZER;

/* baseline.c's tables share the library's lock. */
void bl_lock_acquire(void) { pthread_mutex_lock(&bl_lock); }
void bl_lock_release(void) { pthread_mutex_unlock(&bl_lock); }

int bl_holes(void) { return BL_HOLES; }

static uint32_t reloc_width(uint32_t type)
{
    switch (type) {
    case R_64: return 8;
    case R_PC32: case R_PLT32: case R_32: case R_32S: return 4;
    case R_16: return 2;
    case R_8: return 1;
    default: return 0;
    }
}

/* `size` bytes mapped below 2 GiB, where the small code model's 32-bit
 * relocations reach them, or NULL. */
static void *map_low(uint64_t size, int prot)
{
    void *c = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (c == MAP_FAILED) return NULL;
    if ((uintptr_t)c + size > 0x80000000u) { /* the kernel ignored MAP_32BIT */
        munmap(c, size);
        return NULL;
    }
    return c;
}

/* Space for `size` bytes inside one chunk of `pool`; not taken until
 * pool_commit, so a failed assembly costs nothing.  Under bl_lock. */
static uint8_t *pool_reserve(Pool *pool, uint64_t size)
{
    if (size > BL_CHUNK) return NULL;
    uint8_t *p = (uint8_t *)(((uintptr_t)pool->cur + pool->align - 1) & ~(pool->align - 1));
    if (pool->cur && (uint64_t)(pool->end - p) >= size) return p;
    if (n_chunks == MAX_CHUNKS) return NULL;
    uint8_t *c = map_low(BL_CHUNK, pool->prot);
    if (!c) return NULL;
    chunks[n_chunks++] = c;
    pool->cur = c; /* the old chunk's tail is abandoned */
    pool->end = c + BL_CHUNK;
    return c;
}

static void pool_commit(Pool *pool, uint8_t *p, uint64_t size)
{
    arena_used += (uint64_t)(p + size - pool->cur);
    pool->cur = p + size;
}

/* The code arena (the object loader, objload.c, places code here too). */
uint8_t *arena_reserve(uint64_t size) { return pool_reserve(&code_pool, size); }
void arena_commit(uint8_t *p, uint64_t size) { pool_commit(&code_pool, p, size); }

/* Trampolines have pages of their own, never reclaimed: the stencil
 * library and the object loader keep pointing at them. */
static uint8_t *tramp_cur, *tramp_end;
#define TRAMP_CHUNK (1u << 20)

/* n trampolines (jmp *abs64) below 2 GiB, BL_TRAMP bytes apart, one per
 * address: how code below 2 GiB reaches the helpers with a rel32 call.
 * Under bl_lock; NULL when there is no room. */
uint8_t *arena_trampolines(const uint64_t *addrs, uint32_t n)
{
    uint64_t size = (uint64_t)n * BL_TRAMP;
    if (!size) size = BL_TRAMP;
    if (size > TRAMP_CHUNK) return NULL;
    if (!tramp_cur || (uint64_t)(tramp_end - tramp_cur) < size) {
        uint8_t *c = map_low(TRAMP_CHUNK, PROT_READ | PROT_WRITE | PROT_EXEC);
        if (!c) return NULL;
        tramp_cur = c;
        tramp_end = (uint8_t *)c + TRAMP_CHUNK;
    }
    uint8_t *p = tramp_cur;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *t = p + i * BL_TRAMP;
        static const uint8_t jmp_rip[6] = {0xff, 0x25, 0, 0, 0, 0}; /* jmp *0(%rip) */
        memcpy(t, jmp_rip, 6);
        memcpy(t + 6, &addrs[i], 8);
        memset(t + 14, 0xcc, BL_TRAMP - 14);
    }
    tramp_cur = p + size;
    return p;
}

/* -- Reclaiming the arena ---------------------------------------------------
 * Code is never freed one block at a time (a thread may be in it).  When
 * the arena holds more than arena_limit bytes (self-modifying code makes
 * blocks without end), a vCPU outside translated code asks for all of it
 * back, as QEMU flushes its whole translation buffer when it fills:
 * arena_reclaim unmaps every code and data chunk, unless another vCPU is
 * in cpu_run (it holds code_rw for reading while it runs translated code),
 * and moves the epoch on.  Every Runtime remembers the epoch its block
 * table belongs to; cpu_run refuses (RUN_STALE) a table from an older one,
 * and its owner forgets it (bt_forget) before it runs again. */
int arena_over(void)
{
    pthread_mutex_lock(&bl_lock);
    int over = arena_used > arena_limit;
    pthread_mutex_unlock(&bl_lock);
    return over;
}

/* (Tests make it small.) */
void arena_set_limit(uint64_t bytes)
{
    pthread_mutex_lock(&bl_lock);
    arena_limit = bytes;
    pthread_mutex_unlock(&bl_lock);
}

uint32_t arena_epoch(void) { return __atomic_load_n(&epoch, __ATOMIC_ACQUIRE); }

/* 0: reclaimed (the epoch moved); -1: another vCPU is running translated
 * code (try again later). */
int arena_reclaim(void)
{
    if (pthread_rwlock_trywrlock(&code_rw) != 0) return -1;
    pthread_mutex_lock(&bl_lock);
    for (uint32_t i = 0; i < n_chunks; i++) munmap(chunks[i], BL_CHUNK);
    n_chunks = 0;
    code_pool.cur = code_pool.end = NULL;
    data_pool.cur = data_pool.end = NULL;
    arena_used = 0;
    last_data = NULL;
    __atomic_add_fetch(&epoch, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&bl_lock);
    pthread_rwlock_unlock(&code_rw);
    return 0;
}

/* cpu_run's side: translated code may run between these two. */
void code_enter(void) { pthread_rwlock_rdlock(&code_rw); }
void code_leave(void) { pthread_rwlock_unlock(&code_rw); }

static void lib_free(BlLib *l)
{
    free(l->code); free(l->st); free(l->relocs); free(l->helpers);
    memset(l, 0, sizeof *l);
}

static int load(BlLib *nl, const uint8_t *code, uint32_t code_len,
                const uint32_t *stencils, uint32_t n_stencils,
                const uint32_t *relocs, uint32_t n_relocs,
                const uint64_t *helpers, uint32_t n_helpers)
{
    if (n_stencils > 65536 || n_helpers > 65536) return -1; /* ids and indexes are 16-bit */
    nl->n_st = n_stencils;
    nl->n_helpers = n_helpers;
    nl->code = malloc(code_len ? code_len : 1);
    nl->st = malloc((n_stencils ? n_stencils : 1) * sizeof(BlStencil));
    nl->relocs = malloc((n_relocs ? n_relocs : 1) * sizeof(BlReloc));
    nl->helpers = malloc((n_helpers ? n_helpers : 1) * sizeof(uint64_t));
    if (!nl->code || !nl->st || !nl->relocs || !nl->helpers) return -1;
    if (code_len) memcpy(nl->code, code, code_len);
    if (n_helpers) memcpy(nl->helpers, helpers, n_helpers * sizeof(uint64_t));
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n_stencils; i++) {
        const uint32_t *w = &stencils[i * 4];
        uint32_t off = w[0], len = w[1], first = w[2], count = w[3];
        if ((uint64_t)off + len > code_len || (uint64_t)first + count > n_relocs) return -1;
        BlStencil *t = &nl->st[i];
        t->code_off = off;
        t->len = len;
        t->reloc_first = kept;
        t->continues = 0;
        t->meta = -1;
        /* LLVM ends the fall-through path with `jmp CONTINUE` (e9 rel32);
         * when that is the last instruction the next stencil follows
         * directly, so the jump is dropped along with its relocation. */
        int64_t elided = -1;
        for (uint32_t j = first; len >= 5 && j < first + count; j++) {
            uint32_t info = relocs[j * 4 + 1];
            if (relocs[j * 4] == len - 4 && (info >> 8 & 0xff) == K_CONTINUE &&
                ((info & 0xff) == R_PC32 || (info & 0xff) == R_PLT32) &&
                (int32_t)relocs[j * 4 + 2] == -4 && code[off + len - 5] == 0xe9) {
                elided = j;
                t->len = len - 5;
                t->continues = 1;
                break;
            }
        }
        for (uint32_t j = first; j < first + count; j++) {
            if (j == elided) continue;
            const uint32_t *r = &relocs[j * 4];
            uint32_t type = r[1] & 0xff, kind = r[1] >> 8 & 0xff, index = r[1] >> 16;
            uint32_t width = reloc_width(type);
            if (!width || (uint64_t)r[0] + width > t->len) return -1; /* must lie in copied code */
            switch (kind) {
            case K_HOLE: case K_DATA:
                if (index >= BL_HOLES) return -1;
                break;
            case K_HELPER:
                /* Helpers are far away: only a call through a trampoline
                 * or a full 64-bit address can reach them. */
                if (index >= n_helpers || (type != R_64 && type != R_PC32 && type != R_PLT32))
                    return -1;
                break;
            case K_CONTINUE:
                t->continues = 1;
                break;
            default:
                return -1;
            }
            if (kind != K_HOLE && width < 4) return -1; /* an address never fits */
            nl->relocs[kept++] = (BlReloc){r[0], (uint8_t)type, (uint8_t)kind, (uint16_t)index,
                                           (int32_t)r[2]};
        }
        t->reloc_count = kept - t->reloc_first;
    }
    if (n_helpers && !(nl->tramp = arena_trampolines(helpers, n_helpers))) return -1;
    return 0;
}

int bl_load(const uint8_t *code, uint32_t code_len,
            const uint32_t *stencils, uint32_t n_stencils,
            const uint32_t *relocs, uint32_t n_relocs,
            const uint64_t *helpers, uint32_t n_helpers)
{
    BlLib nl = {0};
    pthread_mutex_lock(&bl_lock);
    int rc = load(&nl, code, code_len, stencils, n_stencils, relocs, n_relocs, helpers, n_helpers);
    if (rc == 0) {
        /* Blocks already made keep their own copies and trampolines. */
        lib_free(&lib);
        lib = nl;
        generation++;
        bl_forms_clear(); /* its signatures named the old library's ids */
    } else {
        lib_free(&nl); /* the old library stays in use */
    }
    pthread_mutex_unlock(&bl_lock);
    return rc;
}

int reloc_patch(uint8_t *P, uint32_t type, uint64_t S, int64_t A)
{
    int64_t v = (int64_t)(S + (uint64_t)A);
    switch (type) {
    case R_64: {
        uint64_t u = S + (uint64_t)A;
        memcpy(P, &u, 8);
        return 0;
    }
    case R_PC32: case R_PLT32:
        v -= (int64_t)(uintptr_t)P;
        /* fall through */
    case R_32S:
        if (v != (int32_t)v) return -1;
        memcpy(P, &(int32_t){(int32_t)v}, 4);
        return 0;
    case R_32:
        if ((uint64_t)v > UINT32_MAX) return -1;
        memcpy(P, &(uint32_t){(uint32_t)v}, 4);
        return 0;
    case R_16: /* small immediates: truncated */
        memcpy(P, &(uint16_t){(uint16_t)v}, 2);
        return 0;
    case R_8:
        *P = (uint8_t)v;
        return 0;
    }
    return -1;
}

static void *assemble(uint32_t n, const uint16_t *ids, const uint32_t *holes,
                      uint32_t n_data, const uint64_t *data_init)
{
    if (!n || !lib.st) return NULL;
    uint64_t code_len = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (ids[i] >= lib.n_st) return NULL;
        code_len += lib.st[ids[i]].len;
    }
    if (lib.st[ids[n - 1]].continues) return NULL; /* nothing follows the last one */
    uint64_t *data = NULL;
    if (n_data && !(data = (uint64_t *)pool_reserve(&data_pool, (uint64_t)n_data * 8))) return NULL;
    uint8_t *base = arena_reserve(code_len);
    if (!base) return NULL;
    uint8_t *p = base;
    for (uint32_t i = 0; i < n; i++) {
        const BlStencil *t = &lib.st[ids[i]];
        const uint32_t *h = &holes[(size_t)i * BL_HOLES];
        uint8_t *next = p + t->len;
        memcpy(p, lib.code + t->code_off, t->len);
        for (uint32_t j = 0; j < t->reloc_count; j++) {
            const BlReloc *r = &lib.relocs[t->reloc_first + j];
            uint64_t S;
            switch (r->kind) {
            case K_HOLE:
                S = h[r->index];
                break;
            case K_HELPER:
                S = r->type == R_64 ? lib.helpers[r->index]
                                    : (uint64_t)(uintptr_t)(lib.tramp + r->index * BL_TRAMP);
                break;
            case K_CONTINUE:
                S = (uintptr_t)next;
                break;
            default: /* K_DATA */
                if (h[r->index] >= n_data) return NULL;
                S = (uintptr_t)&data[h[r->index]];
                break;
            }
            if (reloc_patch(p + r->off, r->type, S, r->addend)) return NULL;
        }
        p = next;
    }
    if (n_data && data_init) memcpy(data, data_init, (size_t)n_data * 8);
    else if (n_data) memset(data, 0, (size_t)n_data * 8);
    arena_commit(base, code_len);
    if (n_data) pool_commit(&data_pool, (uint8_t *)data, (uint64_t)n_data * 8);
    stat_code += code_len;
    stat_data += (uint64_t)n_data * 8;
    stat_blocks++;
    last_data = n_data ? data : NULL;
    return base;
}

void *bl_assemble_locked(uint32_t n, const uint16_t *ids, const uint32_t *holes,
                         uint32_t n_data, const uint64_t *data_init)
{
    return assemble(n, ids, holes, n_data, data_init);
}

void *bl_assemble(uint32_t n, const uint16_t *ids, const uint32_t *holes,
                  uint32_t n_data, const uint64_t *data_init)
{
    pthread_mutex_lock(&bl_lock);
    void *fn = assemble(n, ids, holes, n_data, data_init);
    pthread_mutex_unlock(&bl_lock);
    return fn;
}

/* The data words of the last block assembled (to read its counters), or
 * NULL if it had none. */
uint64_t *bl_last_data(void)
{
    pthread_mutex_lock(&bl_lock);
    uint64_t *d = last_data;
    pthread_mutex_unlock(&bl_lock);
    return d;
}

/* Bytes of block code (without trampolines and padding), bytes of data
 * words, blocks assembled. */
void bl_stats(uint64_t *out3)
{
    pthread_mutex_lock(&bl_lock);
    out3[0] = stat_code;
    out3[1] = stat_data;
    out3[2] = stat_blocks;
    pthread_mutex_unlock(&bl_lock);
}

/* What the block loop needs of stencils first..first+n-1 (Python's
 * Stencil: terminated, end_after, data words), as BL_META_* bits. */
int bl_meta(uint32_t first, uint32_t n, const uint8_t *meta)
{
    pthread_mutex_lock(&bl_lock);
    int rc = (uint64_t)first + n > lib.n_st ? -1 : 0;
    for (uint32_t i = 0; rc == 0 && i < n; i++) lib.st[first + i].meta = meta[i];
    pthread_mutex_unlock(&bl_lock);
    return rc;
}

/* Under bl_lock: stencil id's BL_META_* bits, or -1. */
int bl_stencil_meta(uint32_t id)
{
    return id < lib.n_st ? lib.st[id].meta : -1;
}

/* Changes whenever a library is loaded: Python reloads its own when
 * another (a test's) took its place. */
uint32_t bl_generation(void)
{
    pthread_mutex_lock(&bl_lock);
    uint32_t g = generation;
    pthread_mutex_unlock(&bl_lock);
    return g;
}
