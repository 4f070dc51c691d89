"""Who runs the vCPU: the command's main loop, the monitor and a gdb
connection share one Machine through a Controller.

The guest runs on the Machine's vCPU thread (Machine.start()).  With no
debugger attached it runs freely: the main loop (drive()) restarts it after
a breakpoint or a step and ends the command when a run ends (halt, a debug
exit, the instruction budget).  The monitor can pause it (`stop`), let it go
(`cont`) and end it (`quit`).  A gdb connection takes the vCPU over while it
is attached (acquire_gdb): it steps and continues it itself and hands it
back when it detaches.

    ctl = Controller(machine, max_instructions=None)
    status = drive(ctl, tickers=[progress, screen])   # until the run ends

Whatever ends the command (the run, Ctrl-C, SIGTERM, the monitor's quit, an
error), the vCPU thread is stopped and waited for first: the process must
not exit while that thread runs guest code or LLVM.  The vCPU's end is
Machine.vcpu_running (an Event), never Thread.is_alive(): on Python 3.11
a join() interrupted by Ctrl-C can mark a running thread as finished.
"""
import signal
import threading
import time

# Results of Machine.run() after which the guest cannot go on by itself.
ENDING = ("halt", "exit", "limit", "shutdown", "error")
# Signals that end the command like Ctrl-C: how the run ended, and the exit
# status (128 + the signal's number, as a shell reports a process it killed).
SIGNALS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}
SIGNAL_STATUS = {why: 128 + signum for signum, why in SIGNALS.items()}


class Controller:
    def __init__(self, machine, max_instructions=None, exit_status=None, paused=False):
        self.m = machine
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.thread = None
        self.owner = None        # None (free running) or "gdb"
        self.paused = paused     # by the monitor's `stop`, or --wait-gdb
        self.ended = None        # what ended the run, once it has ended
        self.last = None         # the result of the last run
        self.run_seconds = 0.0   # wall time the vCPU spent running
        self._t0 = None
        self._budget_end = None if max_instructions is None else machine.icount + max_instructions
        self._exit_status = exit_status  # callable -> int or None (a debug-exit device's status)
        self.error = None

    # -- state ------------------------------------------------------------
    @property
    def running(self):
        return self.thread is not None and self.m.vcpu_running

    def state(self):
        with self.lock:
            self._reap()
            if self.ended is not None:
                return "ended (%s)" % self.ended
            if self.running:
                return "running" + (" (gdb)" if self.owner else "")
            if self.owner:
                return "stopped by gdb"
            return "paused" if self.paused else "running"

    def seconds(self):
        """Wall time the vCPU has run, including the current run."""
        t0 = self._t0
        return self.run_seconds + (time.perf_counter() - t0 if t0 is not None and self.running else 0.0)

    def status(self):
        """The command's exit status for how the run ended."""
        why = self.ended
        if why in SIGNAL_STATUS:
            return SIGNAL_STATUS[why]
        status = self._exit_status() if self._exit_status else None
        if status is not None:
            return status
        return 0 if why in ("halt", "exit", "quit", "kill") else 1

    # -- internals (lock held) -----------------------------------------------
    def _start(self):
        if self.ended is not None or self.running:
            return False
        m = self.m
        remaining = None
        if self._budget_end is not None:
            remaining = self._budget_end - m.icount
            if remaining <= 0:
                self._end("limit")
                return False
        # Resuming runs the instruction at the current address even when a
        # breakpoint is set there (gdb steps over its own breakpoints; this
        # makes `cont` from the monitor do the same).
        m.s.bp_skip = (m.s.seg_base[1] + m.s.eip) & 0xFFFFFFFF
        m.run_result = None
        self._t0 = time.perf_counter()
        self.thread = m.start(remaining)
        self.changed.notify_all()
        return True

    def _collect(self):
        """The finished run's result (the thread has ended)."""
        m = self.m
        if self._t0 is not None:
            self.run_seconds += time.perf_counter() - self._t0
            self._t0 = None
        self.thread = None
        why = m.run_result
        if why is None:
            why = "error"  # run() raised; the thread printed the traceback
        if why != "stop":
            self._clear_stop()
        self.last = why
        return why

    def _clear_stop(self):
        """Drop a stop request that arrived after the run had ended for
        another reason, so that the next run or step does not stop at once."""
        self.m.clear_stop()

    def _halt_vcpu(self):
        """Stop a running vCPU and wait for it: the run's result, or None if
        it was not running."""
        if self.thread is None:
            return None
        self.m.halt_vcpu()
        return self._collect()

    def _reap(self):
        """Collect a run that ended by itself while free running."""
        if self.thread is None or self.running or self.owner is not None:
            return
        why = self._collect()
        if why in ENDING or (why == "stop" and not self.paused):
            self._end(why)

    def _end(self, why):
        if self.ended is None:
            self._halt_vcpu()
            self._clear_stop()  # (a stop asked for between runs: the Machine stays usable)
            self.ended = why
            self.changed.notify_all()

    # -- the main loop ----------------------------------------------------------
    def poll(self):
        """Collect a finished free run and start the next one unless paused,
        owned by gdb or ended."""
        with self.lock:
            self._reap()
            if self.owner is None and not self.paused and self.ended is None and self.thread is None:
                self._start()

    def wait(self, timeout):
        """Sleep up to `timeout` seconds, waking early when the vCPU run ends
        or the state changes."""
        if self.running:
            self.m.wait_vcpu(timeout)
            return
        with self.changed:
            if self.ended is None:
                self.changed.wait(timeout)

    def end(self, why):
        """End the run (quit, kill, Ctrl-C): the vCPU is stopped first."""
        with self.lock:
            self._end(why)

    # -- the monitor -----------------------------------------------------------
    def pause(self):
        with self.lock:
            self.paused = True
            if self.owner is None:
                why = self._halt_vcpu()
                if why in ENDING:
                    self._end(why)
            self.changed.notify_all()

    def resume(self):
        with self.lock:
            self.paused = False
            if self.owner is None:
                self._reap()
                self._start()
            self.changed.notify_all()

    # -- gdb ----------------------------------------------------------------------
    def acquire_gdb(self):
        """A debugger takes the vCPU: a free run is stopped."""
        with self.lock:
            if self.owner is not None:
                raise RuntimeError("a debugger is already attached")
            self.owner = "gdb"
            why = self._halt_vcpu()
            if why in ENDING:
                self._end(why)
            self.changed.notify_all()

    def release_gdb(self, resume=True):
        """The debugger detached: the guest runs freely again (or stays
        paused when resume is false)."""
        with self.lock:
            if self.owner is None:
                return
            if self.running:
                self._halt_vcpu()
            self.owner = None
            self.paused = not resume
            self.changed.notify_all()

    def gdb_continue(self):
        with self.lock:
            return self._start()

    def gdb_wait(self, timeout):
        """The result of the debugger's run once it has ended, else None."""
        if self.running:
            self.m.wait_vcpu(timeout)
        with self.lock:
            if self.thread is None:
                return self.ended or self.last
            if self.running:
                return None
            return self._collect()

    def interrupt(self):
        """Ask a running vCPU to stop (gdb's Ctrl-C); the run then returns
        'stop'."""
        with self.lock:
            if self.running:
                self.m.stop()

    def gdb_step(self):
        with self.lock:
            if self.ended is not None:
                return self.ended
            m = self.m
            if self._budget_end is not None and m.icount >= self._budget_end:
                return "limit"
            m.s.bp_skip = (m.s.seg_base[1] + m.s.eip) & 0xFFFFFFFF
            t0 = time.perf_counter()
            try:
                why = m.step()
            except Exception as e:  # noqa: BLE001 - a device handler failed
                self.error = e
                why = "error"
            self.run_seconds += time.perf_counter() - t0
            if why != "stop":
                self._clear_stop()
            self.last = why
            return why


def drive(ctl, tickers=(), interval=0.1):
    """Run the guest until the run ends; call each ticker's tick() about
    every `interval` seconds (progress line, screen).  SIGINT (Ctrl-C) ends
    the run as 'interrupted', SIGTERM as 'terminated' (exit status 128 +
    the signal).  Returns the command's exit status.

    On the main thread the signals get handlers that only note the signal
    and ask the vCPU to stop (no exception can land in the middle of the
    controller's bookkeeping); the loop then stops the vCPU and waits for
    it, however long its current compile takes, before the handlers are
    put back.  An exception out of a ticker also stops the vCPU first."""
    caught = []

    def on_signal(signum, frame):
        caught.append(signum)
        ctl.m.stop()  # only sets a bit in the CPU state

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in SIGNALS:
            previous[signum] = signal.signal(signum, on_signal)
    try:
        while ctl.ended is None and not caught:
            ctl.poll()
            ctl.wait(interval)
            for t in tickers:
                t.tick()
    except KeyboardInterrupt:  # (from a ticker: the signals have handlers here)
        ctl.end("interrupted")
    except BaseException:
        ctl.end("error")
        raise
    finally:
        if caught:
            ctl.end(SIGNALS[caught[0]])
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return ctl.status()
