"""Small file-system helpers: atomic writes and checksums."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary file lives in the same folder (same file system), so the final
    :func:`os.replace` is atomic: readers see either the old file or the complete
    new one, never a partial write. On an exception the temporary file is removed.

    Parameters
    ----------
    path : path-like
        Final destination.

    Yields
    ------
    pathlib.Path
        Where to write. Named ``<name>.<pid>.tmp``.
    """
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def check_output_folder(
    out: str | os.PathLike, overwrite: bool, what: str = "output folder", replaced: str = "files"
) -> None:
    """Refuse an output folder that exists and is not empty, unless ``overwrite``.

    Parameters
    ----------
    out : path-like
        The folder a command is about to write into.
    overwrite : bool
        The caller's ``--overwrite`` (``overwrite=True``): replace ``replaced`` in it.
    what, replaced : str
        Words for the message: what the folder is, and what ``overwrite`` replaces.

    Raises
    ------
    FileExistsError
        ``out`` is a file, or a non-empty folder without ``overwrite``.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{what} {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{what} {out} exists and is not empty: choose another --out, or pass "
            f"--overwrite (overwrite=True) to replace {replaced} in it (other files are kept)"
        )


def write_json_atomic(path: str | os.PathLike, payload: Any) -> Path:
    """Write ``payload`` as indented, key-sorted JSON, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return path


def sha256_file(path: str | os.PathLike, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 digest of a file, read in chunks of ``chunk_bytes``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()
