"""Compiled contract artifacts: loading the committed JSON and rebuilding it.

The artifacts in `artifacts/` are produced by `scripts/build_contracts.mjs` (pinned solc-js,
OpenZeppelin, evmVersion cancun, optimizer on) and committed, so that the platform runs
without Node at runtime. A test rebuilds them in check mode and fails when they are stale.

About code hashes: the compiler's `deployedBytecode` has zeros where the constructor later
writes immutables (DigitalWon has several: the EIP-712 domain cache, name and version), so its
keccak is *not* the hash of the code on chain. Deployment records the keccak of the runtime
code actually read back from the chain (`runtime_code_hash`) instead, and
`Artifact.matches_runtime` compares on-chain code with the artifact while ignoring the
immutable slots.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import keccak

from busanchain.domain.errors import ConfigurationError, NotFound

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"
BUILD_SCRIPT = Path("scripts") / "build_contracts.mjs"
BUILD_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Artifact:
    """One compiled contract, as committed in `artifacts/<name>.json`."""

    name: str
    abi: list[dict[str, Any]] = field(hash=False, repr=False)
    bytecode: str = field(repr=False)
    deployed_bytecode: str = field(repr=False)
    source_hash: str
    compiler: str
    evm_version: str = "cancun"
    immutable_ranges: tuple[tuple[int, int], ...] = field(default=(), repr=False)

    @property
    def code_hash(self) -> str:
        """keccak of the compiler's runtime code, immutables still zero.

        This is NOT the hash of the code on chain when the contract has immutables; record
        `runtime_code_hash(eth_getCode(...))` at deployment time for that.
        """
        return runtime_code_hash(bytes.fromhex(self.deployed_bytecode[2:]))

    def creation_code(self, encoded_args: bytes = b"") -> bytes:
        """The init code to deploy: bytecode followed by ABI-encoded constructor arguments."""
        return bytes.fromhex(self.bytecode[2:]) + encoded_args

    def matches_runtime(self, code: bytes) -> bool:
        """True when on-chain runtime `code` is this artifact's, ignoring immutable slots."""
        expected = bytearray(bytes.fromhex(self.deployed_bytecode[2:]))
        actual = bytearray(code)
        if len(actual) != len(expected):
            return False
        for start, length in self.immutable_ranges:
            actual[start : start + length] = bytes(length)
            expected[start : start + length] = bytes(length)
        return actual == expected


def runtime_code_hash(code: bytes) -> str:
    """0x-prefixed keccak-256 of runtime code (what `EXTCODEHASH` returns)."""
    return "0x" + keccak(code).hex()


def _immutable_ranges(references: dict[str, list[dict[str, int]]]) -> tuple[tuple[int, int], ...]:
    ranges = [(ref["start"], ref["length"]) for refs in references.values() for ref in refs]
    return tuple(sorted(ranges))


def parse_artifact(data: dict[str, Any]) -> Artifact:
    """Build an Artifact from the JSON written by the build script."""
    return Artifact(
        name=data["contractName"],
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        source_hash=data["sourceHash"],
        compiler=data["compiler"],
        evm_version=data["evmVersion"],
        immutable_ranges=_immutable_ranges(data.get("immutableReferences", {})),
    )


@cache
def load_artifact(name: str) -> Artifact:
    """The committed artifact of contract `name` (cached); NotFound if there is none."""
    path = ARTIFACT_DIR / f"{name}.json"
    if not name.isidentifier() or not path.is_file():
        raise NotFound(
            f"No compiled artifact for contract {name!r}.",
            f"컨트랙트 {name!r}의 컴파일 결과물이 없습니다.",
        )
    return parse_artifact(json.loads(path.read_text(encoding="utf-8")))


def artifact_names() -> list[str]:
    """Names of all committed artifacts, sorted."""
    return sorted(path.stem for path in ARTIFACT_DIR.glob("*.json"))


def _node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise ConfigurationError(
            "Node.js (node) is needed to compile the contracts; install Node 20.",
            "컨트랙트를 컴파일하려면 Node.js(node)가 필요합니다. Node 20을 설치하세요.",
        )
    return node


def build_artifacts(
    root: Path, check: bool = False, *, json_summary: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the contract build (`node scripts/build_contracts.mjs`) for the repo at `root`.

    Args:
        root: The repository root (holds contracts/, node_modules/ and the script).
        check: Compile in memory and compare with the committed artifacts instead of writing.
        json_summary: Ask the script for a one-line JSON summary on stdout.

    Returns:
        The finished process: returncode 0 on success, 1 when check mode found stale
        artifacts, 2 on a compiler or setup error (stderr says which).
    """
    script = root / BUILD_SCRIPT
    if not script.is_file():
        raise ConfigurationError(
            f"The contract build script is missing: {script}",
            f"컨트랙트 빌드 스크립트가 없습니다: {script}",
        )
    command = [_node_binary(), str(script), "--root", str(root)]
    if check:
        command.append("--check")
    if json_summary:
        command.append("--json")
    return subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
    )


def stale_artifacts(root: Path) -> list[str]:
    """Names of the committed artifacts that differ from a fresh compile of the sources.

    Raises:
        ConfigurationError: The build itself failed (compiler error, missing toolchain).
    """
    result = build_artifacts(root, check=True, json_summary=True)
    if result.returncode not in (0, 1):
        raise ConfigurationError(
            f"The contract build failed: {result.stderr.strip()}",
            f"컨트랙트 빌드에 실패했습니다: {result.stderr.strip()}",
        )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    return [str(name) for name in summary["stale"]]
