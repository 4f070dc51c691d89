"""Intel 8042 keyboard controller (ports 0x60 data, 0x64 status/command)
with a PS/2 keyboard (IRQ1) and a PS/2 mouse (IRQ12), after QEMU's
pckbd/ps2 and the usual 8042 documentation.

Status (0x64 read): bit 0 output buffer full, 1 input buffer full (never:
commands complete at once), 2 system flag (command byte bit 2, or set by
the self test), 3 last write was a command, 4 keyboard not inhibited,
5 the output byte is from the mouse.

Controller commands: 0x20 read / 0x60 write the command byte (bit 0 IRQ1
enable, 1 IRQ12 enable, 2 system flag, 4 keyboard disabled, 5 mouse
disabled, 6 scan code translation), 0xA7/0xA8 mouse disable/enable, 0xA9
mouse interface test (00), 0xAA self test (55), 0xAB keyboard interface
test (00), 0xAD/0xAE keyboard disable/enable, 0xC0 input port, 0xD0/0xD1
read/write the output port (bit 0 = 0 resets the machine with source "kbc",
bit 1 is A20), 0xD2/0xD3 write the keyboard/mouse output buffer, 0xD4 send
to the mouse, 0xDD/0xDF A20 off/on, 0xE0 test inputs, 0xF0-0xFF pulse the
output port (bit 0 low = reset: 0xFE and every even command there).

Keyboard commands: 0xFF reset (FA AA), 0xFE resend, 0xF6 defaults, 0xF5/
0xF4 disable/enable scanning, 0xF3 typematic, 0xF2 identify (FA AB 83, or
AB 41 with translation), 0xF0 scan code set, 0xEE echo, 0xED LEDs; others
get FE.  Mouse commands answer as a standard PS/2 mouse (ID 00).
`key(bytes)` queues scan codes as if typed (while scanning is enabled).
"""
from collections import deque

from .isa import IRQLine
from .state import apply, capture

ST_OBF, ST_IBF, ST_SYS, ST_CMD, ST_UNLOCKED, ST_AUX = 1, 2, 4, 8, 0x10, 0x20
MODE_KBD_INT, MODE_AUX_INT, MODE_SYS, MODE_DISABLE_KBD, MODE_DISABLE_AUX, MODE_XLATE = 1, 2, 4, 0x10, 0x20, 0x40
OUT_RESET, OUT_A20 = 1, 2
ACK, RESEND, BAT_OK = 0xFA, 0xFE, 0xAA


class PS2Keyboard:
    STATE = ("scanning", "leds", "scancode_set", "typematic", "expect", "last")

    def __init__(self, kbc):
        self.kbc = kbc
        self.queue = deque()
        self.reset()

    def reset(self):
        self.scanning = True
        self.leds = 0
        self.scancode_set = 2
        self.typematic = 0x2B
        self.expect = None  # a command waiting for its parameter
        self.last = 0

    def send(self, *data):
        for b in data:
            self.queue.append(b)
            self.last = b

    def write(self, v):
        """A byte from the host (the 8042 forwards writes to port 0x60)."""
        if self.expect is not None:
            cmd, self.expect = self.expect, None
            if cmd == 0xED:
                self.leds = v & 7
                self.send(ACK)
                return
            if cmd == 0xF3:
                self.typematic = v & 0x7F
                self.send(ACK)
                return
            if cmd == 0xF0:
                if v == 0:
                    cur = {1: 0x43, 2: 0x41, 3: 0x3F}[self.scancode_set] if self.kbc.translate else self.scancode_set
                    self.send(ACK, cur)
                elif v in (1, 2, 3):
                    self.scancode_set = v
                    self.send(ACK)
                else:
                    self.send(RESEND)
                return
        if v == 0xFF:
            self.queue.clear()
            self.reset()
            self.send(ACK, BAT_OK)
        elif v == 0xFE:
            self.send(self.last)
        elif v == 0xF6:
            self.reset()
            self.send(ACK)
        elif v == 0xF5:
            self.scanning = False
            self.send(ACK)
        elif v == 0xF4:
            self.scanning = True
            self.send(ACK)
        elif v in (0xED, 0xF3, 0xF0):
            self.expect = v
            self.send(ACK)
        elif v == 0xF2:
            self.send(ACK, 0xAB, 0x41 if self.kbc.translate else 0x83)
        elif v == 0xEE:
            self.send(0xEE)
        else:
            self.send(RESEND)


class PS2Mouse:
    STATE = ("enabled", "rate", "resolution", "scaling", "remote", "wrap", "expect")

    def __init__(self, kbc):
        self.kbc = kbc
        self.queue = deque()
        self.reset()

    def reset(self):
        self.enabled = False
        self.rate = 100
        self.resolution = 2
        self.scaling = 1
        self.remote = False
        self.wrap = False
        self.expect = None

    def send(self, *data):
        self.queue.extend(data)

    def status(self):
        return (0x40 if self.remote else 0) | (0x20 if self.enabled else 0) | (0x10 if self.scaling == 2 else 0)

    def write(self, v):
        if self.expect is not None:
            cmd, self.expect = self.expect, None
            if cmd == 0xF3:
                self.rate = v
            else:
                self.resolution = v & 3
            self.send(ACK)
            return
        if self.wrap and v not in (0xEC, 0xFF):
            self.send(v)
            return
        if v == 0xFF:
            self.queue.clear()
            self.reset()
            self.send(ACK, BAT_OK, 0x00)
        elif v == 0xF6:
            self.reset()
            self.send(ACK)
        elif v in (0xF5, 0xF4):
            self.enabled = v == 0xF4
            self.send(ACK)
        elif v in (0xF3, 0xE8):
            self.expect = v
            self.send(ACK)
        elif v == 0xF2:
            self.send(ACK, 0x00)
        elif v == 0xE9:
            self.send(ACK, self.status(), self.resolution, self.rate)
        elif v in (0xE6, 0xE7):
            self.scaling = 1 if v == 0xE6 else 2
            self.send(ACK)
        elif v in (0xEA, 0xF0):
            self.remote = v == 0xF0
            self.send(ACK)
        elif v in (0xEE, 0xEC):
            self.wrap = v == 0xEE
            self.send(ACK)
        elif v == 0xEB:
            self.send(ACK, 0x08, 0x00, 0x00)  # no movement, no buttons
        else:
            self.send(RESEND)


class KBC:
    def __init__(self, data_port=0x60, command_port=0x64, kbd_irq=1, aux_irq=12):
        self.data_port = data_port
        self.command_port = command_port
        self.irq_kbd = IRQLine(kbd_irq)
        self.irq_aux = IRQLine(aux_irq)
        self.machine = None
        self.keyboard = PS2Keyboard(self)
        self.mouse = PS2Mouse(self)
        self.controller_queue = deque()  # (byte, from_aux)
        self._power_on()

    def _power_on(self):
        self.status = ST_CMD | ST_UNLOCKED
        self.mode = MODE_KBD_INT | MODE_AUX_INT
        self.outport = OUT_RESET | OUT_A20 | 0xCC
        self.obuf = 0
        self.obuf_aux = False
        self.pending = None  # a controller command waiting for its data byte
        self.controller_queue.clear()

    @property
    def translate(self):
        return bool(self.mode & MODE_XLATE)

    def attach(self, machine):
        self.machine = machine
        self.irq_kbd.machine = machine
        self.irq_aux.machine = machine
        machine.ports.register(self.data_port, read=self._read_data, write=self._write_data)
        machine.ports.register(self.command_port, read=self._read_status, write=self._write_command)

    def reset(self):
        self._power_on()
        self.keyboard.queue.clear()
        self.keyboard.reset()
        self.mouse.queue.clear()
        self.mouse.reset()
        self._update()

    # -- snapshots (jitemu/snapshot.py) ------------------------------------------------
    STATE = ("status", "mode", "outport", "obuf", "obuf_aux", "pending")

    def snapshot(self):
        st = capture(self, self.STATE)
        st.update(queue=[list(e) for e in self.controller_queue], irq_kbd=self.irq_kbd.level,
                  irq_aux=self.irq_aux.level)
        for name, dev in (("keyboard", self.keyboard), ("mouse", self.mouse)):
            st[name] = capture(dev, type(dev).STATE)
            st[name]["queue"] = list(dev.queue)
        return st

    def restore(self, state):
        apply(self, state, self.STATE)
        self.controller_queue.clear()
        self.controller_queue.extend((b, aux) for b, aux in state["queue"])
        self.irq_kbd.level, self.irq_aux.level = state["irq_kbd"], state["irq_aux"]
        for name, dev in (("keyboard", self.keyboard), ("mouse", self.mouse)):
            apply(dev, state[name], type(dev).STATE)
            dev.queue.clear()
            dev.queue.extend(state[name]["queue"])

    # -- output buffer ---------------------------------------------------------------
    def _queue(self, b, aux=False):
        self.controller_queue.append((b & 0xFF, aux))

    def _update(self):
        """Fill the output buffer from the pending sources and drive the IRQs."""
        if not self.status & ST_OBF:
            src = None
            if self.controller_queue:
                b, aux = self.controller_queue.popleft()
                src = (b, aux)
            elif self.keyboard.queue and not self.mode & MODE_DISABLE_KBD:
                src = (self.keyboard.queue.popleft(), False)
            elif self.mouse.queue and not self.mode & MODE_DISABLE_AUX:
                src = (self.mouse.queue.popleft(), True)
            if src is not None:
                self.obuf, self.obuf_aux = src
                self.status |= ST_OBF
                self.status = (self.status | ST_AUX) if self.obuf_aux else (self.status & ~ST_AUX)
        full = bool(self.status & ST_OBF)
        kbd = full and not self.obuf_aux and self.mode & MODE_KBD_INT
        aux = full and self.obuf_aux and self.mode & MODE_AUX_INT
        self.irq_kbd.set(1 if kbd else 0)
        self.irq_aux.set(1 if aux else 0)

    def key(self, scancodes):
        """Scan codes from the keyboard, as if typed."""
        if self.keyboard.scanning:
            self.keyboard.send(*bytes(scancodes))
            self._update()

    # -- ports -------------------------------------------------------------------------
    def _read_status(self, port, size):
        return self.status

    def _read_data(self, port, size):
        v = self.obuf
        self.status &= ~(ST_OBF | ST_AUX)
        self.irq_kbd.set(0)
        self.irq_aux.set(0)
        self._update()
        return v

    def _write_data(self, port, value, size):
        value &= 0xFF
        self.status &= ~ST_CMD
        cmd, self.pending = self.pending, None
        if cmd is None:
            self.mode &= ~MODE_DISABLE_KBD  # sending to the keyboard enables its interface
            self.keyboard.write(value)
        elif cmd == 0x60:
            self.mode = value
            self.status = (self.status & ~ST_SYS) | (value & MODE_SYS)
        elif cmd == 0xD1:
            self._write_outport(value)
        elif cmd == 0xD2:
            self._queue(value, False)
        elif cmd == 0xD3:
            self._queue(value, True)
        elif cmd == 0xD4:
            self.mouse.write(value)
        self._update()

    def _write_outport(self, value):
        self.outport = value
        self.machine.set_a20(bool(value & OUT_A20))
        if not value & OUT_RESET:
            self.machine.request_reset("kbc")

    def _write_command(self, port, value, size):
        v = value & 0xFF
        self.status |= ST_CMD
        if v == 0x20:
            self._queue(self.mode)
        elif v in (0x60, 0xD1, 0xD2, 0xD3, 0xD4):
            self.pending = v
        elif v == 0xA7:
            self.mode |= MODE_DISABLE_AUX
        elif v == 0xA8:
            self.mode &= ~MODE_DISABLE_AUX
        elif v == 0xA9:
            self._queue(0x00)
        elif v == 0xAA:
            self.status |= ST_SYS
            self._queue(0x55)
        elif v == 0xAB:
            self._queue(0x00)
        elif v == 0xAD:
            self.mode |= MODE_DISABLE_KBD
        elif v == 0xAE:
            self.mode &= ~MODE_DISABLE_KBD
        elif v == 0xC0:
            self._queue(0x80)  # keyboard not locked
        elif v == 0xD0:
            out = self.outport & ~0x30
            if self.status & ST_OBF:
                out |= 0x20 if self.obuf_aux else 0x10
            self._queue(out)
        elif v == 0xDD:
            self.outport &= ~OUT_A20
            self.machine.set_a20(False)
        elif v == 0xDF:
            self.outport |= OUT_A20
            self.machine.set_a20(True)
        elif v == 0xE0:
            self._queue(0x00)
        elif v >= 0xF0:
            if not v & 1:
                self.machine.request_reset("kbc")
        self._update()
