"""Intel 8254 programmable interval timer (ports 0x40-0x43) and the PC's
port 0x61 (channel 2 gate, speaker enable, refresh toggle, channel 2 output).

The counters run at 1.193182 MHz on the machine's virtual clock: a counter's
value and output are computed from the guest time at which it was loaded, so
nothing is polled.  Channel 0's output is IRQ0; its next output transition
is scheduled as a timer on machine.clock.

Supported: modes 0-5 (mode 0 interrupt on terminal count, 1 hardware
retriggerable one-shot, 2 rate generator, 3 square wave, 4 software and
5 hardware triggered strobe), LSB/MSB/LSB-then-MSB access, BCD counting,
the counter latch command, the read-back command (count and status, with
the null-count bit), and the gate input (channel 2 from port 0x61; 0 and
1 are tied high).  Port 0x61 is read in C (ports.py fast_timed) until
channel 2's next output edge: firmware polls it millions of times to
time a delay (memtest86+ calibrates the TSC that way).  Simplifications: a count is loaded at the moment it is
written (the 8254 loads it on the next CLK edge, and in modes 2 and 3 a
new count written while counting waits for the end of the period).
"""
from .isa import IRQLine, bcd, from_bcd
from .state import apply, arm, capture, timer_when

PIT_HZ = 1193182
NS = 1_000_000_000
REFRESH_NS = 15085  # port 0x61 bit 4 toggles every 15.085 us (DRAM refresh)


def ticks(ns):
    return ns * PIT_HZ // NS


def ns_of_tick(k):
    """Guest ns after the load at which tick k has happened."""
    return -(-k * NS // PIT_HZ)


class Channel:
    def __init__(self, pit, index):
        self.pit = pit
        self.index = index
        self.power_on()

    def power_on(self):
        # As QEMU: mode 3, count 0 (= 65536), counting since reset.
        self.mode = 3
        self.rw = 3
        self.bcd = False
        self.count = 0x10000
        self.gate = self.index != 2
        self.load_ns = self.pit.now()
        self.paused_d = None if self.gate else 0
        self.triggered = True
        self.latched = []  # bytes latched by latch/read-back, read first
        self.status_latched = None
        self.read_state = 0  # 0: LSB next, 1: MSB next (rw == 3)
        self.write_state = 0
        self.write_lsb = 0
        self.null_count = False
        self.out_before_load = None

    STATE = ("mode", "rw", "bcd", "count", "gate", "load_ns", "paused_d", "triggered", "latched",
             "status_latched", "read_state", "write_state", "write_lsb", "null_count", "out_before_load")

    # -- counting ----------------------------------------------------------
    def elapsed(self, now=None):
        """Clock ticks counted since the load (None when not counting yet)."""
        if self.count is None or not self.triggered:
            return None
        if self.paused_d is not None:
            return self.paused_d
        now = self.pit.now() if now is None else now
        return ticks(now - self.load_ns)

    def _modulus(self):
        return 10000 if self.bcd else 0x10000

    def value(self, now=None):
        """The counting element as read (binary, before BCD encoding)."""
        d = self.elapsed(now)
        n = self.count
        if n is None:
            return 0
        if d is None:
            return n % self._modulus()
        m = self.mode
        if m in (2, 3) and n < 2:
            n = 2 if n == 1 else n
        if m == 3:
            v = n - ((2 * d) % n)
        elif m == 2:
            v = n - (d % n)
        else:  # 0, 1, 4, 5: count down and wrap
            v = (n - d) % self._modulus()
        return v % self._modulus()

    def out(self, now=None):
        m = self.mode
        if self.count is None:
            # Control word written, no count yet: mode 0 output is low, others high.
            return 0 if m == 0 else 1
        if m in (2, 3) and not self.gate:
            return 1
        d = self.elapsed(now)
        if d is None:  # modes 1 and 5 before their trigger
            return 1
        n = max(self.count, 2) if m in (2, 3) else self.count
        if m == 0:
            return 1 if d >= n else 0
        if m == 1:
            return 1 if d >= n else 0
        if m == 2:
            return 0 if d % n == n - 1 else 1
        if m == 3:
            return 1 if d % n < (n + 1) // 2 else 0
        return 0 if d == n else 1  # 4, 5

    def next_edge_ns(self, now):
        """Guest time of the next output transition after `now`, or None."""
        d = self.elapsed(now)
        if d is None or self.paused_d is not None:
            return None
        m = self.mode
        n = max(self.count, 2) if m in (2, 3) else self.count
        if m in (0, 1):
            k = n if d < n else None
        elif m == 2:
            p = d % n
            k = d - p + (n - 1) if p < n - 1 else d - p + n
        elif m == 3:
            p = d % n
            h = (n + 1) // 2
            k = d - p + h if p < h else d - p + n
        else:
            k = n if d < n else (n + 1 if d == n else None)
        if k is None:
            return None
        return self.load_ns + ns_of_tick(k)

    def load(self, value):
        n = value
        if self.bcd:
            n = from_bcd(value & 0xFF) + 100 * from_bcd(value >> 8)
        if n == 0:
            n = self._modulus()
        self.count = n
        self.null_count = False
        self.load_ns = self.pit.now()
        if self.mode in (1, 5):
            self.triggered = False  # waits for a gate rising edge
            self.paused_d = None
        else:
            self.triggered = True
            self.paused_d = None if self.gate else 0
        self.pit.changed(self)

    def set_gate(self, level):
        level = bool(level)
        if level == self.gate:
            return
        now = self.pit.now()
        d = self.elapsed(now)
        self.gate = level
        m = self.mode
        if self.count is None:
            return
        if m in (0, 4):  # gate low suspends counting
            if not level:
                self.paused_d = d
            elif self.paused_d is not None:
                self.load_ns = now - ns_of_tick(self.paused_d)
                self.paused_d = None
        elif m in (2, 3):  # low stops (output high), rising edge reloads
            if not level:
                self.paused_d = d
            else:
                self.paused_d = None
                self.load_ns = now
        else:  # 1, 5: rising edge triggers (and retriggers)
            if level:
                self.triggered = True
                self.paused_d = None
                self.load_ns = now
        self.pit.changed(self)

    # -- ports -------------------------------------------------------------
    def control(self, v):
        rw = (v >> 4) & 3
        if rw == 0:  # counter latch command
            if not self.latched:
                self._latch_count()
            return
        self.rw = rw
        self.mode = (v >> 1) & 7
        if self.mode > 5:
            self.mode -= 4  # 6 and 7 are 2 and 3
        self.bcd = bool(v & 1)
        self.count = None  # counting stops until a count is written
        self.null_count = True
        self.latched = []
        self.status_latched = None
        self.read_state = self.write_state = 0
        self.pit.changed(self)

    def _latch_count(self):
        v = self.value()
        if self.bcd:
            v = bcd(v // 100 % 100) << 8 | bcd(v % 100)
        v &= 0xFFFF
        if self.rw == 1:
            self.latched = [v & 0xFF]
        elif self.rw == 2:
            self.latched = [v >> 8]
        else:
            self.latched = [v & 0xFF, v >> 8]

    def status(self):
        return ((self.out() << 7) | (int(self.null_count) << 6) | (self.rw << 4)
                | (self.mode << 1) | int(self.bcd))

    def read(self):
        if self.status_latched is not None:
            v, self.status_latched = self.status_latched, None
            return v
        if self.latched:
            return self.latched.pop(0)
        v = self.value()
        if self.bcd:
            v = bcd(v // 100 % 100) << 8 | bcd(v % 100)
        v &= 0xFFFF
        if self.rw == 1:
            return v & 0xFF
        if self.rw == 2:
            return v >> 8
        if self.read_state == 0:
            self.read_state = 1
            return v & 0xFF
        self.read_state = 0
        return v >> 8

    def write(self, v):
        if self.rw == 1:
            self.load(v)
        elif self.rw == 2:
            self.load(v << 8)
        elif self.write_state == 0:
            self.write_lsb = v
            self.write_state = 1
            if self.mode == 0:  # writing the first byte stops counting in mode 0
                self.count = None
                self.pit.changed(self)
        else:
            self.write_state = 0
            self.load(self.write_lsb | (v << 8))


class PIT:
    def __init__(self, base=0x40, irq=0, speaker_port=0x61):
        self.base = base
        self.irq = IRQLine(irq)
        self.speaker_port = speaker_port
        self.machine = None
        self._timer = None
        self._due = 0  # when the armed _timer's edge is due
        self.port61 = 0  # bits 0-3 as written
        self.channels = []

    def now(self):
        return self.machine.clock.now() if self.machine is not None else 0

    def attach(self, machine):
        self.machine = machine
        self.irq.machine = machine
        machine.ports.register(range(self.base, self.base + 4), read=self._read, write=self._write)
        if self.speaker_port is not None:
            machine.ports.register(self.speaker_port, read=self._read61, write=self._write61)
        self.reset()

    def reset(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.port61 = 0
        self.channels = [Channel(self, i) for i in range(3)]
        self.irq.set(self.channels[0].out())
        self._schedule()
        self._sync61()

    # -- snapshots (jitemu/snapshot.py) -------------------------------------
    def snapshot(self):
        return {"port61": self.port61, "irq": self.irq.level, "timer": timer_when(self._timer),
                "channels": [capture(ch, Channel.STATE) for ch in self.channels]}

    def restore(self, state):
        self.port61 = state["port61"]
        self.irq.level = state["irq"]
        self.channels = [Channel(self, i) for i in range(3)]
        for ch, st in zip(self.channels, state["channels"]):
            apply(ch, st, Channel.STATE)
            ch.latched = list(ch.latched)
        self._timer = arm(self.machine, state["timer"], self._edge)
        if state["timer"] is not None:
            self._due = state["timer"]
        self._sync61()

    # -- IRQ0 -------------------------------------------------------------
    def changed(self, ch):
        if ch.index == 2:
            self._sync61()
        if ch.index == 0 and self.machine is not None:
            level = ch.out()
            if level != self.irq.level:
                self.irq.set(level)
            self._schedule()

    def _schedule(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.machine is None or not self.channels:
            return
        when = self.channels[0].next_edge_ns(self.now())
        if when is not None:
            self._due = when
            self._timer = self.machine.clock.call_at(when, self._edge)

    def _edge(self):
        """OUT0 changes at the time it was due.  The callback can run later
        than that (timers fire between blocks): the edges it missed are
        replayed in order, so that mode 4's one-tick low pulse still gives
        the PIC its rising edge (a lost edge there is a lost one-shot timer
        interrupt, and Linux's tick stops)."""
        self._timer = None
        ch = self.channels[0]
        now, when = self.now(), self._due
        for _ in range(4):  # a pulse is two edges; a late periodic run catches up once
            level = ch.out(when)
            if level != self.irq.level:
                self.irq.set(level)
            nxt = ch.next_edge_ns(when)
            if nxt is None or nxt > now:
                break
            when = nxt
        else:
            nxt = ch.next_edge_ns(now)
        if nxt is not None:
            self._due = nxt
            self._timer = self.machine.clock.call_at(nxt, self._edge)

    # -- ports ------------------------------------------------------------
    def _read(self, port, size):
        i = port - self.base
        if i == 3:
            return 0xFF  # the control word register cannot be read
        return self.channels[i].read()

    def _write(self, port, value, size):
        i = port - self.base
        value &= 0xFF
        if i < 3:
            self.channels[i].write(value)
            return
        sc = value >> 6
        if sc == 3:  # read-back command
            for c in range(3):
                if value & (2 << c):
                    ch = self.channels[c]
                    if not value & 0x20 and not ch.latched:
                        ch._latch_count()
                    if not value & 0x10 and ch.status_latched is None:
                        ch.status_latched = ch.status()
            return
        self.channels[sc].control(value)

    def _read61(self, port, size):
        now = self.now()
        refresh = (now // REFRESH_NS) & 1
        out2 = self.channels[2].out(now)
        self._sync61(now)
        return (self.port61 & 0x0F) | (refresh << 4) | (out2 << 5)

    def _write61(self, port, value, size):
        self.port61 = value & 0x0F
        self.channels[2].set_gate(value & 1)
        self._sync61()

    def _sync61(self, now=None):
        """Let C answer port 0x61 reads until channel 2's output next
        changes (the refresh bit it computes from the clock itself)."""
        if self.machine is None or self.speaker_port is None or len(self.channels) < 3:
            return
        now = self.now() if now is None else now
        ch = self.channels[2]
        self.machine.ports.fast_timed(self.speaker_port, (self.port61 & 0x0F) | (ch.out(now) << 5),
                                      ch.next_edge_ns(now), 4, REFRESH_NS)

    @property
    def speaker_on(self):
        return (self.port61 & 3) == 3
