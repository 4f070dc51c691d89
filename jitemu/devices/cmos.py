"""Motorola MC146818 real-time clock and CMOS RAM (ports 0x70/0x71).

Port 0x70 selects one of 128 bytes (bit 7 is the NMI mask, kept in
`nmi_disabled`); port 0x71 reads or writes it.  Bytes 0x00-0x0D are the
clock: seconds, alarm seconds, minutes, alarm minutes, hours, alarm hours,
day of week, date, month, year, and registers A-D.  Byte 0x32 is the
century (as QEMU and SeaBIOS use it).  The rest is battery-backed RAM: it
survives reset(); only constructing the device (power-on) clears it.

The time runs on the machine's virtual clock from a start time that is the
host's clock (default) or a fixed datetime given to the constructor, so a
run with a fixed time is reproducible.  Register B selects BCD or binary
(DM, bit 2) and 12 or 24 hour (bit 1) presentation and SET (bit 7) to stop
updates while the guest writes the time.  Register A's update-in-progress
bit (UIP, bit 7) is set for the 244 us (tBUC) before each once-a-second
update; the update itself is taken as instantaneous at the second boundary
(as QEMU does).  UIP reads 0 while SET is on or the divider (register A
bits 6-4) is not 010.  Register C holds the interrupt flags (PF, AF, UF,
IRQF), cleared by reading it; register D has VRT (valid RAM) set.
Periodic (rate from register A), alarm and update-ended interrupts go to
IRQ8 when enabled in register B; their flags are computed lazily, and
timers are scheduled only while an interrupt is enabled (so a halted guest
with no enabled RTC interrupt does not wake up every second).
"""
import calendar
import datetime
import time as _time

from .isa import IRQLine, bcd, from_bcd
from .state import apply, arm, capture, timer_when

NS = 1_000_000_000
UIP_NS = 244_141  # 8 cycles of 32.768 kHz

REG_A, REG_B, REG_C, REG_D = 0x0A, 0x0B, 0x0C, 0x0D
B_SET, B_PIE, B_AIE, B_UIE, B_SQWE, B_DM, B_24H, B_DSE = 0x80, 0x40, 0x20, 0x10, 0x08, 0x04, 0x02, 0x01
C_IRQF, C_PF, C_AF, C_UF = 0x80, 0x40, 0x20, 0x10
CENTURY = 0x32


def periodic_ns(rate):
    """Period of the periodic interrupt for register A's rate select (0 = off)."""
    if rate == 0:
        return None
    if rate < 3:
        rate += 7  # 1 and 2 are 3.90625 ms and 7.8125 ms, like rates 8 and 9
    return (1 << (rate - 1)) * NS // 32768


class CMOS:
    def __init__(self, base=0x70, irq=8, fixed_time=None, ports=None):
        self.base = base
        self.irq = IRQLine(irq)
        self.machine = None
        self.ram = bytearray(128)
        self.index = 0
        self.nmi_disabled = False
        if fixed_time is None:
            self.start_seconds = int(_time.time())
        elif isinstance(fixed_time, datetime.datetime):
            self.start_seconds = calendar.timegm(fixed_time.utctimetuple())
        else:
            self.start_seconds = int(fixed_time)
        # time = base_seconds + (now - base_ns) // 1e9 while running
        self.base_seconds = self.start_seconds
        self.base_ns = 0
        self.frozen_seconds = None  # while SET is on
        self.ram[REG_A] = 0x26
        self.ram[REG_B] = B_24H
        self.ram[REG_D] = 0x80
        self._flags_ns = 0  # flags computed up to this guest time
        self._timer = None

    def attach(self, machine):
        self.machine = machine
        self.irq.machine = machine
        self.base_ns = machine.clock.now()
        self._flags_ns = self.base_ns
        machine.ports.register(self.base, read=self._read_index, write=self._write_index)
        machine.ports.register(self.base + 1, read=self._read_data, write=self._write_data)
        # SeaBIOS reads the index port back at every mode switch (to keep
        # the NMI mask bit): served in C, as _read_index answers.
        machine.ports.fast_latch(self.base, self._read_index(self.base, 1))
        self._schedule()

    def reset(self):
        """RESET pin: interrupt enables and flags clear; time and RAM stay."""
        self._update_flags()
        self.ram[REG_B] &= ~(B_PIE | B_AIE | B_UIE | B_SQWE)
        self.ram[REG_C] = 0
        self.irq.set(0)
        self._schedule()

    # -- snapshots (jitemu/snapshot.py) ----------------------------------------
    STATE = ("index", "nmi_disabled", "start_seconds", "base_seconds", "base_ns", "frozen_seconds", "_flags_ns")

    def snapshot(self):
        st = capture(self, self.STATE)
        st.update(ram=bytes(self.ram), irq=self.irq.level, timer=timer_when(self._timer))
        return st

    def restore(self, state):
        apply(self, state, self.STATE)
        self.ram[:] = state["ram"]
        self.irq.level = state["irq"]
        self._timer = arm(self.machine, state["timer"], self._tick)

    # -- time ------------------------------------------------------------------
    def now(self):
        return self.machine.clock.now() if self.machine is not None else self.base_ns

    def seconds(self, now=None):
        """The RTC's current time, in seconds since 1970."""
        if self.frozen_seconds is not None:
            return self.frozen_seconds
        now = self.now() if now is None else now
        return self.base_seconds + (now - self.base_ns) // NS

    def _running(self):
        return self.frozen_seconds is None and (self.ram[REG_A] & 0x70) == 0x20

    def update_in_progress(self, now=None):
        if not self._running():
            return False
        now = self.now() if now is None else now
        into = (now - self.base_ns) % NS
        return into >= NS - UIP_NS

    def _enc(self, v):
        return v if self.ram[REG_B] & B_DM else bcd(v)

    def _dec(self, v):
        return v if self.ram[REG_B] & B_DM else from_bcd(v)

    def _enc_hour(self, h):
        if self.ram[REG_B] & B_24H:
            return self._enc(h)
        pm = 0x80 if h >= 12 else 0
        h12 = h % 12 or 12
        return self._enc(h12) | pm

    def _dec_hour(self, v):
        if self.ram[REG_B] & B_24H:
            return self._dec(v)
        h = self._dec(v & 0x7F) % 12
        return h + 12 if v & 0x80 else h

    def time_fields(self, secs=None):
        t = datetime.datetime.fromtimestamp(self.seconds() if secs is None else secs, datetime.timezone.utc)
        return t

    def _clock_byte(self, i):
        t = self.time_fields()
        if i == 0x00:
            return self._enc(t.second)
        if i == 0x02:
            return self._enc(t.minute)
        if i == 0x04:
            return self._enc_hour(t.hour)
        if i == 0x06:
            return self._enc(t.isoweekday() % 7 + 1)  # Sunday = 1
        if i == 0x07:
            return self._enc(t.day)
        if i == 0x08:
            return self._enc(t.month)
        if i == 0x09:
            return self._enc(t.year % 100)
        return self._enc(t.year // 100)  # CENTURY

    def _set_clock_byte(self, i, v):
        t = self.time_fields()
        f = dict(year=t.year, month=t.month, day=t.day, hour=t.hour, minute=t.minute, second=t.second)
        if i == 0x00:
            f["second"] = self._dec(v)
        elif i == 0x02:
            f["minute"] = self._dec(v)
        elif i == 0x04:
            f["hour"] = self._dec_hour(v)
        elif i == 0x06:
            return  # day of week follows the date
        elif i == 0x07:
            f["day"] = self._dec(v)
        elif i == 0x08:
            f["month"] = self._dec(v)
        elif i == 0x09:
            f["year"] = t.year // 100 * 100 + self._dec(v) % 100
        else:
            f["year"] = self._dec(v) * 100 + t.year % 100
        try:
            secs = calendar.timegm(datetime.datetime(**f).utctimetuple())
        except ValueError:
            return  # an invalid date: keep the old time
        self._set_seconds(secs)

    def _set_seconds(self, secs):
        if self.frozen_seconds is not None:
            self.frozen_seconds = secs
        else:
            # Keep the phase of the second boundary.
            now = self.now()
            self.base_seconds = secs - (now - self.base_ns) // NS

    # -- interrupt flags ---------------------------------------------------------
    def _update_flags(self, now=None):
        """Set PF/UF/AF for the events between the last look and now."""
        now = self.now() if now is None else now
        last = self._flags_ns
        if now <= last:
            return
        self._flags_ns = now
        c = self.ram[REG_C]
        per = periodic_ns(self.ram[REG_A] & 0x0F)
        if per is not None and (self.ram[REG_A] & 0x70) == 0x20:
            if (now - self.base_ns) // per != (last - self.base_ns) // per:
                c |= C_PF
        if self._running():
            s0 = self.base_seconds + (last - self.base_ns) // NS
            s1 = self.base_seconds + (now - self.base_ns) // NS
            if s1 > s0:
                c |= C_UF
                if self._alarm_between(s0, s1):
                    c |= C_AF
        self._set_c(c)

    def _alarm_between(self, s0, s1):
        """Whether an update in (s0, s1] matched the alarm registers."""
        a = [self.ram[0x01], self.ram[0x03], self.ram[0x05]]
        care = [x < 0xC0 for x in a]
        try:
            want = [self._dec(a[0]), self._dec(a[1]), self._dec_hour(a[2])]
        except Exception:  # noqa: BLE001
            return False
        first = s0 + 1
        if s1 - first > 86400:
            first = s1 - 86400
        for s in range(first, s1 + 1):
            t = datetime.datetime.fromtimestamp(s, datetime.timezone.utc)
            got = (t.second, t.minute, t.hour)
            if all(not c or w == g for c, w, g in zip(care, want, got)):
                return True
        return False

    def _set_c(self, c):
        b = self.ram[REG_B]
        if c & b & (C_PF | C_AF | C_UF):
            c |= C_IRQF
        else:
            c &= ~C_IRQF
        self.ram[REG_C] = c
        self.irq.set(1 if c & C_IRQF else 0)

    def _schedule(self):
        """Arm a timer for the next event only while its interrupt is enabled."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.machine is None:
            return
        b = self.ram[REG_B]
        now = self.now()
        cands = []
        if b & B_PIE and (self.ram[REG_A] & 0x70) == 0x20:
            per = periodic_ns(self.ram[REG_A] & 0x0F)
            if per is not None:
                cands.append(self.base_ns + ((now - self.base_ns) // per + 1) * per)
        if b & (B_AIE | B_UIE) and self._running():
            cands.append(self.base_ns + ((now - self.base_ns) // NS + 1) * NS)
        if cands:
            self._timer = self.machine.clock.call_at(min(cands), self._tick)

    def _tick(self):
        self._timer = None
        self._update_flags()
        self._schedule()

    # -- ports ------------------------------------------------------------------
    def _read_index(self, port, size):
        return 0xFF

    def _write_index(self, port, value, size):
        self.index = value & 0x7F
        self.nmi_disabled = bool(value & 0x80)
        if size > 1:
            self._write_data(self.base + 1, value >> 8, 1)

    def read(self, index):
        """Read a CMOS byte as the guest would (clock bytes are live)."""
        i = index & 0x7F
        if i in (0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, CENTURY):
            return self._clock_byte(i)
        if i == REG_A:
            return (self.ram[REG_A] & 0x7F) | (0x80 if self.update_in_progress() else 0)
        if i == REG_C:
            self._update_flags()
            v = self.ram[REG_C]
            self.ram[REG_C] = 0
            self.irq.set(0)
            return v
        if i == REG_D:
            self.ram[REG_D] = 0x80
        return self.ram[i]

    def write(self, index, value):
        i = index & 0x7F
        value &= 0xFF
        if i in (0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, CENTURY):
            self._set_clock_byte(i, value)
            return
        if i == REG_A:
            self._update_flags()
            self.ram[REG_A] = value & 0x7F  # UIP is read-only
            self._schedule()
            return
        if i == REG_B:
            self._update_flags()
            old = self.ram[REG_B]
            if value & B_SET and not old & B_SET:
                self.frozen_seconds = self.seconds()
                value &= ~B_UIE  # SET clears UIE
            elif not value & B_SET and old & B_SET:
                self.base_seconds = self.frozen_seconds
                self.base_ns = self.now()
                self.frozen_seconds = None
                self._flags_ns = self.base_ns
            self.ram[REG_B] = value
            self._set_c(self.ram[REG_C])
            self._schedule()
            return
        if i in (REG_C, REG_D):
            return  # read-only
        self.ram[i] = value

    def _read_data(self, port, size):
        v = self.read(self.index)
        return v | (0xFF00 if size > 1 else 0)

    def _write_data(self, port, value, size):
        self.write(self.index, value)

    # -- machine description ----------------------------------------------------
    def set_memory(self, ram_bytes, cpus=1):
        """The memory size bytes as QEMU's pc_cmos_init sets them."""
        self.ram[0x15] = 640 & 0xFF
        self.ram[0x16] = 640 >> 8
        below4g = min(ram_bytes, 0xE0000000)
        ext = min(max(below4g // 1024 - 1024, 0), 65535)
        self.ram[0x17] = self.ram[0x30] = ext & 0xFF
        self.ram[0x18] = self.ram[0x31] = ext >> 8
        above16 = min(max((below4g - (16 << 20)) // 65536, 0), 65535)
        self.ram[0x34] = above16 & 0xFF
        self.ram[0x35] = above16 >> 8
        above4g = max(ram_bytes - below4g, 0) // 65536
        self.ram[0x5B] = above4g & 0xFF
        self.ram[0x5C] = (above4g >> 8) & 0xFF
        self.ram[0x5D] = (above4g >> 16) & 0xFF
        self.ram[0x5F] = cpus - 1

    def set_checksum(self):
        """The standard checksum over 0x10-0x2D, stored at 0x2E/0x2F."""
        s = sum(self.ram[0x10:0x2E])
        self.ram[0x2E] = s >> 8
        self.ram[0x2F] = s & 0xFF
