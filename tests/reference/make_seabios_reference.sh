#!/usr/bin/env bash
# Regenerates seabios-1.16.2-qemu-7.2-debugcon.log: what Debian's SeaBIOS
# writes to its debug port 0x402 when QEMU (Debian's qemu-system-x86, TCG,
# -M pc) boots our bootok disk on the primary IDE channel, the way
# tests/test_boot_seabios.py boots it on jitemu.  The boot sector ends the
# run through isa-debug-exit at 0x501 (QEMU exits with status 1).
# Needs: apt-get install qemu-system-x86 seabios
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
disk="$here/../../firmware/images/disk/bootok.img"
out="$here/seabios-1.16.2-qemu-7.2-debugcon.log"
rm -f "$out"
status=0
qemu-system-i386 -M pc -accel tcg -display none -nodefaults \
    -bios /usr/share/seabios/bios.bin \
    -chardev file,id=dbg,path="$out" -device isa-debugcon,iobase=0x402,chardev=dbg \
    -device isa-debug-exit,iobase=0x501,iosize=1 \
    -serial none -monitor none -m 16 -no-reboot -rtc base=2024-01-01T00:00:00 \
    -drive file="$disk",format=raw,if=ide,snapshot=on || status=$?
# isa-debug-exit: the boot sector writes 0, QEMU exits with (0 << 1) | 1.
[ "$status" -eq 1 ] || { echo "qemu exited with $status, expected 1" >&2; exit 1; }
grep -q BOOT-SECTOR-OK "$out"
echo "wrote $out"
