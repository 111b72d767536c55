"""Run test code in a child process whose numba kernels check every array index.

numba checks indexes when ``NUMBA_BOUNDSCHECK=1``, but its on-disk cache does not key builds by
that setting: a child that finds the ordinary (unchecked) build of a kernel in the cache runs it
without a word. So the child gets a cache directory of its own, which only ever holds checked
builds and is kept between runs (compiling every kernel with checks takes tens of seconds). The
child first makes sure the checks are on: an out-of-bounds write in a fresh kernel must raise.

A child that crashes, or raises (an ``IndexError`` from a check, a failed assertion, a hypothesis
falsifying example), fails the calling test with the child's output.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"
CACHE = Path(tempfile.gettempdir()) / f"dedup-numba-boundscheck-{os.getuid()}"

_PRELUDE = """
import numba, numpy as np
if not numba.config.BOUNDSCHECK:
    raise SystemExit("NUMBA_BOUNDSCHECK is not in effect in the child")

@numba.njit
def _canary(a):
    a[a.shape[0]] = 1.0

try:
    _canary(np.zeros(2))
except IndexError:
    pass
else:
    raise SystemExit("an out-of-bounds write did not raise: the kernels are not bounds-checked")
"""


def run_checked(module: str, function: str, *, timeout: float = 300) -> None:
    """Call ``module.function()`` (a module of ``tests/``) in a bounds-checked child; fail the
    test with the child's output if it does not exit cleanly."""
    env = {
        **os.environ,
        "NUMBA_BOUNDSCHECK": "1",
        "NUMBA_CACHE_DIR": str(CACHE),
        "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)]),
    }
    code = f"{_PRELUDE}\nimport {module}\n{module}.{function}()\n"
    child = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        env=env,
        cwd=TESTS,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if child.returncode != 0:
        raise AssertionError(
            f"the bounds-checked child {module}.{function} exited with {child.returncode}\n"
            f"--- stdout ---\n{child.stdout[-4000:]}\n--- stderr ---\n{child.stderr[-8000:]}"
        )
