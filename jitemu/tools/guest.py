"""Looking at a Machine's guest the way a debugger does: linear memory
(through the page tables when paging is on), the register dump shared by
the monitor and the `cpu` trace, and disassembly in the current mode.

Nothing here changes guest state except write_linear (through
Machine.write_phys, which drops translations made from the bytes written).
Page walks set no accessed or dirty bits."""
from ..cpu.registers import GPR, SEGS

CR0_PE, CR0_PG = 1, 0x80000000
CR4_PSE, CR4_PAE = 0x10, 0x20
HF_CODE32 = 1
EFLAGS_VM = 0x20000


def _read32(m, phys):
    return int.from_bytes(m.read_phys(phys, 4), "little")


def linear_to_phys(m, lin):
    """The physical address of linear `lin`, or None if it is not mapped
    (paging on, a not-present page directory or table entry)."""
    s = m.s
    lin &= 0xFFFFFFFF
    if not s.cr[0] & CR0_PG:
        return lin & s.a20_mask
    if s.cr[4] & CR4_PAE:
        return _pae_to_phys(m, lin)
    pde = _read32(m, ((s.cr[3] & 0xFFFFF000) | ((lin >> 22) << 2)) & s.a20_mask)
    if not pde & 1:
        return None
    if pde & 0x80 and s.cr[4] & CR4_PSE:
        return ((pde & 0xFFC00000) | (lin & 0x3FFFFF)) & s.a20_mask
    pte = _read32(m, ((pde & 0xFFFFF000) | (((lin >> 12) & 0x3FF) << 2)) & s.a20_mask)
    if not pte & 1:
        return None
    return ((pte & 0xFFFFF000) | (lin & 0xFFF)) & s.a20_mask


PAE_ADDR = 0xFFFFFF000  # entry address bits 35:12


def _read64(m, phys):
    if phys >= 1 << 32:
        return None
    return int.from_bytes(m.read_phys(phys & m.s.a20_mask, 8), "little")


def _pae_to_phys(m, lin):
    """PAE: the PDPTE the CPU loaded (CPUState.pdpte), then the directory
    and table; None when not present or when the page lies above 4 GiB
    (this machine has nothing there)."""
    pdpte = m.s.pdpte[lin >> 30]
    if not pdpte & 1:
        return None
    pde = _read64(m, (pdpte & PAE_ADDR) + 8 * ((lin >> 21) & 0x1FF))
    if pde is None or not pde & 1:
        return None
    if pde & 0x80:
        phys = (pde & PAE_ADDR & ~0x1FFFFF) | (lin & 0x1FFFFF)
    else:
        pte = _read64(m, (pde & PAE_ADDR) + 8 * ((lin >> 12) & 0x1FF))
        if pte is None or not pte & 1:
            return None
        phys = (pte & PAE_ADDR) | (lin & 0xFFF)
    return phys & m.s.a20_mask if phys < 1 << 32 else None


def _pieces(lin, n):
    """(linear, length) pieces of [lin, lin+n) that do not cross a page."""
    while n > 0:
        k = min(n, 0x1000 - (lin & 0xFFF))
        yield lin, k
        lin = (lin + k) & 0xFFFFFFFF
        n -= k


def read_linear(m, lin, n):
    """Bytes at linear `lin`; stops short at the first unmapped page."""
    out = bytearray()
    for a, k in _pieces(lin, n):
        phys = linear_to_phys(m, a)
        if phys is None:
            break
        out += m.read_phys(phys, k)
    return bytes(out)


def write_linear(m, lin, data):
    """Write bytes at linear `lin`; returns how many were written (stops
    at the first unmapped page)."""
    done = 0
    for a, k in _pieces(lin, len(data)):
        phys = linear_to_phys(m, a)
        if phys is None:
            break
        m.write_phys(phys, data[done:done + k])
        done += k
    return done


def code32(m):
    return bool(m.s.hflags & HF_CODE32)


def pc(m):
    """The linear address of the next instruction (CS base + EIP)."""
    return (m.s.seg_base[1] + m.s.eip) & 0xFFFFFFFF


def cpl(m):
    s = m.s
    if not s.cr[0] & CR0_PE:
        return 0
    if s.eflags & EFLAGS_VM:
        return 3
    return s.seg_sel[1] & 3


def _eflags_letters(v):
    return "".join(c if v & bit else "-" for c, bit in
                   (("D", 0x400), ("O", 0x800), ("S", 0x80), ("Z", 0x40), ("A", 0x10), ("P", 0x4), ("C", 0x1)))


def dump_registers(m):
    """The register state, laid out like QEMU's `info registers` for a
    32-bit x86 CPU."""
    s = m.s
    r = [s.regs[i] for i in range(8)]
    g = dict(zip(GPR, r))
    lines = [
        "EAX=%08x EBX=%08x ECX=%08x EDX=%08x" % (g["eax"], g["ebx"], g["ecx"], g["edx"]),
        "ESI=%08x EDI=%08x EBP=%08x ESP=%08x" % (g["esi"], g["edi"], g["ebp"], g["esp"]),
        "EIP=%08x EFL=%08x [%s] CPL=%d A20=%d HLT=%d" % (
            s.eip, s.eflags, _eflags_letters(s.eflags), cpl(m), 1 if s.a20_mask == 0xFFFFFFFF else 0,
            1 if s.halted else 0),
    ]
    order = ["es", "cs", "ss", "ds", "fs", "gs"]
    for name in order:
        i = SEGS.index(name)
        lines.append("%-3s=%04x %08x %08x %08x" % (name.upper(), s.seg_sel[i], s.seg_base[i], s.seg_limit[i],
                                                  s.seg_flags[i]))
    lines.append("LDT=%04x %08x %08x" % (s.ldt_sel, s.ldt_base, s.ldt_limit))
    lines.append("TR =%04x %08x %08x" % (s.tr_sel, s.tr_base, s.tr_limit))
    lines.append("GDT=     %08x %08x" % (s.gdt_base, s.gdt_limit))
    lines.append("IDT=     %08x %08x" % (s.idt_base, s.idt_limit))
    lines.append("CR0=%08x CR2=%08x CR3=%08x CR4=%08x" % (s.cr[0], s.cr[2], s.cr[3], s.cr[4]))
    lines.append("DR0=%08x DR1=%08x DR2=%08x DR3=%08x" % (s.dr[0], s.dr[1], s.dr[2], s.dr[3]))
    lines.append("DR6=%08x DR7=%08x" % (s.dr[6], s.dr[7]))
    return "\n".join(lines)


_capstone = {}


def _cs(bits):
    cs = _capstone.get(bits)
    if cs is None:
        import capstone
        cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32 if bits == 32 else capstone.CS_MODE_16)
        _capstone[bits] = cs
    return cs


def disassemble(m, lin, count, bits=None):
    """[(linear, bytes, text)] for `count` instructions from linear `lin`,
    decoded in the current code size (or `bits`).  In 16-bit code, relative
    targets are shown as offsets in CS when `lin` lies in the CS segment."""
    if bits is None:
        bits = 32 if code32(m) else 16
    cs_base = m.s.seg_base[1]
    out = []
    for _ in range(count):
        code = read_linear(m, lin, 15)
        if not code:
            break
        addr = lin
        if bits == 16:
            off = (lin - cs_base) & 0xFFFFFFFF
            addr = off if off <= 0xFFFF else lin & 0xFFFF
        insn = next(_cs(bits).disasm(code, addr, 1), None)
        if insn is None:
            out.append((lin, code[:1], "(bad)"))
            lin = (lin + 1) & 0xFFFFFFFF
            continue
        text = ("%s %s" % (insn.mnemonic, insn.op_str)).strip()
        out.append((lin, bytes(insn.bytes), text))
        lin = (lin + insn.size) & 0xFFFFFFFF
    return out
