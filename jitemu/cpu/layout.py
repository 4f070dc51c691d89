"""The CPU state struct, described once.

This table is the single source of the C struct that cffi compiles into the
runtime (`c_struct()`), the LLVM type the JIT uses (`llvm_struct()`), and the
field indices the lifter addresses with GEP (`FIELD_INDEX`).  It must not
import anything from the package: the runtime build script loads it by path
before the package exists as an installed module.
"""

# (name, C scalar type, array length or 0).  Order is the layout.
FIELDS = [
    # General registers in encoding order: EAX ECX EDX EBX ESP EBP ESI EDI.
    ("regs", "uint32_t", 8),
    ("eip", "uint32_t", 0),
    ("eflags", "uint32_t", 0),
    # Segment registers in encoding order ES CS SS DS FS GS, each with the
    # hidden descriptor cache (base, limit, access-rights word as in the
    # descriptor's bytes 5-6 shifted to bits 8-23, like QEMU's "flags").
    ("seg_sel", "uint32_t", 6),
    ("seg_base", "uint32_t", 6),
    ("seg_limit", "uint32_t", 6),
    ("seg_flags", "uint32_t", 6),
    ("cr", "uint32_t", 5),
    ("dr", "uint32_t", 8),
    ("gdt_base", "uint32_t", 0),
    ("gdt_limit", "uint32_t", 0),
    ("idt_base", "uint32_t", 0),
    ("idt_limit", "uint32_t", 0),
    ("ldt_sel", "uint32_t", 0),
    ("ldt_base", "uint32_t", 0),
    ("ldt_limit", "uint32_t", 0),
    ("tr_sel", "uint32_t", 0),
    ("tr_base", "uint32_t", 0),
    ("tr_limit", "uint32_t", 0),
    # Mode bits that change what a translated block means (see runtime/cpu.h
    # HF_*): part of every code-cache key.
    ("hflags", "uint32_t", 0),
    # Set by any thread or helper to make translated code return at the next
    # instruction boundary (EXIT_* bits).  Read in every block prologue.
    ("exit_request", "uint32_t", 0),
    ("halted", "uint32_t", 0),
    # The INTR line from the interrupt controller (1 = asserted).  The vector
    # is asked for (py_irq_ack, the INTA cycle) only when it is delivered.
    ("irq_line", "int32_t", 0),
    ("a20_mask", "uint32_t", 0),
    # Last exception raised by translated code (for logging and tests).
    ("last_exception", "int32_t", 0),
    ("exc_error_code", "uint32_t", 0),
    ("exc_count", "uint32_t", 0),
    ("ud_eip", "uint32_t", 0),
    # The software TLB the memory fast path reads: host pointer of each
    # *linear* page, or NULL (slow path: translate, fill, MMIO, faults).
    # 1M entries each, covering 4 GiB; filled lazily by runtime/tlb.c.
    ("rd_page", "uint8_t **", 0),
    ("wr_page", "uint8_t **", 0),
    # A memory access in translated code faulted (#PF): the block leaves
    # with EIP on the instruction and the dispatcher delivers it.
    ("fault_pending", "uint32_t", 0),
    ("fault_error", "uint32_t", 0),
    # Guest-instruction and block-execution counters, and a budget.
    # icount counts instructions and exceptions taken: each takes one unit
    # of guest time, so a guest stuck in a fault loop (a handler that
    # faults at once) still reaches its instruction budget and sees time
    # pass, as a CPU would.
    ("icount", "uint64_t", 0),
    ("icount_limit", "uint64_t", 0),
    ("block_execs", "uint64_t", 0),
    ("tsc_offset", "uint64_t", 0),
    # Physical range of the block being executed, so a write into it can
    # end it (self-modifying code).
    ("cur_phys_lo", "uint32_t", 0),
    ("cur_phys_hi", "uint32_t", 0),
    # Block chaining: the jump slot of the exit the last block left by
    # (NULL for an exit that must return to the dispatcher) and that block's
    # mode bits; the dispatcher points the slot at the next block.
    ("last_slot", "uint8_t **", 0),
    ("last_hflags", "uint32_t", 0),
    # Tiering: a first-tier block that has run HOT_THRESHOLD times names
    # itself here and raises EXIT_HOT; it is recompiled optimised.
    ("hot_pc", "uint32_t", 0),
    ("hot_cs_base", "uint32_t", 0),
    ("hot_hflags", "uint32_t", 0),
    # A region left by a side exit (an access its fast path cannot serve):
    # the dispatcher runs the next block from first-tier code (HF_NOREGION
    # in the key), so the instruction makes progress through the slow path.
    ("side_exit", "uint32_t", 0),
    # The key of the block the dispatcher could not find.
    ("miss_pc", "uint32_t", 0),
    ("miss_cs_base", "uint32_t", 0),
    ("miss_hflags", "uint32_t", 0),
    # Debugging: execution breakpoints (linear addresses) the dispatcher
    # stops at before running a block there, one address to run past when
    # resuming, single-step (bit 0 of debug_flags), and trace categories.
    ("bp", "uint32_t", 16),
    ("bp_count", "uint32_t", 0),
    ("bp_skip", "uint32_t", 0),
    ("debug_flags", "uint32_t", 0),
    ("trace_flags", "uint32_t", 0),
    # The x87 FPU (runtime/fpu.c): physical registers R0-R7 as a 64-bit
    # significand and a 16-bit sign/exponent; TOP; the control word; the
    # status word without TOP; the tag word (2 bits per physical register,
    # 11 = empty); the last instruction's pointer (offset and CS), opcode
    # (11 bits) and data pointer (offset and segment selector) for
    # FSTENV/FSAVE; FERR# (an unmasked exception signalled, for IRQ13).
    ("fpr_sig", "uint64_t", 8),
    ("fpr_se", "uint16_t", 8),
    ("fpu_top", "uint32_t", 0),
    ("fpu_cw", "uint32_t", 0),
    ("fpu_sw", "uint32_t", 0),
    ("fpu_tag", "uint32_t", 0),
    ("fpu_fip", "uint32_t", 0),
    ("fpu_fcs", "uint32_t", 0),
    ("fpu_fop", "uint32_t", 0),
    ("fpu_fdp", "uint32_t", 0),
    ("fpu_fds", "uint32_t", 0),
    ("fpu_ferr", "uint32_t", 0),
    # PAE paging: the four page-directory-pointer-table entries, loaded from
    # CR3 by MOV to CR3 (and to CR0/CR4 that turn PAE paging on), as the
    # CPU keeps them (runtime/tlb.c).  Last: earlier fields keep their
    # offsets in object code the persistent cache holds.
    ("pdpte", "uint64_t", 4),
]

_LLVM = {
    "uint8_t": "i8", "uint16_t": "i16", "uint32_t": "i32", "int32_t": "i32",
    "uint64_t": "i64", "uint8_t **": "ptr",
}

FIELD_INDEX = {name: i for i, (name, _, _) in enumerate(FIELDS)}


def c_struct(name="CPUState"):
    lines = ["typedef struct %s {" % name]
    for fname, ctype, count in FIELDS:
        sep = "" if ctype.endswith("*") else " "
        lines.append("    %s%s%s%s;" % (ctype, sep, fname, "[%d]" % count if count else ""))
    lines.append("} %s;" % name)
    return "\n".join(lines)


def llvm_struct(name="%State"):
    parts = []
    for _, ctype, count in FIELDS:
        t = _LLVM[ctype]
        parts.append("[%d x %s]" % (count, t) if count else t)
    return "%s = type { %s }" % (name, ", ".join(parts))

