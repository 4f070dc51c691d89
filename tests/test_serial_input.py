"""Standard input as the serial line's far end (`--serial stdio`): bytes
enter the 16550A's receiver as the guest makes room (never an overrun), a
halted guest waits for them instead of ending the run, and once the input
is closed a halt ends the run as before."""
import os
import threading
import time

from jitemu.devices.debugcon import DebugConsole
from jitemu.devices.pic import PIC
from jitemu.devices.uart import UART
from jitemu.machine import Machine
from jitemu.tools.hostline import StdinLine

from romutil import assemble

B = 0x3F8

# Real mode: IRQ4 (vector 0x0C) copies each received byte to the debug
# console; the main loop halts with interrupts on until a newline came.
ECHO = assemble("""
bits 16
org 0
times 0x100 db 0xf4
start:
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov word [0x0C*4], irq4
    mov word [0x0C*4+2], 0xF000
    mov al, 0x11                 ; PIC: ICW1..4, vectors 8-15, IRQ4 alone unmasked
    out 0x20, al
    mov al, 0x08
    out 0x21, al
    mov al, 0x04
    out 0x21, al
    mov al, 0x01
    out 0x21, al
    mov al, 0xEF
    out 0x21, al
    mov dx, 0x3FA
    mov al, 0x07                 ; FIFO on, cleared
    out dx, al
    mov dx, 0x3FC
    mov al, 0x08                 ; OUT2: the IRQ reaches the PIC
    out dx, al
    mov dx, 0x3F9
    mov al, 0x01                 ; received-data interrupt
    out dx, al
    xor si, si                   ; set when a newline arrives
    sti
idle:
    hlt
    test si, si
    jz idle
    cli
    hlt
irq4:
    push ax
    push dx
more:
    mov dx, 0x3FD
    in al, dx
    test al, 1
    jz done
    mov dx, 0x3F8
    in al, dx
    out 0xE9, al
    cmp al, 10
    jne more
    mov si, 1
    jmp more
done:
    mov al, 0x20
    out 0x20, al
    pop dx
    pop ax
    iret
times 0xFFF0 - ($ - $$) db 0xf4
    jmp 0xF000:start
times 0x10000 - ($ - $$) db 0xf4
""")


def machine_on_a_pipe(rom=None):
    m = Machine(memory_mb=1)
    if rom is not None:
        m.load_firmware(rom)
    m.attach(PIC())
    uart = m.attach(UART())
    con = m.attach(DebugConsole())
    r, w = os.pipe()
    line = StdinLine(m, uart, fd=r).start()
    return m, uart, con, line, w


def wait_for(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end
        time.sleep(0.005)


def test_host_bytes_fill_the_fifo_as_the_guest_reads_it_with_no_overrun():
    m, uart, con, line, w = machine_on_a_pipe()
    m.ports.write(B + 2, 0x07, 1)  # FIFO on
    sent = bytes(range(32, 72))  # 40 bytes: more than the FIFO holds
    os.write(w, sent)
    wait_for(lambda: len(line._bytes) == len(sent))
    line.poll()  # what the vCPU does at EXIT_INPUT
    assert len(uart.rx) == 16
    got = bytearray()
    while m.ports.read(B + 5, 1) & 1:
        got.append(m.ports.read(B, 1))
    assert bytes(got) == sent
    assert not m.ports.read(B + 5, 1) & 0x02  # no overrun error
    os.close(w)


def test_without_the_fifo_the_receiver_takes_one_byte_at_a_time():
    m, uart, con, line, w = machine_on_a_pipe()
    os.write(w, b"abc")
    wait_for(lambda: len(line._bytes) == 3)
    line.poll()
    assert list(uart.rx) == [ord("a")]
    assert bytes(m.ports.read(B, 1) for _ in range(3)) == b"abc"
    os.close(w)


def test_a_halted_guest_waits_for_serial_input_and_handles_it_by_interrupt():
    m, uart, con, line, w = machine_on_a_pipe(ECHO)
    result = []
    t = threading.Thread(target=lambda: result.append(m.run()))
    t.start()
    time.sleep(0.3)
    assert not result  # halted with interrupts on: waiting, not ended
    os.write(w, b"hello, guest\n")
    t.join(10)
    assert result == ["halt"]  # the guest's own cli; hlt after the newline
    assert con.text == "hello, guest\n"
    os.close(w)


def test_once_the_input_is_closed_a_halt_ends_the_run():
    m, uart, con, line, w = machine_on_a_pipe(ECHO)
    os.close(w)
    wait_for(lambda: not line.open)
    assert m.run() == "halt"  # sti; hlt with nothing left that could wake it
    assert con.text == ""
