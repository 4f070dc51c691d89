"""The debug console: the runtime buffers the guest's byte writes and
hands them to the device a line at a time (ports.py fast_sink), and the
output is whole and in order whenever Python looks: after a run, before
any other device sees an access (the serial port writing to the same
stream), and at each newline while the guest runs on."""
import errno
import io
import time

import pytest

from jitemu.devices.debugcon import DebugConsole, OutputError
from jitemu.devices.uart import UART
from jitemu.machine import GuestError, Machine

from romutil import assemble

HEAD = r"""
bits 16
org 0
start:
    xor ax, ax
    mov ds, ax
"""
TAIL = r"""
    times 0xFFF0-($-$$) db 0xF4
    jmp 0xF000:start
    times 0x10000-($-$$) db 0xF4
"""


def machine(body, **kw):
    m = Machine(memory_mb=1)
    m.load_firmware(assemble(HEAD + body + TAIL))
    return m


class Recorder(io.StringIO):
    """A text stream that remembers each write and the guest's
    instruction count when it came."""

    def __init__(self, m):
        super().__init__()
        self.m, self.writes = m, []

    def write(self, text):
        self.writes.append((text, self.m.s.icount))
        return super().write(text)


def test_out_and_rep_outsb_output_is_whole_after_the_run_and_reads_are_e9():
    m = machine(r"""
    mov dx, 0x402
    in al, dx
    mov [0x500], al              ; the detection read: 0xE9
    mov al, 'h'
    out dx, al
    mov al, 'i'
    out dx, al
    mov al, 10
    out dx, al
    mov al, '<'
    out 0xE9, al                 ; the console's second port
    push cs
    pop ds
    mov si, text
    mov cx, 5000                 ; more than the runtime's 4 KiB buffer, no newline
    rep outsb
    mov al, '>'
    out dx, al
    hlt
text:
    times 5000 db 'x'
""")
    out = io.StringIO()
    con = m.attach(DebugConsole(out=out))
    assert m.ports.is_fast(0x402) and m.ports.is_fast(0xE9)
    assert m.run(max_instructions=100_000) == "halt"
    want = "hi\n<" + "x" * 5000 + ">"
    assert con.text == out.getvalue() == want and con.data == want.encode()
    assert m.read_phys(0x500, 1) == b"\xe9"
    assert m.ports.read(0x402, 1) == 0xE9 == m.ports.read(0x402, 2)  # a word read: the device's answer


def test_output_keeps_its_order_with_the_serial_port_and_mmio_on_the_same_stream():
    m = machine(r"""
    mov al, 'A'
    out 0xE9, al
    mov dx, 0x3F8
    mov al, 'B'
    out dx, al                   ; COM1's transmitter
    mov al, 'C'
    out 0xE9, al
    mov ax, 0xD000
    mov es, ax
    mov byte [es:0], 'D'         ; a device in MMIO
    mov al, 'E'
    out 0xE9, al
    in al, dx                    ; a port read by a Python device
    mov al, 'F'
    out 0xE9, al
    hlt
""")
    out = io.StringIO()
    con = m.attach(DebugConsole(out=out))
    m.attach(UART(out=out))
    m.map_mmio(0xD0000, 4096, read=lambda a, s: out.write("r") and 0, write=lambda a, v, s: out.write(chr(v)))
    assert m.run(max_instructions=1000) == "halt"
    assert out.getvalue() == "ABCDEF" and con.text == "ACEF"


def test_a_line_reaches_the_stream_at_its_newline():
    # The guest prints a line, then loops 200,000 times: the line is out
    # when its newline is written, not when the run ends.
    m = machine(r"""
    mov si, text
.p: mov al, [cs:si]
    out 0xE9, al
    inc si
    cmp al, 10
    jne .p
    mov ecx, 200000
.l: dec ecx
    jnz .l
    mov al, '.'
    out 0xE9, al
    hlt
text: db "ready", 10
""")
    out = Recorder(m)
    m.attach(DebugConsole(out=out))
    assert m.run(max_instructions=1_000_000) == "halt"
    assert out.getvalue() == "ready\n."
    (line, at), (rest, end) = out.writes
    assert line == "ready\n" and at < 100 and rest == "." and end > 400_000


def test_a_line_reaches_the_stream_while_the_vcpu_runs_on():
    m = machine(r"""
    mov al, 'o'
    out 0xE9, al
    mov al, 'k'
    out 0xE9, al
    mov al, 10
    out 0xE9, al
.l: jmp .l
""")
    out = io.StringIO()
    con = m.attach(DebugConsole(out=out))
    m.start()
    try:
        end = time.monotonic() + 30
        while out.getvalue() != "ok\n" and time.monotonic() < end:
            time.sleep(0.01)
        assert out.getvalue() == "ok\n" and m.vcpu_running
    finally:
        m.halt_vcpu()
    assert m.run_result == "stop" and con.text == "ok\n"


def test_each_console_gets_its_own_bytes_in_order():
    m = machine(r"""
    mov dx, 0x402
    mov al, 'a'
    out dx, al
    mov al, 'b'
    out 0xE9, al
    mov al, 'c'
    out dx, al
    mov al, 'd'
    out 0xE9, al
    hlt
""")
    one, two = io.StringIO(), io.StringIO()
    a = m.attach(DebugConsole(ports=(0x402,), out=one))
    b = m.attach(DebugConsole(ports=(0xE9,), out=two))
    assert m.run(max_instructions=100) == "halt"
    assert (a.text, b.text, one.getvalue(), two.getvalue()) == ("ac", "bd", "ac", "bd")


def test_writes_from_python_reach_the_device_at_once():
    m = Machine(memory_mb=1)
    con = m.attach(DebugConsole())
    m.ports.write(0x402, ord("x"), 1)
    m.ports.write(0xE9, 0x1234, 2)
    assert con.data == b"x\x34"


class Full(io.StringIO):
    def write(self, text):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_an_output_error_ends_the_run_with_the_device_named():
    m = machine(r"""
    mov al, 'a'
    out 0xE9, al
    mov al, 10
    out 0xE9, al
.l: mov al, 'b'
    out 0xE9, al
    jmp .l
""")
    con = m.attach(DebugConsole(out=Full()))
    with pytest.raises(GuestError) as e:
        m.run(max_instructions=1_000_000)
    assert isinstance(e.value.__cause__, OutputError) and e.value.__cause__.device == "debug console"
    assert con.data == b"a\n" and m.icount < 100  # the run ended at the line that failed
