"""National Semiconductor 16550A UART (COM1: 0x3F8-0x3FF, IRQ4).

Registers: RBR/THR (DLAB=0) or DLL, IER or DLM, IIR (read) / FCR (write),
LCR (bit 7 DLAB), MCR (DTR, RTS, OUT1, OUT2, LOOP), LSR, MSR, SCR.
Transmission is instantaneous: THRE and TEMT are always set, and each byte
written to THR goes to the output stream given to the constructor (a text
or binary stream; also kept in `output`).  In loopback (MCR bit 4) the byte
comes back in the receiver instead, and the modem inputs follow the
outputs (CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2).  `receive(data)` feeds the
receiver (16-byte FIFO when FCR enables it, else a one-byte holding
register; overruns set OE).  A host line (`connect`: the terminal, for
`--serial stdio`) is the other end's transmitter: its bytes enter the
receiver as fast as the guest takes them (as with hardware flow control),
so a guest that reads its FIFO in time never sees an overrun.

Interrupts in priority order: line status (OE), received data, THR empty
(pending after THR empties or IER enables it; cleared by reading IIR when
it is the reported source, or by writing THR), modem status.  As on a PC
board, the IRQ line is the INTR output gated by OUT2 (and off in loopback).
"""
import io
from collections import deque

from .debugcon import OutputError
from .isa import IRQLine
from .state import apply, capture

IER_RDI, IER_THRI, IER_RLSI, IER_MSI = 1, 2, 4, 8
LSR_DR, LSR_OE, LSR_THRE, LSR_TEMT = 1, 2, 0x20, 0x40
MCR_DTR, MCR_RTS, MCR_OUT1, MCR_OUT2, MCR_LOOP = 1, 2, 4, 8, 0x10


class UART:
    def __init__(self, base=0x3F8, irq=4, out=None):
        self.base = base
        self.irq = IRQLine(irq)
        self.out = out
        self.output = bytearray()
        self.machine = None
        self.line = None  # the host's end (connect), or None
        self.msr_inputs = 0xB0  # CTS, DSR, DCD asserted by the "other end"
        self._power_on()

    def _power_on(self):
        self.rx = deque()
        self.rbr = 0
        self.ier = 0
        self.lcr = 0
        self.mcr = 0
        self.lsr = LSR_THRE | LSR_TEMT
        self.msr = 0
        self.scr = 0
        self.dll = 0x0C  # 9600 baud
        self.dlm = 0
        self.fcr = 0
        self.thr_ipending = False
        self.msr = self.msr_inputs

    def attach(self, machine):
        self.machine = machine
        self.irq.machine = machine
        machine.ports.register(range(self.base, self.base + 8), read=self._read, write=self._write)

    def reset(self):
        self._power_on()
        self._update_irq()

    # -- snapshots (jitemu/snapshot.py) ----------------------------------------
    STATE = ("rbr", "ier", "lcr", "mcr", "lsr", "msr", "scr", "dll", "dlm", "fcr", "thr_ipending", "msr_inputs")

    def snapshot(self):
        st = capture(self, self.STATE)
        st.update(rx=list(self.rx), irq=self.irq.level)
        return st

    def restore(self, state):
        apply(self, state, self.STATE)
        self.rx = deque(state["rx"])
        self.irq.level = state["irq"]

    # -- state ---------------------------------------------------------------
    @property
    def fifo(self):
        return bool(self.fcr & 1)

    @property
    def divisor(self):
        return self.dll | (self.dlm << 8)

    def _msr_from_inputs(self):
        if self.mcr & MCR_LOOP:
            m = self.mcr
            new = ((m & MCR_RTS) << 3) | ((m & MCR_DTR) << 5) | ((m & MCR_OUT1) << 4) | ((m & MCR_OUT2) << 4)
        else:
            new = self.msr_inputs
        old = self.msr & 0xF0
        delta = ((old ^ new) >> 4) & 0x0B  # DCTS, DDSR, DDCD
        if old & 0x40 and not new & 0x40:
            delta |= 0x04  # TERI: RI went inactive
        self.msr = new | (self.msr & 0x0F) | delta

    def _iir(self):
        if self.ier & IER_RLSI and self.lsr & LSR_OE:
            return 0x06
        if self.ier & IER_RDI and self.lsr & LSR_DR:
            return 0x04
        if self.ier & IER_THRI and self.thr_ipending:
            return 0x02
        if self.ier & IER_MSI and self.msr & 0x0F:
            return 0x00
        return 0x01

    def _update_irq(self):
        pending = self._iir() != 0x01
        gated = pending and self.mcr & MCR_OUT2 and not self.mcr & MCR_LOOP
        self.irq.set(1 if gated else 0)

    def receive(self, data):
        """Bytes arriving on the serial line."""
        for b in bytes(data):
            limit = 16 if self.fifo else 1
            if len(self.rx) >= limit:
                self.lsr |= LSR_OE
            else:
                self.rx.append(b)
            self.lsr |= LSR_DR
        self._update_irq()

    def connect(self, line):
        """`line.take(n)` gives up to n bytes the host sent (vCPU thread)."""
        self.line = line

    def take_input(self):
        """Move what the host sent into the receiver, while it has room."""
        if self.line is None:
            return
        room = (16 if self.fifo else 1) - len(self.rx)
        if room > 0:
            data = self.line.take(room)
            if data:
                self.receive(data)

    def flush_output(self):
        """The guest is idle: show what it sent without a newline (a prompt)."""
        if self.out is not None:
            try:
                self.out.flush()
            except OSError as e:
                raise OutputError("serial", self.out, e) from e

    def _transmit(self, b):
        if self.mcr & MCR_LOOP:
            self.receive(bytes([b]))
            return
        self.output.append(b)
        out = self.out
        if out is not None:
            try:
                if isinstance(out, io.TextIOBase):
                    out.write(chr(b))
                    if b == 10:
                        out.flush()
                else:
                    out.write(bytes([b]))
            except OSError as e:
                raise OutputError("serial", out, e) from e

    @property
    def text(self):
        return self.output.decode("latin-1")

    # -- ports -----------------------------------------------------------------
    def _read(self, port, size):
        r = port - self.base
        dlab = self.lcr & 0x80
        if r == 0:
            if dlab:
                return self.dll
            v = self.rx.popleft() if self.rx else self.rbr
            self.rbr = v
            self.take_input()
            if not self.rx:
                self.lsr &= ~LSR_DR
            self._update_irq()
            return v
        if r == 1:
            return self.dlm if dlab else self.ier
        if r == 2:
            iir = self._iir()
            if iir == 0x02:
                self.thr_ipending = False  # reading IIR clears THRE when it is the source
                self._update_irq()
            return iir | (0xC0 if self.fifo else 0)
        if r == 3:
            return self.lcr
        if r == 4:
            return self.mcr
        if r == 5:
            v = self.lsr
            self.lsr &= ~LSR_OE  # reading LSR clears the error bits
            self._update_irq()
            return v
        if r == 6:
            v = self.msr
            self.msr &= 0xF0
            self._update_irq()
            return v
        return self.scr

    def _write(self, port, value, size):
        r = port - self.base
        v = value & 0xFF
        dlab = self.lcr & 0x80
        if r == 0:
            if dlab:
                self.dll = v
                return
            self.thr_ipending = False
            self._transmit(v)
            self.thr_ipending = True  # sent at once: THR is empty again
        elif r == 1:
            if dlab:
                self.dlm = v
                return
            old = self.ier
            self.ier = v & 0x0F
            if self.ier & IER_THRI and not old & IER_THRI:
                self.thr_ipending = True
        elif r == 2:
            if (v ^ self.fcr) & 1:
                self.rx.clear()
            if v & 2:
                self.rx.clear()
            if not self.rx:
                self.lsr &= ~LSR_DR
            self.fcr = v & 0xC9
        elif r == 3:
            self.lcr = v
        elif r == 4:
            self.mcr = v & 0x1F
            self._msr_from_inputs()
        elif r == 7:
            self.scr = v
        self._update_irq()
