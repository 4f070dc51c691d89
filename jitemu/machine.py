"""`Machine`: the public Python API of jitemu.

A Machine owns the native runtime (CPU state, guest RAM, code cache), the
firmware ROM, the port bus and the translator.  The CLI is a thin layer
over it:

    m = Machine(memory_mb=16)
    m.load_firmware(open("bios.bin", "rb").read())
    m.attach(DebugConsole(out=sys.stdout))
    m.run()
"""
import atexit
import logging
import threading
import time

from ._runtime import ffi, lib
from .clock import EXIT_BUDGET, VirtualClock
from .cpu.registers import Registers
from .ports import PortBus

log = logging.getLogger("jitemu")

EXIT_STOP, EXIT_RESET, EXIT_IRQ, EXIT_SMC, EXIT_IO, EXIT_HOT, EXIT_INSTALL, EXIT_WARM = 1, 2, 4, 8, 16, 32, 64, 128
EXIT_SYNC = 256  # another thread reads icount (see Machine.icount)
EXIT_INPUT = 512  # a host input source (the serial line from stdin) has bytes for its device
# EXIT_BUDGET (clock.py): a timer was armed before the budget's end; set it anew
EXIT_MAP = 2048  # runtime/jitemu.h: CR3 or INVLPG; the dispatcher serves it (as EXIT_SMC) itself
TIERING = EXIT_HOT | EXIT_INSTALL | EXIT_WARM
INTERNAL = TIERING | EXIT_SYNC | EXIT_INPUT | EXIT_BUDGET  # requests run() serves and goes on
SYNC_WAIT = 0.05  # seconds icount waits for the vCPU to publish its count
RUN_MISS, RUN_EXIT, RUN_HLT, RUN_LIMIT, RUN_SHUTDOWN, RUN_DEBUG, RUN_STEP = 1, 2, 3, 4, 5, 6, 7
RUN_STALE, RUN_RECLAIM = 8, 9  # runtime/jitemu.h: the code arena was, or should be, reclaimed
DEBUG_STEP, DEBUG_ALONE, DEBUG_EXACT = 1, 2, 4  # runtime/jitemu.h
TRACE_EXEC, TRACE_CPU, TRACE_INT = 1, 2, 4
MAX_BREAKPOINTS = 16

ROM_ALIAS_END = 0x100000
# The most instructions native code runs between two checks of the budget:
# a region's forward path (MAX_REGION_BLOCKS blocks), and one block.
_SLACK_BLOCK = 64  # jit/lifting.py MAX_INSNS (= baseline.py's, runtime/baseline.c's)
_SLACK_REGION = 48 * _SLACK_BLOCK  # jit/lifting.py MAX_REGION_BLOCKS blocks
MAX_ROM = 16 << 20


# Machines inside run(), on any thread.  The interpreter must not exit while
# one of them runs native or LLVM code on another thread (its static
# destructors run under it: SIGSEGV, SIGABRT): see _stop_all_at_exit.
_running = set()
_running_lock = threading.Condition()
_exiting = False


class FirmwareError(ValueError):
    """A firmware image that cannot be loaded (one-line message)."""


class GuestError(RuntimeError):
    """A device handler raised while the guest ran."""


class Machine:
    # Whether the CPU has an x87 FPU: runtime/jitemu.h's CPU_HAS_FPU, which
    # CPUID reports too, decides (the PC's CMOS equipment byte follows).
    has_fpu = bool(lib.CPU_HAS_FPU)

    def __init__(self, memory_mb=16, cache=False):
        if not 1 <= memory_mb <= 3072:
            raise ValueError("memory must be between 1 and 3072 MiB")
        self.ram_size = memory_mb << 20
        self._handle = ffi.new_handle(self)
        self.s = lib.rt_create(self.ram_size, self._handle)
        if self.s == ffi.NULL:
            raise MemoryError("cannot allocate guest memory")
        self._ram = lib.rt_ram(self.s)
        self.ports = PortBus(self.s)
        self.devices = []
        self.regs = Registers(self.s)
        self.clock = VirtualClock(self.s)
        # The interrupt controller: anything with ack() -> vector or -1,
        # called when the CPU takes the INTR line (the INTA cycle).
        self.interrupt_controller = None
        self._rom = None
        self._translator = None
        # The persistent translation cache (jitemu/jit/cache.py): False for
        # none, True for the default directory, or a directory.
        self._cache_setting = cache
        self._error = None
        self._lock = threading.Lock()
        self.ud_log = []
        # FERR# from the FPU (CR0.NE=0): the PC wires it to IRQ13 (pc.py).
        self.on_ferr = None
        # The guest wrote IA32_APIC_BASE: on_apic_base(value), set by a
        # local APIC device (devices/lapic.py).
        self.on_apic_base = None
        self._reset_sources = []
        self.resets = {}  # source -> count
        # Requests that joined a reset already requested or in progress
        # (source -> count): a reset during a reset is one reset.
        self.resets_coalesced = {}
        # The coalescing window: from a reset's acknowledgement until the
        # vCPU runs guest code again, a request joins it.  _req_lock makes
        # the request, the EXIT_RESET bit and the window one decision.
        self._req_lock = threading.Lock()
        self._resetting = False
        self._during_reset = []  # one-shot callables run inside the next reset (reset injection)
        self._events = []  # (icount, seq, fn): Machine.at_icount
        self._event_seq = 0
        self.reset_ack_seconds = []  # request to acknowledgement, per reset
        self._requested_at = None
        self._reset_lock = threading.Lock()
        self._acked = threading.Event()
        self._resume = threading.Event()
        self._foreign_reset = False
        self._vcpu_thread = None
        self._run_thread = None  # the thread in run(), while _in_run
        # Set in a finally on the vCPU thread when it has left run(): on
        # Python 3.11 a Thread.join() cut short by Ctrl-C can mark a thread
        # that still runs as finished, so is_alive() is not trusted.
        self._vcpu_done = threading.Event()
        self._vcpu_done.set()
        self._in_run = False
        self.run_result = None
        self.run_error = None  # what run() raised on the vCPU thread, if anything
        self.tracer = None
        self._mmio = []  # (start, size, read, write, name) by handle
        # Host input (Machine.add_input): sources polled on the vCPU's
        # thread, and the event a halted vCPU waits on for them or a stop.
        self._inputs = []
        self._wake = threading.Event()
        self.memory_map = [("ram", 0, self.ram_size)]
        lib.rt_map(self.s, 0, self.ram_size, self._ram, 1)
        self._load_reset_state()

    def __del__(self):
        s = getattr(self, "s", None)
        if s is not None and s != ffi.NULL:
            # The LLVM code stays alive with the translator; only the state
            # and guest memory go here.
            lib.rt_destroy(s)
            self.s = None

    # -- setup --------------------------------------------------------
    def load_firmware(self, image):
        """Map a raw firmware image at the top of the 4 GiB space, and its
        last 128 KiB (or all of it if smaller) below 1 MiB."""
        size = len(image)
        if size == 0:
            raise FirmwareError("firmware image is empty")
        if size % 4096 or size > MAX_ROM:
            raise FirmwareError("firmware image is %d bytes; expected a multiple of 4 KiB up to 16 MiB "
                                "(64 KiB, 128 KiB, 256 KiB ...)" % size)
        self._rom = ffi.new("uint8_t[]", bytes(image))
        lib.rt_map(self.s, (1 << 32) - size, size, self._rom, 0)
        low = min(size, 128 << 10)
        lib.rt_map(self.s, ROM_ALIAS_END - low, low, self._rom + (size - low), 0)
        self.memory_map = [r for r in self.memory_map if r[0] not in ("rom", "rom-alias")]
        self.memory_map += [("rom", (1 << 32) - size, size), ("rom-alias", ROM_ALIAS_END - low, low)]
        self.flush_code_cache()

    def map_mmio(self, start, size, read, write, name="mmio"):
        """Give guest physical [start, start+size) to a device: read(addr,
        size) -> int and write(addr, value, size) are called for every access
        (whole 4 KiB pages; RAM or ROM there is hidden)."""
        if start % 4096 or size % 4096 or size <= 0:
            raise ValueError("MMIO regions are whole 4 KiB pages")
        handle = len(self._mmio)
        if lib.rt_add_mmio(self.s, start, start + size - 1, handle) != 0:
            raise ValueError("too many MMIO regions")
        self._mmio.append((start, size, read, write, name))
        lib.rt_unmap(self.s, start, size)
        self.memory_map.append((name, start, size))
        self.flush_code_cache()

    def ram_ptr(self, addr):
        """A host pointer into guest RAM (for map_pages)."""
        if not 0 <= addr < self.ram_size:
            raise ValueError("address %#x is outside RAM" % addr)
        return self._ram + addr

    def rom_ptr(self, offset):
        """A host pointer into the firmware image (for map_pages)."""
        if self._rom is None or not 0 <= offset < len(self._rom):
            raise ValueError("offset %#x is outside the firmware image" % offset)
        return self._rom + offset

    def map_pages(self, start, size, read, write):
        """Route guest physical [start, start+size) reads to host pointer
        `read` and writes to `write` (None: open bus / dropped), as a chipset
        does for shadow RAM.  Translations of changed pages are dropped."""
        if start % 4096 or size % 4096:
            raise ValueError("mappings are whole 4 KiB pages")
        lib.rt_map_rw(self.s, start, size, read if read is not None else ffi.NULL,
                      write if write is not None else ffi.NULL)

    def set_a20(self, enabled):
        """Gate address line 20 (the 8042 output port, port 0x92)."""
        mask = 0xFFFFFFFF if enabled else 0xFFEFFFFF
        if self.s.a20_mask != mask:
            self.s.a20_mask = mask
            lib.cpu_tlb_flush(self.s)
            self.flush_code_cache()  # blocks were fetched through the old mask

    @property
    def a20(self):
        return self.s.a20_mask == 0xFFFFFFFF

    def attach(self, device):
        """Add a device (anything with attach(machine) and reset())."""
        device.attach(self)
        self.devices.append(device)
        return device

    # -- execution ----------------------------------------------------
    @property
    def translator(self):
        if self._translator is None:
            from .jit.translator import Translator  # llvmlite/capstone load lazily
            self._translator = Translator(ffi, lib, self.s)
            # A region the compile worker finished is swapped in at the
            # vCPU's next instruction boundary, on the vCPU's thread.
            self._translator.on_ready = lambda: lib.cpu_request_exit(self.s, EXIT_INSTALL)
            if self._cache_setting:
                from .jit.cache import CodeCache
                d = None if self._cache_setting is True else self._cache_setting
                self._translator.cache = CodeCache(d)
        return self._translator

    def reset(self, source="api", inspect=None):
        """Reset the machine, from any thread, and return the register state
        it was reset to (or inspect(machine), called while the vCPU is still
        parked, when given).

        While the vCPU thread runs, the request makes it leave translated
        code at the next instruction boundary and acknowledge; only then is
        the code cache dropped, every device reset and the architectural
        reset state loaded, and the vCPU let go.  Called on the vCPU thread
        (a device handler), the reset happens at the next instruction
        boundary and None is returned.  With no vCPU running, at once."""
        vcpu = self._vcpu_thread
        if vcpu is not None and self.vcpu_running and self._in_run:
            if threading.current_thread() is vcpu:
                self.request_reset(source)
                return None
            with self._reset_lock:  # one foreign reset at a time
                self._acked.clear()
                self._resume.clear()
                with self._req_lock:
                    # (with the request: the vCPU either sees this flag
                    # before it leaves a reset this request joins, and
                    # waits for us, or the request starts a new reset)
                    self._foreign_reset = True
                    self._request_locked(source)
                while not self._acked.wait(0.05):
                    if not self.vcpu_running or not self._in_run:
                        break  # the run ended first: nobody to wait for
                try:
                    if self._reset_pending():  # (else it joined the reset the vCPU made)
                        self._do_reset()
                    return inspect(self) if inspect else self.regs.snapshot()
                finally:
                    with self._req_lock:
                        self._foreign_reset = False
                        self._resetting = False
                    self._resume.set()
        self.request_reset(source)
        performed = False
        try:
            if self._reset_pending():
                self._do_reset()
                performed = True
            return inspect(self) if inspect else self.regs.snapshot()
        finally:
            if performed:  # (a call inside another reset leaves that one's window open)
                with self._req_lock:
                    self._resetting = False

    def _reset_pending(self):
        return bool(self._reset_sources or self.s.exit_request & EXIT_RESET)

    def _acknowledge_reset(self):
        """On the vCPU thread, outside translated code: acknowledge a reset
        request; wait while another thread performs it, or perform it.
        Requests until the vCPU runs again join this reset."""
        t = time.perf_counter()
        if self._requested_at is not None:
            self.reset_ack_seconds.append(t - self._requested_at)
        if self._foreign_reset:
            self._acked.set()
            self._resume.wait()
            return
        self._do_reset()
        with self._req_lock:
            park = self._foreign_reset  # a reset() on another thread joined this one
            if not park:
                self._resetting = False
        if park:
            self._acked.set()  # it inspects the machine while the vCPU waits
            self._resume.wait()

    def _load_reset_state(self):
        """Load the architectural reset state (Intel SDM vol. 3 9.1.1)."""
        s = self.s
        for i in range(8):
            s.regs[i] = 0
        s.regs[2] = 0x00000633  # EDX: the processor signature, CPUID 1 EAX (runtime/sysregs.c)
        s.eip = 0xFFF0
        s.eflags = 0x2
        for i in range(6):
            s.seg_sel[i] = 0
            s.seg_base[i] = 0
            s.seg_limit[i] = 0xFFFF
            s.seg_flags[i] = 0x9300  # present, writable data, accessed
        s.seg_sel[1] = 0xF000
        s.seg_base[1] = 0xFFFF0000
        s.seg_flags[1] = 0x9B00  # present, readable code, accessed
        s.cr[0] = 0x60000010
        for i in range(1, 5):
            s.cr[i] = 0
        for i in range(8):
            s.dr[i] = 0
        s.dr[6] = 0xFFFF0FF0
        s.dr[7] = 0x400
        s.gdt_base = s.idt_base = 0
        s.gdt_limit = s.idt_limit = 0xFFFF
        s.ldt_sel = s.ldt_base = s.tr_sel = s.tr_base = 0
        s.ldt_limit = s.tr_limit = 0xFFFF
        s.halted = 0
        s.irq_line = 0
        s.a20_mask = 0xFFFFFFFF
        s.last_exception = -1
        lib.cpu_reset_msrs(s)
        # The x87 after RESET (SDM vol. 3, table 9-1): CW 0040, tags 0
        # (every register +0.0), pointers 0.
        lib.fpu_init(s)
        s.fpu_cw, s.fpu_tag, s.fpu_ferr = 0x40, 0, 0
        for i in range(8):
            s.fpr_sig[i] = s.fpr_se[i] = 0
        lib.cpu_update_hflags(s)
        for d in self.devices:
            d.reset()

    def _do_reset(self):
        """The reset itself; the vCPU is outside translated code.  It opens
        the coalescing window (closed by whoever lets the vCPU run again)."""
        with self._req_lock:
            lib.cpu_clear_exit(self.s, EXIT_RESET)
            sources, self._reset_sources = self._reset_sources, []
            self._resetting = True
        # (a triple fault is the CPU's own request: it names no source)
        source = sources[0] if sources else "triple-fault"
        self._requested_at = None
        self.resets[source] = self.resets.get(source, 0) + 1
        during, self._during_reset = self._during_reset, []
        for fn in during:
            fn()  # a second request, while this one is acknowledged
        self.flush_code_cache()
        lib.cpu_tlb_flush(self.s)
        self._load_reset_state()

    def flush_code_cache(self):
        lib.bt_flush(self.s)

    def _reclaim_code(self):
        """The code arena holds more than its limit (self-modifying code
        makes blocks without end): take it all back, as QEMU flushes a full
        translation buffer, unless another machine's vCPU is running
        translated code now (then at a later block).  Every machine's code
        is made anew; each forgets its own table before it runs again."""
        if lib.arena_reclaim() == 0:
            self._forget_code()

    def _forget_code(self):
        lib.bt_forget(self.s)
        self.translator.forget_native()

    # -- snapshots and reset injection ------------------------------------
    def snapshot(self, intern=None):
        """The machine's state (jitemu.snapshot.Snapshot), taken between
        instructions: with no run in progress, or from an at_icount call."""
        from .snapshot import capture
        return capture(self, intern)

    def restore(self, snap):
        """Put a snapshot of a machine of the same configuration back; the
        run continues exactly as the original's did from there."""
        from .snapshot import restore
        restore(self, snap)

    def at_icount(self, n, fn):
        """Call fn() on the thread in run() at the instruction boundary
        where the instruction count reaches n (after the timers due then),
        or at the next run if it is already past.  The budget is exact
        (_budget), so the same n is the same instruction in every run."""
        import heapq
        self._event_seq += 1
        heapq.heappush(self._events, (n, self._event_seq, fn))

    def clear_icount_events(self):
        """Forget every at_icount call not made yet."""
        self._events.clear()

    RESET_SOURCES = ("cf9", "port92", "kbc", "triple", "api")

    def check_reset_source(self, source):
        """ValueError unless `source` can reset this machine."""
        if source not in self.RESET_SOURCES:
            raise ValueError("unknown reset source %r (one of %s)" % (source, ", ".join(self.RESET_SOURCES)))
        port = {"cf9": 0xCF9, "port92": 0x92, "kbc": 0x64}.get(source)
        if port is not None and self.ports._write.get(port) is None:
            raise ValueError("reset source %s needs a device at port %#x, which this machine does not have "
                             "(jitemu boot's PC has it)" % (source, port))

    def inject_reset(self, source, during=None):
        """Request a reset the way `source` does it: the guest's own write
        to port 0xCF9 (0x06, a hard reset), a 0->1 edge of port 0x92 bit 0,
        the 8042's pulse-reset command 0xFE, the CPU's shutdown on a triple
        fault, or the host (Machine.reset).  `during`: a second source,
        requested while the first is acknowledged (it joins it).  Port
        sources need their device on this machine (ValueError if not)."""
        ports = self.ports
        for src in (source,) + ((during,) if during else ()):
            self.check_reset_source(src)
        if during:
            self._during_reset.append(lambda: self.inject_reset(during))
        if source == "cf9":
            ports.write(0xCF9, 0x06, 1)
        elif source == "port92":
            v = ports.read(0x92, 1)
            if v & 1:
                ports.write(0x92, v & ~1, 1)  # (a reset needs a rising edge)
            ports.write(0x92, v | 1, 1)
        elif source == "kbc":
            ports.write(0x64, 0xFE, 1)
        elif source == "triple":
            self.s.last_exception = 8  # what the CPU's shutdown does (runtime/interrupts.c)
            self.request_reset("triple-fault")
        else:
            self.request_reset("api")

    def request_exit(self, bits=EXIT_IO):
        """Ask the vCPU to leave translated code at the next instruction
        boundary (callable from any thread and from device handlers)."""
        lib.cpu_request_exit(self.s, bits)
        self._wake.set()  # (a vCPU halted waiting for host input)

    # -- host input ----------------------------------------------------------
    def add_input(self, source):
        """A host input source: `source.poll()` (on the vCPU's thread) hands
        what arrived to its device, `source.open` says whether more may come
        and `source.interactive` whether a person is typing.  Its reader
        calls input_arrived() from any thread.  While a source is open, a
        halt with nothing to wake it waits for input instead of ending the
        run; an interactive source also makes idle guest time pass in real
        time (else a halted guest skips to its next timer at once)."""
        self._inputs.append(source)

    def input_arrived(self):
        self.request_exit(EXIT_INPUT)

    def _poll_inputs(self):
        for source in self._inputs:
            source.poll()

    def _idle(self, deadline_ns):
        """The CPU halted with interrupts on: wait, if host input may wake
        it, for that input (or a stop), up to the next timer's deadline
        (None: none) in real time when a person is typing.  Returns whether
        to skip guest time to the deadline (nothing came)."""
        live = [src for src in self._inputs if src.open]
        if not live:
            return True
        if deadline_ns is not None:
            if not any(src.interactive for src in live):
                return True
            wait = (deadline_ns - self.clock.now()) / 1e9
        else:
            wait = 0.5  # (then the loop looks again: an input may have closed)
        self._wake.clear()
        if self.s.exit_request or self._wake.wait(min(wait, 0.5)) or deadline_ns is None:
            return False
        return wait <= 0.5

    def stop(self):
        self.request_exit(EXIT_STOP)

    def clear_stop(self):
        """Withdraw a stop request that arrived after the run had already
        ended for another reason (so the next run does not stop at once)."""
        lib.cpu_clear_exit(self.s, EXIT_STOP)

    def request_reset(self, source="api"):
        """Ask for a machine reset (port 0xCF9, 0x92, the 8042, a triple
        fault, the user).  The vCPU leaves translated code first; the reset
        happens in run() before any further guest instruction.  A request
        made while another is pending, or while a reset is acknowledged and
        performed (until the vCPU runs guest code again), joins that reset
        (counted in resets_coalesced): never lost, never doubled.  Returns
        whether this request starts a reset of its own."""
        with self._req_lock:
            return self._request_locked(source)

    def _request_locked(self, source):
        if self._resetting or self._reset_pending():
            self.resets_coalesced[source] = self.resets_coalesced.get(source, 0) + 1
            return False
        self._reset_sources.append(source)
        if self._requested_at is None:
            self._requested_at = time.perf_counter()
        lib.cpu_request_exit(self.s, EXIT_RESET)
        return True

    # -- debugging -------------------------------------------------------
    @property
    def breakpoints(self):
        return [self.s.bp[i] for i in range(self.s.bp_count)]

    def add_breakpoint(self, linear):
        """Stop before the instruction at linear address `linear` runs
        (run() returns 'breakpoint').  Translations are redone so that no
        block runs across it."""
        bps = self.breakpoints
        if linear in bps:
            return
        if len(bps) >= MAX_BREAKPOINTS:
            raise ValueError("at most %d breakpoints" % MAX_BREAKPOINTS)
        self.s.bp[len(bps)] = linear & 0xFFFFFFFF
        self.s.bp_count = len(bps) + 1
        self.flush_code_cache()

    def remove_breakpoint(self, linear):
        bps = [b for b in self.breakpoints if b != linear]
        for i, b in enumerate(bps):
            self.s.bp[i] = b
        self.s.bp_count = len(bps)
        self.flush_code_cache()

    def step(self):
        """Execute one guest instruction (or deliver one pending interrupt);
        returns what run() would."""
        self.s.debug_flags |= DEBUG_STEP
        lib.cpu_update_hflags(self.s)
        try:
            return self.run()
        finally:
            self.s.debug_flags &= ~DEBUG_STEP
            lib.cpu_update_hflags(self.s)

    def set_tracer(self, tracer, exec=False, cpu=False, interrupts=False, in_asm=False):
        """Send trace events to `tracer` (see jitemu.tools.trace): block
        executions, the registers before each, interrupts and exceptions,
        and the guest code of each new block.  With nothing asked for,
        tracing costs nothing on the fast path."""
        self.tracer = tracer
        self.s.trace_flags = (TRACE_EXEC if exec else 0) | (TRACE_CPU if cpu else 0) | \
            (TRACE_INT if interrupts else 0)
        self.translator.on_translate = tracer.translated if in_asm else None
        if in_asm:
            self.flush_code_cache()  # so every block is seen being made
            self.translator.forget()

    def set_irq_line(self, level):
        """Drive the CPU's INTR input (the interrupt controller does this)."""
        lib.cpu_set_irq(self.s, 1 if level else 0)

    def start(self, max_instructions=None):
        """Run the guest on its own vCPU thread (native code runs without
        the GIL); returns the thread.  The result lands in run_result."""
        def body():
            try:
                self.run_result = self.run(max_instructions)
            except BaseException as e:  # noqa: BLE001 - kept for the caller
                self.run_error = e
                self.run_result = "error"
            finally:
                self._vcpu_done.set()
        if self.vcpu_running:
            raise RuntimeError("the vCPU is already running")
        self._vcpu_thread = threading.Thread(target=body, name="vcpu", daemon=True)
        self._run_thread = self._vcpu_thread
        self._in_run = True  # before start(): a reset() right away must wait
        self._vcpu_done.clear()
        try:
            self._vcpu_thread.start()
        except BaseException:
            self._in_run = False
            self._vcpu_done.set()
            raise
        return self._vcpu_thread

    @property
    def vcpu_running(self):
        """The thread start() made is still inside run()."""
        return not self._vcpu_done.is_set()

    def wait_vcpu(self, timeout=None):
        """Wait up to `timeout` seconds (None: for ever) for the thread
        start() made to leave run(); True once it has (then it is joined)."""
        if not self._vcpu_done.wait(timeout):
            return False
        t = self._vcpu_thread
        if t is not None and t is not threading.current_thread():
            t.join()  # it has left run(): only the thread's own exit is left
        return True

    def halt_vcpu(self):
        """Stop the thread start() made and wait until it has left run().
        Nothing cuts the wait short (a long LLVM compile cannot be
        interrupted): a Ctrl-C meanwhile is raised once the vCPU is out."""
        if self.vcpu_running:
            self.stop()  # once: a stop left over would end the next run at once
        interrupted = None
        while True:
            try:
                self.wait_vcpu()
                break
            except KeyboardInterrupt as e:
                interrupted = e
        if interrupted is not None:
            raise interrupted

    def run(self, max_instructions=None):
        """Run the guest until it halts, a device or stop() asks it to
        leave, or `max_instructions` have run.  Returns 'halt', 'exit',
        'stop' or 'limit'."""
        with _running_lock:
            if _exiting:
                return "stop"  # the interpreter is exiting: nothing may start
            _running.add(self)
        self._run_thread = threading.current_thread()
        self._in_run = True
        try:
            return self._run(max_instructions)
        finally:
            self._in_run = False
            self._acked.set()  # a reset() waiting on a run that ended
            with _running_lock:
                _running.discard(self)
                _running_lock.notify_all()

    def _budget(self, limit):
        """Set the budget for one cpu_run towards the exact instruction
        count `limit`: native code checks it only at block entries (and a
        region at its backward edges), so far from it the budget stops
        short by what one region can run between checks; nearer, blocks run
        one per dispatch from first-tier code, and for the last block's
        length one instruction at a time.  Whatever the shape of the code
        cache, a timer fires and a run stops at the same instruction."""
        s = self.s
        gap = limit - s.icount
        if gap > _SLACK_REGION:
            s.icount_limit, mode = limit - _SLACK_REGION, 0
        elif gap > _SLACK_BLOCK:
            s.icount_limit, mode = limit - _SLACK_BLOCK, DEBUG_ALONE
        else:
            s.icount_limit, mode = limit, DEBUG_EXACT
        if s.debug_flags & (DEBUG_ALONE | DEBUG_EXACT) != mode:
            s.debug_flags = (s.debug_flags & ~(DEBUG_ALONE | DEBUG_EXACT)) | mode
            lib.cpu_update_hflags(s)

    def _unbudget(self):
        s = self.s
        if s.debug_flags & (DEBUG_ALONE | DEBUG_EXACT):
            s.debug_flags &= ~(DEBUG_ALONE | DEBUG_EXACT)
            lib.cpu_update_hflags(s)

    def _run(self, max_instructions):
        try:
            return self._run_loop(max_instructions)
        finally:
            self._unbudget()

    def _fire_events(self):
        import heapq
        ev = self._events
        while ev and ev[0][0] <= self.s.icount:
            heapq.heappop(ev)[2]()

    def _run_loop(self, max_instructions):
        s = self.s
        clock = self.clock
        user_limit = (s.icount + max_instructions) if max_instructions is not None else (1 << 64) - 1
        while True:
            if self._events:
                self._fire_events()
            due = clock.deadline_icount()
            limit = user_limit if due is None else min(user_limit, due)
            if self._events:
                limit = min(limit, self._events[0][0])
            self._budget(limit)
            r = lib.cpu_run(s)
            if self._error is not None:
                err, self._error = self._error, None
                raise GuestError("device handler failed: %r" % (err,)) from err
            if r == RUN_MISS:
                lib.code_enter()  # (no other vCPU reclaims the arena between making code and registering it)
                try:
                    self.translator.translate(s.miss_pc, s.miss_cs_base, s.miss_hflags)
                finally:
                    lib.code_leave()
                if lib.arena_over():
                    self._reclaim_code()
                continue
            if r == RUN_RECLAIM:
                self._reclaim_code()
                continue
            if r == RUN_STALE:
                self._forget_code()
                continue
            if r == RUN_DEBUG:
                s.bp_skip = s.seg_base[1] + s.eip  # the next run() runs past it
                return "breakpoint"
            if r == RUN_STEP:
                return "step"
            if r == RUN_HLT:
                if s.eflags & 0x200:
                    deadline = clock.next_deadline()
                    if self._inputs:
                        self._poll_inputs()
                        if not self._idle(deadline):
                            continue  # input, a stop, or (no timer) a second look
                    if deadline is not None:
                        clock.skip_to_next_deadline()  # wait for the timer
                        clock.run_due()
                        continue
                return "halt"
            if r == RUN_LIMIT:
                clock.run_due()
                if self._events and self._events[0][0] <= s.icount:
                    continue  # (fired first: the run may stop at the same instruction)
                if s.icount >= user_limit:
                    return "limit"
                continue
            if r == RUN_EXIT:
                req = s.exit_request
                if req & INTERNAL:
                    lib.cpu_clear_exit(s, req & INTERNAL)
                    if req & EXIT_INPUT:
                        self._poll_inputs()
                    if req & EXIT_WARM:
                        self.translator.warm()
                    lib.code_enter()
                    try:
                        if req & EXIT_INSTALL:
                            self.translator.install_ready()
                        if req & EXIT_HOT:
                            self.translator.translate_hot(s.hot_pc, s.hot_cs_base, s.hot_hflags)
                    finally:
                        lib.code_leave()
                    if not req & ~(INTERNAL | EXIT_SMC | EXIT_MAP):
                        # (EXIT_SYNC: first-tier code counts at every block's end; an
                        # EXIT_SMC or EXIT_MAP that came with these the dispatcher serves next)
                        continue
                lib.cpu_clear_exit(s, req & (EXIT_STOP | EXIT_IO))
                if req & EXIT_RESET:
                    self._acknowledge_reset()
                    if req & EXIT_STOP:
                        return "stop"
                    continue
                return "stop" if req & EXIT_STOP else "exit"
            return "shutdown"

    # -- memory -------------------------------------------------------
    def read_phys(self, addr, n):
        buf = ffi.new("uint8_t[]", n)
        lib.phys_read_bytes(self.s, addr, buf, n)
        return bytes(ffi.buffer(buf, n))

    def write_phys(self, addr, data):
        """Write guest memory as a device would: translated code made from
        the bytes written is invalidated."""
        lib.phys_write_bytes(self.s, addr, bytes(data), len(data))

    # -- statistics -----------------------------------------------------
    @property
    def icount(self):
        """Guest instructions run so far.  Read on another thread while the
        guest runs, the count is exact at an instruction boundary of about
        now: a hot loop compiled as one region counts in registers, so it
        is asked (EXIT_SYNC) to publish its count at its next backward
        edge, and the vCPU is given up to SYNC_WAIT seconds to do it (a
        compile in progress cannot; its count is exact already)."""
        s = self.s
        if self._in_run and threading.current_thread() is not self._run_thread:
            lib.cpu_request_exit(s, EXIT_SYNC)
            end = time.monotonic() + SYNC_WAIT
            while s.exit_request & EXIT_SYNC and self._in_run and time.monotonic() < end:
                time.sleep(0.0002)
        return s.icount

    def stats(self):
        out = ffi.new("uint64_t[4]")
        lib.rt_stats(self.s, out)
        t = self._translator
        in_c = lib.rt_baseline_blocks(self.s)  # made by the runtime's own block loop
        return {
            "instructions": self.icount,
            "block_executions": self.s.block_execs,
            "blocks_live": out[0],
            "blocks_invalidated": out[1],
            "smc_pages": out[2],
            "blocks_translated": (t.blocks_translated if t else 0) + in_c,
            "blocks_reused": t.blocks_reused if t else 0,
            "blocks_from_cache": t.blocks_cached if t else 0,
            "blocks_hot": t.blocks_hot if t else 0,
            "blocks_baseline": (t.baseline.blocks if t and t.baseline else 0) + in_c,
            "blocks_baseline_c": in_c,
            "stencils_made": t.baseline.library.compiled if t and t.baseline and t.baseline.made else 0,
            "compile_seconds": t.compile_seconds if t else 0.0,
            "exceptions": self.s.exc_count,
        }


@atexit.register
def _stop_all_at_exit():
    """The last guard: the interpreter exits only once no Machine runs
    guest or LLVM code on any thread (daemon vCPU threads included)."""
    global _exiting
    with _running_lock:
        _exiting = True
    while True:
        try:
            with _running_lock:
                if not _running:
                    return
                for m in _running:
                    m.stop()
                _running_lock.wait(0.5)
        except KeyboardInterrupt:
            pass  # keep waiting: exiting under it is what must not happen


def _guard(fn):
    def wrapper(host, *args):
        m = ffi.from_handle(host)
        try:
            return fn(m, *args)
        except BaseException as e:  # noqa: BLE001 - reported after cpu_run returns
            m._error = e
            lib.cpu_request_exit(m.s, EXIT_STOP)
            return 0
    return wrapper


_MASK = (0, 0xFF, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF)


# Port I/O is the hottest callback (tens of thousands in a SeaBIOS boot):
# one Python frame, the bus's tables read directly (ports.PortBus).
@ffi.def_extern()
def py_io_read(host, port, size):
    m = ffi.from_handle(host)
    try:
        h = m.ports._read.get(port)
        return _MASK[size] if h is None else h(port, size) & _MASK[size]
    except BaseException as e:  # noqa: BLE001 - reported after cpu_run returns
        m._error = e
        lib.cpu_request_exit(m.s, EXIT_STOP)
        return 0


@ffi.def_extern()
def py_io_write(host, port, value, size):
    m = ffi.from_handle(host)
    try:
        h = m.ports._write.get(port)
        if h is not None:
            h(port, value & _MASK[size], size)
    except BaseException as e:  # noqa: BLE001 - reported after cpu_run returns
        m._error = e
        lib.cpu_request_exit(m.s, EXIT_STOP)


@ffi.def_extern()
def py_mmio_read(host, handle, addr, size):
    return _mmio_read(host, handle, addr, size)


@ffi.def_extern()
def py_mmio_write(host, handle, addr, value, size):
    _mmio_write(host, handle, addr, value, size)


@ffi.def_extern()
def py_irq_ack(host):
    return _irq_ack(host)


@ffi.def_extern()
def py_trace(host, kind, a, b, c):
    _trace(host, kind, a, b, c)


@ffi.def_extern()
def py_log(host, kind, a, b):
    _log(host, kind, a, b)


@ffi.def_extern()
def py_sink_drain(host):
    _sink_drain(host)


_mmio_read = _guard(lambda m, h, addr, size: m._mmio[h][2](addr, size) & ((1 << (8 * size)) - 1))
_mmio_write = _guard(lambda m, h, addr, value, size: m._mmio[h][3](addr, value, size))
_sink_drain = _guard(lambda m: m.ports.drain())


def _log_impl(m, kind, a, b):
    if kind == 6:  # translated code raised #UD at linear a
        m.ud_log.append(a)
        if m._translator is not None:
            m._translator.executed_ud(a)
    elif kind == lib.LOG_FERR and m.on_ferr is not None:  # the FPU asserted FERR#
        m.on_ferr()
    elif kind == lib.LOG_APIC_BASE and m.on_apic_base is not None:  # WRMSR IA32_APIC_BASE
        m.on_apic_base(a | b << 32)


_log = _guard(_log_impl)


def _irq_ack_impl(m):
    pic = m.interrupt_controller
    return -1 if pic is None else pic.ack()


_irq_ack = _guard(_irq_ack_impl)


def _trace_impl(m, kind, a, b, c):
    t = m.tracer
    if t is None:
        return
    if kind == 1:
        t.executed(m, a, b, c)
    else:
        t.interrupt(m, a, None if b == 0xFFFFFFFF else b, c)


_trace = _guard(_trace_impl)
