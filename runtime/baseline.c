/* The baseline tier's per-block work in C: decode a block with capstone,
 * find each instruction's stencil by a *signature* computed from
 * capstone's detail, fill the holes as jitemu/jit/stencil.py's symbolize()
 * does, assemble (stencil.c) and register the block, all without Python.
 *
 * A signature holds everything symbolize() puts in a form key (and may be
 * finer): two instructions with one signature have one form key and the
 * same hole layout.  Python fills the signature -> stencil id table from a
 * sample instruction of every library entry (bl_forms), so the rules that
 * make a form stay in Python; C only has to tell instances apart as
 * finely.  Anything C is unsure of (an unknown signature, an operand it
 * does not classify, a straddling instruction) makes bl_translate return
 * 0 and the block goes to Python as before.
 *
 * Capstone is the library the Python binding loads (libcapstone.so in the
 * capstone package), opened with dlopen by path: its soname
 * (libcapstone.so.5) is not a file in that directory, and a path found at
 * build time would be pip's temporary build environment.
 *
 * The tables belong to the process's stencil library and are guarded by
 * its lock (bl_lock); bl_load empties them, and Python registers again. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <capstone/capstone.h>
#include "jitemu.h"

/* stencil.py: MODE_BITS, MAX_HOLES - 2 usable values, MAX_INSNS. */
#define MODE_BITS (HF_CODE32 | HF_SS32 | HF_PE | HF_VM | HF_PG | HF_FLAT | 0x300u)
#define MAX_VALUES (BL_HOLES - 2)
#define MAX_INSNS 64
#define SEG_NONE 0xff
#define SEG_HOLE 0xfe
#define ID_X87 0xffff /* decode.py's "x87" row */
#define FIRST_BLOCK_ID 0x40000000u /* Python's ids count up from 0 */

enum { OP_REG = 1, OP_SREG, OP_CR, OP_DR, OP_IMM, OP_MEM };

/* What symbolize() keys an instruction by; zero-filled, compared whole. */
typedef struct {
    uint16_t id;   /* capstone's, lcall/ljmp after _far_indirect, or ID_X87 */
    uint16_t mode; /* hflags & MODE_BITS */
    uint8_t mode16, op_size, addr_size, rep, seg, nops, pad[2];
    uint8_t ops[8][4]; /* kind, size or register index, segment, base|index<<1|scale<<2 */
} Sig;

/* -- capstone, loaded by path ------------------------------------------- */
static struct {
    unsigned (*version)(int *, int *);
    cs_err (*open)(cs_arch, cs_mode, csh *);
    cs_err (*option)(csh, cs_opt_type, size_t);
    cs_insn *(*malloc)(csh);
    bool (*disasm_iter)(csh, const uint8_t **, size_t *, uint64_t *, cs_insn *);
    csh h[2];     /* 16-bit, 32-bit code */
    cs_insn *insn[2];
    int ready;
} cs;

/* Register classes by capstone register id: general (index, size, high),
 * segment, control, debug; anything else (FPU, MMX, EIP...) is refused. */
static struct { uint8_t cls, index, size, high; } regs[X86_REG_ENDING];

static void init_regs(void)
{
    static const x86_reg r8[] = {X86_REG_AL, X86_REG_CL, X86_REG_DL, X86_REG_BL};
    static const x86_reg r8h[] = {X86_REG_AH, X86_REG_CH, X86_REG_DH, X86_REG_BH};
    static const x86_reg r16[] = {X86_REG_AX, X86_REG_CX, X86_REG_DX, X86_REG_BX,
                                  X86_REG_SP, X86_REG_BP, X86_REG_SI, X86_REG_DI};
    static const x86_reg r32[] = {X86_REG_EAX, X86_REG_ECX, X86_REG_EDX, X86_REG_EBX,
                                  X86_REG_ESP, X86_REG_EBP, X86_REG_ESI, X86_REG_EDI};
    static const x86_reg sr[] = {X86_REG_ES, X86_REG_CS, X86_REG_SS, X86_REG_DS, X86_REG_FS, X86_REG_GS};
    static const x86_reg cr[] = {X86_REG_CR0, X86_REG_CR1, X86_REG_CR2, X86_REG_CR3, X86_REG_CR4};
    static const x86_reg dr[] = {X86_REG_DR0, X86_REG_DR1, X86_REG_DR2, X86_REG_DR3,
                                 X86_REG_DR4, X86_REG_DR5, X86_REG_DR6, X86_REG_DR7};
    for (int i = 0; i < 4; i++) {
        regs[r8[i]] = (typeof(regs[0])){OP_REG, i, 1, 0};
        regs[r8h[i]] = (typeof(regs[0])){OP_REG, i, 1, 1};
    }
    for (int i = 0; i < 8; i++) {
        regs[r16[i]] = (typeof(regs[0])){OP_REG, i, 2, 0};
        regs[r32[i]] = (typeof(regs[0])){OP_REG, i, 4, 0};
        regs[dr[i]] = (typeof(regs[0])){OP_DR, i, 4, 0};
    }
    for (int i = 0; i < 6; i++) regs[sr[i]] = (typeof(regs[0])){OP_SREG, i, 2, 0};
    for (int i = 0; i < 5; i++) regs[cr[i]] = (typeof(regs[0])){OP_CR, i, 4, 0};
}

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;

/* Load libcapstone.so from `path`: 0, or -1 when it cannot be used (then
 * every block goes to Python). */
int bl_decoder_open(const char *path)
{
    pthread_mutex_lock(&open_lock);
    int rc = 0;
    if (cs.ready) goto out;
    rc = -1;
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) goto out;
    cs.version = dlsym(dl, "cs_version");
    cs.open = dlsym(dl, "cs_open");
    cs.option = dlsym(dl, "cs_option");
    cs.malloc = dlsym(dl, "cs_malloc");
    cs.disasm_iter = dlsym(dl, "cs_disasm_iter");
    if (!cs.version || !cs.open || !cs.option || !cs.malloc || !cs.disasm_iter) goto out;
    /* cs_insn and cs_detail are laid out as in the headers we built with. */
    int major, minor;
    cs.version(&major, &minor);
    if (major != CS_API_MAJOR || minor != CS_API_MINOR) goto out;
    const cs_mode modes[2] = {CS_MODE_16, CS_MODE_32};
    for (int i = 0; i < 2; i++) {
        if (cs.open(CS_ARCH_X86, modes[i], &cs.h[i]) != CS_ERR_OK) goto out;
        if (cs.option(cs.h[i], CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK) goto out;
        if (!(cs.insn[i] = cs.malloc(cs.h[i]))) goto out;
    }
    init_regs();
    __atomic_store_n(&cs.ready, 1, __ATOMIC_RELEASE);
    rc = 0;
out:
    pthread_mutex_unlock(&open_lock);
    return rc;
}

/* -- one instruction ----------------------------------------------------- */
static int seg_prefix(uint8_t b)
{
    switch (b) {
    case 0x26: return R_ES;
    case 0x2e: return R_CS;
    case 0x36: return R_SS;
    case 0x3e: return R_DS;
    case 0x64: return R_FS;
    case 0x65: return R_GS;
    }
    return -1;
}

/* decode.py's decode_x87 and symbolize(): the 11-bit opcode is an
 * immediate hole, then the memory operand (parsed from the bytes, as
 * Python does).  The signature keeps the escape byte and the ModRM's
 * reg field (the whole ModRM where register forms of one group have
 * different names, jitemu/isa/x87.py), so it is at least as fine as the
 * Python name. */
static int describe_x87(const cs_insn *in, int code32, int real, Sig *sig, uint32_t *v, int n)
{
    const uint8_t *c = in->bytes;
    int i = 0, seg = -1, rep = 0, op = code32 ? 4 : 2, as = code32 ? 4 : 2;
    for (; i < in->size; i++) {
        if (c[i] == 0x66) op = code32 ? 2 : 4;
        else if (c[i] == 0x67) as = code32 ? 2 : 4;
        else if (seg_prefix(c[i]) >= 0) seg = seg_prefix(c[i]);
        else if (c[i] == 0xf2 || c[i] == 0xf3) rep = c[i];
        else if (c[i] != 0xf0) break;
    }
    if (i + 1 >= in->size || c[i] < 0xd8 || c[i] > 0xdf) return -1;
    int esc = c[i] & 7, modrm = c[i + 1], k = i + 2;
    sig->id = ID_X87;
    sig->op_size = op;
    sig->addr_size = as;
    sig->rep = rep;
    sig->ops[0][0] = OP_IMM;
    sig->ops[0][1] = 2;
    sig->ops[0][2] = esc;
    v[n++] = (esc << 8) | modrm;
    if (modrm >= 0xc0) {
        int exact = (esc == 1 && modrm >= 0xd0) || (esc == 2 && modrm >= 0xe8 && modrm < 0xf0) ||
                    (esc == 3 && modrm >= 0xe0 && modrm < 0xe8) || (esc == 6 && modrm >= 0xd8 && modrm < 0xe0) ||
                    (esc == 7 && modrm >= 0xe0 && modrm < 0xe8);
        sig->ops[0][3] = exact ? modrm : (modrm & 0xf8);
        sig->nops = 1;
    } else {
        static const int8_t b16[8] = {3, 3, 5, 5, 6, 7, 5, 3}, i16[8] = {6, 7, 6, 7, -1, -1, -1, -1};
        int mod = modrm >> 6, rm = modrm & 7, base = -1, index = -1, scale = 1;
        uint32_t disp = 0;
        sig->ops[0][3] = modrm & 0x38;
        if (as == 2) {
            if (mod == 0 && rm == 6) { disp = c[k] | c[k + 1] << 8; k += 2; }
            else { base = b16[rm]; index = i16[rm]; }
        } else if (rm == 4) {
            int sib = c[k++];
            scale = 1 << (sib >> 6);
            index = (sib >> 3 & 7) != 4 ? (sib >> 3 & 7) : -1;
            if ((sib & 7) == 5 && mod == 0) { memcpy(&disp, c + k, 4); k += 4; }
            else base = sib & 7;
        } else if (rm == 5 && mod == 0) {
            memcpy(&disp, c + k, 4);
            k += 4;
        } else {
            base = rm;
        }
        if (mod == 1) { disp = (uint32_t)(int32_t)(int8_t)c[k]; k += 1; }
        else if (mod == 2) { if (as == 2) disp = c[k] | c[k + 1] << 8; else memcpy(&disp, c + k, 4); k += as; }
        int eff = seg >= 0 ? seg : (base == R_ESP || base == R_EBP) ? R_SS : R_DS;
        uint8_t *d = sig->ops[1];
        d[0] = OP_MEM;
        d[2] = real ? SEG_HOLE : eff;
        d[3] = (base >= 0) | (index >= 0) << 1 | (index >= 0 ? scale : 0) << 2;
        if (real) v[n++] = eff;
        if (base >= 0) v[n++] = base * 4;
        if (index >= 0) v[n++] = index * 4;
        v[n++] = disp & (as == 4 ? 0xffffffffu : 0xffffu);
        sig->nops = 2;
    }
    if (k != in->size) return -1; /* capstone and this parse disagree: Python decides */
    if (seg >= 0) {
        if (real) { sig->seg = SEG_HOLE; v[n++] = seg; }
        else sig->seg = seg;
    } else {
        sig->seg = SEG_NONE;
    }
    return n <= MAX_VALUES ? n : -1;
}

/* The signature and hole values (v, MAX_VALUES of them at most) of
 * instruction `in` at `eip` in a block with `hflags`, as decode.py and
 * symbolize() make them: the number of values, or -1 when C does not
 * take it. */
static int describe(const cs_insn *in, uint32_t hflags, uint32_t eip, Sig *sig, uint32_t *v)
{
    const cs_x86 *x = &in->detail->x86;
    uint32_t mode = hflags & MODE_BITS;
    int code32 = hflags & HF_CODE32;
    int real = !(mode & HF_PE); /* as symbolize(): virtual-8086 code checks limits per segment */
    int n = 0;
    memset(sig, 0, sizeof *sig);
    sig->mode = mode;
    sig->mode16 = !code32;
    v[n++] = eip;
    v[n++] = (eip + in->size) & (code32 ? 0xffffffffu : 0xffffu);
    v[n++] = 0; /* instructions before it: the block fills it in */
    if (x->opcode[0] >= 0xd8 && x->opcode[0] <= 0xdf) return describe_x87(in, code32, real, sig, v, n);
    /* _legacy_prefixes: the last REP and segment prefix win */
    int rep = 0, seg = -1;
    for (int i = 0; i < in->size; i++) {
        uint8_t b = in->bytes[i];
        if (b == 0xf2 || b == 0xf3) rep = b;
        else if (seg_prefix(b) >= 0) seg = seg_prefix(b);
        else if (b != 0x66 && b != 0x67 && b != 0xf0) break;
    }
    int op_default = code32 ? 4 : 2;
    sig->id = in->id;
    /* decode.py's NO_BMI: without BMI1/ABM, F3 0F BC/BD are BSF/BSR */
    if (in->id == X86_INS_TZCNT || in->id == X86_INS_LZCNT) {
        sig->id = in->id == X86_INS_TZCNT ? X86_INS_BSF : X86_INS_BSR;
        rep = 0;
    }
    sig->op_size = x->prefix[2] != 0x66 ? op_default : 6 - op_default;
    sig->addr_size = x->addr_size;
    sig->rep = rep;
    if (x->op_count > 8) return -1;
    sig->nops = x->op_count;
    for (int k = 0; k < x->op_count; k++) {
        const cs_x86_op *o = &x->operands[k];
        uint8_t *d = sig->ops[k];
        if (n > BL_HOLES) return -1; /* v has room for one more operand's; the count is checked at the end */
        switch (o->type) {
        case X86_OP_REG: {
            if ((unsigned)o->reg >= X86_REG_ENDING || !regs[o->reg].cls) return -1;
            d[0] = regs[o->reg].cls;
            if (d[0] == OP_REG) {
                d[1] = regs[o->reg].size;
                v[n++] = regs[o->reg].index * 4 + regs[o->reg].high;
            } else {
                d[1] = regs[o->reg].index; /* its identity is the form's */
            }
            break;
        }
        case X86_OP_IMM: {
            int size = o->size ? o->size : 1; /* the implicit 1 of D0/D1 */
            d[0] = OP_IMM;
            d[1] = size;
            v[n++] = (uint32_t)(size >= 4 ? (uint64_t)o->imm : (uint64_t)o->imm & ((1u << (8 * size)) - 1));
            break;
        }
        case X86_OP_MEM: {
            const x86_op_mem *m = &o->mem;
            int base = -1, index = -1;
            if (m->base) {
                if ((unsigned)m->base >= X86_REG_ENDING || regs[m->base].cls != OP_REG) return -1;
                base = regs[m->base].index;
            }
            if (m->index) {
                if ((unsigned)m->index >= X86_REG_ENDING || regs[m->index].cls != OP_REG) return -1;
                index = regs[m->index].index;
            }
            int eff = seg >= 0 ? seg : (base == R_ESP || base == R_EBP) ? R_SS : R_DS;
            d[0] = OP_MEM;
            d[1] = o->size;
            d[2] = real ? SEG_HOLE : eff;
            d[3] = (base >= 0) | (index >= 0) << 1 | (index >= 0 ? m->scale : 0) << 2;
            if (x->addr_size != 2 && x->addr_size != 4) return -1;
            if (real) v[n++] = eff;
            if (base >= 0) v[n++] = base * 4;
            if (index >= 0) v[n++] = index * 4;
            v[n++] = (uint32_t)((uint64_t)m->disp & (x->addr_size == 4 ? 0xffffffffu : 0xffffu));
            break;
        }
        default:
            return -1;
        }
    }
    /* _far_indirect: FF /3 and FF /5 with a memory operand are far
     * transfers through an m16:op_size, whatever capstone calls them. */
    if (in->id == X86_INS_JMP || in->id == X86_INS_CALL || in->id == X86_INS_LJMP || in->id == X86_INS_LCALL) {
        int i = 0;
        while (i < in->size - 1 && (seg_prefix(in->bytes[i]) >= 0 || in->bytes[i] == 0x66 || in->bytes[i] == 0x67 ||
                                    in->bytes[i] == 0xf0 || in->bytes[i] == 0xf2 || in->bytes[i] == 0xf3))
            i++;
        if (in->bytes[i] == 0xff && i + 1 < in->size && (in->bytes[i + 1] >> 6) != 3 &&
            ((in->bytes[i + 1] >> 3 & 7) == 3 || (in->bytes[i + 1] >> 3 & 7) == 5)) {
            if (!x->op_count) return -1;
            sig->id = (in->bytes[i + 1] >> 3 & 7) == 3 ? X86_INS_LCALL : X86_INS_LJMP;
            sig->ops[0][1] = sig->op_size + 2;
        }
    }
    if (seg >= 0) {
        if (real) {
            sig->seg = SEG_HOLE;
            v[n++] = seg;
        } else {
            sig->seg = seg;
        }
    } else {
        sig->seg = SEG_NONE;
    }
    return n <= MAX_VALUES ? n : -1;
}

/* -- the signature -> stencil table -------------------------------------- */
typedef struct {
    Sig sig;
    uint32_t id; /* stencil id + 1; 0: empty */
} FormSlot;

static FormSlot *forms;
static uint32_t forms_cap, forms_used;
/* Prologue and exit stencil ids (+ 1) by mode, kind (0 prologue, 1 exit)
 * and flag (counted, chained). */
static uint32_t structural[0x400][2][2];

static uint32_t sig_hash(const Sig *s)
{
    const uint8_t *p = (const uint8_t *)s;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < sizeof *s; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static FormSlot *form_slot(const Sig *s)
{
    uint32_t mask = forms_cap - 1;
    for (uint32_t i = sig_hash(s) & mask;; i = (i + 1) & mask)
        if (!forms[i].id || !memcmp(&forms[i].sig, s, sizeof *s)) return &forms[i];
}

static int form_put(const Sig *s, uint32_t id)
{
    if ((forms_used + 1) * 2 > forms_cap) {
        uint32_t old_cap = forms_cap, cap = old_cap ? old_cap * 2 : 1024;
        FormSlot *old = forms, *nf = calloc(cap, sizeof *nf);
        if (!nf) return -1;
        forms = nf;
        forms_cap = cap;
        for (uint32_t i = 0; i < old_cap; i++)
            if (old[i].id) *form_slot(&old[i].sig) = old[i];
        free(old);
    }
    FormSlot *f = form_slot(s);
    if (!f->id) forms_used++;
    f->sig = *s;
    f->id = id + 1;
    return 0;
}

/* stencil.c, under bl_lock: a new library makes every id stale. */
void bl_forms_clear(void)
{
    if (forms) memset(forms, 0, forms_cap * sizeof *forms);
    forms_used = 0;
    memset(structural, 0, sizeof structural);
}

/* Decode one instruction of `len` bytes at most (a window as decode.py
 * gives capstone): its length, or 0 when capstone refuses it. */
static int decode_one(const uint8_t *code, size_t len, uint32_t eip, int code32)
{
    const uint8_t *p = code;
    uint64_t addr = eip;
    cs_insn *in = cs.insn[code32 ? 1 : 0];
    if (!cs.disasm_iter(cs.h[code32 ? 1 : 0], &p, &len, &addr, in)) return 0;
    return in->size;
}

/* For Python and the tests: the signature (BL_SIG bytes) and hole values
 * of the instruction at the start of `code` (at most 15 bytes are used);
 * the number of values, or -1 when C does not take it. */
int bl_signature(uint32_t hflags, const uint8_t *code, uint32_t len, uint32_t eip,
                 uint8_t *sig_out, uint32_t *values)
{
    if (!__atomic_load_n(&cs.ready, __ATOMIC_ACQUIRE)) return -1;
    Sig sig;
    uint32_t v[BL_HOLES + 8];
    bl_lock_acquire();
    int code32 = hflags & HF_CODE32;
    int n = decode_one(code, len < 15 ? len : 15, eip, code32) ? describe(cs.insn[code32 ? 1 : 0], hflags, eip, &sig, v)
                                                               : -1;
    bl_lock_release();
    if (n >= 0) {
        if (sig_out) memcpy(sig_out, &sig, sizeof sig);
        if (values) memcpy(values, v, n * sizeof *v);
    }
    return n;
}

int bl_sig_size(void) { return sizeof(Sig); }

/* The stencil id the block loop would take for this instruction (as
 * bl_signature reads it), -1 when its signature is unknown, -2 when C
 * does not take it at all. */
int bl_known(uint32_t hflags, const uint8_t *code, uint32_t len, uint32_t eip)
{
    if (!__atomic_load_n(&cs.ready, __ATOMIC_ACQUIRE)) return -2;
    Sig sig;
    uint32_t v[BL_HOLES + 8];
    int code32 = hflags & HF_CODE32, id = -2;
    bl_lock_acquire();
    if (decode_one(code, len < 15 ? len : 15, eip, code32) &&
        describe(cs.insn[code32 ? 1 : 0], hflags, eip, &sig, v) >= 0) {
        FormSlot *f = forms_cap ? form_slot(&sig) : NULL;
        id = f && f->id ? (int)f->id - 1 : -1;
    }
    bl_lock_release();
    return id;
}

/* Register the forms of samples: instruction i (lens[i] bytes at
 * code + 16 * i, in a block with hflags[i]) is an instance of stencil
 * ids[i].  Returns how many were registered (the rest C cannot decode). */
int bl_forms(uint32_t n, const uint32_t *hflags, const uint8_t *code, const uint8_t *lens, const uint16_t *ids)
{
    if (!__atomic_load_n(&cs.ready, __ATOMIC_ACQUIRE)) return 0;
    int ok = 0;
    Sig sig;
    uint32_t v[BL_HOLES + 8];
    bl_lock_acquire();
    for (uint32_t i = 0; i < n; i++) {
        int code32 = hflags[i] & HF_CODE32;
        uint8_t win[16] = {0};
        memcpy(win, code + 16 * i, lens[i] < 15 ? lens[i] : 15);
        /* the sample padded with zeros, as forms.py decodes it */
        if (!decode_one(win, 15, 0x1000, code32) || describe(cs.insn[code32 ? 1 : 0], hflags[i], 0x1000, &sig, v) < 0)
            continue;
        if (form_put(&sig, ids[i])) break;
        ok++;
    }
    bl_lock_release();
    return ok;
}

/* kind 0: the prologue (flag: counts runs); 1: the exit (flag: chains). */
void bl_structural(uint32_t mode, int kind, int flag, uint32_t id)
{
    bl_lock_acquire();
    structural[mode & 0x3ff][kind & 1][flag ? 1 : 0] = id + 1;
    bl_lock_release();
}

/* -- a block ----------------------------------------------------------- */
/* The instruction's window: up to 15 bytes from `off`, over the page end
 * into `tail` (decode.py sees the next page's bytes when paging is off). */
static const uint8_t *window(const uint8_t *code, uint32_t page_left, uint32_t off,
                             const uint8_t *tail, uint32_t tail_len, uint8_t *buf, size_t *len)
{
    uint32_t here = page_left - off;
    if (here >= 15) { *len = 15; return code + off; }
    memcpy(buf, code + off, here);
    memcpy(buf + here, tail, tail_len);
    *len = here + tail_len < 15 ? here + tail_len : 15;
    return buf;
}

/* The block at linear `pc` made as Baseline.translate and
 * Translator._register make it: 1 when it is in the block table, 0 when
 * it is not this tier's (Python takes the miss), -1 when the fetch
 * faulted (fault_pending is set). */
int bl_translate(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags)
{
    Runtime *rt = RT(s);
    uint32_t phys0;
    if (!__atomic_load_n(&cs.ready, __ATOMIC_ACQUIRE)) return 0;
    if (cpu_code_phys(s, pc, &phys0)) return -1;
    const uint8_t *page = rt->phys_rd[phys0 >> PAGE_BITS];
    if (!page) return 0; /* MMIO or nothing: Python reads it */
    const uint8_t *code = page + (phys0 & (PAGE_SIZE - 1));
    uint32_t page_left = PAGE_SIZE - (phys0 & (PAGE_SIZE - 1));
    uint8_t tail[15];
    uint32_t tail_len = 0;
    int follows = 0; /* the next linear page is the next physical one */
    if (!(s->cr[0] & 0x80000000u)) {
        /* Translator._fetch: the next linear page's first bytes */
        uint32_t nphys = (pc + page_left) & s->a20_mask;
        follows = (uint64_t)phys0 + page_left == nphys;
        const uint8_t *np = rt->phys_rd[nphys >> PAGE_BITS];
        if (np) {
            memcpy(tail, np + (nphys & (PAGE_SIZE - 1)), 15);
            tail_len = 15;
        } else {
            tail_len = 0xffffffffu; /* unread: Python's, should a window need it */
        }
    }
    uint32_t mode = hflags & MODE_BITS;
    int code32 = hflags & HF_CODE32;
    uint32_t eip_mask = code32 ? 0xffffffffu : 0xffffu;
    uint32_t eip = pc - cs_base;
    int counted = !(hflags & (HF_NOREGION | HF_STEP)); /* (a step block never becomes a region) */

    static uint16_t ids[MAX_INSNS + 2];
    static uint32_t holes[(MAX_INSNS + 2) * BL_HOLES];
    uint64_t data[8];
    uint32_t n = 1, ndata = 0, off = 0, end_next = 0;
    int end = 0; /* 0: none, 1: exit without chaining, 2: exit chaining */
    Sig sig;
    uint8_t buf[32];
    uint32_t v[BL_HOLES + 8];
    int rc = 0;

    bl_lock_acquire();
    uint32_t pro = structural[mode][0][counted];
    if (!pro || !forms_used) goto out;
    for (;;) {
        size_t len;
        if (tail_len == 0xffffffffu && page_left - off < 15) goto out;
        const uint8_t *w = window(code, page_left, off, tail, tail_len, buf, &len);
        uint32_t size = decode_one(w, len, eip, code32);
        if (!size) goto out; /* #UD: Python logs it when it runs */
        /* An instruction that runs onto the next page ends the block (the
         * LLVM tier's rule); taken here only when that page follows
         * physically, so that one range [phys0, phys_hi] covers the block. */
        if (off + size > page_left && !(follows && tail_len == 15)) goto out;
        int nv = describe(cs.insn[code32 ? 1 : 0], hflags, eip, &sig, v);
        if (nv < 0) goto out;
        uint32_t *h = &holes[n * BL_HOLES];
        memcpy(h, v, nv * sizeof *v);
        FormSlot *f = form_slot(&sig);
        if (!f->id) goto out;
        int meta = bl_stencil_meta(f->id - 1);
        if (meta < 0) goto out;
        h[2] = n - 1;
        ids[n++] = f->id - 1;
        off += size;
        if (meta & BL_META_TERMINATED) break;
        uint32_t nxt = (eip + size) & eip_mask;
        if (meta & BL_META_END_AFTER) { end = 1; end_next = nxt; break; }
        /* IP wraps (64 KiB in 16-bit code): the next instruction is not
         * the bytes that follow, so the block ends and chains there. */
        if (off >= page_left || n - 1 >= ((hflags & HF_STEP) ? 1 : MAX_INSNS) || (uint64_t)eip + size != nxt) {
            end = 2;
            end_next = nxt;
            break;
        }
        eip = nxt;
    }
    uint32_t ninsns = n - 1;
    if (end) {
        uint32_t ex = structural[mode][1][end == 2];
        if (!ex) goto out;
        uint32_t *h = &holes[n * BL_HOLES];
        h[0] = 0;
        h[1] = end_next;
        h[2] = ninsns;
        ids[n++] = ex - 1;
    }
    /* Baseline._assemble: the prologue's holes, then every stencil's data
     * words (the run counter starts at 0, jump slots at chain_return) */
    ids[0] = pro - 1;
    uint32_t phys_hi = phys0 + off - 1;
    holes[3] = phys0;
    holes[4] = phys_hi;
    holes[5] = pc;
    holes[6] = cs_base;
    for (uint32_t i = 0; i < n; i++) {
        int meta = bl_stencil_meta(ids[i]);
        if (meta < 0) goto out;
        for (int k = 0; k < meta >> BL_META_SLOTS_SHIFT; k++) {
            if (ndata >= 8) goto out;
            holes[i * BL_HOLES + BL_HOLES - 1 - k] = ndata;
            data[ndata] = (counted && i == 0) ? 0 : (uint64_t)(uintptr_t)chain_return;
            ndata++;
        }
    }
    void *fn = bl_assemble_locked(n, ids, holes, ndata, data);
    if (!fn) goto out;
    if (bt_insert(s, pc, cs_base, hflags, phys0, phys_hi, fn, FIRST_BLOCK_ID + (uint32_t)rt->bl_blocks)) goto out;
    rt->bl_blocks++;
    rc = 1;
out:
    bl_lock_release();
    return rc;
}

/* -- per machine ----------------------------------------------------------- */
void rt_set_baseline(CPUState *s, int on) { RT(s)->bl_enabled = on; }

uint64_t rt_baseline_blocks(CPUState *s) { return RT(s)->bl_blocks; }

static inline uint32_t defer_hash(uint32_t pc, uint32_t cs_base, uint32_t hflags)
{
    uint32_t h = pc * 0x9e3779b1u ^ cs_base * 0x85ebca6bu ^ hflags * 0xc2b2ae35u;
    return h ^ (h >> 15);
}

/* (pc, cs_base, hflags) is never (0, 0, 0) for a key worth keeping: a
 * block at linear 0 in real mode is the C tier's, which is merely slower
 * to reinstate. */
static uint32_t *defer_slot(uint32_t *t, uint32_t cap, uint32_t pc, uint32_t cs_base, uint32_t hflags)
{
    for (uint32_t i = defer_hash(pc, cs_base, hflags) & (cap - 1);; i = (i + 1) & (cap - 1)) {
        uint32_t *e = &t[3 * i];
        if ((!e[0] && !e[1] && !e[2]) || (e[0] == pc && e[1] == cs_base && e[2] == hflags)) return e;
    }
}

/* Misses of this key go to Python: it has better code to reinstate (a
 * region, the persistent cache's object code) or the key is not the
 * baseline tier's. */
int rt_defer(CPUState *s, uint32_t pc, uint32_t cs_base, uint32_t hflags)
{
    Runtime *rt = RT(s);
    if (!pc && !cs_base && !hflags) return 0;
    if ((rt->bl_defer_used + 1) * 2 > rt->bl_defer_cap) {
        uint32_t cap = rt->bl_defer_cap ? rt->bl_defer_cap * 2 : 256;
        uint32_t *t = calloc((size_t)cap * 3, sizeof *t);
        if (!t) return -1;
        for (uint32_t i = 0; i < rt->bl_defer_cap; i++) {
            uint32_t *e = &rt->bl_defer[3 * i];
            if (e[0] || e[1] || e[2]) memcpy(defer_slot(t, cap, e[0], e[1], e[2]), e, 12);
        }
        free(rt->bl_defer);
        rt->bl_defer = t;
        rt->bl_defer_cap = cap;
    }
    uint32_t *e = defer_slot(rt->bl_defer, rt->bl_defer_cap, pc, cs_base, hflags);
    if (!e[0] && !e[1] && !e[2]) rt->bl_defer_used++;
    e[0] = pc; e[1] = cs_base; e[2] = hflags;
    return 0;
}

int bl_deferred(Runtime *rt, uint32_t pc, uint32_t cs_base, uint32_t hflags)
{
    if (!rt->bl_defer_used) return 0;
    uint32_t *e = defer_slot(rt->bl_defer, rt->bl_defer_cap, pc, cs_base, hflags);
    return e[0] || e[1] || e[2];
}
