"""Atomic, durable snapshot files for the supervised node's state."""

from __future__ import annotations

import gzip
import os
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves either the old or the new file.

    Writes a temporary file in the same folder, fsyncs it, renames it over the target
    and fsyncs the folder so that the rename itself is durable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def dump_hex_to_gzip(dump_hex: str) -> bytes:
    """anvil_dumpState returns gzipped JSON as 0x-hex; return the gzip bytes."""
    body = dump_hex[2:] if dump_hex.startswith("0x") else dump_hex
    data = bytes.fromhex(body)
    gzip.decompress(data)  # validate before we replace a good snapshot with a bad one
    return data


def unpack_snapshot(snapshot: Path, target: Path) -> Path:
    """Decompress a gzip snapshot into the JSON file that `anvil --load-state` reads."""
    atomic_write(target, gzip.decompress(snapshot.read_bytes()))
    return target
