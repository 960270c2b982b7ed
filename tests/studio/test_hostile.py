"""The hostile corpus: every file refused with its own clear code, within a memory cap."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from busanchain.studio.errors import PhotoRejected
from busanchain.studio.images import process_upload
from tests.studio import corpus

REPO_ROOT = Path(__file__).resolve().parents[2]
MEMORY_CAP = 512 * 1024 * 1024
CASES = corpus.hostile_corpus()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_file_is_refused_with_a_clear_error(case: corpus.HostileCase) -> None:
    with pytest.raises(PhotoRejected) as caught:
        process_upload(case.data, case.filename)
    error = caught.value
    assert error.code == case.code
    assert 400 <= error.status < 500
    assert error.message_ko and error.message_en and error.message_ko != error.message_en
    assert all(not isinstance(v, bytes) for v in error.details.values())  # no upload echoed


def test_the_bomb_is_small_but_huge() -> None:
    bomb = next(case for case in CASES if case.name.startswith("png bomb"))
    assert len(bomb.data) < 200_000  # ~110 KB on disk, 900 megapixels declared


CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path

    cap = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        bytearray(cap)  # the cap must be real, or this test proves nothing
        print(json.dumps({"cap_enforced": False}))
        sys.exit(0)
    except MemoryError:
        pass

    from busanchain.studio.errors import PhotoRejected
    from busanchain.studio.images import process_upload

    folder = Path(sys.argv[1])
    results = {}
    for entry in json.loads((folder / "manifest.json").read_text()):
        data = (folder / entry["file"]).read_bytes()
        try:
            photo = process_upload(data, entry["filename"])
            results[entry["name"]] = "accepted:" + photo.cid
        except PhotoRejected as exc:
            results[entry["name"]] = exc.code
        except Exception as exc:  # anything else would be a 500
            results[entry["name"]] = "crash:" + type(exc).__name__
    print(json.dumps({"cap_enforced": True, "results": results}))
    """
)


@pytest.mark.slow
def test_corpus_runs_under_a_512_mb_address_space_cap(tmp_path: Path) -> None:
    """A bomb cannot allocate gigabytes: the whole corpus (and a real 12 MP photo) runs."""
    manifest = []
    real = ("real 12MP photo", "DSC_0001.JPG", corpus.jpeg(corpus.photo(4000, 3000)))
    entries = [(c.name, c.filename, c.data) for c in CASES] + [real]
    for index, (name, filename, data) in enumerate(entries):
        (tmp_path / f"{index}.bin").write_bytes(data)
        manifest.append({"name": name, "filename": filename, "file": f"{index}.bin"})
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), str(MEMORY_CAP)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["cap_enforced"]
    results = report["results"]
    assert {case.name: results[case.name] for case in CASES} == {
        case.name: case.code for case in CASES
    }
    assert results["real 12MP photo"].startswith("accepted:bafy")
