"""Perceptual hashes: the same photo re-encoded or resized is near; different photos are far."""

from __future__ import annotations

import io
import itertools

import pytest
from PIL import Image, ImageEnhance

from busanchain.studio.images import process_upload
from busanchain.studio.phash import (
    hamming_distance,
    hash_from_hex,
    hash_to_hex,
    near_duplicate,
    perceptual_hash,
)
from tests.studio import corpus

SAME_PHOTO_MAX_BITS = 6
DIFFERENT_PHOTO_MIN_BITS = 16


def reopened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.fixture(scope="module")
def original() -> Image.Image:
    return corpus.scene(1200, 900, seed=11)


def variants(image: Image.Image) -> dict[str, Image.Image]:
    """The same photo after the edits an upload path typically makes."""
    half = image.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR)
    return {
        "jpeg q40": reopened(corpus.jpeg(image, quality=40)),
        "half size": half,
        "quarter size webp": reopened(corpus.webp(half.resize((300, 225)))),
        "brighter": ImageEnhance.Brightness(image).enhance(1.15),
        "grayscale": image.convert("L"),
    }


def test_same_photo_variants_are_near(original: Image.Image) -> None:
    reference = perceptual_hash(original)
    for name, image in variants(original).items():
        distance = hamming_distance(reference, perceptual_hash(image))
        assert distance <= SAME_PHOTO_MAX_BITS, (name, distance)
        assert near_duplicate(reference, perceptual_hash(image))


def test_different_photos_are_far() -> None:
    hashes = [perceptual_hash(corpus.scene(800, 600, seed=seed)) for seed in range(20, 28)]
    for a, b in itertools.combinations(hashes, 2):
        assert hamming_distance(a, b) >= DIFFERENT_PHOTO_MIN_BITS
        assert not near_duplicate(a, b)


def test_pipeline_finds_a_reupload_of_the_same_photo(original: Image.Image) -> None:
    first = process_upload(corpus.camera_jpeg(original), "a.jpg")
    smaller = original.resize((800, 600), Image.Resampling.LANCZOS)
    again = process_upload(corpus.webp(smaller), "a-small.webp")
    other = process_upload(corpus.jpeg(corpus.scene(1200, 900, seed=12)), "b.jpg")
    assert near_duplicate(first.phash, again.phash)
    assert not near_duplicate(first.phash, other.phash)


def test_hash_is_64_bits_and_round_trips_as_hex(original: Image.Image) -> None:
    value = perceptual_hash(original)
    assert 0 <= value < 2**64
    assert 16 <= value.bit_count() <= 48  # median split: about half the bits set
    assert hash_from_hex(hash_to_hex(value)) == value
    with pytest.raises(ValueError):
        hash_from_hex("abc")


def test_near_duplicate_threshold() -> None:
    assert near_duplicate(0, 0b1111, threshold=4)
    assert not near_duplicate(0, 0b11111, threshold=4)
