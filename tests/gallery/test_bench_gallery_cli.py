"""`busanchain bench gallery`: a tiny run prints the promised JSON; the page URLs are valid."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys

import pytest

from busanchain.gallery.bench import HTML_PAGES, PAGES, Corpus, page_url, small_photo
from busanchain.studio.images import process_upload
from busanchain.studio.phash import hamming_distance
from busanchain.studio.service import NEAR_DUPLICATE_BITS
from tests.conftest import REPO_ROOT

KINDS = {"browse", "search", "token"}


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "busanchain", "bench", "gallery", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
        check=False,
    )


@pytest.mark.chain
@pytest.mark.slow  # about 45 s: setup, three load runs, the ceiling and four profiles
def test_tiny_gallery_under_load() -> None:
    result = _bench("--nfts", "3", "--clients", "2", "--seconds", "2", "--pages", "both")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["nfts"] == 3
    assert out["errors"] == {}
    assert out["requests_per_s"] > 0
    assert 0 < out["p50_ms"] <= out["p95_ms"]
    assert set(out["by_page"]) == KINDS
    for figures in out["by_page"].values():
        assert figures["requests"] > 0 and figures["errors"] == {}
    assert out["pages"] == "html"
    assert set(out["runs"]) == {"html", "json_api"}
    for run in out["runs"].values():
        assert run["errors"] == {} and run["first_error"] is None
        assert set(run["by_page"]) == KINDS
    assert set(out["bottleneck"]["profiles"]) == KINDS | {"token_page"}
    assert out["chain_reads"]["eth_call_ms"] > 0
    ceiling = out["harness_ceiling"]  # the same clients against a constant answer
    assert ceiling["errors"] == {} and ceiling["requests"] > 0
    assert 0 < ceiling["p50_ms"] <= ceiling["p95_ms"]
    floor = out["app_floor"]  # ... and against a route that does nothing, in the platform's app
    assert floor["errors"] == {} and floor["requests"] > 0
    assert 0 < floor["p50_ms"] <= floor["p95_ms"]


def test_no_clients_is_refused() -> None:
    result = _bench("--clients", "0")
    assert result.returncode == 2
    assert result.stdout == ""


def test_unknown_page_set_is_refused_before_any_work() -> None:
    result = _bench("--nfts", "1", "--pages", "xml")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--pages" in result.stderr


def test_every_page_template_makes_a_concrete_url() -> None:
    corpus = Corpus([5, 6, 7], [1, 2], [3, 4], "2026-11-27")
    rng = random.Random(1)
    for pages in (PAGES, HTML_PAGES):
        assert set(pages) == KINDS
        for templates in pages.values():
            for template in templates:
                url = page_url(template, corpus, rng)
                assert "{" not in url and "}" not in url
                assert url.startswith(("/api/gallery/", "/gallery"))
    assert re.search(r"/tokens/[567]$", page_url(PAGES["token"][0], corpus, rng))


def test_corpus_photos_pass_the_pipeline_and_are_not_near_duplicates() -> None:
    hashes = [process_upload(small_photo(seed), f"{seed}.jpg").phash for seed in range(12)]
    for i, first in enumerate(hashes):
        for second in hashes[i + 1 :]:
            assert hamming_distance(first, second) > NEAR_DUPLICATE_BITS
