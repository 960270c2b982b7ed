"""The one piece of camera metadata the studio keeps: when the photo was taken.

It is read from EXIF `DateTimeOriginal` (with `OffsetTimeOriginal` when the camera wrote
one) and returned to the caller as data; the stored image carries no metadata at all.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from PIL import Image

EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 0x9003
OFFSET_TIME_ORIGINAL = 0x9011

_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def _parse_offset(text: object) -> timezone | None:
    match = _OFFSET.match(str(text).strip()) if text else None
    if match is None:
        return None
    sign = -1 if match.group(1) == "-" else 1
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    if minutes > 14 * 60:
        return None
    return timezone(sign * timedelta(minutes=minutes))


def _parse_datetime(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text.strip().rstrip("\0"), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def capture_time(image: Image.Image) -> datetime | None:
    """`DateTimeOriginal` (aware when an offset is recorded), or None if absent or invalid."""
    try:
        exif = image.getexif()
        sub = exif.get_ifd(EXIF_IFD)
    except Exception:  # a malformed EXIF block loses the date, never the photo
        return None
    taken = _parse_datetime(sub.get(DATETIME_ORIGINAL))
    if taken is None:
        return None
    offset = _parse_offset(sub.get(OFFSET_TIME_ORIGINAL))
    return taken.replace(tzinfo=offset) if offset is not None else taken
