#!/usr/bin/env python3
"""Assemble firmware/src/*.asm into firmware/images/*.bin with nasm.

    python firmware/build.py                    rebuild every image
    python firmware/build.py --check            exit 1 if a committed image
                                                is missing or differs from
                                                what its source assembles to
    python firmware/build.py --update-expected  also rewrite each image's
                                                .expected console text by
                                                running it under Unicorn

Each source in src/ is a flat `nasm -f bin` ROM of exactly 64 KiB; each in
src/disk/ is a raw disk image (images/disk/<name>.img, a whole number of
512-byte sectors) for `jitemu boot --disk`; each in src/optionrom/ is an
option ROM (images/optionrom/<name>.bin) for `jitemu boot --option-rom`,
whose last byte is set so that its bytes sum to 0, the checksum a BIOS
wants.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "src")
IMAGES = os.path.join(HERE, "images")
ROM_SIZE = 0x10000
DISK_SRC = os.path.join(SRC, "disk")
INCLUDE = os.path.join(SRC, "include")  # %include files shared by the sources
DISK_IMAGES = os.path.join(IMAGES, "disk")
OPTROM_SRC = os.path.join(SRC, "optionrom")
OPTROM_IMAGES = os.path.join(IMAGES, "optionrom")


class BuildError(Exception):
    pass


def find_nasm():
    nasm = shutil.which("nasm")
    if nasm is None:
        raise BuildError("nasm not found: install it (Debian/Ubuntu package "
                         "`nasm`: apt-get install nasm)")
    return nasm


def sources():
    return sorted(f[:-4] for f in os.listdir(SRC) if f.endswith(".asm"))


def disk_sources():
    if not os.path.isdir(DISK_SRC):
        return []
    return sorted(f[:-4] for f in os.listdir(DISK_SRC) if f.endswith(".asm"))


def assemble_disk(nasm, name, out_dir):
    """Assemble src/disk/<name>.asm to out_dir/<name>.img; return its path."""
    src = os.path.join(DISK_SRC, name + ".asm")
    out = os.path.join(out_dir, name + ".img")
    proc = subprocess.run([nasm, "-f", "bin", "-o", out, src], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"nasm failed on {os.path.relpath(src)}:\n" + proc.stderr.strip())
    if os.path.getsize(out) % 512 or os.path.getsize(out) == 0:
        raise BuildError(f"{os.path.relpath(src)} is not a whole number of sectors")
    return out


def optrom_sources():
    if not os.path.isdir(OPTROM_SRC):
        return []
    return sorted(f[:-4] for f in os.listdir(OPTROM_SRC) if f.endswith(".asm"))


def assemble_optrom(nasm, name, out_dir):
    """Assemble src/optionrom/<name>.asm to out_dir/<name>.bin with its
    checksum byte (the last) set; return its path."""
    src = os.path.join(OPTROM_SRC, name + ".asm")
    out = os.path.join(out_dir, name + ".bin")
    proc = subprocess.run([nasm, "-f", "bin", "-I", INCLUDE + os.sep, "-o", out, src],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"nasm failed on {os.path.relpath(src)}:\n" + proc.stderr.strip())
    rom = bytearray(read(out))
    if len(rom) < 512 or len(rom) % 512 or rom[:2] != b"\x55\xaa" or rom[2] * 512 != len(rom):
        raise BuildError(f"{os.path.relpath(src)} is not an option ROM whose length byte gives its size")
    rom[-1] = (-sum(rom[:-1])) & 0xFF
    with open(out, "wb") as f:
        f.write(rom)
    return out


def jitemu_only(name):
    with open(os.path.join(SRC, name + ".asm")) as f:
        return "; oracle: jitemu-only" in f.read()


def assemble(nasm, name, out_dir):
    """Assemble src/<name>.asm to out_dir/<name>.bin; return its path."""
    src = os.path.join(SRC, name + ".asm")
    out = os.path.join(out_dir, name + ".bin")
    proc = subprocess.run([nasm, "-f", "bin", "-I", INCLUDE + os.sep, "-o", out, src],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"nasm failed on {os.path.relpath(src)}:\n"
                         + proc.stderr.strip())
    size = os.path.getsize(out)
    if size != ROM_SIZE:
        raise BuildError(f"{os.path.relpath(src)} assembles to {size} bytes, "
                         f"not {ROM_SIZE}")
    return out


def read(path):
    with open(path, "rb") as f:
        return f.read()


def check(nasm):
    """Return the list of problems (one line each); empty if all is well."""
    problems = []
    names = sources()
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            fresh = read(assemble(nasm, name, tmp))
            committed = os.path.join(IMAGES, name + ".bin")
            rel = os.path.relpath(committed)
            if not os.path.exists(committed):
                problems.append(f"missing: {rel} (from src/{name}.asm)")
            elif read(committed) != fresh:
                problems.append(f"differs: {rel} is not what "
                                f"src/{name}.asm assembles to")
        for kind, names_of, assemble_one, images, ext in (
                ("disk", disk_sources, assemble_disk, DISK_IMAGES, ".img"),
                ("optionrom", optrom_sources, assemble_optrom, OPTROM_IMAGES, ".bin")):
            for name in names_of():
                fresh = read(assemble_one(nasm, name, tmp))
                committed = os.path.join(images, name + ext)
                rel = os.path.relpath(committed)
                if not os.path.exists(committed):
                    problems.append(f"missing: {rel} (from src/{kind}/{name}.asm)")
                elif read(committed) != fresh:
                    problems.append(f"differs: {rel} is not what src/{kind}/{name}.asm assembles to")
    for f in sorted(os.listdir(IMAGES)) if os.path.isdir(IMAGES) else []:
        if f.endswith(".bin") and f[:-4] not in names:
            problems.append(f"stale: {os.path.relpath(os.path.join(IMAGES, f))}"
                            f" has no src/{f[:-4]}.asm")
    return problems


def build(nasm):
    os.makedirs(IMAGES, exist_ok=True)
    for name in sources():
        out = assemble(nasm, name, IMAGES)
        print(f"built {os.path.relpath(out)}")
    os.makedirs(DISK_IMAGES, exist_ok=True)
    for name in disk_sources():
        out = assemble_disk(nasm, name, DISK_IMAGES)
        print(f"built {os.path.relpath(out)}")
    os.makedirs(OPTROM_IMAGES, exist_ok=True)
    for name in optrom_sources():
        out = assemble_optrom(nasm, name, OPTROM_IMAGES)
        print(f"built {os.path.relpath(out)}")


def update_expected():
    sys.path.insert(0, HERE)
    import run_unicorn  # needs the `unicorn` package
    for name in sources():
        if jitemu_only(name):
            continue  # checked by hand and by tests/test_firmware_run.py
        image = os.path.join(IMAGES, name + ".bin")
        text = run_unicorn.run_file(image)
        path = os.path.join(IMAGES, name + ".expected")
        with open(path, "w", newline="\n") as f:
            f.write(text)
        last = text.rstrip("\n").splitlines()[-1:] or [""]
        print(f"wrote {os.path.relpath(path)}: {last[0]}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="verify committed images instead of rebuilding")
    ap.add_argument("--update-expected", action="store_true",
                    help="after building, regenerate images/*.expected "
                         "under Unicorn")
    args = ap.parse_args(argv)
    try:
        nasm = find_nasm()
        if args.check:
            problems = check(nasm)
            for line in problems:
                print(f"firmware: {line}", file=sys.stderr)
            if problems:
                print("firmware: run `python firmware/build.py` and commit "
                      "firmware/images", file=sys.stderr)
                return 1
            print(f"firmware: {len(sources()) + len(disk_sources()) + len(optrom_sources())} images match their sources")
            return 0
        build(nasm)
        if args.update_expected:
            update_expected()
        return 0
    except BuildError as exc:
        print(f"firmware/build.py: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
