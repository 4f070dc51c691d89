"""Resets requested from another thread while the vCPU thread runs guest
loops: each one waits for the vCPU to leave translated code, and leaves the
machine in exactly the architectural reset state (Intel SDM vol. 3 9.1.1)."""
import os
import random
import time

import pytest

from jitemu.machine import Machine

FIRMWARE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware", "images")

RESET_STATE = {
    "eax": 0, "ecx": 0, "edx": 0x633, "ebx": 0, "esp": 0, "ebp": 0, "esi": 0, "edi": 0,
    "eip": 0xFFF0, "eflags": 2,
    "cs": 0xF000, "cs_base": 0xFFFF0000,
    "ds": 0, "ds_base": 0, "es": 0, "es_base": 0, "ss": 0, "ss_base": 0,
    "fs": 0, "fs_base": 0, "gs": 0, "gs_base": 0,
}

# Long-running kernels, so resets land while guest code runs: cpuloop in
# real mode, sieve32 in protected mode with paging.  Each reset restarts
# the firmware from the reset vector.  JITEMU_RESET_TORTURE raises the
# count (never below 500 per image, 1,000 per run).
RESETS = int(os.environ.get("JITEMU_RESET_TORTURE", "1000"))


@pytest.mark.parametrize("image,seed", [("cpuloop", 1), ("sieve32", 2)])
def test_random_resets_from_another_thread(image, seed):
    rng = random.Random(seed)  # reproducible: the seed is in the test id
    m = Machine()
    m.load_firmware(open(os.path.join(FIRMWARE, image + ".bin"), "rb").read())
    m.ports.register((0x402, 0xE9), write=lambda p, v, n: None)
    resets = max(RESETS // 2, 500)
    done = 0
    while done < resets:
        t = m.start()
        for _ in range(min(100, resets - done)):
            time.sleep(rng.random() * 0.002)
            # inspected while the vCPU is parked: exactly the reset state,
            # and no translation from before the reset left to run
            state, live = m.reset(inspect=lambda mm: (mm.regs.snapshot(), mm.stats()["blocks_live"]))
            assert {k: state[k] for k in RESET_STATE} == RESET_STATE
            assert live == 0
            done += 1
        m.stop()
        t.join(10)
        assert not t.is_alive()
    assert m.resets["api"] == resets
    assert len(m.reset_ack_seconds) >= 1
