"""The "#UD at ADDRESS: undecodable bytes" warning comes when the guest runs
into those bytes, once per address; not when the translator lifts them
ahead of time (a block's successors are translated in batches, taken or
not)."""
import logging

from jitemu.machine import Machine

from romutil import rom_with


def ud_warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("#UD at ")]


def test_undecodable_bytes_the_guest_jumps_over_log_nothing(caplog):
    # xor ax,ax; jz +2; (0F 04: no instruction); hlt
    m = Machine()
    m.load_firmware(rom_with(bytes.fromhex("31c0 7402 0f04 f4")))
    with caplog.at_level(logging.WARNING, logger="jitemu.jit"):
        assert m.run(max_instructions=100) == "halt"
    assert m.stats()["blocks_translated"] >= 3  # the fall-through block was made too
    assert ud_warnings(caplog) == [] and m.ud_log == []


def test_undecodable_bytes_run_twice_log_once(caplog):
    # IVT[6] -> 0000:0500, which steps over the two bytes; then
    # mov cx, 2; l: (0F 04); loop l; hlt
    code = bytes.fromhex("31c0 8ed8 8ed0 bc0070" "c7061800 0005" "c7061a00 0000"
                         "b90200" "0f04" "e2fc" "f4")
    m = Machine()
    m.load_firmware(rom_with(code))
    m.write_phys(0x500, bytes.fromhex("55 89e5 83460202 5d cf"))  # push bp; mov bp,sp; add word [bp+2],2; pop bp; iret
    with caplog.at_level(logging.WARNING, logger="jitemu.jit"):
        assert m.run(max_instructions=100) == "halt"
    assert m.regs.cx == 0
    assert m.ud_log == [0xF0018, 0xF0018]
    assert ud_warnings(caplog) == ["#UD at 000f0018: undecodable bytes 0f 04 e2 fc f4 f4 f4 f4"]
