"""Secret files created once and shared by every process on the data folder.

Several processes (web workers, the CLI, the runtime) may start at the same moment and each
find no secret yet. Creating the file with `O_EXCL` and then writing into it leaves a moment
in which the name exists and is empty: a second process that lost the race would read an
empty secret and use it. Here the secret is written and fsynced under a private temporary
name first, and only then linked to the final name (`link` fails if the name exists). Every
process then reads the one complete file that won.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def ensure_secret_file(path: Path, size_bytes: int = 32) -> Path:
    """Create `path` holding `size_bytes` random bytes as hex (mode 0600) unless it exists.

    Returns:
        The path, for chaining. Its content is complete whenever the name exists.
    """
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(size_bytes) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: its file stays
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_folder(path.parent)
    return path


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
