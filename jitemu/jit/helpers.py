"""The C helpers translated code calls, by symbol: name -> (ret, args).

Blocks reach helpers by name, never by a baked-in address, so object code
stays valid when the runtime library loads elsewhere (persistent cache).
"""

HELPERS = {
    "mem_read_slow": ("i32", ("ptr", "i32", "i32")),
    "mem_write_slow": ("void", ("ptr", "i32", "i32", "i32")),
    "mem_read_slow8": ("i64", ("ptr", "i32")),
    "mem_write_slow8": ("void", ("ptr", "i32", "i32", "i32")),
    "helper_in": ("i32", ("ptr", "i32", "i32")),
    "helper_out": ("void", ("ptr", "i32", "i32", "i32")),
    "helper_io_check": ("i32", ("ptr", "i32", "i32")),
    "helper_raise": ("void", ("ptr", "i32")),
    "helper_raise_err": ("void", ("ptr", "i32", "i32")),
    "helper_ltr": ("i32", ("ptr", "i32")),
    "helper_lldt": ("i32", ("ptr", "i32")),
    "helper_desc_query": ("i32", ("ptr", "i32", "i32")),
    "helper_int": ("void", ("ptr", "i32", "i32")),
    "helper_hlt": ("void", ("ptr",)),
    "helper_load_seg": ("i32", ("ptr", "i32", "i32")),
    "helper_ljmp": ("i32", ("ptr", "i32", "i32", "i32")),
    "helper_lcall": ("i32", ("ptr", "i32", "i32", "i32", "i32")),
    "helper_retf": ("i32", ("ptr", "i32", "i32")),
    "helper_iret": ("i32", ("ptr", "i32", "i32")),
    "helper_pusha": ("void", ("ptr", "i32")),
    "helper_popa": ("void", ("ptr", "i32")),
    "helper_enter": ("i32", ("ptr", "i32", "i32", "i32")),
    "helper_leave": ("void", ("ptr", "i32")),
    "helper_pushf": ("void", ("ptr", "i32")),
    "helper_popf": ("void", ("ptr", "i32")),
    "helper_sti": ("void", ("ptr",)),
    "helper_string": ("i32", ("ptr", "i32", "i32", "i32", "i32", "i32")),
    "helper_div": ("i32", ("ptr", "i32", "i32", "i32")),
    "helper_bcd": ("i32", ("ptr", "i32", "i32")),
    "helper_rotc": ("i32", ("ptr", "i32", "i32", "i32", "i32")),
    "helper_shd": ("i32", ("ptr", "i32", "i32", "i32", "i32", "i32")),
    "helper_cpuid": ("void", ("ptr",)),
    "helper_rdtsc": ("i32", ("ptr",)),
    "helper_rdpmc": ("i32", ("ptr",)),
    "helper_rdmsr": ("i32", ("ptr",)),
    "helper_wrmsr": ("i32", ("ptr",)),
    "helper_sysenter": ("i32", ("ptr",)),
    "helper_sysexit": ("i32", ("ptr",)),
    "helper_read_cr": ("i32", ("ptr", "i32")),
    "helper_write_cr": ("i32", ("ptr", "i32", "i32")),
    "helper_lgdt": ("void", ("ptr", "i32", "i32", "i32")),
    "helper_sgdt": ("void", ("ptr", "i32", "i32")),
    "helper_lmsw": ("void", ("ptr", "i32")),
    "helper_invlpg": ("void", ("ptr", "i32")),
    "helper_fpu": ("i32", ("ptr", "i32", "i32", "i32", "i32")),
    "helper_fwait": ("i32", ("ptr",)),
    "helper_fxsave": ("i32", ("ptr", "i32", "i32")),
}


# Not a helper to call: the jump-slot target that returns to the dispatcher
# (runtime/chain.c), bound by symbol like the helpers.
CHAIN_RETURN = "chain_return"


def llvm_declarations():
    for name, (ret, args) in HELPERS.items():
        yield "declare %s @%s(%s)" % (ret, name, ", ".join(args))
    yield "declare void @%s(ptr)" % CHAIN_RETURN


def addresses(ffi, lib):
    names = list(HELPERS) + [CHAIN_RETURN]
    return {name: int(ffi.cast("uintptr_t", ffi.addressof(lib, name))) for name in names}
