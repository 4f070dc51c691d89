"""Intel 440FX host bridge (PMC) and PCI configuration mechanism #1, with a
small PCI bus model.

PCI bus: ports 0xCF8 (CONFIG_ADDRESS, dword accesses only: bit 31 enable,
bus 23-16, device 15-11, function 10-8, register 7-2) and 0xCFC-0xCFF
(CONFIG_DATA, byte/word/dword at the offset the port adds).  A function is
a PCIDevice with a 256-byte configuration space, a write mask (QEMU's rule:
the standard header's writable fields plus all of 0x40-0xFF unless a device
says otherwise), a write-1-to-clear mask for the status register, BARs that
answer the all-ones sizing probe, and reset to its power-on contents.
Function 0's header type bit 7 says whether functions 1-7 exist.  Absent
functions read all ones.

Host bridge 00:00.0 (8086:1237, revision 2, class 0600, subsystem
1AF4:1100 as QEMU, which SeaBIOS checks to know it runs on QEMU).  The PAM
registers 0x59-0x5F decide what the guest sees at 0xC0000-0xFFFFF, in
16 KiB pieces (the high nibble of 0x59 is the 64 KiB at 0xF0000): bit 0 of
a nibble routes reads to RAM (shadow), bit 1 writes.  A disabled direction
goes to the PCI bus, which holds the option-ROM area (0xC0000-0xDFFFF,
128 KiB read-only, zeros unless load_option_rom()) and the BIOS image's
last 128 KiB (0xE0000-0xFFFFF, QEMU's "isa-bios"; writes there are lost).
Shadow RAM is the guest RAM at the same address, so the BIOS copy at the
top of 4 GiB is never changed by it.  Reset clears PAM, which brings the
ROM back.  SMRAM (0x72) is a plain register (reset 0x02): there is no SMM.

Load the firmware before attaching the bridge (Machine.load_firmware maps
its own alias below 1 MiB; the bridge remaps the area on attach and reset).
"""
from .._runtime import ffi

PAM0 = 0x59
SMRAM = 0x72
OPTION_ROM_BASE, OPTION_ROM_SIZE = 0xC0000, 0x20000
QEMU_SUBSYSTEM = (0x1AF4, 0x1100)


class PCIDevice:
    """One PCI function's configuration space."""

    def __init__(self, vendor, device, class_code, revision=0, header_type=0,
                 subsystem=QEMU_SUBSYSTEM, name="pci"):
        self.name = name
        self.config = bytearray(256)
        self.wmask = bytearray(256)
        self.w1cmask = bytearray(256)
        self.bus = None
        self.bars = {}
        self.set16(0x00, vendor)
        self.set16(0x02, device)
        self.config[0x08] = revision
        self.config[0x09] = class_code & 0xFF
        self.config[0x0A] = (class_code >> 8) & 0xFF
        self.config[0x0B] = class_code >> 16
        self.config[0x0E] = header_type
        if subsystem and header_type & 0x7F == 0:
            self.set16(0x2C, subsystem[0])
            self.set16(0x2E, subsystem[1])
        self.set_wmask(0x04, 0x0547, 2)  # command: I/O, memory, master, parity, SERR, INTx disable
        self.w1cmask[0x07] = 0xF9  # status bits 8, 11-15 are write-1-to-clear
        self.wmask[0x0C] = 0xFF  # cache line size
        self.wmask[0x0D] = 0xFF  # latency timer
        self.wmask[0x3C] = 0xFF  # interrupt line
        for i in range(0x40, 0x100):
            self.wmask[i] = 0xFF
        self._power_on = None

    # -- helpers ------------------------------------------------------------
    def set16(self, off, v):
        self.config[off:off + 2] = (v & 0xFFFF).to_bytes(2, "little")

    def set32(self, off, v):
        self.config[off:off + 4] = (v & 0xFFFFFFFF).to_bytes(4, "little")

    def get(self, off, size):
        return int.from_bytes(self.config[off:off + size], "little")

    def set_wmask(self, off, mask, size):
        self.wmask[off:off + size] = mask.to_bytes(size, "little")

    def add_bar(self, index, size, io=True):
        """Base address register `index` decoding `size` bytes."""
        off = 0x10 + 4 * index
        if io:
            self.set32(off, 1)
            self.set_wmask(off, ~(size - 1) & 0xFFFFFFFC, 4)
        else:
            self.set32(off, 0)
            self.set_wmask(off, ~(size - 1) & 0xFFFFFFF0, 4)
        self.bars[index] = (size, io)

    def bar_address(self, index):
        v = self.get(0x10 + 4 * index, 4)
        return v & ~3 if self.bars[index][1] else v & ~0xF

    def seal(self):
        """Take the current contents as the power-on/reset state."""
        self._power_on = bytes(self.config)

    # -- config accesses ------------------------------------------------------
    def config_read(self, off, size):
        return self.get(off, size)

    def config_write(self, off, value, size):
        for i in range(size):
            a = off + i
            if a > 0xFF:
                break
            b = (value >> (8 * i)) & 0xFF
            wm, w1c = self.wmask[a], self.w1cmask[a]
            c = self.config[a]
            c = (c & ~wm) | (b & wm)
            c &= ~(b & w1c)
            self.config[a] = c
        self.config_written(off, size)

    def config_written(self, off, size):
        """Hook: a write touched [off, off+size)."""

    def snapshot(self):
        return {"config": bytes(self.config)}

    def restore(self, state):
        self.config[:] = state["config"]

    def reset(self):
        """Back to the power-on configuration (every function attached to
        the machine is reset by it)."""
        if self._power_on is not None:
            self.config[:] = self._power_on


class PCIBus:
    """Bus 0 behind configuration mechanism #1."""

    def __init__(self):
        self.devices = {}  # (dev, fn) -> PCIDevice
        self.config_address = 0

    def add(self, dev, slot, fn=0):
        if dev._power_on is None:
            dev.seal()
        dev.bus = self
        self.devices[(slot, fn)] = dev
        return dev

    def find(self, vendor, device):
        for (slot, fn), d in sorted(self.devices.items()):
            if d.get(0, 2) == vendor and d.get(2, 2) == device:
                return slot, fn, d
        return None

    def _target(self, off_in_dword):
        a = self.config_address
        if not a & 0x80000000:
            return None, 0
        bus, slot, fn = (a >> 16) & 0xFF, (a >> 11) & 0x1F, (a >> 8) & 7
        if bus != 0:
            return None, 0
        return self.devices.get((slot, fn)), (a & 0xFC) + off_in_dword

    def config_read(self, slot, fn, off, size):
        d = self.devices.get((slot, fn))
        return d.config_read(off, size) if d is not None else (1 << (8 * size)) - 1

    def config_write(self, slot, fn, off, value, size):
        d = self.devices.get((slot, fn))
        if d is not None:
            d.config_write(off, value, size)

    def attach_ports(self, machine, base=0xCF8):
        machine.ports.register(base, read=self._read_addr, write=self._write_addr)
        machine.ports.register(range(base + 4, base + 8), read=self._read_data, write=self._write_data)

    def _read_addr(self, port, size):
        return self.config_address if size == 4 else (1 << (8 * size)) - 1

    def _write_addr(self, port, value, size):
        if size == 4:
            self.config_address = value & 0x80FFFFFC

    def _read_data(self, port, size):
        dev, off = self._target(port & 3)
        if dev is None:
            return (1 << (8 * size)) - 1
        return dev.config_read(off, size)

    def _write_data(self, port, value, size):
        dev, off = self._target(port & 3)
        if dev is not None:
            dev.config_write(off, value, size)

    def reset(self):
        self.config_address = 0  # each function resets its own config space


def pam_regions():
    """(start, size, register, nibble shift) for the 13 PAM areas."""
    out = [(0xF0000, 0x10000, PAM0, 4)]
    for i in range(12):
        out.append((0xC0000 + i * 0x4000, 0x4000, 0x5A + i // 2, 4 * (i % 2)))
    return out


class I440FX(PCIDevice):
    """The host bridge; it also owns the PCI bus and its config ports."""

    def __init__(self):
        super().__init__(0x8086, 0x1237, 0x060000, revision=0x02, name="i440fx")
        self.config[SMRAM] = 0x02
        self.wmask[SMRAM] = 0x78  # D_OPEN, D_CLS, D_LCK, G_SMRAME (SMRAM base 010 is fixed)
        self.wmask[PAM0] = 0xF0  # 0x59 bits 3-0 are reserved
        self.bus = PCIBus()
        self.bus.add(self, 0, 0)
        self.machine = None
        self.option_rom = ffi.new("uint8_t[]", OPTION_ROM_SIZE)

    def attach(self, machine):
        self.machine = machine
        self.bus.attach_ports(machine)
        self.update_pam()

    def reset(self):
        super().reset()
        self.bus.reset()
        self.update_pam()

    def config_written(self, off, size):
        if off <= 0x5F and off + size > PAM0:
            self.update_pam()

    def snapshot(self):
        return {"config": bytes(self.config), "config_address": self.bus.config_address,
                "option_rom": bytes(ffi.buffer(self.option_rom))}

    def restore(self, state):
        self.config[:] = state["config"]
        self.bus.config_address = state["config_address"]
        ffi.memmove(self.option_rom, state["option_rom"], OPTION_ROM_SIZE)
        self.update_pam()  # the shadow mapping follows PAM

    def load_option_rom(self, offset, data):
        """Put bytes in the read-only option-ROM area at 0xC0000 + offset."""
        if offset < 0 or offset + len(data) > OPTION_ROM_SIZE:
            raise ValueError("option ROM outside 0xC0000-0xDFFFF")
        ffi.memmove(self.option_rom + offset, bytes(data), len(data))
        if self.machine is not None:
            self.machine.flush_code_cache()

    # -- PAM --------------------------------------------------------------------
    def pam_attr(self, addr):
        for start, size, reg, shift in pam_regions():
            if start <= addr < start + size:
                return (self.config[reg] >> shift) & 3
        raise ValueError("%#x is not in a PAM area" % addr)

    def _pci_page(self, addr):
        """Host pointer for what the PCI bus has at a page below 1 MiB."""
        m = self.machine
        alias = next((r for r in m.memory_map if r[0] == "rom-alias"), None)
        rom = next((r for r in m.memory_map if r[0] == "rom"), None)
        if alias is not None and rom is not None and alias[1] <= addr < alias[1] + alias[2]:
            return m.rom_ptr(rom[2] - alias[2] + (addr - alias[1]))
        if OPTION_ROM_BASE <= addr < OPTION_ROM_BASE + OPTION_ROM_SIZE:
            return self.option_rom + (addr - OPTION_ROM_BASE)
        return None

    def update_pam(self):
        m = self.machine
        if m is None:
            return
        for start, size, reg, shift in pam_regions():
            attr = (self.config[reg] >> shift) & 3
            for page in range(start, start + size, 0x1000):
                ram = m.ram_ptr(page) if page < m.ram_size else None
                pci = self._pci_page(page)
                m.map_pages(page, 0x1000, ram if attr & 1 else pci, ram if attr & 2 else None)
