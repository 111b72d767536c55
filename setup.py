"""The package build, with one step added: the numba kernels are compiled into the built package.

numba keeps a compiled kernel in ``__pycache__`` beside its source, keyed by a hash of the source
and by the machine, so a cache written into the build travels with the wheel into site-packages,
and an installed package's first run loads the kernels instead of compiling them. Everything else
is configured in pyproject.toml. When the kernels cannot be compiled here (no numba, another
machine's wheel, any failure), the build goes on and they compile on first use, as without it.
"""

from __future__ import annotations

import os
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

# ``dedup/__init__`` imports the whole library and its dependencies, which the build environment
# does not have: the kernels are imported under a bare package instead.
_COMPILE = """
import importlib, sys, types
package = types.ModuleType("dedup")
package.__path__ = [sys.argv[1]]
sys.modules["dedup"] = package
count = importlib.import_module("dedup.kernels").compile_all()
print(f"dedup: {count} kernels compiled into numba's cache in {sys.argv[1]}")
"""


class BuildPyWithKernels(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False) or self.dry_run:
            return  # an editable install runs the sources in place: they compile there on first use
        folder = os.path.abspath(os.path.join(self.build_lib, "dedup"))
        # numba writes beside the sources only when no cache folder of its own is set
        env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT")}
        try:
            subprocess.run([sys.executable, "-c", _COMPILE, folder], env=env, check=True, timeout=1800)
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"dedup: kernels not compiled ahead ({exc}); they compile on first use", file=sys.stderr)


setup(cmdclass={"build_py": BuildPyWithKernels})
