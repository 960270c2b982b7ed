"""Test images made on the fly: ordinary photos with metadata, and a hostile corpus.

Nothing here is committed as a binary: every file is generated from code (seeded, so the
bytes are the same on every run).
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageCms, ImageDraw

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F
MAKER_NOTE = 0x927C
DATETIME_ORIGINAL = 0x9003
OFFSET_TIME_ORIGINAL = 0x9011

XMP_PACKET = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-'
    b'rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'dc:creator="Kim Secret"/></rdf:RDF></x:xmpmeta>'
)


def scene(width: int, height: int, seed: int = 1) -> Image.Image:
    """A photo-like RGB picture: a smooth background with seeded shapes."""
    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    tint = Image.new("RGB", (width, height), tuple(rng.randrange(40, 216) for _ in range(3)))
    image = Image.blend(base, tint, 0.5)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = min(width, x0 + rng.randrange(width // 8, width // 2))
        y1 = min(height, y0 + rng.randrange(height // 8, height // 2))
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    return image


def photo(width: int, height: int, seed: int = 1) -> Image.Image:
    """A scene with sensor-like noise, so it compresses about as badly as a real photo."""
    grain = random.Random(seed).randbytes(width * height)
    noise = Image.frombytes("L", (width, height), grain).convert("RGB")
    return Image.blend(scene(width, height, seed), noise, 0.12)


def exif_block(
    orientation: int | None = None,
    taken: str | None = "2026:05:01 14:30:00",
    offset: str | None = "+09:00",
) -> Image.Exif:
    """EXIF with camera make, a MakerNote, GPS position and (optionally) the capture date."""
    exif = Image.Exif()
    exif[MAKE] = "Canon"
    if orientation is not None:
        exif[ORIENTATION] = orientation
    sub = exif.get_ifd(EXIF_IFD)
    sub[MAKER_NOTE] = b"MAKERNOTE-SERIAL-123456"
    if taken is not None:
        sub[DATETIME_ORIGINAL] = taken
    if offset is not None:
        sub[OFFSET_TIME_ORIGINAL] = offset
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (35.0, 10.0, 12.5)
    gps[3] = "E"
    gps[4] = (129.0, 4.0, 30.0)
    return exif


def _insert_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """Insert an APPn/COM segment right after SOI."""
    return jpeg[:2] + struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload + jpeg[2:]


def jpeg(image: Image.Image, quality: int = 92, **save: object) -> bytes:
    """Encode as JPEG."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, **save)
    return out.getvalue()


def camera_jpeg(image: Image.Image, orientation: int | None = None, **exif: str | None) -> bytes:
    """A JPEG as a camera writes it: EXIF+GPS+MakerNote, XMP, IPTC, a comment, an ICC profile."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = jpeg(
        image,
        exif=exif_block(orientation, **exif).tobytes(),
        comment=b"studio secret comment",
        xmp=XMP_PACKET,
        icc_profile=srgb,
    )
    iptc = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0c\x1c\x02\x50\x00\x08Kim Park"
    return _insert_segment(data, 0xED, iptc)


def png(image: Image.Image, **save: object) -> bytes:
    """Encode as PNG."""
    out = io.BytesIO()
    image.save(out, "PNG", **save)
    return out.getvalue()


def webp(image: Image.Image, **save: object) -> bytes:
    """Encode as WebP."""
    out = io.BytesIO()
    image.save(out, "WEBP", quality=85, **save)
    return out.getvalue()


def heic(image: Image.Image, **save: object) -> bytes:
    """Encode as HEIC (pillow-heif's x265 encoder)."""
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    image.save(out, "HEIF", quality=70, **save)
    return out.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int = 30_000) -> bytes:
    """A 1-bit PNG of side x side pixels of one colour: ~100 KB that would decode to GBs."""
    row = b"\x00" * (1 + (side + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small valid JPEG whose frame header claims `width` x `height`."""
    data = bytearray(jpeg(scene(64, 48), quality=80))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def heic_claiming(width: int, height: int) -> bytes:
    """A small valid HEIC whose image spatial extents (`ispe`) claim `width` x `height`."""
    data = bytearray(heic(scene(128, 96)))
    at = data.find(b"ispe")
    while at >= 0:
        struct.pack_into(">II", data, at + 8, width, height)  # after version and flags
        at = data.find(b"ispe", at + 4)
    return bytes(data)


def gif(image: Image.Image) -> bytes:
    """Encode as GIF (not an accepted format)."""
    out = io.BytesIO()
    image.save(out, "GIF")
    return out.getvalue()


def zip_archive() -> bytes:
    """A small ZIP file with a script in it."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("run.sh", "#!/bin/sh\necho owned\n")
    return out.getvalue()


def animated_webp() -> bytes:
    """Two frames."""
    frames = [scene(64, 64, seed) for seed in (1, 2)]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=100)
    return out.getvalue()


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script></svg>"
)
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
HTML = b"<!doctype html><html><body><script>fetch('/api/keys')</script></body></html>"


@dataclass(frozen=True)
class HostileCase:
    """One file that must be refused, with the error code it must be refused with."""

    name: str
    filename: str
    data: bytes
    code: str


def hostile_corpus() -> list[HostileCase]:
    """Every hostile case the pipeline must refuse (with a clear code, without a crash)."""
    photo = scene(320, 240)
    good_jpeg = jpeg(photo)
    good_png = png(photo)
    good_webp = webp(photo)
    good_heic = heic(scene(128, 96))
    cases = [
        ("png bomb 30000x30000", "bomb.png", png_bomb(), "photo_too_many_pixels"),
        (
            "jpeg claiming 65000x65000",
            "huge.jpg",
            jpeg_claiming(65_000, 65_000),
            "photo_too_many_pixels",
        ),
        (
            "jpeg claiming 8000x7000",
            "big.jpg",
            jpeg_claiming(8_000, 7_000),
            "photo_too_many_pixels",
        ),
        (
            "heic claiming 60000x60000",
            "huge.heic",
            heic_claiming(60_000, 60_000),
            "photo_too_many_pixels",
        ),
        ("truncated jpeg", "cut.jpg", good_jpeg[: len(good_jpeg) // 2], "photo_corrupt"),
        ("truncated png", "cut.png", good_png[: len(good_png) // 2], "photo_corrupt"),
        ("truncated webp", "cut.webp", good_webp[: len(good_webp) // 2], "photo_corrupt"),
        ("truncated heic", "cut.heic", good_heic[: len(good_heic) // 2], "photo_corrupt"),
        ("jpeg + zip", "poly.jpg", good_jpeg + zip_archive(), "photo_trailing_data"),
        ("jpeg + html", "poly.jpg", good_jpeg + HTML, "photo_trailing_data"),
        (
            "png + trailing data",
            "poly.png",
            good_png + b"<?php system($_GET[1]); ?>",
            "photo_trailing_data",
        ),
        ("webp + trailing data", "poly.webp", good_webp + HTML, "photo_trailing_data"),
        ("heic + zip", "poly.heic", good_heic + zip_archive(), "photo_trailing_data"),
        ("gif renamed .jpg", "cat.jpg", gif(photo), "photo_unsupported_format"),
        ("svg renamed .png", "logo.png", SVG, "photo_unsupported_format"),
        ("pdf renamed .jpg", "scan.jpg", PDF, "photo_unsupported_format"),
        ("html renamed .jpg", "page.jpg", HTML, "photo_unsupported_format"),
        ("empty file", "empty.jpg", b"", "photo_empty"),
        ("random bytes", "noise.jpg", random.Random(7).randbytes(4096), "photo_unsupported_format"),
        ("png named .jpg", "photo.jpg", good_png, "photo_extension_mismatch"),
        ("jpeg named .png", "photo.png", good_jpeg, "photo_extension_mismatch"),
        ("jpeg without extension", "photo", good_jpeg, "photo_extension_mismatch"),
        ("jpeg named .jpg.exe", "photo.jpg.exe", good_jpeg, "photo_extension_mismatch"),
        ("animated webp", "anim.webp", animated_webp(), "photo_animated"),
        ("png with a bad crc", "crc.png", _flip_byte(good_png, 40), "photo_corrupt"),
        ("png with a short pixel stream", "short.png", png_short_idat(photo), "photo_corrupt"),
        (
            "webp with a noise payload",
            "noise.webp",
            scrambled_payload(good_webp, 20),
            "photo_corrupt",
        ),
        ("heic with a noise payload", "noise.heic", _scramble_mdat(good_heic), "photo_corrupt"),
    ]
    return [HostileCase(name, filename, data, code) for name, filename, data, code in cases]


def png_short_idat(image: Image.Image) -> bytes:
    """A PNG whose chunks (and CRCs) are intact but whose pixel stream ends early."""
    width, height = image.size
    raw = b"".join(
        b"\x00" + image.tobytes()[y * width * 3 : (y + 1) * width * 3] for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    packed = zlib.compress(raw)
    body = packed[: len(packed) // 2]
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def scrambled_payload(data: bytes, start: int) -> bytes:
    """Same length and container, payload from `start` on replaced by seeded noise."""
    return data[:start] + random.Random(3).randbytes(len(data) - start)


def _scramble_mdat(data: bytes) -> bytes:
    """A HEIC whose boxes are intact but whose coded image (in `mdat`) is noise."""
    start = data.find(b"mdat") + 4
    return scrambled_payload(data, start)


def _flip_byte(data: bytes, index: int) -> bytes:
    return data[:index] + bytes((data[index] ^ 0xFF,)) + data[index + 1 :]
