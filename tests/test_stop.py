"""stop() from another thread ends a guest that never halts, at an
instruction boundary, while the vCPU runs native code without the GIL."""
import threading
import time

from jitemu.machine import Machine

from romutil import rom_with


def test_stop_from_another_thread_ends_an_endless_loop():
    m = Machine()
    m.load_firmware(rom_with(bytes.fromhex("40ebfd")))  # l: inc ax; jmp l
    result = []
    t = threading.Thread(target=lambda: result.append(m.run()))
    t.start()
    deadline = time.time() + 60  # the main thread keeps running: the GIL is free
    while m.icount <= 1000 and time.time() < deadline:
        time.sleep(0.01)
    assert t.is_alive()
    m.stop()
    t.join(5)
    assert not t.is_alive() and result == ["stop"]
    assert m.icount > 1000
    # the loop stopped between instructions: IP is on one of its two
    assert m.regs.ip in (0, 1)
    # and it can go on
    assert m.run(max_instructions=100) == "limit"
