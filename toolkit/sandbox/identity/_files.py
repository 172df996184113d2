"""Private-file helpers shared by the certificate and signing-key stores.

Several sandbox processes may start at once against the same state directory (a test
run, a `serve` and an `approve`), so material is created under a lock file and written
atomically: a reader sees either no file or a complete one, never half a key.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

_LOCK_NAME = ".identity.lock"
_LOCK_WAIT_S = 15.0
# A lock file older than this is left over from a crashed process.
_STALE_LOCK_S = 60.0


def ensure_private_dir(directory: Path) -> None:
    """Create *directory* (and parents) readable by the owner only."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write *data* to *path* through a temporary file and a rename.

    The temporary file is created with *mode* from the start, so a private key is never
    readable by others, not even for an instant.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed os.open's mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive, cross-platform lock on *directory* (an O_EXCL lock file)."""
    lock = directory / _LOCK_NAME
    deadline = time.monotonic() + _LOCK_WAIT_S
    while True:
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            with contextlib.suppress(FileNotFoundError):
                if time.time() - lock.stat().st_mtime > _STALE_LOCK_S:
                    lock.unlink()
                    continue
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not lock {directory} (remove {lock} if stale)") from None
            time.sleep(0.05)
    try:
        os.close(fd)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
