"""The upload pipeline on ordinary photos: metadata gone, upright, sRGB, renditions, hashes."""

from __future__ import annotations

import hashlib
import io
import struct
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image, ImageCms

from busanchain.studio.cid import cid_of_bytes
from busanchain.studio.errors import PhotoTooLarge, PhotoTrailingData
from busanchain.studio.formats import PhotoFormat
from busanchain.studio.images import PhotoLimits, ProcessedPhoto, process_upload
from tests.studio import corpus

KST = timezone(timedelta(hours=9))
ALLOWED_JPEG_MARKERS = {0xD8, 0xE0, 0xDB, 0xC0, 0xC4, 0xDA, 0xD9}  # SOI APP0 DQT SOF0 DHT SOS EOI


def jpeg_markers(data: bytes) -> list[int]:
    """The markers of a baseline JPEG up to the first scan, then EOI if it ends with one."""
    markers, pos = [0xD8], 2
    while pos < len(data):
        marker = data[pos + 1]
        markers.append(marker)
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker == 0xDA:
            break
        pos += 2 + length
    if data.endswith(b"\xff\xd9"):
        markers.append(0xD9)
    return markers


def assert_no_metadata(photo: ProcessedPhoto, extra_markers: frozenset[int] = frozenset()) -> None:
    """Re-open every stored rendition: no EXIF, GPS, XMP, IPTC, ICC or comment anywhere."""
    for rendition in (photo.original, *photo.thumbnails.values()):
        raw = rendition.data
        with Image.open(io.BytesIO(raw)) as image:
            assert len(image.getexif()) == 0
            for key in ("exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "iptc"):
                assert key not in image.info, key
        for needle in (b"Exif\x00\x00", b"http://ns.adobe.com/xap", b"adobe:ns:meta", b"8BIM"):
            assert needle not in raw
        for needle in (b"Kim Secret", b"Kim Park", b"MAKERNOTE", b"Canon", b"studio secret"):
            assert needle not in raw
    if photo.original.media_type == "image/jpeg":
        assert set(jpeg_markers(photo.original.data)) <= ALLOWED_JPEG_MARKERS | extra_markers


@pytest.fixture(scope="module")
def camera_photo() -> bytes:
    return corpus.camera_jpeg(corpus.scene(1600, 1200))


def test_the_input_really_carries_metadata(camera_photo: bytes) -> None:
    """Guard for the strip test: the fixture has every kind of metadata we strip."""
    with Image.open(io.BytesIO(camera_photo)) as image:
        exif = image.getexif()
        assert exif.get_ifd(corpus.GPS_IFD)
        assert exif.get_ifd(corpus.EXIF_IFD).get(corpus.MAKER_NOTE)
        assert {"icc_profile", "comment", "xmp"} <= set(image.info)
    assert b"Photoshop 3.0\x008BIM" in camera_photo


def test_all_metadata_is_stripped_and_capture_date_kept(camera_photo: bytes) -> None:
    photo = process_upload(camera_photo, "IMG_0001.JPG")
    assert_no_metadata(photo)
    assert photo.captured_at == datetime(2026, 5, 1, 14, 30, tzinfo=KST)
    assert photo.source_format is PhotoFormat.JPEG
    assert photo.original.media_type == "image/jpeg"
    assert (photo.original.width, photo.original.height) == (1600, 1200)


def test_hashes_and_cid_are_of_the_stored_bytes(camera_photo: bytes) -> None:
    photo = process_upload(camera_photo, "a.jpg")
    assert photo.sha256 == hashlib.sha256(photo.original.data).hexdigest()
    assert photo.cid == cid_of_bytes(photo.original.data)
    one_chunk = len(photo.original.data) <= 262_144
    assert photo.cid.startswith("bafkrei" if one_chunk else "bafybei")
    assert photo.original.data != camera_photo  # a re-encode, never the upload


def test_processing_is_deterministic(camera_photo: bytes) -> None:
    first = process_upload(camera_photo, "a.jpg")
    second = process_upload(camera_photo, "a.jpg")
    assert (first.cid, first.phash) == (second.cid, second.phash)


def test_orientation_is_applied() -> None:
    """A tall picture stored with Orientation=6 (rotate 90° clockwise) comes out wide."""
    tall = corpus.scene(300, 600)
    tall.paste((255, 0, 0), (0, 0, 60, 60))  # red mark in the stored top-left corner
    photo = process_upload(corpus.camera_jpeg(tall, orientation=6), "tall.jpg")
    assert (photo.original.width, photo.original.height) == (600, 300)
    with Image.open(io.BytesIO(photo.original.data)) as image:
        red, green, blue = image.convert("RGB").getpixel((570, 30))
        assert red > 200 and green < 60 and blue < 60  # now at the top-right
        assert image.getexif().get(corpus.ORIENTATION) is None
    assert_no_metadata(photo)


def test_capture_date_without_offset_is_naive() -> None:
    data = corpus.camera_jpeg(corpus.scene(64, 48), offset=None)
    assert process_upload(data, "a.jpg").captured_at == datetime(2026, 5, 1, 14, 30)


@pytest.mark.parametrize("taken", [None, "not a date", "2026:13:45 99:00:00"])
def test_missing_or_invalid_capture_date_is_none(taken: str | None) -> None:
    data = corpus.camera_jpeg(corpus.scene(64, 48), taken=taken)
    assert process_upload(data, "a.jpg").captured_at is None


def test_thumbnails_fit_and_are_webp(camera_photo: bytes) -> None:
    photo = process_upload(camera_photo, "a.jpg")
    assert sorted(photo.thumbnails) == [320, 1280]
    for side, rendition in photo.thumbnails.items():
        assert rendition.media_type == "image/webp"
        assert max(rendition.width, rendition.height) == side
        with Image.open(io.BytesIO(rendition.data)) as image:
            assert image.format == "WEBP"
            assert image.size == (rendition.width, rendition.height)


def test_small_photos_are_not_upscaled() -> None:
    photo = process_upload(corpus.jpeg(corpus.scene(200, 100)), "small.jpeg")
    assert {side: (r.width, r.height) for side, r in photo.thumbnails.items()} == {
        320: (200, 100),
        1280: (200, 100),
    }


def test_png_with_transparency_stays_png() -> None:
    image = corpus.scene(200, 150).convert("RGBA")
    image.putalpha(128)
    photo = process_upload(corpus.png(image), "cutout.png")
    assert photo.original.media_type == "image/png"
    with Image.open(io.BytesIO(photo.original.data)) as stored:
        assert stored.mode == "RGBA"
        assert stored.getchannel("A").getextrema() == (128, 128)
    assert_no_metadata(photo)


def test_opaque_png_becomes_jpeg() -> None:
    image = corpus.scene(200, 150).convert("RGBA")  # alpha channel, but all 255
    exif = corpus.exif_block().tobytes()
    photo = process_upload(corpus.png(image, exif=exif), "scan.PNG")
    assert photo.original.media_type == "image/jpeg"
    assert photo.captured_at == datetime(2026, 5, 1, 14, 30, tzinfo=KST)
    assert_no_metadata(photo)


def test_webp_is_accepted_and_stripped() -> None:
    exif = corpus.exif_block().tobytes()
    photo = process_upload(corpus.webp(corpus.scene(300, 200), exif=exif), "p.webp")
    assert photo.source_format is PhotoFormat.WEBP
    assert photo.captured_at == datetime(2026, 5, 1, 14, 30, tzinfo=KST)
    assert_no_metadata(photo)


def test_heic_is_accepted_and_stripped() -> None:
    exif = corpus.exif_block().tobytes()
    data = corpus.heic(corpus.scene(320, 240), exif=exif)
    photo = process_upload(data, "IMG_1234.HEIC")
    assert photo.source_format is PhotoFormat.HEIF
    assert photo.original.media_type == "image/jpeg"
    assert (photo.original.width, photo.original.height) == (320, 240)
    assert photo.captured_at == datetime(2026, 5, 1, 14, 30, tzinfo=KST)
    assert_no_metadata(photo)


def test_a_non_srgb_profile_is_applied_then_dropped() -> None:
    """A profile not named sRGB goes through colour conversion (here: sRGB data renamed)."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    renamed = profile.replace(b"s\x00R\x00G\x00B", b"x\x00R\x00G\x00B").replace(b"sRGB", b"xRGB")
    described = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(renamed)))
    assert "srgb" not in described.lower()
    source = Image.new("RGB", (64, 64), (200, 40, 90))
    photo = process_upload(corpus.jpeg(source, quality=100, icc_profile=renamed), "p3.jpg")
    with Image.open(io.BytesIO(photo.original.data)) as image:
        assert "icc_profile" not in image.info
        red, green, blue = image.getpixel((32, 32))
        assert abs(red - 200) < 8 and abs(green - 40) < 8 and abs(blue - 90) < 8


def test_a_broken_profile_is_ignored() -> None:
    source = Image.new("RGB", (64, 64), (200, 40, 90))
    photo = process_upload(corpus.jpeg(source, icc_profile=b"not a profile"), "a.jpg")
    with Image.open(io.BytesIO(photo.original.data)) as image:
        assert "icc_profile" not in image.info


def test_cmyk_jpeg_is_converted_to_rgb() -> None:
    data = corpus.jpeg(corpus.scene(120, 80).convert("CMYK"))
    photo = process_upload(data, "print.jpg")
    with Image.open(io.BytesIO(photo.original.data)) as image:
        assert image.mode == "RGB"


def test_sixteen_bit_grayscale_png_is_scaled_not_clipped() -> None:
    deep = Image.linear_gradient("L").resize((256, 64)).convert("I").point(lambda v: v * 257)
    photo = process_upload(corpus.png(deep.convert("I;16")), "scan16.png")
    with Image.open(io.BytesIO(photo.original.data)) as image:
        assert image.mode == "L"
        histogram = image.histogram()
        mean = sum(level * count for level, count in enumerate(histogram)) / sum(histogram)
        assert 100 < mean < 155  # a full gradient, not clipped to white


def test_palette_png_with_transparency_keeps_alpha() -> None:
    palette = corpus.scene(100, 80).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    photo = process_upload(corpus.png(palette, transparency=0), "icon.png")
    assert photo.original.media_type == "image/png"


def test_grayscale_stays_grayscale() -> None:
    photo = process_upload(corpus.jpeg(corpus.scene(120, 80).convert("L")), "bw.jpg")
    with Image.open(io.BytesIO(photo.original.data)) as image:
        assert image.mode == "L"


def multi_picture_jpeg() -> tuple[bytes, bytes]:
    """(an MPO file as cameras write it, the preview image stored after its first EOI)."""
    preview = corpus.scene(160, 120, seed=9)
    out = io.BytesIO()
    corpus.scene(320, 240).save(out, "MPO", save_all=True, append_images=[preview])
    return out.getvalue(), corpus.jpeg(preview)


def test_jpeg_with_mpf_images_after_eoi_is_accepted() -> None:
    """Cameras append MPF previews after EOI; the stored re-encode keeps none of it."""
    data, _ = multi_picture_jpeg()
    photo = process_upload(data, "DSC_0001.JPG")
    assert (photo.original.width, photo.original.height) == (320, 240)
    assert len(photo.original.data) < len(data)
    with Image.open(io.BytesIO(photo.original.data)) as stored:
        assert stored.format == "JPEG"
        assert getattr(stored, "n_frames", 1) == 1


def test_mpf_does_not_excuse_a_non_jpeg_trailer() -> None:
    data, _ = multi_picture_jpeg()
    with pytest.raises(PhotoTrailingData):
        process_upload(data + corpus.zip_archive(), "a.jpg")
    first_end = data.index(b"\xff\xd9\xff\xd8") + 2
    with pytest.raises(PhotoTrailingData):
        process_upload(data[:first_end] + corpus.zip_archive(), "a.jpg")


def test_byte_cap_is_checked_before_anything_else() -> None:
    data = corpus.jpeg(corpus.scene(320, 240))
    with pytest.raises(PhotoTooLarge) as caught:
        process_upload(data, "a.jpg", PhotoLimits(max_bytes=len(data) - 1))
    assert caught.value.status == 413
    assert caught.value.message_ko != caught.value.message_en
