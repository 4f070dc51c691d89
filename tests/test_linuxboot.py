"""Direct Linux boot's fw_cfg items (jitemu/linuxboot.py): the setup header
patched as QEMU's x86_load_linux patches it (Documentation/x86/boot.rst),
the pieces where the linuxboot_dma option ROM copies them, and bad
kernels, initrds and command lines refused with one line."""
import struct

import pytest
from test_cli import assert_one_line_error, run

from jitemu import linuxboot
from jitemu.devices import fw_cfg as fc
from jitemu.devices.fw_cfg import FwCfg

RAM = 128 << 20


def bzimage(proto=0x20F, loadflags=0x01, setup_sects=30, initrd_max=0x7FFFFFFF, body=0x4000):
    """A kernel image with a setup header and nothing else of a kernel."""
    k = bytearray((setup_sects + 1) * 512 + body)
    k[0x1F1] = setup_sects
    k[0x1FE:0x200] = b"\x55\xAA"
    k[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", k, 0x206, proto)
    k[0x211] = loadflags
    struct.pack_into("<I", k, 0x22C, initrd_max)
    struct.pack_into("<I", k, 0x238, 2047)  # cmdline_size
    k[-4:] = b"BODY"
    return bytes(k)


def u32(cfg, key):
    return struct.unpack("<I", cfg.items[key])[0]


def test_a_bzimage_loads_high_with_setup_at_64k_and_its_header_patched():
    cfg = FwCfg(ram_size=RAM)
    kernel, initrd = bzimage(), b"\x1f\x8b" + bytes(5000)
    linuxboot.configure(cfg, kernel, initrd, "console=ttyS0", ram_below_4g=RAM)
    setup_len = 31 * 512
    assert (u32(cfg, fc.SETUP_ADDR), u32(cfg, fc.SETUP_SIZE)) == (0x10000, setup_len)
    assert (u32(cfg, fc.KERNEL_ADDR), u32(cfg, fc.KERNEL_SIZE)) == (0x100000, len(kernel) - setup_len)
    assert cfg.items[fc.KERNEL_DATA] == kernel[setup_len:]
    assert (u32(cfg, fc.CMDLINE_ADDR), cfg.items[fc.CMDLINE_DATA]) == (0x20000, b"console=ttyS0\0")
    assert u32(cfg, fc.CMDLINE_SIZE) == 14
    setup = cfg.items[fc.SETUP_DATA]
    assert setup[0x210] == 0xB0  # type_of_loader: QEMU
    assert setup[0x211] == 0x81  # LOADED_HIGH kept, CAN_USE_HEAP set
    assert struct.unpack_from("<H", setup, 0x224)[0] == 0x20000 - 0x10000 - 0x200  # heap_end_ptr
    assert struct.unpack_from("<I", setup, 0x228)[0] == 0x20000  # cmd_line_ptr
    # The initrd: page-aligned, as high as it goes below the top of RAM
    # less QEMU's ACPI area.
    addr, size = struct.unpack_from("<II", setup, 0x218)
    assert size == len(initrd) == u32(cfg, fc.INITRD_SIZE) and cfg.items[fc.INITRD_DATA] == initrd
    assert addr == u32(cfg, fc.INITRD_ADDR) == (RAM - 0x28000 - 1 - len(initrd)) & ~0xFFF
    # Everything else in the header is the kernel's own.
    unpatched = [i for i in range(setup_len) if not (0x210 <= i < 0x212 or 0x218 <= i < 0x220 or
                                                    0x224 <= i < 0x22C)]
    assert all(setup[i] == kernel[i] for i in unpatched)


def test_the_option_rom_boots_first():
    cfg = FwCfg(ram_size=RAM, bootorder=b"/pci@i0cf8/ide@1,1/drive@0/disk@0\n")
    linuxboot.configure(cfg, bzimage(), None, "", ram_below_4g=RAM)
    with open(linuxboot.LINUXBOOT_ROM, "rb") as f:
        assert cfg.files["genroms/linuxboot_dma.bin"] == f.read()
    assert cfg.files["bootorder"].splitlines() == [b"/rom@genroms/linuxboot_dma.bin",
                                                   b"/pci@i0cf8/ide@1,1/drive@0/disk@0"]
    assert u32(cfg, fc.INITRD_SIZE) == 0 and cfg.items[fc.INITRD_DATA] == b""


def test_the_initrd_stays_below_the_kernels_initrd_addr_max():
    cfg = FwCfg(ram_size=RAM)
    linuxboot.configure(cfg, bzimage(initrd_max=0x37FFFFF), bytes(4096), "", ram_below_4g=RAM)
    assert u32(cfg, fc.INITRD_ADDR) == (0x37FFFFF - 4096) & ~0xFFF


def test_a_kernel_that_does_not_load_high_goes_below_640k():
    cfg = FwCfg(ram_size=RAM)
    linuxboot.configure(cfg, bzimage(proto=0x202, loadflags=0), None, "ro", ram_below_4g=RAM)
    assert (u32(cfg, fc.SETUP_ADDR), u32(cfg, fc.KERNEL_ADDR), u32(cfg, fc.CMDLINE_ADDR)) == \
        (0x90000, 0x10000, 0x9A000 - 3)  # the command line and its NUL end at 0x9A000
    setup = cfg.items[fc.SETUP_DATA]
    assert struct.unpack_from("<H", setup, 0x224)[0] == 0x9A000 - 3 - 0x90000 - 0x200


def test_before_protocol_2_02_the_command_line_is_found_by_magic_below_640k():
    cfg = FwCfg(ram_size=RAM)
    linuxboot.configure(cfg, bzimage(proto=0x201), None, "ro", ram_below_4g=RAM)
    assert (u32(cfg, fc.SETUP_ADDR), u32(cfg, fc.KERNEL_ADDR)) == (0x90000, 0x100000)
    assert struct.unpack_from("<HH", cfg.items[fc.SETUP_DATA], 0x20) == (0xA33F, 0x9A000 - 3 - 0x90000)


@pytest.mark.parametrize("kernel, initrd, cmdline, why", [
    (bytes(4096), None, "", "not a Linux kernel image"),
    (bzimage()[:0x200] + bytes(0x200), None, "", "not a Linux bzImage"),
    (bzimage(body=0)[:31 * 512], None, "", "shorter than its setup code"),
    (bzimage(), bytes(RAM), "", "give the guest more --memory"),
    (bzimage(), None, "x" * 2048, "at most 2047"),
])
def test_kernels_that_cannot_boot_are_refused(kernel, initrd, cmdline, why):
    with pytest.raises(linuxboot.KernelError, match=why):
        linuxboot.configure(FwCfg(ram_size=RAM), kernel, initrd, cmdline, ram_below_4g=RAM)


def test_a_missing_kernel_is_one_line(tmp_path):
    assert_one_line_error(run("boot", "--kernel", str(tmp_path / "nope")), "kernel image not found")


def test_a_missing_initrd_is_one_line(tmp_path):
    k = tmp_path / "bzImage"
    k.write_bytes(bzimage())
    assert_one_line_error(run("boot", "--kernel", str(k), "--initrd", str(tmp_path / "nope")),
                          "initrd not found")


def test_a_kernel_that_is_not_one_is_one_line(tmp_path):
    k = tmp_path / "bzImage"
    k.write_bytes(bytes(8192))
    assert_one_line_error(run("boot", "--kernel", str(k)), "not a Linux kernel image")


def test_an_initrd_too_big_for_the_memory_is_one_line(tmp_path):
    k, i = tmp_path / "bzImage", tmp_path / "initrd"
    k.write_bytes(bzimage())
    i.write_bytes(bytes(15 << 20))
    assert_one_line_error(run("boot", "--kernel", str(k), "--initrd", str(i)), "more --memory")


def test_initrd_and_append_need_a_kernel(tmp_path):
    assert_one_line_error(run("boot", "--append", "ro"), "need --kernel")
