"""The PC: QEMU's `-M pc` (i440FX + PIIX3) with `-nodefaults`, as one
machine description on a jitemu Machine.

    pc = build_pc(bios="bios.bin", disk="disk.img", memory_mb=16, debugcon=sys.stdout)
    pc.run()

`disk` is a path (read on demand and written in place, or with
snapshot=True written to an overlay in memory), bytes (a disk in memory) or
a devices.ata.Disk.

Devices, their ports and IRQs:

    device          ports                         IRQ   module
    PIC pair+ELCR   20-21, A0-A1, 4D0-4D1          -    pic
    local APIC      FEE00000-FEE00FFF (apic=True)  -    lapic
    I/O APIC        FEC00000-FEC00FFF (apic=True)  -    ioapic
    PIT + port 61   40-43, 61                      0    pit
    8042 KBC        60, 64                         1,12 kbc
    RTC/CMOS        70-71                          8    cmos
    DMA (8237 x2)   00-0F, C0-DF, 81-8F, 481-48F   -    dma
    POST code       80                             -    post
    port 92         92                             -    piix3
    ATA primary     1F0-1F7, 3F6                  14    ata
    ATA secondary   170-177, 376 (CD-ROM master)  15    ata, atapi
    floppy (82077)  3F0-3F5, 3F7 (DMA channel 2)   6    fdc
    COM1 (optional) 3F8-3FF                        4    uart
    debug console   402                            -    debugcon
    debug exit      501                            -    debugexit
    fw_cfg          510-511, 514-51B (DMA)         -    fw_cfg
    PCI config      CF8, CFC-CFF                   -    i440fx
    reset control   CF9                            -    piix3
    PCI 00:00.0 i440FX host bridge (PAM, SMRAM)         i440fx
    PCI 00:01.0 PIIX3 ISA bridge (PIRQ routing)         piix3
    PCI 00:01.1 PIIX3 IDE                               piix3
    PCI 00:01.3 PIIX4 ACPI PM (PM timer at PMBASE+8)    piix3
    VGA (vga="std") 3B0-3DF, 1CE-1CF, A0000-BFFFF  -    vga
    PCI 00:02.0 std VGA, its ROM BAR holding vga_rom    vga

With apic=True (the CLI's default, as QEMU's pc machine) the CPU has a
local APIC (CPUID reports it) and the board an I/O APIC; the ISA IRQs go
to both the PICs and the I/O APIC (IRQ0 on pin 2), and the PICs reach the
CPU through the local APIC's LINT0.  apic=False leaves both out.
No VGA unless vga="std" (QEMU's -vga std; the CLI's default), whose
expansion ROM is vga_rom (Debian's SeaVGABIOS by default).  Each of
`option_roms` (paths) is the fw_cfg file "genroms/NAME", which SeaBIOS
copies below 1 MiB and runs, as QEMU's -option-rom.  `floppy` (a path, bytes or devices.fdc.Floppy)
is drive A: of the floppy controller, which is there without one, as in QEMU.
`cdrom` (an ISO path, bytes or devices.atapi.CDROM) is an ATAPI drive, the
secondary channel's master, as QEMU's -cdrom.  The default boot order is
QEMU's "cad": hard disk, floppy, CD (SeaBIOS goes on to the next when one
cannot boot).  The firmware image
is mapped at the top of 4 GiB and its last 128 KiB below 1 MiB through the
i440FX PAM registers.  The CMOS memory-size bytes and the fw_cfg RAM size
and "etc/e820" come from memory_mb, as QEMU's pc_cmos_init and
fw_cfg_arch_create set them.
"""
import datetime
import os

from .devices.ata import ATAChannel, Disk
from .devices.atapi import ATAPIDrive, CDROM
from .devices.cmos import CMOS
from .devices.debugcon import DebugConsole
from .devices.debugexit import DebugExit
from .devices.dma import DMA
from .devices.fdc import FDC, Floppy
from .devices.fw_cfg import FwCfg
from .devices.i440fx import I440FX
from .devices.ioapic import IOAPIC, IRQRouter
from .devices.kbc import KBC
from .devices.lapic import LocalAPIC
from .devices.pic import PIC
from .devices.fpuerr import FpuError
from .devices.piix3 import PIIX3, PIIX3IDE, PIIX4PM
from .devices.pit import PIT
from .devices.post import PostCode
from .devices.uart import UART
from .devices.vga import VGA
from .machine import Machine

BOOT_CODES = {"a": 1, "c": 2, "d": 3, "n": 4}
VGA_BIOS = "/usr/share/seabios/vgabios-stdvga.bin"  # Debian's seabios package


class OptionRomError(ValueError):
    """An option ROM file that cannot be used (one-line message)."""


def _read_rom(rom):
    """An option ROM's bytes (from bytes or a path), checked as the BIOS
    will: the 55 AA signature, a length byte that fits the file, and a
    zero checksum over that length."""
    name = "option ROM"
    if isinstance(rom, (str, os.PathLike)):
        name = str(rom)
        try:
            with open(rom, "rb") as f:
                rom = f.read()
        except OSError as e:
            raise OptionRomError("cannot read option ROM %s: %s" % (name, e.strerror)) from e
    rom = bytes(rom)
    if len(rom) < 3 or rom[:2] != b"\x55\xaa":
        raise OptionRomError("%s is not an option ROM (no 55 AA signature)" % name)
    size = rom[2] * 512
    if size == 0 or size > len(rom) or size > 0x20000:
        raise OptionRomError("%s: its header says %d bytes; the file has %d" % (name, size, len(rom)))
    if sum(rom[:size]) & 0xFF:
        raise OptionRomError("%s: bad checksum (the first %d bytes do not sum to 0)" % (name, size))
    return rom


class PC:
    """A Machine with the PC devices attached; devices are attributes."""

    def __init__(self, bios=None, disk=None, memory_mb=16, debugcon=None, serial=None,
                 fixed_time=None, boot_order="cad", boot_fail_wait=-1, bootorder=b"", cpus=1,
                 post_out=None, cache=False, snapshot=False, floppy=None, cdrom=None, vga=None,
                 vga_rom=VGA_BIOS, option_roms=(), kernel=None, initrd=None, append="", apic=True):
        self.machine = m = Machine(memory_mb=memory_mb, cache=cache)
        if bios is not None:
            if isinstance(bios, (str, os.PathLike)):
                with open(bios, "rb") as f:
                    bios = f.read()
            m.load_firmware(bios)  # before the host bridge maps the PAM area
        if isinstance(fixed_time, str):
            fixed_time = datetime.datetime.fromisoformat(fixed_time)
        self.disk = disk if disk is None or isinstance(disk, Disk) else Disk(disk, snapshot=snapshot)
        self.floppy = floppy if floppy is None or isinstance(floppy, Floppy) else Floppy(floppy, snapshot=snapshot)

        self.pic = PIC()
        self.lapic = self.ioapic = None
        if apic:
            self.lapic = LocalAPIC(pic=self.pic)
            self.ioapic = IOAPIC(self.lapic)
        self.pit = PIT()
        self.cmos = CMOS(fixed_time=fixed_time)
        self.fw_cfg = FwCfg(ram_size=m.ram_size, cpus=cpus, boot_fail_wait=boot_fail_wait,
                            bootorder=bootorder)
        if kernel is not None:
            from .linuxboot import configure
            configure(self.fw_cfg, kernel, initrd, append, ram_below_4g=min(m.ram_size, 0xE0000000))
        self.host = I440FX()
        self.piix3 = PIIX3(self.host)
        self.ide = PIIX3IDE(self.host)
        self.pm = PIIX4PM(self.host)
        self.kbc = KBC()
        self.post = PostCode(out=post_out)
        self.dma = DMA()
        self.fdc = FDC(drives=(self.floppy, None), dma=self.dma)
        self.ata0 = ATAChannel(0x1F0, 0x3F6, 14, master=self.disk)
        self.cdrom = cdrom if cdrom is None or isinstance(cdrom, CDROM) else CDROM(cdrom)
        self.ata1 = ATAChannel(0x170, 0x376, 15, master=ATAPIDrive(self.cdrom) if cdrom is not None else None)
        self.uart = UART(out=serial) if serial is not None else None
        self.debugcon = DebugConsole(ports=(0x402,), out=debugcon)
        self.debugexit = DebugExit(0x501)
        # The ISA IRQs as devices raise them: the PICs, and the I/O APIC too.
        self.irqs = IRQRouter(self.pic, self.ioapic, self.lapic) if apic else self.pic
        self.fpuerr = FpuError(self.irqs)
        self.vga = None
        if vga == "std":
            self.vga = VGA(self.host, rom=_read_rom(vga_rom) if vga_rom else None)
        elif vga not in (None, "none"):
            raise ValueError("unknown VGA %r (none or std)" % (vga,))
        for path in option_roms:
            self.fw_cfg.add_file("genroms/" + os.path.basename(path), _read_rom(path))
        self.devices = [d for d in (self.pic, self.pit, self.cmos, self.fw_cfg, self.host, self.piix3,
                                    self.ide, self.pm, self.kbc, self.post, self.dma, self.fdc, self.ata0, self.ata1,
                                    self.uart, self.debugcon, self.debugexit, self.fpuerr, self.vga,
                                    self.lapic, self.ioapic)
                        if d is not None]
        for d in self.devices:
            m.attach(d)
        m.interrupt_controller = self.irqs
        self._setup_cmos(memory_mb, cpus, boot_order)

    def _setup_cmos(self, memory_mb, cpus, boot_order):
        c = self.cmos
        c.set_memory(self.machine.ram_size, cpus)
        codes = [BOOT_CODES.get(ch, 0) for ch in boot_order.lower()[:3]] + [0, 0, 0]
        c.ram[0x3D] = codes[1] << 4 | codes[0]
        c.ram[0x38] = codes[2] << 4  # bit 0 clear: check a floppy's boot signature, as QEMU does
        # Floppy drive types (A: high nibble), and in the equipment byte bit
        # 0, one drive to boot from (QEMU's pc_cmos_init_floppy).
        fd = self.floppy
        c.ram[0x10] = fd.cmos_type << 4 if fd is not None else 0x00
        # Equipment byte: bit 1 a math coprocessor, which only a CPU with
        # an FPU has; bit 2 a PS/2 mouse.
        c.ram[0x14] = (0x02 if self.machine.has_fpu else 0) | 0x04 | (0x01 if fd is not None else 0)
        d = self.disk
        if d is not None:
            c.ram[0x12] = 0xF0
            c.ram[0x19] = 47  # user-defined type
            cyl, heads, spt = d.cylinders, d.heads, d.spt
            c.ram[0x1B:0x24] = bytes([cyl & 0xFF, cyl >> 8, heads, 0xFF, 0xFF, 0xC0 | ((heads > 8) << 3),
                                      cyl & 0xFF, cyl >> 8, spt])
            c.ram[0x39] = 0x00 if cyl <= 1024 else 0x01  # no translation / LBA

    # -- conveniences ---------------------------------------------------------
    def run(self, max_instructions=None):
        return self.machine.run(max_instructions)

    @property
    def exit_status(self):
        return self.debugexit.status

    @property
    def console(self):
        return self.debugcon.text

    def description(self):
        """The device list as (name, class) pairs."""
        return [(type(d).__name__, d) for d in self.devices]


def build_pc(bios=None, disk=None, memory_mb=16, debugcon=None, serial=None, fixed_time=None,
             snapshot=False, **kw):
    return PC(bios=bios, disk=disk, memory_mb=memory_mb, debugcon=debugcon, serial=serial,
              fixed_time=fixed_time, snapshot=snapshot, **kw)
