"""jitemu: a PC (x86) emulator whose CPU is an LLVM JIT."""

# The one place the version is written: pyproject.toml reads it (setuptools'
# dynamic version), and `jitemu --version` prints it without importlib.metadata.
__version__ = "0.1.0"
