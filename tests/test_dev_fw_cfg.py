"""QEMU fw_cfg: signature, ID, legacy items, the file directory, etc/e820,
and the DMA interface (select/read/skip, error on write)."""
import struct

from jitemu.devices import fw_cfg as F
from jitemu.devices.fw_cfg import FwCfg
from jitemu.machine import Machine


def setup(**kw):
    m = Machine(memory_mb=16)
    fw = m.attach(FwCfg(ram_size=m.ram_size, **kw))
    return m, fw


def read_item(m, key, n):
    m.ports.write(0x510, key, 2)
    return bytes(m.ports.read(0x511, 1) for _ in range(n))


def directory(m):
    data = read_item(m, F.FILE_DIR, 4)
    count = struct.unpack(">I", data)[0]
    out = {}
    for _ in range(count):
        e = bytes(m.ports.read(0x511, 1) for _ in range(64))
        size, sel, _r, name = struct.unpack(">IHH56s", e)
        out[name.rstrip(b"\0").decode()] = (sel, size)
    return out


def test_signature_id_and_legacy_items():
    m, fw = setup()
    assert read_item(m, F.SIGNATURE, 4) == b"QEMU"
    assert struct.unpack("<I", read_item(m, F.ID, 4))[0] == 3  # traditional + DMA
    assert struct.unpack("<Q", read_item(m, F.RAM_SIZE, 8))[0] == 16 << 20
    assert struct.unpack("<H", read_item(m, F.NB_CPUS, 2))[0] == 1
    assert read_item(m, F.BOOT_MENU, 2) == b"\0\0"  # SeaBIOS's etc/show-boot-menu
    assert read_item(m, 0x1234, 3) == b"\0\0\0"  # no such item
    # reading past the end gives zeros
    assert read_item(m, F.SIGNATURE, 6) == b"QEMU\0\0"


def test_file_directory_sorted_with_e820_and_boot_fail_wait():
    m, fw = setup(boot_fail_wait=5000)
    fw.add_file("etc/zzz", b"hello")
    d = directory(m)
    names = list(d)
    assert names == sorted(names)
    assert {"bootorder", "etc/boot-fail-wait", "etc/e820", "etc/zzz"} <= set(d)
    sel, size = d["etc/boot-fail-wait"]
    assert size == 4 and struct.unpack("<i", read_item(m, sel, 4))[0] == 5000
    sel, size = d["etc/e820"]
    assert size == 20
    assert struct.unpack("<QQI", read_item(m, sel, 20)) == (0, 16 << 20, 1)
    sel, size = d["etc/zzz"]
    assert read_item(m, sel, size) == b"hello"


def test_dma_signature_and_transfers():
    m, fw = setup()
    assert m.ports.read(0x514, 4).to_bytes(4, "little") + m.ports.read(0x518, 4).to_bytes(4, "little") == b"QEMU CFG"

    def dma(control, length, address, at=0x1000):
        m.write_phys(at, struct.pack(">IIQ", control, length, address))
        m.ports.write(0x514, 0, 4)
        m.ports.write(0x518, int.from_bytes(at.to_bytes(4, "big"), "little"), 4)  # big-endian
        return struct.unpack(">I", m.read_phys(at, 4))[0]

    # select + read the signature into memory
    assert dma((F.SIGNATURE << 16) | F.DMA_SELECT | F.DMA_READ, 4, 0x2000) == 0
    assert m.read_phys(0x2000, 4) == b"QEMU"
    # select the directory, skip the count, read the first entry
    first = read_item(m, F.FILE_DIR, 68)[4:]
    assert dma((F.FILE_DIR << 16) | F.DMA_SELECT | F.DMA_SKIP, 4, 0) == 0
    assert dma(F.DMA_READ, 64, 0x3000) == 0
    assert m.read_phys(0x3000, 64) == first
    # writes are refused
    assert dma(F.DMA_WRITE, 4, 0x2000) == F.DMA_ERROR
    assert fw.transfers == 4
