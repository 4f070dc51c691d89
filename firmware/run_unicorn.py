#!/usr/bin/env python3
"""Run a 64 KiB firmware image under Unicorn (real mode) and print its console.

The oracle for the images in firmware/images: the machine is RAM at
0x00000-0x9FFFF (zeroed), the ROM at 0xF0000-0xFFFFF and again at
0xFFFF0000-0xFFFFFFFF, and the CPU starts at F000:FFF0 with SS=DS=ES=0, SP=0.
Bytes written to port 0x402 (and 0xE9) are the console; reading either port
returns 0xE9 (the isa-debugcon readback value); other ports read as all ones.
The run ends at HLT.

Unicorn does not deliver interrupts through the real-mode IVT: INT n, INT3,
INTO and CPU exceptions (#DE from DIV/IDIV) reach a UC_HOOK_INTR callback
instead. This runner performs real-mode delivery itself: push FLAGS, CS, IP,
clear IF/TF/AC, load CS:IP from the IVT. For software interrupts Unicorn has
already advanced EIP past the instruction; for #DE it leaves EIP at the
faulting instruction, which is what real hardware pushes.

A second Unicorn quirk: QEMU's check_exception() remembers the last
contributory fault in env->old_exception and only forgets it in
do_interrupt(), which Unicorn skips when a UC_HOOK_INTR hook takes the
exception. So the second #DE of a run is reported as intno 8 (#DF) and the
third is a silent "triple fault" that stops emulation. After every delivery
this runner resets old_exception to -1, as QEMU's own delivery does, by
patching a saved context; the field's offset is found by a probe run
(_old_exception_offset), not hard-coded.

Usage: python firmware/run_unicorn.py IMAGE.bin [--max-seconds N] [--count]
"""

import argparse
import ctypes
import functools
import struct
import sys

from unicorn import (UC_ARCH_X86, UC_HOOK_CODE, UC_HOOK_INSN, UC_HOOK_INTR, UC_MODE_16,
                     UC_PROT_EXEC, UC_PROT_READ, Uc, UcError)
from unicorn.x86_const import (UC_X86_INS_IN, UC_X86_INS_OUT, UC_X86_REG_CS,
                               UC_X86_REG_DS, UC_X86_REG_EFLAGS,
                               UC_X86_REG_EIP, UC_X86_REG_ES, UC_X86_REG_SP,
                               UC_X86_REG_SS)

ROM_SIZE = 0x10000
RAM_SIZE = 0xA0000
CONSOLE_PORTS = (0x402, 0xE9)
DEBUGCON_READBACK = 0xE9


class FirmwareError(RuntimeError):
    """The image did not run to HLT."""


def _context_words(ctx):
    """The first ctx.size bytes of a saved context (its header, then the
    CPU state) as a ctypes int32 array over the context's own memory."""
    n = ctx.size
    return ctypes.cast(ctx.context, ctypes.POINTER(ctypes.c_int32 * (n // 4)))[0]


@functools.lru_cache(maxsize=None)
def _old_exception_offset():
    """Index (in int32 words) of env->old_exception in a saved context.

    Probe: a context saved before any fault has old_exception == -1; one
    saved in the hook of a #DE has 0. The one word that goes -1 -> 0 is it.
    """
    uc = Uc(UC_ARCH_X86, UC_MODE_16)
    uc.mem_map(0, 0x10000)
    uc.mem_write(0x1000, bytes.fromhex("31dbf6f3f4"))  # xor bx,bx; div bl; hlt
    ctx = uc.context_save()             # keep ctx alive while reading it
    before = list(_context_words(ctx))
    after = []

    def on_intr(uc, intno, _ud):
        if not after:
            saved = uc.context_save()
            after.extend(_context_words(saved))
        uc.reg_write(UC_X86_REG_EIP, uc.reg_read(UC_X86_REG_EIP) + 2)

    uc.hook_add(UC_HOOK_INTR, on_intr)
    uc.emu_start(0x1000, 0x1005, count=10)
    hits = [i for i, (a, b) in enumerate(zip(before, after))
            if a == -1 and b == 0]
    if len(hits) != 1:
        raise FirmwareError("cannot locate QEMU's old_exception in the "
                            f"Unicorn context (candidates {hits})")
    return hits[0]


def _forget_old_exception(uc, offset):
    """What QEMU's do_interrupt() does after a delivery: old_exception = -1."""
    ctx = uc.context_save()
    _context_words(ctx)[offset] = -1
    uc.context_restore(ctx)


def run_image(rom, max_seconds=120.0, stats=None):
    """Run ROM bytes (64 KiB) from F000:FFF0 until HLT; return console text.

    If `stats` is a dict, stats["instructions"] is set to the number of
    guest instructions executed (each REP iteration counts, HLT included).
    Counting installs a per-instruction hook: expect it to be much slower.
    """
    if len(rom) != ROM_SIZE:
        raise ValueError(f"ROM image must be {ROM_SIZE} bytes, got {len(rom)}")
    old_exception = _old_exception_offset()  # probe before, not in, a hook
    uc = Uc(UC_ARCH_X86, UC_MODE_16)
    uc.mem_map(0, RAM_SIZE)
    uc.mem_map(0xF0000, ROM_SIZE, UC_PROT_READ | UC_PROT_EXEC)
    uc.mem_map(0xFFFF0000, ROM_SIZE, UC_PROT_READ | UC_PROT_EXEC)
    uc.mem_write(0xF0000, bytes(rom))
    uc.mem_write(0xFFFF0000, bytes(rom))
    # In UC_MODE_16 a segment register write loads base = selector << 4.
    uc.reg_write(UC_X86_REG_CS, 0xF000)
    for reg in (UC_X86_REG_SS, UC_X86_REG_DS, UC_X86_REG_ES):
        uc.reg_write(reg, 0)
    uc.reg_write(UC_X86_REG_SP, 0)

    out = bytearray()
    state = {"error": None}

    def on_out(uc, port, size, value, _ud):
        if port in CONSOLE_PORTS:
            out.extend((value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    def on_in(uc, port, size, _ud):
        if port in CONSOLE_PORTS:
            return DEBUGCON_READBACK
        return (1 << (8 * size)) - 1

    def on_intr(uc, intno, _ud):
        if not 0 <= intno <= 255:
            state["error"] = f"unexpected exception {intno}"
            uc.emu_stop()
            return
        flags = uc.reg_read(UC_X86_REG_EFLAGS)
        cs = uc.reg_read(UC_X86_REG_CS)
        ip = uc.reg_read(UC_X86_REG_EIP) & 0xFFFF
        ss = uc.reg_read(UC_X86_REG_SS)
        sp = uc.reg_read(UC_X86_REG_SP)
        for word in (flags, cs, ip):
            sp = (sp - 2) & 0xFFFF
            uc.mem_write((ss << 4) + sp, struct.pack("<H", word & 0xFFFF))
        uc.reg_write(UC_X86_REG_SP, sp)
        _forget_old_exception(uc, old_exception)
        new_ip, new_cs = struct.unpack("<HH", uc.mem_read(intno * 4, 4))
        uc.reg_write(UC_X86_REG_EFLAGS, flags & ~0x40300)  # IF, TF, AC
        uc.reg_write(UC_X86_REG_CS, new_cs)
        uc.reg_write(UC_X86_REG_EIP, new_ip)

    uc.hook_add(UC_HOOK_INSN, on_out, None, 1, 0, UC_X86_INS_OUT)
    uc.hook_add(UC_HOOK_INSN, on_in, None, 1, 0, UC_X86_INS_IN)
    uc.hook_add(UC_HOOK_INTR, on_intr)
    executed = [0]
    if stats is not None:
        def on_code(uc, address, size, _ud):
            executed[0] += 1

        uc.hook_add(UC_HOOK_CODE, on_code)

    try:
        # begin is linear; Unicorn sets EIP = begin - CS.base in 16-bit mode.
        # No count limit: counting instructions costs a per-instruction hook.
        uc.emu_start(0xFFFF0, 0xFFFFFFFF, timeout=int(max_seconds * 1e6))
    except UcError as exc:
        cs = uc.reg_read(UC_X86_REG_CS)
        ip = uc.reg_read(UC_X86_REG_EIP)
        raise FirmwareError(f"unicorn error at {cs:04X}:{ip:04X}: {exc}; "
                            f"console so far: {out.decode('latin-1')!r}")
    if stats is not None:
        stats["instructions"] = executed[0]
    if state["error"]:
        raise FirmwareError(state["error"])
    cs = uc.reg_read(UC_X86_REG_CS)
    ip = uc.reg_read(UC_X86_REG_EIP) & 0xFFFF
    # Unicorn stops after executing HLT: the byte before CS:IP is 0xF4.
    last = uc.mem_read(((cs << 4) + ip - 1) & 0xFFFFFFFF, 1)[0]
    if last != 0xF4:
        raise FirmwareError(f"stopped at {cs:04X}:{ip:04X} without HLT "
                            f"(timeout?); console so far: "
                            f"{out.decode('latin-1')!r}")
    return out.decode("latin-1")


def run_file(path, max_seconds=120.0, stats=None):
    with open(path, "rb") as f:
        return run_image(f.read(), max_seconds, stats)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--count", action="store_true",
                    help="count guest instructions (slow); printed to stderr")
    args = ap.parse_args(argv)
    stats = {} if args.count else None
    try:
        text = run_file(args.image, args.max_seconds, stats)
    except FirmwareError as exc:
        print(f"run_unicorn: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    sys.stdout.flush()
    if stats is not None:
        print(f"instructions: {stats['instructions']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
