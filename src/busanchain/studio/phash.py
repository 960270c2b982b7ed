"""A 64-bit perceptual hash (pHash) for finding the same photo uploaded twice.

The image is reduced to 32x32 grayscale and transformed with a 2-D DCT-II. The 8x8 block of
lowest frequencies *after* the first row and column (which hold the DC term and the coarse
gradients that a brightness or contrast change moves most) is compared with its median: one
bit per coefficient, 1 when above. This is the block phash.org's `ph_dct_imagehash` uses.
Re-encoding, resizing and mild edits change few bits; different photos differ in about half.

Only the 9 lowest frequencies per axis are needed, so the DCT is a separable pair of small
matrix products in pure Python (about 12,000 multiplications): no numpy.
"""

from __future__ import annotations

import math
from functools import cache

from PIL import Image

HASH_SIZE = 8
SAMPLE_SIZE = 32
HASH_BITS = HASH_SIZE * HASH_SIZE
DEFAULT_NEAR_DUPLICATE_BITS = 10


@cache
def _cosines() -> tuple[tuple[float, ...], ...]:
    """cos(pi * (2x + 1) * u / 2N) for u in 1..8 and x in 0..N-1."""
    n = SAMPLE_SIZE
    return tuple(
        tuple(math.cos(math.pi * (2 * x + 1) * u / (2 * n)) for x in range(n))
        for u in range(1, HASH_SIZE + 1)
    )


def _samples(image: Image.Image) -> list[list[float]]:
    """The image as 32 rows of 32 luma values."""
    gray = image.convert("L")
    small = gray.resize((SAMPLE_SIZE, SAMPLE_SIZE), Image.Resampling.LANCZOS)
    values = small.tobytes()  # one byte per pixel in mode L
    return [
        [float(v) for v in values[row * SAMPLE_SIZE : (row + 1) * SAMPLE_SIZE]]
        for row in range(SAMPLE_SIZE)
    ]


def _low_frequencies(pixels: list[list[float]]) -> list[float]:
    """DCT coefficients (u, v) for u, v in 1..8, row-major (scale factors do not matter)."""
    cos = _cosines()
    per_row = [
        [sum(c * p for c, p in zip(basis, row, strict=True)) for basis in cos] for row in pixels
    ]
    return [
        sum(cos[u][y] * per_row[y][v] for y in range(SAMPLE_SIZE))
        for u in range(HASH_SIZE)
        for v in range(HASH_SIZE)
    ]


def perceptual_hash(image: Image.Image) -> int:
    """The 64-bit pHash of an image (bit 63 is the first coefficient)."""
    coefficients = _low_frequencies(_samples(image))
    ordered = sorted(coefficients)
    median = (ordered[31] + ordered[32]) / 2
    value = 0
    for coefficient in coefficients:
        value = (value << 1) | (coefficient > median)
    return value


def hamming_distance(a: int, b: int) -> int:
    """How many of the 64 bits differ."""
    return (a ^ b).bit_count()


def near_duplicate(a: int, b: int, threshold: int = DEFAULT_NEAR_DUPLICATE_BITS) -> bool:
    """True when two hashes differ in at most `threshold` bits (likely the same photo)."""
    return hamming_distance(a, b) <= threshold


def hash_to_hex(value: int) -> str:
    """Fixed-width hex (16 digits), the form stored and shown."""
    return f"{value:016x}"


def hash_from_hex(text: str) -> int:
    """Parse the 16-digit hex form; raises ValueError on anything else."""
    if len(text) != HASH_BITS // 4:
        raise ValueError("a perceptual hash is 16 hex digits")
    return int(text, 16)
