"""Tables built once per installation and kept on disk, beside numba's compiled kernels.

Some tables (the fold of every character, ``normalize.fold_table``) take longer to build than the
whole first batch of a small job. Each is kept as a ``.npz`` file of plain arrays (read without
pickle) in the folder numba keeps the package's compiled kernels in (``kernels.cache_folder``:
beside the sources, or numba's own cache folder), named by the table and a key: a hash of
everything the table is built from (the caller's sources, Python's version and Unicode data, the
data files it reads). A file is trusted only when its arrays hash to the digest stored with them;
anything else (a missing, truncated, altered or unreadable file, another key) reads as absent,
and the caller builds the table again. Writing is best effort: a folder that cannot be written
leaves the table to be built in each process, as without the store.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup.kernels import cache_folder

_DIGEST = "digest"


def key_of(parts: Iterable[bytes]) -> str:
    """A short hash of ``parts``, each length-prefixed so that no two lists of parts collide."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def _digest(arrays: Mapping[str, npt.NDArray[np.generic]]) -> npt.NDArray[np.uint8]:
    h = hashlib.blake2b(digest_size=32)
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return np.frombuffer(h.digest(), dtype=np.uint8).copy()


def _path(name: str, key: str, folder: Path | None) -> Path | None:
    folder = folder if folder is not None else cache_folder()
    return None if folder is None else folder / f"{name}-{key}.npz"


def load(name: str, key: str, folder: Path | None = None) -> dict[str, npt.NDArray[np.generic]] | None:
    """The arrays stored for table ``name`` under ``key``, or None when there are none that can be
    trusted (see the module docstring)."""
    path = _path(name, key, folder)
    if path is None:
        return None
    try:
        # read whole first: numpy leaves the file open when it fails on a damaged one
        loaded = np.load(io.BytesIO(path.read_bytes()), allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            return None
        with loaded:
            arrays = {k: loaded[k] for k in loaded.files}
    except Exception:  # any unreadable file is a missing one: the table is built again
        return None
    digest = arrays.pop(_DIGEST, None)
    if digest is None or not np.array_equal(digest, _digest(arrays)):
        return None
    return arrays


def save(name: str, key: str, arrays: Mapping[str, npt.NDArray[np.generic]], folder: Path | None = None) -> None:
    """Store ``arrays`` for table ``name`` under ``key`` (written whole to a temporary file, then
    renamed, so that a reader never sees half a file), and remove the files of that table stored
    under other keys. Best effort: nothing is raised when the folder cannot be written."""
    path = _path(name, key, folder)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{name}-", suffix=".tmp", dir=path.parent)
        try:
            payload: dict[str, Any] = {**arrays, _DIGEST: _digest(arrays)}
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **payload)
            os.chmod(temporary, 0o644)  # readable by every user of an installation, as numba's files
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
        for old in path.parent.glob(f"{name}-*.npz"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        return
