"""Safe file writes and single-writer folders: the one place that writes files other runs may read.

``write_bytes_atomic`` / ``write_text_atomic`` / ``write_json_atomic`` write a temporary file unique to this writer
in the target's folder, fsync it, rename it over the target and fsync the folder, so a reader or a kill never sees
half a file and concurrent writers never share a temporary. ``write_json_atomic`` refuses NaN and infinity (they
are not JSON). ``FolderLock`` is an advisory ``flock`` held for the life of a run, so a second run on the same
output folder is told at once who holds it. ``file_sha256`` is the hash every record of a file's content uses.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from vjepa_bench.errors import UsageError

LOCK_NAME = ".lock"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None], mode: int = 0o644) -> Path:
    """Call ``write(file)`` on a fresh temporary beside ``path``, fsync, rename over ``path``; clean up on failure."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode & ~_umask())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(out.parent)
    return out


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``."""
    return write_atomic(path, lambda f: f.write(data))


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically replace ``path`` with UTF-8 ``text``."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def dumps_json(value: Any) -> str:
    """Canonical, strictly valid JSON (sorted keys, indent 2); NaN or infinity anywhere is an error naming its key."""
    _check_finite(value, "$")
    return json.dumps(value, indent=2, sort_keys=True, allow_nan=False) + "\n"


def _check_finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is {value}: JSON holds finite numbers only")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_finite(item, f"{where}[{i}]")


def write_json_atomic(path: str | os.PathLike[str], value: Any) -> Path:
    """Atomically replace ``path`` with ``value`` as strict JSON (see ``dumps_json``)."""
    return write_text_atomic(path, dumps_json(value))


class FolderLock:
    """Advisory exclusive lock on ``<folder>/.lock`` for one writer; a second writer gets a one-line UsageError.

    Use as a context manager; the lock file records who holds it (host, pid, what) for that message. The lock is
    released when the process exits, however it exits, so a killed run never blocks its resume.
    """

    def __init__(self, folder: str | os.PathLike[str], what: str):
        self.folder = Path(folder)
        self.what = what
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise UsageError(f"cannot write to {self.folder}: {e.strerror}; choose a writable output folder") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise UsageError(f"{self.folder} is in use by {holder}; wait for it to finish or choose another "
                             "output folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{self.what} (pid {os.getpid()} on {socket.gethostname()})\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
