/* Loading LLVM's object code without a JIT linker.  First-tier modules
 * and regions (compiled by the worker process, or read back from the
 * persistent cache) are ELF objects made for the small code model with
 * static relocations, like stencils; jitemu/jit/objload.py lays an
 * object's sections out as one image and ld_place copies it into the code
 * arena below 2 GiB and applies its relocations.  So the emulator process
 * runs LLVM's code without loading LLVM: no LLJIT, no llvmlite.
 *
 * Helpers live in the shared library, out of rel32 reach: a PC-relative
 * call, or a 32-bit absolute address (the small code model's idea of a
 * function pointer), gets the helper's trampoline; a 64-bit word gets the
 * helper itself.  Code is never freed: a thread may still be in it. */
#include <stdlib.h>
#include "jitemu.h"

static uint64_t *helper_addr;
static uint8_t *helper_tramp;
static uint32_t n_helper;

/* The helper table relocations index (Python's order: helpers.py).  The
 * same table again is a no-op; a different one replaces it (objects
 * placed before keep their own patched addresses). */
int ld_helpers(const uint64_t *addrs, uint32_t n)
{
    int rc = 0;
    bl_lock_acquire();
    if (n != n_helper || (n && memcmp(addrs, helper_addr, n * sizeof *addrs))) {
        uint64_t *a = malloc((n ? n : 1) * sizeof *a);
        uint8_t *t = a ? arena_trampolines(addrs, n) : NULL;
        if (!t) {
            free(a);
            rc = -1;
        } else {
            memcpy(a, addrs, n * sizeof *a);
            free(helper_addr);
            helper_addr = a;
            helper_tramp = t;
            n_helper = n;
        }
    }
    bl_lock_release();
    return rc;
}

static void *place(const uint8_t *image, uint32_t len, uint32_t align,
                   const uint32_t *relocs, uint32_t n)
{
    if (!len || align > 4096 || (align & (align - 1))) return NULL;
    uint8_t *p = arena_reserve((uint64_t)len + align);
    if (!p) return NULL;
    uint8_t *base = (uint8_t *)(((uintptr_t)p + (align ? align - 1 : 0)) & ~(uintptr_t)(align ? align - 1 : 0));
    memcpy(base, image, len);
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t *r = &relocs[i * 4];
        uint32_t off = r[0], type = r[1] & 0xff, kind = r[1] >> 8 & 0xff, value = r[2];
        /* R_X86_64_64, PC32, PLT32, 32, 32S: nothing narrower holds an address */
        if (type != 1 && type != 2 && type != 4 && type != 10 && type != 11) return NULL;
        if ((uint64_t)off + (type == 1 ? 8 : 4) > len) return NULL;
        uint64_t S;
        if (kind == LD_KIND_LOCAL) {
            if (value > len) return NULL;
            S = (uintptr_t)base + value;
        } else if (kind == LD_KIND_HELPER && value < n_helper) {
            S = type == 1 ? helper_addr[value] : (uintptr_t)(helper_tramp + value * BL_TRAMP);
        } else {
            return NULL;
        }
        if (reloc_patch(base + off, type, S, (int32_t)r[3])) return NULL;
    }
    arena_commit(p, (uint64_t)(base - p) + len);
    return base;
}

/* The image's address in the arena, or NULL (a relocation that does not
 * fit or names nothing: a damaged object; the arena full). */
void *ld_place(const uint8_t *image, uint32_t len, uint32_t align, const uint32_t *relocs, uint32_t n)
{
    bl_lock_acquire();
    void *base = place(image, len, align, relocs, n);
    bl_lock_release();
    return base;
}
