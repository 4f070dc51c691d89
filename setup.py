# The native runtime is built by cffi at install time, then the baseline
# tier's stencil library (jitemu/jit/forms.py) from it and the lifters;
# everything else is in pyproject.toml.
import os
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildExtAndStencils(build_ext):
    def run(self):
        super().run()
        out = os.path.join(HERE if self.inplace else self.build_lib, "jitemu", "jit", "stencils.lib")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        subprocess.check_call([sys.executable, "-m", "jitemu.jit.forms", "build", "--out", out], cwd=HERE)


setup(cffi_modules=["runtime/build.py:ffibuilder"], cmdclass={"build_ext": BuildExtAndStencils})
