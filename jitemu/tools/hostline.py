"""Standard input as the far end of the guest's serial line (`--serial
stdio`), the way QEMU's stdio character device is.

A reader thread collects what arrives on the file descriptor; the UART
takes it on the vCPU's thread as its receiver has room (Machine.add_input,
UART.connect).  On a terminal, line editing and echo are the guest's job:
the terminal is put in a raw mode for the run (Enter sends CR, as a serial
terminal does) and restored afterwards; Ctrl-C still ends jitemu.  When
the input ends (a pipe's writer closed it), the line is closed and a guest
that halts with nothing left to wake it ends the run as before.
"""
import atexit
import os
import threading
from collections import deque


class StdinLine:
    def __init__(self, machine, uart, fd=0):
        self.m, self.uart, self.fd = machine, uart, fd
        self.interactive = os.isatty(fd)
        self.open = True
        self._bytes = deque()
        self._saved = None

    def start(self):
        self._raw()
        self.uart.connect(self)
        self.m.add_input(self)
        threading.Thread(target=self._read, name="stdin-line", daemon=True).start()
        return self

    def close(self):
        """Give the terminal its settings back."""
        if self._saved is not None:
            import termios
            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            except (OSError, termios.error):
                pass
            self._saved = None

    # -- the vCPU's side ------------------------------------------------------
    def take(self, n):
        out = bytearray()
        while self._bytes and len(out) < n:
            out.append(self._bytes.popleft())
        return bytes(out)

    def poll(self):
        self.uart.flush_output()
        self.uart.take_input()

    # -- the reader's side ----------------------------------------------------
    def _read(self):
        while True:
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                data = b""
            if not data:
                self.open = False
                self.m.input_arrived()  # (a halted guest looks again, and sees the line closed)
                return
            self._bytes.extend(data)
            self.m.input_arrived()

    def _raw(self):
        if not self.interactive:
            return
        import termios
        try:
            saved = termios.tcgetattr(self.fd)
        except termios.error:
            return
        mode = list(saved)
        mode[0] &= ~(termios.ICRNL | termios.IXON | termios.INLCR | termios.IGNCR)
        mode[3] &= ~(termios.ICANON | termios.ECHO | termios.IEXTEN)  # ISIG stays: Ctrl-C ends jitemu
        mode[6] = list(mode[6])
        mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
        termios.tcsetattr(self.fd, termios.TCSADRAIN, mode)
        self._saved = saved
        atexit.register(self.close)
