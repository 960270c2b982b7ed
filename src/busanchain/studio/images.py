"""The photo upload pipeline: from untrusted bytes to a clean, addressed, stored photo.

`process_upload(data, filename, limits)` is pure (no database, no files) and runs in order:

1. byte cap, then the format from magic bytes (JPEG, PNG, WebP, HEIC/HEIF only), then the
   file name's extension against it, then the container walk (`formats.py`: truncation and
   trailing data such as JPEG+ZIP are refused before any pixel is decoded);
2. lazy open with only that format's decoder; the pixel cap is checked from the header size
   before decoding (Pillow's own bomb check is set to the same cap and made an error);
   truncated images stay errors (`LOAD_TRUNCATED_IMAGES` is never enabled);
3. decode, turn upright (EXIF orientation), convert to sRGB (an embedded ICC profile is
   applied, then dropped: untagged images are sRGB on the web, and profiles can carry text);
4. re-encode the full-resolution original from pixels alone: JPEG quality 90, or PNG when
   the image has real transparency. No EXIF, GPS, XMP, IPTC, comment or MakerNote survives,
   because nothing but pixels is written; `DateTimeOriginal` is returned as data;
5. thumbnails (320 and 1280 px on the long side, WebP, never upscaled);
6. with studio credentials, a signed C2PA manifest is embedded in the original (after the
   strip, so it is the only metadata the file carries);
7. sha256 and the kubo-compatible CIDv1 of the stored (signed) original, and a 64-bit pHash;
   `clean_sha256` is the sha256 of the original before signing (a C2PA signature is never
   the same twice, so exact duplicates are recognised by this one).

Every refusal is a `PhotoRejected` with a Korean and an English message.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from busanchain.studio.cid import cid_of_bytes
from busanchain.studio.errors import (
    PhotoAnimated,
    PhotoCorrupt,
    PhotoEmpty,
    PhotoRejected,
    PhotoTooLarge,
    PhotoTooManyPixels,
)
from busanchain.studio.formats import PhotoFormat, check_extension, check_structure, sniff
from busanchain.studio.metadata import capture_time
from busanchain.studio.phash import perceptual_hash
from busanchain.studio.provenance import StudioCredentials, sign_photo

MB = 1024 * 1024
PILLOW_FORMAT = {
    PhotoFormat.JPEG: "JPEG",
    PhotoFormat.PNG: "PNG",
    PhotoFormat.WEBP: "WEBP",
    PhotoFormat.HEIF: "HEIF",
}
DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    RuntimeError,
)
ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


@dataclass(frozen=True)
class PhotoLimits:
    """What an upload may be, and how renditions are made."""

    max_bytes: int = 40 * MB
    max_pixels: int = 50_000_000
    jpeg_quality: int = 90
    thumbnail_sides: tuple[int, ...] = (320, 1280)
    thumbnail_quality: int = 80


DEFAULT_LIMITS = PhotoLimits()


@dataclass(frozen=True)
class Rendition:
    """One encoded image: the stored original or a thumbnail."""

    data: bytes
    media_type: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        """File extension for the media type, with the dot."""
        return {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}[self.media_type]


@dataclass(frozen=True)
class ProcessedPhoto:
    """The result of the pipeline; `original` is what gets stored, hashed and minted."""

    original: Rendition
    thumbnails: dict[int, Rendition]
    source_format: PhotoFormat
    sha256: str
    cid: str
    phash: int
    captured_at: datetime | None
    content_credentials: bool = False
    clean_sha256: str = ""


@cache
def _register_heif() -> None:
    """Teach Pillow HEIC/HEIF once; only the primary image is ever decoded."""
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def _harden_pillow(max_pixels: int) -> None:
    """Pillow's own decompression-bomb guard at our cap, as an error rather than a warning.

    Set on every call (both are idempotent): a test runner or another library may reset the
    warning filters. Our own size check in `_open` does not depend on either.
    """
    Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def accept_bytes(data: bytes, filename: str, limits: PhotoLimits = DEFAULT_LIMITS) -> PhotoFormat:
    """Every check that needs no decoder: size, format, extension, container structure."""
    if len(data) > limits.max_bytes:
        raise PhotoTooLarge(
            f"The photo is {len(data) / MB:.1f} MB; the limit is {limits.max_bytes / MB:.0f} MB.",
            f"사진이 {len(data) / MB:.1f}MB입니다."
            f" 최대 {limits.max_bytes / MB:.0f}MB까지 올릴 수 있습니다.",
            size=len(data),
            limit=limits.max_bytes,
        )
    if not data:
        raise PhotoEmpty()
    fmt = sniff(data)
    check_extension(fmt, filename)
    check_structure(fmt, data)
    return fmt


def _check_pixels(size: tuple[int, int], limits: PhotoLimits) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise PhotoCorrupt()
    if width * height > limits.max_pixels:
        raise PhotoTooManyPixels(
            f"The photo is {width}x{height} pixels; the limit is {limits.max_pixels:,} pixels.",
            f"사진이 {width}x{height} 픽셀입니다."
            f" 최대 {limits.max_pixels:,} 픽셀까지 받을 수 있습니다.",
            width=width,
            height=height,
            limit=limits.max_pixels,
        )


def _open(data: bytes, fmt: PhotoFormat, limits: PhotoLimits) -> Image.Image:
    """Open lazily with the one decoder for `fmt`, and check the declared size."""
    _register_heif()
    _harden_pillow(limits.max_pixels)
    try:
        image = Image.open(io.BytesIO(data), formats=[PILLOW_FORMAT[fmt]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoTooManyPixels(limit=limits.max_pixels) from exc
    except DECODE_ERRORS as exc:
        raise PhotoCorrupt() from exc
    try:
        _check_pixels(image.size, limits)
        if fmt in (PhotoFormat.PNG, PhotoFormat.WEBP) and getattr(image, "is_animated", False):
            raise PhotoAnimated()
    except PhotoRejected:
        image.close()
        raise
    return image


def _decode(image: Image.Image) -> Image.Image:
    """Decode every pixel; a truncated or damaged file is `PhotoCorrupt`."""
    try:
        image.load()
        return ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoTooManyPixels() from exc
    except DECODE_ERRORS as exc:
        raise PhotoCorrupt() from exc


def _has_transparency(image: Image.Image) -> bool:
    if image.mode in ALPHA_MODES:
        return True
    return image.mode in ("P", "L", "RGB") and "transparency" in image.info


def _to_display_mode(image: Image.Image) -> Image.Image:
    """RGB, L or RGBA (RGBA only if some pixel is not fully opaque)."""
    if _has_transparency(image):
        rgba = image.convert("RGBA")
        opaque = rgba.getchannel("A").getextrema() == (255, 255)
        return rgba.convert("RGB") if opaque else rgba
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        return image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if image.mode == "1":
        return image.convert("L")
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Apply an embedded colour profile (unless it is sRGB already); drop it either way."""
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in (ImageCms.getProfileDescription(source) or "").lower():
            return image
        mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, _srgb(), outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image  # an unreadable profile: treat the pixels as sRGB
    return converted if converted is not None else image


def _clean_pixels(image: Image.Image) -> Image.Image:
    """Upright, sRGB, display mode, and no metadata attached at all."""
    icc = image.info.get("icc_profile")
    picture = _to_display_mode(_to_srgb(image, icc if isinstance(icc, bytes) else None))
    picture.info = {}  # `image` is already the decoder's private copy
    return picture


def _encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    """Encode with the pipeline's settings for `fmt` (JPEG, PNG or WEBP)."""
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=quality, optimize=True)  # baseline: 2.5x faster
    elif fmt == "PNG":
        image.save(out, "PNG", compress_level=6)
    else:
        image.save(out, "WEBP", quality=quality, method=2)  # ~size of 4, twice as fast
    return out.getvalue()


def _original(picture: Image.Image, limits: PhotoLimits) -> Rendition:
    """The stored full-size file: PNG if it has real transparency, else JPEG."""
    if picture.mode == "RGBA":
        return Rendition(_encode(picture, "PNG", 0), "image/png", *picture.size)
    data = _encode(picture, "JPEG", limits.jpeg_quality)
    return Rendition(data, "image/jpeg", *picture.size)


def _fit(image: Image.Image, side: int) -> Image.Image:
    """Scale so the long side is at most `side` (never up)."""
    width, height = image.size
    scale = side / max(width, height)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # a box pre-reduction first: from 12 MP this is ~3x faster than plain Lanczos
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=1.5)


def _thumbnails(picture: Image.Image, limits: PhotoLimits) -> dict[int, Image.Image]:
    """Smaller renditions, each made from the next larger one (cheaper than from full size)."""
    scaled: dict[int, Image.Image] = {}
    source = picture
    for side in sorted(limits.thumbnail_sides, reverse=True):
        source = _fit(source, side)
        scaled[side] = source if source.mode != "L" else source.convert("RGB")
    return scaled


def _webp(image: Image.Image, limits: PhotoLimits) -> Rendition:
    return Rendition(_encode(image, "WEBP", limits.thumbnail_quality), "image/webp", *image.size)


def _signed(original: Rendition, credentials: StudioCredentials | None) -> Rendition:
    """The original with the studio's C2PA manifest, when credentials are given."""
    if credentials is None:
        return original
    data = sign_photo(original.data, original.media_type, credentials)
    return Rendition(data, original.media_type, original.width, original.height)


def process_upload(
    data: bytes,
    filename: str,
    limits: PhotoLimits = DEFAULT_LIMITS,
    credentials: StudioCredentials | None = None,
) -> ProcessedPhoto:
    """Validate, clean and re-encode an uploaded photo; see the module docstring.

    Args:
        data: the uploaded bytes (untrusted).
        filename: the uploaded name; only its extension is used, checked against the content.
        limits: byte and pixel caps, quality and thumbnail sizes.
        credentials: the studio's C2PA signing credentials; None stores the photo unsigned.

    Raises:
        PhotoRejected: one of its subclasses, with a Korean and an English message.
    """
    fmt = accept_bytes(data, filename, limits)
    with _open(data, fmt, limits) as image:
        captured_at = capture_time(image)
        picture = _clean_pixels(_decode(image))
    clean = _original(picture, limits)
    original = _signed(clean, credentials)
    scaled = _thumbnails(picture, limits)
    hash_source = scaled[min(scaled)] if scaled else picture
    return ProcessedPhoto(
        original=original,
        thumbnails={side: _webp(image, limits) for side, image in scaled.items()},
        source_format=fmt,
        sha256=hashlib.sha256(original.data).hexdigest(),
        cid=cid_of_bytes(original.data),
        phash=perceptual_hash(hash_source),
        captured_at=captured_at,
        content_credentials=credentials is not None,
        clean_sha256=hashlib.sha256(clean.data).hexdigest(),
    )
