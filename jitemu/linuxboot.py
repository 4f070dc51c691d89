"""Direct Linux boot (`jitemu boot --kernel`), the way QEMU's x86_load_linux
does it: the kernel's real-mode setup and protected-mode parts, the initrd
and the command line become fw_cfg items, the setup header is patched as a
boot loader would (Documentation/x86/boot.rst), and QEMU's linuxboot_dma
option ROM, handed to SeaBIOS as the fw_cfg file "genroms/linuxboot_dma.bin"
and put first in the boot order, copies them into place and jumps to the
setup code.  No boot loader, disk or BIOS disk services are involved.
"""
import struct

from .devices import fw_cfg as fc

LINUXBOOT_ROM = "/usr/share/qemu/linuxboot_dma.bin"
ROM_FILE = "genroms/linuxboot_dma.bin"

HDR_MAGIC = b"HdrS"
LOADER_TYPE_QEMU = 0xB0  # QEMU's boot loader ID in type_of_loader
LOADED_HIGH, CAN_USE_HEAP = 0x01, 0x80
ACPI_DATA_SIZE = 0x20000 + 0x8000  # what QEMU keeps free at the top of RAM for ACPI tables
CMDLINE_MAX = 4096


class KernelError(ValueError):
    """A kernel, initrd or command line that cannot be booted."""


def protocol(kernel):
    """The boot protocol version from the setup header, 0 for an image
    without one (a pre-2.00 zImage)."""
    if len(kernel) < 0x264 or kernel[0x202:0x206] != HDR_MAGIC:
        return 0
    return struct.unpack_from("<H", kernel, 0x206)[0]


def layout(kernel, ram_below_4g, initrd_size=None, cmdline_size=1):
    """Where the pieces go: (real-mode base, command-line address,
    protected-mode address, initrd address or None)."""
    proto = protocol(kernel)
    # Below 640 KiB the command line ends at 0x9A000 (the setup's 8 KiB
    # heap and stack before it); protocols before 2.02 find it by an
    # offset from the setup, so a kernel that loads high still has its
    # setup there.
    if proto < 0x200 or not kernel[0x211] & LOADED_HIGH:
        real, cmdline, prot = 0x90000, 0x9A000 - cmdline_size, 0x10000  # a zImage
    elif proto < 0x202:
        real, cmdline, prot = 0x90000, 0x9A000 - cmdline_size, 0x100000
    else:
        real, cmdline, prot = 0x10000, 0x20000, 0x100000
    initrd = None
    if initrd_size is not None:
        if proto < 0x200:
            raise KernelError("this kernel's boot protocol (%s) has no initrd" % _version(proto))
        limit = struct.unpack_from("<I", kernel, 0x22C)[0] if proto >= 0x203 else 0x37FFFFFF
        limit = min(limit, ram_below_4g - ACPI_DATA_SIZE - 1)
        initrd = (limit - initrd_size) & ~0xFFF
    return real, cmdline, prot, initrd


def _version(proto):
    return "%d.%02d" % (proto >> 8, proto & 0xFF)


def configure(cfg, kernel, initrd=None, cmdline="", ram_below_4g=None):
    """Put the kernel, initrd and command line into fw_cfg `cfg` (a
    devices.fw_cfg.FwCfg) with the linuxboot_dma option ROM."""
    if len(kernel) < 1024 or kernel[0x1FE:0x200] != b"\x55\xAA":
        raise KernelError("not a Linux kernel image (no boot sector signature)")
    proto = protocol(kernel)
    if proto == 0:
        raise KernelError("not a Linux bzImage (no HdrS setup header)")
    cmd = cmdline.encode()
    limit = struct.unpack_from("<I", kernel, 0x238)[0] if proto >= 0x206 else 255
    if len(cmd) > min(limit, CMDLINE_MAX - 1):
        raise KernelError("kernel command line is %d bytes; this kernel takes at most %d" % (len(cmd), limit))
    real, cmd_addr, prot, initrd_addr = layout(kernel, ram_below_4g, None if initrd is None else len(initrd),
                                               len(cmd) + 1)

    sects = kernel[0x1F1] or 4  # 0 means 4 in every protocol version
    setup_size = (sects + 1) * 512
    if setup_size >= len(kernel):
        raise KernelError("kernel image is shorter than its setup code (%d sectors)" % sects)
    protected = kernel[setup_size:]
    if initrd is not None and initrd_addr < prot + len(protected):
        raise KernelError("initrd (%d bytes) does not fit between the kernel and the top of RAM: "
                          "give the guest more --memory" % len(initrd))
    setup = bytearray(kernel[:setup_size])
    if proto >= 0x202:
        struct.pack_into("<I", setup, 0x228, cmd_addr)
    else:  # the old command-line protocol: a magic and an offset from the setup's base
        struct.pack_into("<HH", setup, 0x20, 0xA33F, cmd_addr - real)
    setup[0x210] = LOADER_TYPE_QEMU
    if proto >= 0x201:
        setup[0x211] |= CAN_USE_HEAP
        struct.pack_into("<H", setup, 0x224, cmd_addr - real - 0x200)  # heap_end_ptr
    if initrd is not None:
        struct.pack_into("<II", setup, 0x218, initrd_addr, len(initrd))

    u32 = lambda v: struct.pack("<I", v)  # noqa: E731
    cfg.set_item(fc.KERNEL_ADDR, u32(prot))
    cfg.set_item(fc.KERNEL_SIZE, u32(len(protected)))
    cfg.set_item(fc.KERNEL_DATA, protected)
    cfg.set_item(fc.SETUP_ADDR, u32(real))
    cfg.set_item(fc.SETUP_SIZE, u32(len(setup)))
    cfg.set_item(fc.SETUP_DATA, bytes(setup))
    cfg.set_item(fc.CMDLINE_ADDR, u32(cmd_addr))
    cfg.set_item(fc.CMDLINE_SIZE, u32(len(cmd) + 1))
    cfg.set_item(fc.CMDLINE_DATA, cmd + b"\0")
    cfg.set_item(fc.INITRD_ADDR, u32(initrd_addr or 0))
    cfg.set_item(fc.INITRD_SIZE, u32(len(initrd) if initrd is not None else 0))
    cfg.set_item(fc.INITRD_DATA, initrd or b"")
    try:
        with open(LINUXBOOT_ROM, "rb") as f:
            rom = f.read()
    except OSError as e:
        raise KernelError("cannot read QEMU's linuxboot option ROM %s (%s): install Debian's "
                          "qemu-system-data" % (LINUXBOOT_ROM, e.strerror)) from e
    cfg.add_file(ROM_FILE, rom)
    # SeaBIOS boots the ROM's BEV first, as QEMU's bootindex 0 for it.
    cfg.add_file("bootorder", b"/rom@" + ROM_FILE.encode() + b"\n" + cfg.files.get("bootorder", b""))
