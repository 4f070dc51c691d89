"""A compile worker that misbehaves on purpose (tests/test_fault_injection.py):
it says it is ready, then answers each request the way its argument says."""
import os
import pickle
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from jitemu.jit.worker import _receive, _send  # noqa: E402


def answer(out, mode, seq):
    if mode == "noise":
        out.write(os.urandom(64))
    elif mode == "bad-pickle":
        out.write(struct.pack("<I", 9) + b"not-a-pkl")
    elif mode == "huge-length":
        out.write(struct.pack("<I", 0xFFFFFFF0))
    elif mode == "wrong-number":
        _send(out, (seq + 1000, b"\x7fELF" + bytes(60), None))
    elif mode == "not-elf":
        _send(out, (seq, b"MZ this is not object code", None))
    elif mode == "damaged-elf":
        _send(out, (seq, b"\x7fELF" + os.urandom(300), None))
    elif mode == "not-a-tuple":
        data = pickle.dumps({"seq": seq})
        out.write(struct.pack("<I", len(data)) + data)
    elif mode == "exit":
        sys.exit(3)
    out.flush()


def main():
    mode = sys.argv[1]
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _send(out, (0, None, "ready"))
    while True:
        msg = _receive(sys.stdin.buffer)
        if msg is None:
            return 0
        answer(out, mode, msg[0])


if __name__ == "__main__":
    sys.exit(main())
