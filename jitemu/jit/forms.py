"""The instruction forms the install-time stencil library holds.

`forms.txt` (beside this file) lists one sample instruction per form:
`<hflags in hex> <instruction bytes in hex>`.  At install, setup.py runs

    python -m jitemu.jit.forms build --out jitemu/jit/stencils.lib

which decodes each sample, lifts its form into a stencil (stencil.py) and
compiles them with LLVM, so that a first boot finds its forms made.  Forms
missing from it are made at run time, once, and kept in the translation
cache.  The list comes from running firmware: regenerate it with

    python -m jitemu.jit.forms collect [--bios /usr/share/seabios/bios.bin] [IMAGE ...]

(it boots the BIOS, with SeaVGABIOS, to the boot sector, runs each raw firmware image, and
adds the forms of every instruction translated to those already listed).
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FORMS = os.path.join(HERE, "forms.txt")
MODULE = 256  # forms per LLVM module (compiles are cheaper per form in batches)


def read_samples(path=FORMS):
    out = []
    with open(path) as f:
        for line in f:
            line = line.split("#")[0].split()
            if len(line) == 2:
                out.append((int(line[0], 16), bytes.fromhex(line[1])))
    return out


def forms_of(samples):
    """{form key: (symbolic instruction, hflags, lifter)} of samples."""
    from .decode import Decoder, UndecodableError
    from .lift import LIFTERS
    from .stencil import MODE_BITS, NotConcrete, symbolize
    from ..isa.table import TABLE
    d = Decoder()
    out = {}
    for hflags, raw in samples:
        try:
            insn = d.decode(raw + bytes(15), 0x1000, bool(hflags & 1))
        except UndecodableError:
            continue
        if insn is None or insn.name not in LIFTERS or insn.name not in TABLE:
            continue
        try:
            key, sym, _ = symbolize(insn, hflags)
        except NotConcrete:
            continue
        out.setdefault(key, (sym, hflags & MODE_BITS, LIFTERS[insn.name], (hflags, raw)))
    return out


def build(out_path, samples=None):
    """Lift and compile every listed form; write the library to out_path."""
    from .baseline import entry_of, structural_keys, structural_stencil, write
    from .compiler import ObjectMaker
    from .elf import read_object
    from .stencil import NotConcrete, lift_stencil, module_text
    from .helpers import HELPERS
    samples = read_samples() if samples is None else samples
    forms = forms_of(samples)
    maker = ObjectMaker()
    pairs = []
    made = []
    for key, (sym, mode, lifter, _) in forms.items():
        try:
            made.append((key, lift_stencil("f%d" % len(made), sym, mode, lifter)))
        except NotConcrete:
            pairs.append((key, None))
    for mode in sorted({mode for _, mode, _, _ in forms.values()}):
        made += [(key, structural_stencil(key)) for key in structural_keys(mode)]
    helper_index = {n: i for i, n in enumerate(HELPERS)}
    for i in range(0, len(made), MODULE):
        chunk = made[i:i + MODULE]
        obj = read_object(maker.make_stencils(module_text([st for _, st in chunk])))
        if obj.other_sections:
            raise SystemExit("stencils need data besides their code: %s" % ", ".join(obj.other_sections))
        # Each form keeps its sample: the runtime learns the form from it.
        pairs += [(key, entry_of(obj.functions[st.name], st, helper_index,
                                 forms[key][3] if key in forms else None)) for key, st in chunk]
    write(out_path, pairs)
    return len(forms), sum(1 for _, e in pairs if e is not None)


def collect(bios, images, path=FORMS):
    """Add the forms of the instructions translated while booting `bios`
    and running `images` to the list at `path`."""
    import io
    samples = read_samples(path) if os.path.exists(path) else []
    known = set(forms_of(samples))
    seen = []

    def on_translate(pc, cs_base, hflags, ident, listing):
        seen.extend((hflags, raw) for _, raw, _ in listing)

    runs = []
    if bios:
        from ..pc import build_pc
        disk = os.path.join(os.path.dirname(os.path.dirname(HERE)), "firmware", "images", "disk", "bootok.img")
        from ..pc import VGA_BIOS
        pc = build_pc(bios=bios, disk=disk if os.path.exists(disk) else None, memory_mb=16,
                      debugcon=io.StringIO(), fixed_time="2024-01-01T00:00:00",
                      vga="std" if os.path.exists(VGA_BIOS) else None)  # SeaVGABIOS's forms too
        runs.append(pc.machine)
    for image in images:
        from ..machine import Machine
        from ..devices.debugcon import DebugConsole
        m = Machine(memory_mb=16)
        with open(image, "rb") as f:
            m.load_firmware(f.read())
        m.attach(DebugConsole(out=io.StringIO()))
        runs.append(m)
    for m in runs:
        m.translator.on_translate = on_translate  # every block lifted (and seen) by the LLVM tier
        m.run(max_instructions=200_000_000)
    added = []
    for key, (_, _, _, sample) in forms_of(seen).items():
        if key not in known:
            known.add(key)
            added.append(sample)
    with open(path, "a") as f:
        for hflags, raw in added:
            f.write("%x %s\n" % (hflags, raw.hex()))
    return len(added), len(known)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m jitemu.jit.forms")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--bios")
    c.add_argument("images", nargs="*")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    if a.cmd == "build":
        n, ok = build(a.out)
        print("stencils: %d forms, %d stencils in %.1f s -> %s" % (n, ok, time.perf_counter() - t0, a.out))
    else:
        added, total = collect(a.bios, a.images)
        print("forms: %d added, %d listed" % (added, total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
