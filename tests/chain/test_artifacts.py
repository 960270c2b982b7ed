"""The committed contract artifacts match the sources, and the check notices when they don't.

These tests run the real build (`node scripts/build_contracts.mjs`, pinned solc-js and
OpenZeppelin from node_modules); a compile takes a few seconds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from busanchain.chain.artifacts import (
    ARTIFACT_DIR,
    artifact_names,
    build_artifacts,
    load_artifact,
    runtime_code_hash,
    stale_artifacts,
)
from busanchain.domain.errors import ConfigurationError, NotFound

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A minimal copy of the repo: contracts, build script, committed artifacts, node_modules."""
    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "contracts", root / "contracts")
    shutil.copytree(REPO_ROOT / "scripts", root / "scripts")
    shutil.copytree(ARTIFACT_DIR, root / "src" / "busanchain" / "chain" / "artifacts")
    (root / "node_modules").symlink_to(REPO_ROOT / "node_modules")
    return root


def test_committed_artifacts_are_up_to_date() -> None:
    result = build_artifacts(REPO_ROOT, check=True, json_summary=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"stale": []}


def test_artifacts_pin_cancun_and_optimizer() -> None:
    for name in artifact_names():
        data = json.loads((ARTIFACT_DIR / f"{name}.json").read_text(encoding="utf-8"))
        assert data["evmVersion"] == "cancun"
        assert data["optimizer"] == {"enabled": True, "runs": 200}
        assert data["compiler"].startswith("0.8.30+")
        assert data["openzeppelinVersion"] == "5.4.0"
        assert data["bytecode"].startswith("0x") and len(data["bytecode"]) > 2


def test_only_own_contracts_get_artifacts() -> None:
    names = ["DigitalWon", "Gallery", "MerchantRegistry", "PhotoNFT", "PolicyVoucher"]
    assert artifact_names() == names


def test_altered_source_is_reported_stale(repo_copy: Path) -> None:
    source = repo_copy / "contracts" / "DigitalWon.sol"
    source.write_text(
        source.read_text(encoding="utf-8").replace("return 0;", "return 2;"), encoding="utf-8"
    )
    result = build_artifacts(repo_copy, check=True, json_summary=True)
    assert result.returncode == 1
    assert "DigitalWon" in result.stderr
    assert json.loads(result.stdout) == {"stale": ["DigitalWon"]}


def test_comment_change_changes_source_hash(repo_copy: Path) -> None:
    source = repo_copy / "contracts" / "DigitalWon.sol"
    source.write_text(source.read_text(encoding="utf-8") + "\n// note\n", encoding="utf-8")
    assert stale_artifacts(repo_copy) == ["DigitalWon"]
    assert build_artifacts(repo_copy).returncode == 0
    rebuilt = json.loads(
        (repo_copy / "src/busanchain/chain/artifacts/DigitalWon.json").read_text(encoding="utf-8")
    )
    assert rebuilt["sourceHash"] != load_artifact("DigitalWon").source_hash


def test_orphan_artifact_is_reported_stale(repo_copy: Path) -> None:
    orphan = repo_copy / "src/busanchain/chain/artifacts/Ghost.json"
    orphan.write_text("{}\n", encoding="utf-8")
    assert stale_artifacts(repo_copy) == ["Ghost"]
    build_artifacts(repo_copy)
    assert not orphan.exists()


def test_compile_error_fails_the_build(repo_copy: Path) -> None:
    (repo_copy / "contracts" / "Broken.sol").write_text(
        "// SPDX-License-Identifier: Apache-2.0\npragma solidity ^0.8.24;\ncontract Broken {\n",
        encoding="utf-8",
    )
    result = build_artifacts(repo_copy)
    assert result.returncode == 2
    assert "Broken.sol" in result.stderr
    with pytest.raises(ConfigurationError):
        stale_artifacts(repo_copy)


def test_write_is_deterministic(repo_copy: Path) -> None:
    target = repo_copy / "src/busanchain/chain/artifacts/DigitalWon.json"
    target.unlink()
    assert build_artifacts(repo_copy).returncode == 0
    written = target.read_text(encoding="utf-8")
    assert written == (ARTIFACT_DIR / "DigitalWon.json").read_text(encoding="utf-8")
    assert written.endswith("}\n")


def test_load_artifact_and_unknown_name() -> None:
    artifact = load_artifact("DigitalWon")
    assert artifact.name == "DigitalWon"
    assert any(item.get("name") == "transferWithAuthorization" for item in artifact.abi)
    assert artifact.immutable_ranges  # EIP-712 domain cache lives in immutables
    with pytest.raises(NotFound):
        load_artifact("NoSuchContract")
    with pytest.raises(NotFound):
        load_artifact("../secrets")


def test_matches_runtime_ignores_only_immutables() -> None:
    artifact = load_artifact("DigitalWon")
    code = bytearray(bytes.fromhex(artifact.deployed_bytecode[2:]))
    start, length = artifact.immutable_ranges[0]
    code[start : start + length] = b"\x11" * length
    assert artifact.matches_runtime(bytes(code))
    assert runtime_code_hash(bytes(code)) != artifact.code_hash
    code[0] ^= 0xFF
    assert not artifact.matches_runtime(bytes(code))
    assert not artifact.matches_runtime(bytes(code[:-1]))
