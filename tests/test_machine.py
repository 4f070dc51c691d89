"""The Machine API: memory map, reset state, #UD, self-modifying code."""
import pytest

from jitemu._runtime import lib
from jitemu.machine import FirmwareError, Machine

from romutil import rom_with


def machine(code, **kw):
    m = Machine(**kw)
    m.load_firmware(rom_with(code))
    return m


def test_reset_state_matches_the_sdm():
    m = Machine()
    r = m.regs
    assert (r.cs, r.cs_base, r.eip) == (0xF000, 0xFFFF0000, 0xFFF0)
    assert r.eflags == 2 and r.cr0 == 0x60000010
    assert all(getattr(r, s) == 0 and getattr(r, s + "_base") == 0 for s in ("ds", "es", "ss", "fs", "gs"))
    assert r.edx != 0  # processor signature
    assert m.s.dr[6] == 0xFFFF0FF0 and m.s.dr[7] == 0x400


def test_rom_is_mapped_at_the_top_and_below_1mib_read_only():
    m = machine(b"\xf4")
    top = m.read_phys(0xFFFFFFF0, 5)
    assert top == bytes.fromhex("ea000000f0")
    assert m.read_phys(0xFFFF0, 5) == top
    m.write_phys(0xFFFF0, b"\x00" * 5)  # ROM ignores writes
    assert m.read_phys(0xFFFF0, 5) == top


def test_ram_reads_back_and_open_bus_reads_ff():
    m = Machine(memory_mb=1)
    m.write_phys(0x1234, b"abc")
    assert m.read_phys(0x1234, 3) == b"abc"
    assert m.read_phys(0x20000000, 2) == b"\xff\xff"


def test_bad_firmware_sizes_are_refused():
    m = Machine()
    with pytest.raises(FirmwareError):
        m.load_firmware(b"")
    with pytest.raises(FirmwareError):
        m.load_firmware(b"\x90" * 5000)


def test_first_instruction_runs_from_ffff_fff0():
    m = machine(bytes.fromhex("b83412f4"))  # mov ax,0x1234; hlt
    assert m.run() == "halt"
    assert m.regs.ax == 0x1234 and m.regs.cs == 0xF000 and m.regs.eip == 4


def test_undefined_opcode_raises_ud_through_the_ivt_and_is_logged_once():
    # IVT[6] -> 0000:0500 where "mov bx,0x66; hlt" waits.
    code = bytes.fromhex("31c08ed8bc0070" "c7061800" "0005" "c7061a00" "0000"  # IVT[6]=0000:0500
                         "0f0b")  # ud2
    m = machine(code)
    m.write_phys(0x500, bytes.fromhex("bb6600f4"))
    assert m.run() == "halt"
    assert m.regs.bx == 0x66
    assert m.s.last_exception == 6
    # the pushed IP is the faulting instruction's
    sp = m.regs.sp
    assert int.from_bytes(m.read_phys(sp, 2), "little") == len(code) - 2
    assert m.ud_log == [0xF0000 + len(code) - 2]


def test_writing_translated_code_from_the_host_invalidates_it():
    m = Machine()
    m.load_firmware(rom_with(bytes.fromhex("ea00000010")))  # jmp 1000:0000
    m.write_phys(0x10000, bytes.fromhex("b80100f4"))  # mov ax,1; hlt
    assert m.run() == "halt" and m.regs.ax == 1
    assert m.stats()["blocks_live"] >= 1
    m.write_phys(0x10001, b"\x02")  # now mov ax,2
    m.regs.eip = 0
    m.s.halted = 0
    assert m.run() == "halt" and m.regs.ax == 2
    assert m.stats()["blocks_invalidated"] >= 1


def test_a_block_whose_last_instruction_runs_onto_the_next_page_is_dropped_from_either_page():
    # F000: jmp 3000:0000; 30000: jmp 1000:0FFC; 10FFC: mov ax,1;
    # mov ebx,11223344h (its bytes 10FFF-11004, over the page boundary); hlt.
    # The block at 10FFC ends after the MOV EBX (its code is on pages 10h
    # and 11h); the HLT is a block of its own on page 11h.
    m = Machine()
    m.load_firmware(rom_with(bytes.fromhex("ea00000030")))
    m.write_phys(0x30000, bytes.fromhex("eafc0f0010"))
    m.write_phys(0x10FFC, bytes.fromhex("b80100" "66bb44332211" "f4"))

    def live(*pages):  # translations made from each page
        return tuple(lib.bt_count_page(m.s, p) for p in pages)

    def rerun():
        m.regs.cs, m.regs.eip, m.s.halted = 0xF000, 0, 0
        assert m.run(max_instructions=100) == "halt"
        return m.regs.ax, m.regs.ebx

    assert rerun() == (1, 0x11223344)
    assert m.stats()["blocks_invalidated"] == 0
    assert live(0x10, 0x11, 0x30) == (1, 2, 1)
    m.write_phys(0x11003, b"\x55")  # the second page: both blocks with code there go
    assert live(0x10, 0x11, 0x30) == (0, 0, 1)
    assert rerun() == (1, 0x11553344)
    assert live(0x10, 0x11, 0x30) == (1, 2, 1)
    m.write_phys(0x10FFD, b"\x07")  # the first page: the block that runs onto the second goes
    assert live(0x10, 0x11, 0x30) == (0, 1, 1)
    assert rerun() == (7, 0x11553344)
    assert m.stats()["blocks_invalidated"] == 3


def test_a_write_into_code_drops_only_the_blocks_reaching_its_line():
    # 10000: mov ax,1; jmp 1000:0100.  10100: mov bx,2; hlt.  Two blocks on
    # one page: a write into the first leaves the second translated (a
    # kernel patching call sites keeps its patcher's blocks).
    m = Machine()
    m.load_firmware(rom_with(bytes.fromhex("ea00000010")))
    m.write_phys(0x10000, bytes.fromhex("b80100" "ea00010010"))
    m.write_phys(0x10100, bytes.fromhex("bb0200" "f4"))

    def rerun():
        m.regs.cs, m.regs.eip, m.s.halted = 0xF000, 0, 0
        assert m.run(max_instructions=100) == "halt"
        return m.regs.ax, m.regs.bx

    assert rerun() == (1, 2)
    assert lib.bt_count_page(m.s, 0x10) == 2
    m.write_phys(0x10001, b"\x05")
    assert lib.bt_count_page(m.s, 0x10) == 1 and m.stats()["blocks_invalidated"] == 1
    assert rerun() == (5, 2)
    m.write_phys(0x10080, b"\x90")  # data between them: nothing goes
    assert lib.bt_count_page(m.s, 0x10) == 2
    m.write_phys(0x10101, b"\x07")
    assert lib.bt_count_page(m.s, 0x10) == 1 and m.stats()["blocks_invalidated"] == 2
    assert rerun() == (5, 7)


def test_run_with_a_budget_stops_and_resumes():
    m = machine(bytes.fromhex("4075fd"))  # l: inc ax; jnz l
    assert m.run(max_instructions=1000) == "limit"
    assert m.regs.ax != 0
    assert m.run() == "halt"  # ax wraps to 0, falls through to the HLT filler
    assert m.regs.ax == 0


def test_a_device_handler_error_is_reported_not_swallowed():
    from jitemu.machine import GuestError
    m = machine(bytes.fromhex("e680f4"))  # out 0x80, al

    def boom(port, value, size):
        raise ValueError("device broke")
    m.ports.register(0x80, write=boom)
    with pytest.raises(GuestError, match="device broke"):
        m.run()


def test_mmio_region_sees_guest_reads_and_writes():
    # mov ax,0xE000; mov ds,ax; mov byte [0x10],0x5A; mov al,[0x20]; hlt
    m = machine(bytes.fromhex("b800e0" "8ed8" "c60610005a" "a02000" "f4"))
    seen = []
    m.map_mmio(0xE0000, 0x1000, read=lambda a, n: 0x77, write=lambda a, v, n: seen.append((a, v, n)))
    assert m.run() == "halt"
    assert seen == [(0xE0010, 0x5A, 1)]
    assert m.regs.al == 0x77
    assert ("mmio", 0xE0000, 0x1000) in m.memory_map


def test_an_mmio_access_is_one_call_of_its_size_unless_it_leaves_the_region():
    # mov ax,0xE000; mov ds,ax; mov word [0x10],0x1234; mov eax,[0x20];
    # mov word [0xFFF],0xABCD (its second byte is past the region); hlt
    m = machine(bytes.fromhex("b800e0" "8ed8" "c7061000 3412" "66a12000" "c706ff0f cdab" "f4"))
    seen, reads = [], []
    m.map_mmio(0xE0000, 0x1000, read=lambda a, n: reads.append((a, n)) or 0x89ABCDEF,
               write=lambda a, v, n: seen.append((a, v, n)))
    assert m.run() == "halt"
    assert seen == [(0xE0010, 0x1234, 2), (0xE0FFF, 0xCD, 1)]
    assert reads == [(0xE0020, 4)] and m.regs.eax == 0x89ABCDEF


def test_setting_eip_after_hlt_runs_from_there():
    m = machine(bytes.fromhex("f4" "b80700" "f4"))  # hlt; mov ax,7; hlt
    assert m.run() == "halt" and m.regs.ax == 0
    m.regs.eip = 1
    assert m.run() == "halt" and m.regs.ax == 7


def test_a_breakpoint_set_later_stops_code_translated_before_it():
    # l: inc ax; inc bx; inc cx; jmp l  -- run it, so the block exists and is
    # kept for reuse, then break on "inc cx" in its middle.
    m = machine(bytes.fromhex("40" "43" "41" "ebfb"))
    assert m.run(max_instructions=100) == "limit"
    m.add_breakpoint(0xF0002)
    assert m.run(max_instructions=100) == "breakpoint"
    assert m.regs.ip == 2


def test_an_error_on_the_vcpu_thread_is_kept():
    m = machine(bytes.fromhex("e680f4"))  # out 0x80, al; hlt

    def boom(port, value, size):
        raise ValueError("device broke")
    m.ports.register(0x80, write=boom)
    m.start().join(10)
    assert m.run_result == "error" and "device broke" in str(m.run_error)
