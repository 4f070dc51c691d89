/* Decimal adjust instructions: DAA DAS AAA AAS AAM AAD. */
#include "flags.h"

enum { B_DAA, B_DAS, B_AAA, B_AAS, B_AAM, B_AAD };

int helper_bcd(CPUState *s, int op, uint32_t imm)
{
    uint32_t al = s->regs[R_EAX] & 0xff, ah = (s->regs[R_EAX] >> 8) & 0xff;
    int cf = (s->eflags & CF_MASK) != 0, af = (s->eflags & AF_MASK) != 0;
    uint32_t f = 0;
    switch (op) {
    case B_DAA: {
        uint32_t old = al;
        int ncf = 0, naf = 0;
        if ((al & 0xf) > 9 || af) { ncf = cf || al + 6 > 0xff; al = (al + 6) & 0xff; naf = 1; }
        if (old > 0x99 || cf) { al = (al + 0x60) & 0xff; ncf = 1; }
        f = flags_szp(al, 1) | (ncf ? CF_MASK : 0) | (naf ? AF_MASK : 0);
        break;
    }
    case B_DAS: {
        uint32_t old = al;
        int ncf = 0, naf = 0;
        if ((al & 0xf) > 9 || af) { ncf = cf || al < 6; al = (al - 6) & 0xff; naf = 1; }
        if (old > 0x99 || cf) { al = (al - 0x60) & 0xff; ncf = 1; }
        f = flags_szp(al, 1) | (ncf ? CF_MASK : 0) | (naf ? AF_MASK : 0);
        break;
    }
    case B_AAA:
    case B_AAS: {
        uint32_t ax = (ah << 8) | al;
        if ((al & 0xf) > 9 || af) {
            ax = op == B_AAA ? ax + 0x106 : ax - 0x106;
            f = CF_MASK | AF_MASK;
        }
        ah = (ax >> 8) & 0xff;
        al = ax & 0x0f;
        f |= flags_szp(al, 1);
        break;
    }
    case B_AAM:
        imm &= 0xff;
        if (!imm) {
            s->last_exception = 0;
            s->exc_count++;
            s->icount++; /* an exception takes guest time too (layout.py: icount) */
            cpu_deliver(s, 0, s->eip);
            return 1;
        }
        ah = al / imm;
        al = al % imm;
        f = flags_szp(al, 1);
        break;
    case B_AAD:
        al = (al + ah * (imm & 0xff)) & 0xff;
        ah = 0;
        f = flags_szp(al, 1);
        break;
    }
    s->regs[R_EAX] = (s->regs[R_EAX] & 0xffff0000u) | (ah << 8) | al;
    set_arith(s, f, ARITH_MASK);
    return 0;
}
