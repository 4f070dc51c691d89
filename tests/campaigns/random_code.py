"""A seeded random-code campaign: firmware images of random bytes run
under `jitemu run` with a bounded instruction count, each in its own
process, and every run is classified.  A run must end as the guest made it
end (halt, the budget, a debug exit) with the summary line; a host crash
(a signal), a Python traceback, an error line without its reason, or a
process still running at the wall-clock bound (a hang) fails the campaign.

    python -m tests.campaigns.random_code --count 300 --seed 1

Image kinds (chosen per image from the seed): pure random bytes; random
code behind a real-mode prologue that sets up a stack and an interrupt
table whose vectors lead back into random code; random code under the
reset vector only, the rest 0x00 (the #UD-into-zeroed-RAM case).
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZE = 65536
GUEST_ENDS = ("halt", "limit", "exit", "stop", "shutdown")


def image(rng):
    kind = rng.choice(("random", "prologue", "zeros"))
    if kind == "random":
        return kind, bytes(rng.getrandbits(8) for _ in range(SIZE))
    if kind == "zeros":
        rom = bytearray(SIZE)
        start = rng.randrange(0, SIZE - 4096)
        rom[start:start + 4096] = bytes(rng.getrandbits(8) for _ in range(4096))
        rom[SIZE - 16:SIZE - 11] = bytes([0xEA, start & 0xFF, start >> 8, 0x00, 0xF0])
        return kind, bytes(rom)
    rom = bytearray(rng.getrandbits(8) for _ in range(SIZE))
    # cli; xor ax,ax; mov ss,ax; mov sp,0x7000; mov ds,ax; then fill the IVT
    # (256 vectors -> F000:<random offset>) with rep stosw pairs, sti, and
    # fall into random code.
    target = rng.randrange(0x100, 0xF000)
    pro = bytes.fromhex("fa31c08ed0bc00708ed88ec031ffb90001")
    pro += bytes.fromhex("b8") + target.to_bytes(2, "little") + bytes.fromhex("ab")  # mov ax,target; stosw
    pro += bytes.fromhex("b800f0ab") + bytes.fromhex("e2f4")  # mov ax,f000; stosw; loop
    pro += bytes.fromhex("fb")  # sti
    rom[0:len(pro)] = pro
    rom[SIZE - 16:SIZE - 11] = bytes.fromhex("ea000000f0")
    return kind, bytes(rom)


def classify(proc_result):
    """(category, detail) of one finished run."""
    rc, err = proc_result
    if rc is None:
        return "hang", ""
    if rc < 0:
        return "crash", "signal %d" % -rc
    if "Traceback" in err:
        return "traceback", err.strip().splitlines()[-1]
    lines = err.splitlines()
    reason = [line for line in lines if line.startswith("jitemu: error:")]
    if reason:
        return "host-error", reason[0]
    summary = [line for line in lines if line.startswith("jitemu: ") and " after " in line]
    if not summary:
        return "no-summary", err.strip()[-200:]
    why = summary[-1].split()[1]
    if why not in GUEST_ENDS:
        return "hidden-error", summary[-1]
    return "ok:" + why, ""


def run_one(path, max_instructions, timeout, cache_dir):
    cmd = [sys.executable, "-m", "jitemu.cli", "run", path, "--debugcon", "none",
           "--max-instructions", str(max_instructions)]
    env = dict(os.environ)
    if cache_dir is None:
        cmd.append("--no-cache")
    else:
        env["JITEMU_CACHE_DIR"] = cache_dir
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
        return p.returncode, p.stderr
    except subprocess.TimeoutExpired:
        return None, ""


def campaign(count, seed, max_instructions=200_000, timeout=120, jobs=2, progress=None):
    """Runs `count` images; returns {category: [(index, kind, detail)]}."""
    rng = random.Random(seed)
    results = {}
    with tempfile.TemporaryDirectory(prefix="jitemu-fuzz-") as tmp:
        cache_dir = os.path.join(tmp, "cache")
        jobs_list = []
        for i in range(count):
            kind, rom = image(rng)
            path = os.path.join(tmp, "img%04d.bin" % i)
            with open(path, "wb") as f:
                f.write(rom)
            jobs_list.append((i, kind, path, cache_dir if i % 2 else None))

        def one(job):
            i, kind, path, cache = job
            return i, kind, classify(run_one(path, max_instructions, timeout, cache))

        done = 0
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for i, kind, (category, detail) in pool.map(one, jobs_list):
                results.setdefault(category, []).append((i, kind, detail))
                done += 1
                if progress:
                    progress(done, count)
    return results


def failures(results):
    return {k: v for k, v in results.items() if not k.startswith("ok:")}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tests.campaigns.random_code")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-instructions", type=int, default=200_000)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    t0 = time.time()

    tty = sys.stderr.isatty()

    def progress(done, total):
        # rewritten in place on a terminal; a line every 50 images in a log
        if tty:
            sys.stderr.write("\rrandom code: %d/%d images" % (done, total))
        elif done % 50 == 0 or done == total:
            sys.stderr.write("random code: %d/%d images\n" % (done, total))
        sys.stderr.flush()

    results = campaign(a.count, a.seed, a.max_instructions, jobs=a.jobs, progress=progress)
    if tty:
        sys.stderr.write("\n")
    print("random-code campaign: %d images, seed %d, %d instructions each, %.0f s"
          % (a.count, a.seed, a.max_instructions, time.time() - t0))
    for category in sorted(results):
        print("  %-14s %d" % (category, len(results[category])))
    bad = failures(results)
    for category, cases in sorted(bad.items()):
        for i, kind, detail in cases[:5]:
            print("  FAIL %s: image %d (%s): %s" % (category, i, kind, detail))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
