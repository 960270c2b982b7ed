"""Format sniffing, extension rules and container walks, without decoding."""

from __future__ import annotations

import struct

import pytest

from busanchain.studio.errors import (
    PhotoCorrupt,
    PhotoExtensionMismatch,
    PhotoTrailingData,
    PhotoUnsupportedFormat,
)
from busanchain.studio.formats import PhotoFormat, check_extension, check_structure, sniff
from tests.studio import corpus


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (ftyp(b"heic", b"mif1", b"heic"), PhotoFormat.HEIF),
        (ftyp(b"mif1", b"mif1", b"heic"), PhotoFormat.HEIF),
        (ftyp(b"heix", b"mif1"), PhotoFormat.HEIF),
    ],
)
def test_heif_brands(header: bytes, expected: PhotoFormat) -> None:
    assert sniff(header + b"\x00" * 16) is expected


@pytest.mark.parametrize(
    "header",
    [ftyp(b"avif", b"mif1", b"avif"), ftyp(b"mif1", b"avif"), ftyp(b"isom", b"mp41")],
    ids=["avif", "avif-compatible", "mp4"],
)
def test_other_iso_bmff_files_are_unsupported(header: bytes) -> None:
    with pytest.raises(PhotoUnsupportedFormat):
        sniff(header + b"\x00" * 16)


@pytest.mark.parametrize(
    ("fmt", "filename"),
    [
        (PhotoFormat.JPEG, "a.jpg"),
        (PhotoFormat.JPEG, "A.JPEG"),
        (PhotoFormat.JPEG, "C:\\fakepath\\photo.Jpg"),
        (PhotoFormat.PNG, "x.png"),
        (PhotoFormat.WEBP, "x.WebP"),
        (PhotoFormat.HEIF, "IMG_0001.HEIC"),
        (PhotoFormat.HEIF, "a.heif"),
    ],
)
def test_matching_extensions(fmt: PhotoFormat, filename: str) -> None:
    check_extension(fmt, filename)


@pytest.mark.parametrize(
    ("fmt", "filename"),
    [
        (PhotoFormat.JPEG, "a.png"),
        (PhotoFormat.JPEG, "a"),
        (PhotoFormat.JPEG, "a.jpg.html"),
        (PhotoFormat.PNG, "a.jpg"),
        (PhotoFormat.HEIF, "a.jpg"),
        (PhotoFormat.WEBP, ".webp"),
    ],
)
def test_mismatched_extensions_explain_in_both_languages(fmt: PhotoFormat, filename: str) -> None:
    with pytest.raises(PhotoExtensionMismatch) as caught:
        check_extension(fmt, filename)
    error = caught.value
    assert error.status == 422
    assert fmt.value.upper() in error.message_en
    assert fmt.value.upper() in error.message_ko
    assert "확장자" in error.message_ko


def test_jpeg_walk_stops_at_the_first_eoi() -> None:
    data = corpus.jpeg(corpus.scene(64, 48))
    check_structure(PhotoFormat.JPEG, data)
    with pytest.raises(PhotoTrailingData) as caught:
        check_structure(PhotoFormat.JPEG, data + b"\x00")
    assert caught.value.details["trailing_bytes"] == 1
    with pytest.raises(PhotoCorrupt):
        check_structure(PhotoFormat.JPEG, data[:-2])  # no EOI


def test_progressive_jpeg_walks_through_every_scan() -> None:
    data = corpus.jpeg(corpus.scene(200, 150), progressive=True)
    assert data.count(b"\xff\xda") > 1
    check_structure(PhotoFormat.JPEG, data)
    with pytest.raises(PhotoTrailingData):
        check_structure(PhotoFormat.JPEG, data + corpus.HTML)


def test_png_walk_checks_crc_and_end() -> None:
    data = corpus.png(corpus.scene(64, 48))
    check_structure(PhotoFormat.PNG, data)
    with pytest.raises(PhotoCorrupt):
        check_structure(PhotoFormat.PNG, data[:-12])  # IEND missing
    with pytest.raises(PhotoTrailingData):
        check_structure(PhotoFormat.PNG, data + b"x")


def test_webp_riff_length_must_equal_file_length() -> None:
    data = corpus.webp(corpus.scene(64, 48))
    check_structure(PhotoFormat.WEBP, data)
    with pytest.raises(PhotoCorrupt):
        check_structure(PhotoFormat.WEBP, data[:-1])
    with pytest.raises(PhotoTrailingData):
        check_structure(PhotoFormat.WEBP, data + b"\x00\x00")


def test_heif_boxes_must_end_with_the_file() -> None:
    data = corpus.heic(corpus.scene(64, 48))
    check_structure(PhotoFormat.HEIF, data)
    with pytest.raises(PhotoCorrupt):
        check_structure(PhotoFormat.HEIF, data[:-1])
    with pytest.raises(PhotoTrailingData):
        check_structure(PhotoFormat.HEIF, data + corpus.HTML)
