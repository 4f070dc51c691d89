/* Block chaining.  A block's exit with a constant target ends in a musttail
 * call through its own jump slot (a pointer in the block's module).  A slot
 * starts at chain_return, which simply returns to the dispatcher; the
 * dispatcher then points the slot straight at the next block's code, so
 * hot code runs from block to block without coming back.  Every block's
 * prologue still tests exit_request and the instruction budget, so a
 * chained loop stops at an instruction boundary like any other.  When a
 * block is invalidated, the slots that lead to it are cut (pointed back at
 * chain_return): no chain can enter a stale translation. */
#include <stdlib.h>
#include "jitemu.h"

void chain_return(CPUState *s) { (void)s; }

void chain_link(Block *target, void **slot)
{
    if (target->n_in == target->cap_in) {
        uint32_t cap = target->cap_in ? target->cap_in * 2 : 4;
        void **n = realloc(target->in_slots, cap * sizeof(void *));
        if (!n) return; /* leave it unchained: always correct */
        target->in_slots = n;
        target->cap_in = cap;
    }
    *slot = (void *)target->fn;
    target->in_slots[target->n_in++] = slot;
}

void chain_cut(Block *b)
{
    for (uint32_t i = 0; i < b->n_in; i++)
        *(void **)b->in_slots[i] = (void *)chain_return;
    free(b->in_slots);
    b->in_slots = NULL;
    b->n_in = b->cap_in = 0;
}
