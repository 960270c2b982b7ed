"""The content store: content-addressed, atomic, and strict about names."""

from __future__ import annotations

from pathlib import Path

import pytest

from busanchain.studio.cid import cid_of_bytes
from busanchain.studio.store import ContentStore, placeholder_png


def test_put_names_the_file_by_its_cid_and_is_idempotent(tmp_path: Path) -> None:
    store = ContentStore.under(tmp_path)
    cid = store.put(b"hello studio")
    assert cid == cid_of_bytes(b"hello studio")
    assert (tmp_path / "content" / cid).read_bytes() == b"hello studio"
    assert store.put(b"hello studio") == cid
    assert [p.name for p in (tmp_path / "content").iterdir()] == [cid]  # no temp files left
    assert store.get(cid) == b"hello studio"


def test_large_blobs_use_the_chunked_cid(tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB: several 256 KiB chunks
    store = ContentStore(tmp_path)
    assert store.put(data) == cid_of_bytes(data)


@pytest.mark.parametrize("name", ["../etc/passwd", "Qm123", "", "b" + "A" * 40, "b../x" * 5])
def test_names_that_are_not_cids_are_refused(tmp_path: Path, name: str) -> None:
    store = ContentStore(tmp_path)
    with pytest.raises(ValueError):
        store.path_of(name)
    assert store.get(name) is None


def test_missing_content_is_none(tmp_path: Path) -> None:
    assert ContentStore(tmp_path).get(cid_of_bytes(b"never stored")) is None


def test_placeholder_is_stable_png() -> None:
    assert placeholder_png().startswith(b"\x89PNG")
    assert cid_of_bytes(placeholder_png()) == cid_of_bytes(placeholder_png())
