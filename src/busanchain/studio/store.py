"""The content store: immutable blobs on disk under <data_dir>/content/<cid>.

A blob is written to a temporary file, fsynced, renamed into place and its folder fsynced,
so a crash leaves either the whole blob or nothing. The name is the kubo-compatible CIDv1 of
the bytes (`studio/cid.py`), so writing the same bytes twice is a no-op, and a file written
whose database row never committed is harmless: the gateway serves only recorded CIDs.
Who may read a blob is decided by its database row (see `StudioService.content_for`).
"""

from __future__ import annotations

import io
import os
import re
import secrets
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw

from busanchain.studio.cid import cid_of_bytes

CID_RE = re.compile(r"^b[a-z2-7]{20,98}$")  # CIDv1, base32 lower case (kubo's default)
PLACEHOLDER_SIDE = 320


class ContentStore:
    """Content-addressed files in one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def under(cls, data_dir: Path) -> ContentStore:
        """The store of a platform's data folder."""
        return cls(data_dir / "content")

    def path_of(self, cid: str) -> Path:
        """Where a CID's bytes live; ValueError for anything that is not a CIDv1 text."""
        if not CID_RE.match(cid):
            raise ValueError("not a CIDv1")
        return self.root / cid

    def put(self, data: bytes) -> str:
        """Store bytes (atomically, durably) and return their CID."""
        cid = cid_of_bytes(data)
        target = self.path_of(cid)
        if target.is_file() and target.stat().st_size == len(data):
            return cid
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{cid}.{secrets.token_hex(4)}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _fsync_dir(self.root)
        return cid

    def get(self, cid: str) -> bytes | None:
        """The bytes of a CID, or None if the store does not hold it."""
        try:
            return self.path_of(cid).read_bytes()
        except (ValueError, FileNotFoundError):
            return None


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@cache
def placeholder_png() -> bytes:
    """The public placeholder shown for a private photo: a grey card with a padlock shape."""
    side = PLACEHOLDER_SIDE
    image = Image.new("RGB", (side, side), (214, 218, 224))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((110, 150, 210, 240), radius=12, fill=(120, 128, 140))
    draw.arc((125, 95, 195, 185), start=180, end=360, fill=(120, 128, 140), width=14)
    draw.ellipse((150, 180, 170, 200), fill=(214, 218, 224))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False, compress_level=9)
    return out.getvalue()
