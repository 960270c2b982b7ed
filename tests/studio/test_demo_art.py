"""Generated demo photos: deterministic, camera-like, and cleaned by the pipeline."""

from __future__ import annotations

import io

from PIL import Image

from busanchain.studio.demo_art import GPS_IFD, demo_photo
from busanchain.studio.images import process_upload


def test_same_seed_same_bytes_and_different_seeds_differ() -> None:
    assert demo_photo(3, (320, 240)).jpeg == demo_photo(3, (320, 240)).jpeg
    assert demo_photo(3, (320, 240)).jpeg != demo_photo(4, (320, 240)).jpeg


def test_a_demo_photo_carries_gps_until_the_pipeline_strips_it() -> None:
    photo = demo_photo(7, (800, 600))
    with Image.open(io.BytesIO(photo.jpeg)) as raw:
        assert raw.getexif().get_ifd(GPS_IFD)  # as a camera would write it
    stored = process_upload(photo.jpeg, "demo.jpg")
    with Image.open(io.BytesIO(stored.original.data)) as clean:
        assert len(clean.getexif()) == 0
    assert b"Exif\x00\x00" not in stored.original.data
    assert stored.captured_at is not None
    assert stored.captured_at.replace(tzinfo=None) == photo.taken_at


def test_demo_photos_are_not_near_duplicates_of_each_other() -> None:
    hashes = [process_upload(demo_photo(s, (640, 480)).jpeg, "d.jpg").phash for s in range(6)]
    assert len(set(hashes)) == 6
