"""Device state for snapshots (jitemu/snapshot.py).

A device's snapshot() returns plain data (ints, strings, booleans, None,
bytes, lists and string-keyed dicts) and restore(state) puts it back; the
machine restores the CPU first and devices after, so a device sets its
fields without driving its IRQ line or the CPU (the CPU state already holds
what those lines did).  A device timer is saved as the guest time it is due
and re-armed at that time (`arm`), never recomputed.
"""


def capture(obj, names):
    return {n: _plain(getattr(obj, n)) for n in names}


def apply(obj, state, names):
    for n in names:
        setattr(obj, n, state[n])


def _plain(v):
    if isinstance(v, bytearray):
        return bytes(v)
    if isinstance(v, tuple):
        return list(v)
    return v


def timer_when(timer):
    """The guest time a pending Timer is due, or None."""
    return None if timer is None or timer.cancelled else timer.when


def arm(machine, when, fn):
    """Re-arm a saved timer (None: none was pending)."""
    return None if when is None else machine.clock.call_at(when, fn)
