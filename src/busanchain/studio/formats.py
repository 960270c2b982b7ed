"""Which of the four accepted formats an upload is, checked from its bytes, not its name.

Before any decoder sees the file, its container is walked without decoding pixels:

- JPEG: markers from SOI to the first EOI, including the entropy-coded scans;
- PNG: every chunk from IHDR to IEND, each CRC checked;
- WebP: the RIFF length against the file length;
- HEIC/HEIF: the `ftyp` brands, then the top-level ISO-BMFF boxes to the end of the file.

A file that ends early is `PhotoCorrupt`. Bytes after the image's end (JPEG+ZIP, JPEG+HTML,
PNG+anything: polyglots) are `PhotoTrailingData`, with one exception: a JPEG that declares a
Multi-Picture Format index (APP2 `MPF`) may carry further complete JPEG images after its EOI
(and nothing else), as many cameras store a preview or depth map there. The stored file is
always a fresh re-encode, so nothing after EOI is ever kept; the refusal is defence in depth
and an honest answer.
"""

from __future__ import annotations

import struct
import zlib
from enum import StrEnum
from pathlib import PurePosixPath

from busanchain.studio.errors import (
    PhotoCorrupt,
    PhotoExtensionMismatch,
    PhotoTrailingData,
    PhotoUnsupportedFormat,
)


class PhotoFormat(StrEnum):
    """An accepted upload format."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    HEIF = "heif"


EXTENSIONS: dict[PhotoFormat, frozenset[str]] = {
    PhotoFormat.JPEG: frozenset({".jpg", ".jpeg", ".jpe", ".jfif"}),
    PhotoFormat.PNG: frozenset({".png"}),
    PhotoFormat.WEBP: frozenset({".webp"}),
    PhotoFormat.HEIF: frozenset({".heic", ".heif", ".hif"}),
}

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HEVC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
GENERIC_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
AVIF_BRANDS = frozenset({b"avif", b"avis"})
BMFF_TOP_LEVEL = frozenset(
    {b"ftyp", b"meta", b"mdat", b"moov", b"free", b"skip", b"uuid", b"pdin", b"idat", b"jumb"}
)

_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_JPEG_EOI = 0xD9
_JPEG_SOS = 0xDA


def sniff(data: bytes) -> PhotoFormat:
    """The format from the magic bytes; anything else is `PhotoUnsupportedFormat`."""
    if data[:3] == b"\xff\xd8\xff":
        return PhotoFormat.JPEG
    if data[:8] == PNG_SIGNATURE:
        return PhotoFormat.PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return PhotoFormat.WEBP
    if data[4:8] == b"ftyp" and _is_heif(data):
        return PhotoFormat.HEIF
    raise PhotoUnsupportedFormat()


def _ftyp_brands(data: bytes) -> set[bytes]:
    """The major and compatible brands of the leading `ftyp` box."""
    size = struct.unpack(">I", data[:4])[0]
    if size < 16 or size > len(data):
        raise PhotoCorrupt()
    brands = {data[8:12]}
    brands.update(data[i : i + 4] for i in range(16, size - 3, 4))
    return brands


def _is_heif(data: bytes) -> bool:
    brands = _ftyp_brands(data)
    if brands & AVIF_BRANDS:
        return False
    return bool(brands & (HEVC_BRANDS | GENERIC_HEIF_BRANDS))


def check_extension(fmt: PhotoFormat, filename: str) -> None:
    """The name's extension (any case) must be one of the format's."""
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    if suffix not in EXTENSIONS[fmt]:
        expected = ", ".join(sorted(EXTENSIONS[fmt]))
        raise PhotoExtensionMismatch(
            f"The file extension '{suffix or '(none)'}' does not match its content"
            f" ({fmt.value.upper()}; expected {expected}).",
            f"파일 확장자 '{suffix or '(없음)'}'이(가) 실제 형식({fmt.value.upper()})과"
            f" 다릅니다. 사용할 수 있는 확장자: {expected}",
            detected=fmt.value,
            extension=suffix,
        )


def check_structure(fmt: PhotoFormat, data: bytes) -> None:
    """Walk the container: `PhotoCorrupt` if it ends early, `PhotoTrailingData` if it goes on."""
    checks = {
        PhotoFormat.JPEG: _check_jpeg,
        PhotoFormat.PNG: _check_png,
        PhotoFormat.WEBP: _check_webp,
        PhotoFormat.HEIF: _check_heif,
    }
    checks[fmt](data)


def _trailing(fmt: PhotoFormat, extra: int) -> PhotoTrailingData:
    return PhotoTrailingData(format=fmt.value, trailing_bytes=extra)


def _jpeg_scan_end(data: bytes, pos: int) -> int:
    """The offset of the first real marker after entropy-coded data starting at `pos`."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            raise PhotoCorrupt()
        follower = data[pos + 1]
        if follower == 0x00 or 0xD0 <= follower <= 0xD7 or follower == 0xFF:
            pos += 1 if follower == 0xFF else 2
            continue
        return pos


def _jpeg_end(data: bytes, start: int = 0) -> tuple[int, bool]:
    """(offset just after the EOI of the JPEG at `start`, whether it has an MPF index)."""
    pos, mpf, n = start + 2, False, len(data)
    while True:
        if pos + 1 >= n or data[pos] != 0xFF:
            raise PhotoCorrupt()
        while pos + 1 < n and data[pos + 1] == 0xFF:  # fill bytes
            pos += 1
        marker = data[pos + 1] if pos + 1 < n else -1
        pos += 2
        if marker == _JPEG_EOI:
            return pos, mpf
        if marker in _JPEG_STANDALONE:
            continue
        if pos + 2 > n:
            raise PhotoCorrupt()
        length = struct.unpack(">H", data[pos : pos + 2])[0]
        if length < 2 or pos + length > n:
            raise PhotoCorrupt()
        mpf = mpf or (marker == 0xE2 and data[pos + 2 : pos + 6] == b"MPF\0")
        pos += length
        if marker == _JPEG_SOS:
            pos = _jpeg_scan_end(data, pos)


def _check_jpeg(data: bytes) -> None:
    """Markers to the first EOI; after it only MPF's further JPEGs may follow."""
    end, mpf = _jpeg_end(data)
    while mpf and data[end : end + 3] == b"\xff\xd8\xff":  # MPF: only whole JPEGs may follow
        end = _jpeg_end(data, end)[0]
    if end != len(data):
        raise _trailing(PhotoFormat.JPEG, len(data) - end)


def _check_png(data: bytes) -> None:
    """Chunks from IHDR to IEND with valid CRCs, and nothing after IEND."""
    pos, n, first = 8, len(data), True
    while True:
        if pos + 12 > n:
            raise PhotoCorrupt()
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > n or (first and kind != b"IHDR"):
            raise PhotoCorrupt()
        crc = struct.unpack(">I", data[end - 4 : end])[0]
        if zlib.crc32(data[pos + 4 : end - 4]) != crc:
            raise PhotoCorrupt()
        pos, first = end, False
        if kind == b"IEND":
            break
    if pos != n:
        raise _trailing(PhotoFormat.PNG, n - pos)


def _check_webp(data: bytes) -> None:
    """The RIFF length covers exactly the file."""
    if len(data) < 20:
        raise PhotoCorrupt()
    end = 8 + struct.unpack("<I", data[4:8])[0]
    if end > len(data):
        raise PhotoCorrupt()
    if end != len(data):
        raise _trailing(PhotoFormat.WEBP, len(data) - end)


def _check_heif(data: bytes) -> None:
    """Known top-level ISO-BMFF boxes that end exactly at the end of the file."""
    pos, n = 0, len(data)
    while pos < n:
        if pos + 8 > n:
            raise _trailing(PhotoFormat.HEIF, n - pos)
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind not in BMFF_TOP_LEVEL:
            raise _trailing(PhotoFormat.HEIF, n - pos)
        if size == 1:
            if pos + 16 > n:
                raise PhotoCorrupt()
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        elif size == 0:
            size = n - pos
        if size < 8 or pos + size > n:
            raise PhotoCorrupt()
        pos += size
