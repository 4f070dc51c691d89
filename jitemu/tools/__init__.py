"""Debugging and display tools over a jitemu Machine, used by `jitemu run`
and `jitemu boot`:

    control   Controller: who runs the vCPU (main loop, monitor, gdb)
    gdbstub   GDB remote-serial-protocol stub (--gdb tcp::PORT, --wait-gdb)
    monitor   QEMU-like monitor (--monitor stdio|tcp::PORT); Monitor(machine).execute(cmd)
    trace     trace to a file like QEMU's -d in_asm,exec,cpu,int -D FILE
    screen    the VGA text screen on the terminal (--screen) and as a PNG (--screenshot)
    progress  a progress line on standard error for long runs
    guest     linear memory, register dumps and disassembly for the above
    font      the 8x16 font of screenshots

Nothing here is imported unless one of these is asked for.
"""
