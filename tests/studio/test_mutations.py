"""Damaged headers never crash the pipeline: each mutant is accepted or refused with a code.

Random byte changes in the first 3 KB hit the parts parsers trust most (EXIF, ICC, XMP,
quantisation and Huffman tables, PNG chunks, RIFF and ISO-BMFF boxes). Anything other than a
`PhotoRejected` would reach the client as a 500.
"""

from __future__ import annotations

import warnings
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from busanchain.studio.errors import PhotoRejected
from busanchain.studio.images import process_upload
from tests.studio import corpus

HEADER_BYTES = 3000


@cache
def originals() -> dict[str, bytes]:
    photo = corpus.scene(160, 120)
    return {
        "a.jpg": corpus.camera_jpeg(photo),
        "a.png": corpus.png(photo, exif=corpus.exif_block().tobytes()),
        "a.webp": corpus.webp(photo, exif=corpus.exif_block().tobytes()),
        "a.heic": corpus.heic(corpus.scene(64, 48), exif=corpus.exif_block().tobytes()),
    }


edits = st.lists(
    st.tuples(st.integers(0, HEADER_BYTES - 1), st.integers(0, 255)), min_size=1, max_size=6
)


@pytest.mark.parametrize("filename", ["a.jpg", "a.png", "a.webp", "a.heic"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=edits)
def test_mutated_headers_are_accepted_or_refused_cleanly(
    filename: str, changes: list[tuple[int, int]]
) -> None:
    data = bytearray(originals()[filename])
    for position, value in changes:
        data[position % len(data)] = value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pillow's notes on odd EXIF
        try:
            photo = process_upload(bytes(data), filename)
        except PhotoRejected as refused:
            assert refused.code.startswith("photo_")
            return
    assert photo.original.data[:3] in (b"\xff\xd8\xff", b"\x89PN")
