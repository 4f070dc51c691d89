"""QEMU's firmware configuration device (fw_cfg), x86 I/O port flavour.

Ports: 0x510 selector (16-bit write), 0x511 data (byte reads, advancing in
the selected item; past its end reads give 0), 0x514-0x51B the DMA
interface (reads give the signature "QEMU CFG"; a big-endian address is
written as two 32-bit halves, high at 0x514 then low at 0x518, and the
write of the low half starts the transfer).

A DMA request is a big-endian struct in guest memory:
    be32 control (bit 0 error, 1 read, 2 skip, 3 select, 4 write;
                  bits 31-16 the selector for 'select')
    be32 length
    be64 address
The device does the transfer and writes the control word back as 0 (or
with the error bit).  Items are read-only, so 'write' sets the error bit.

Items follow what QEMU's `-M pc` provides and SeaBIOS reads
(src/fw/paravirt.c): signature, ID (traditional + DMA), UUID, RAM size,
NB_CPUS, MAX_CPUS, BOOT_MENU (SeaBIOS's "etc/show-boot-menu"), NUMA, the
legacy ACPI/SMBIOS/E820 tables (empty), IRQ0 override, and the file
directory (0x19: be32 count, then be32 size, be16 select, be16 reserved,
char name[56] per file, sorted by name, selectors from 0x20) holding
"bootorder", "etc/boot-fail-wait", "etc/e820", "etc/boot-cpus" and any
file added with add_file().
"""
import struct

SIGNATURE, ID, UUID, RAM_SIZE, NOGRAPHIC, NB_CPUS, MACHINE_ID = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
NUMA, BOOT_MENU, MAX_CPUS, FILE_DIR = 0x0D, 0x0E, 0x0F, 0x19
# A kernel to boot directly (jitemu/linuxboot.py fills them; empty otherwise).
KERNEL_ADDR, KERNEL_SIZE, INITRD_ADDR, INITRD_SIZE = 0x07, 0x08, 0x0A, 0x0B
KERNEL_DATA, INITRD_DATA, CMDLINE_ADDR, CMDLINE_SIZE, CMDLINE_DATA = 0x11, 0x12, 0x13, 0x14, 0x15
SETUP_ADDR, SETUP_SIZE, SETUP_DATA = 0x16, 0x17, 0x18
FILE_FIRST = 0x20
ARCH_LOCAL = 0x8000
ACPI_TABLES, SMBIOS_ENTRIES, IRQ0_OVERRIDE, E820_TABLE = 0x8000, 0x8001, 0x8002, 0x8003
WRITE_CHANNEL = 0x4000

DMA_ERROR, DMA_READ, DMA_SKIP, DMA_SELECT, DMA_WRITE = 1, 2, 4, 8, 16
DMA_SIGNATURE = b"QEMU CFG"

E820_RAM, E820_RESERVED = 1, 2


def e820_entry(addr, length, kind):
    return struct.pack("<QQI", addr, length, kind)


class FwCfg:
    def __init__(self, base=0x510, dma_base=0x514, dma=True, ram_size=16 << 20, cpus=1,
                 boot_menu=False, boot_fail_wait=-1, bootorder=b"", e820=None):
        self.base = base
        self.dma_base = dma_base
        self.dma = dma
        self.items = {}
        self.files = {}  # name -> data
        self.machine = None
        self.selector = 0
        self.offset = 0
        self.dma_addr = 0
        self.transfers = 0
        self.set_item(SIGNATURE, b"QEMU")
        self.set_item(ID, struct.pack("<I", 1 | (2 if dma else 0)))
        self.set_item(UUID, bytes(16))
        self.set_item(NOGRAPHIC, struct.pack("<H", 0))
        self.set_item(BOOT_MENU, struct.pack("<H", 1 if boot_menu else 0))
        self.set_item(ACPI_TABLES, struct.pack("<H", 0))
        self.set_item(SMBIOS_ENTRIES, struct.pack("<H", 0))
        self.set_item(IRQ0_OVERRIDE, struct.pack("<I", 1))
        self.set_item(E820_TABLE, struct.pack("<I", 0))
        self.set_cpus(cpus)
        self.set_ram(ram_size, e820)
        self.add_file("bootorder", bootorder)
        self.add_file("etc/boot-fail-wait", struct.pack("<i", boot_fail_wait))

    # -- content ------------------------------------------------------------
    def set_item(self, key, data):
        self.items[key & ~WRITE_CHANNEL] = bytes(data)

    def set_cpus(self, cpus):
        self.set_item(NB_CPUS, struct.pack("<H", cpus))
        self.set_item(MAX_CPUS, struct.pack("<H", cpus))
        self.set_item(NUMA, bytes(8 + 8 * cpus))  # no NUMA nodes
        self.add_file("etc/boot-cpus", struct.pack("<H", cpus))

    def set_ram(self, ram_size, e820=None):
        """RAM size and the "etc/e820" file (RAM below 4 GiB, then above)."""
        self.set_item(RAM_SIZE, struct.pack("<Q", ram_size))
        if e820 is None:
            below = min(ram_size, 0xE0000000)
            e820 = [(0, below, E820_RAM)]
            if ram_size > below:
                e820.append((1 << 32, ram_size - below, E820_RAM))
        self.add_file("etc/e820", b"".join(e820_entry(*e) for e in e820))

    def add_file(self, name, data):
        if len(name.encode()) >= 56:
            raise ValueError("fw_cfg file names are at most 55 bytes")
        self.files[name] = bytes(data)
        self._rebuild_dir()

    def _rebuild_dir(self):
        for k in [k for k in self.items if FILE_FIRST <= k < ARCH_LOCAL]:
            del self.items[k]
        d = bytearray(struct.pack(">I", len(self.files)))
        for i, name in enumerate(sorted(self.files)):
            sel = FILE_FIRST + i
            data = self.files[name]
            self.items[sel] = data
            d += struct.pack(">IHH56s", len(data), sel, 0, name.encode())
        self.items[FILE_DIR] = bytes(d)

    def file_selector(self, name):
        return FILE_FIRST + sorted(self.files).index(name)

    # -- device ---------------------------------------------------------------
    def attach(self, machine):
        self.machine = machine
        machine.ports.register(self.base, read=self._read_sel, write=self._write_sel)
        machine.ports.register(self.base + 1, read=self._read_data, write=lambda p, v, s: None)
        if self.dma:
            machine.ports.register(range(self.dma_base, self.dma_base + 8), read=self._read_dma,
                                   write=self._write_dma)

    def reset(self):
        self.selector = 0
        self.offset = 0
        self.dma_addr = 0

    # -- snapshots (jitemu/snapshot.py) ----------------------------------------------
    def _items_digest(self):
        import hashlib
        h = hashlib.sha256()
        for k in sorted(self.items):
            h.update(k.to_bytes(4, "little") + len(self.items[k]).to_bytes(4, "little") + self.items[k])
        return h.hexdigest()

    def snapshot(self):
        # The items are the machine's configuration: only their digest, to
        # refuse a snapshot of another configuration.
        return {"selector": self.selector, "offset": self.offset, "dma_addr": self.dma_addr,
                "transfers": self.transfers, "items": self._items_digest()}

    def restore(self, state):
        if state["items"] != self._items_digest():
            raise ValueError("fw_cfg items differ (another RAM size, CPU count or boot order)")
        self.selector, self.offset = state["selector"], state["offset"]
        self.dma_addr, self.transfers = state["dma_addr"], state["transfers"]

    def select(self, key):
        self.selector = key & ~WRITE_CHANNEL
        self.offset = 0

    def read_bytes(self, n):
        data = self.items.get(self.selector, b"")
        out = data[self.offset:self.offset + n]
        self.offset = min(self.offset + n, max(len(data), self.offset))
        return out + bytes(n - len(out))

    def _read_sel(self, port, size):
        return 0  # the selector is write-only

    def _write_sel(self, port, value, size):
        if size == 2:
            self.select(value)
        elif size == 4:
            self.select(value & 0xFFFF)

    def _read_data(self, port, size):
        data = self.read_bytes(size)
        return int.from_bytes(data, "little")

    def _read_dma(self, port, size):
        off = port - self.dma_base
        return int.from_bytes(DMA_SIGNATURE[off:off + size].ljust(size, b"\0"), "little")

    def _write_dma(self, port, value, size):
        off = port - self.dma_base
        # The register is big-endian: the guest's bytes, in memory order,
        # are the address's bytes from most to least significant.
        reg = bytearray(self.dma_addr.to_bytes(8, "big"))
        reg[off:off + size] = value.to_bytes(size, "little")[:8 - off]
        self.dma_addr = int.from_bytes(reg, "big")
        if off + size == 8:  # the low half completes the address
            addr, self.dma_addr = self.dma_addr, 0
            self.dma_transfer(addr)

    def dma_transfer(self, addr):
        m = self.machine
        control, length, address = struct.unpack(">IIQ", m.read_phys(addr, 16))
        self.transfers += 1
        if control & DMA_SELECT:
            self.select(control >> 16)
        error = False
        if control & DMA_READ:
            m.write_phys(address, self.read_bytes(length))
        elif control & DMA_WRITE:
            error = True  # no writable items
        elif control & DMA_SKIP:
            self.read_bytes(length)
        m.write_phys(addr, struct.pack(">I", DMA_ERROR if error else 0))
