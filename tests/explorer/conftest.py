"""Fixtures of the explorer tests: a compiled test contract, own anvil nodes, extra databases."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from busanchain.chain.node import AnvilSupervisor
from busanchain.config import ANVIL_DEFAULT_OPERATOR_KEY, Settings
from busanchain.db.schema import create_schema
from busanchain.platform.context import PlatformContext
from tests.conftest import PG_URL_ENV, REPO_ROOT, _pg_schema_url, start_anvil

HERE = Path(__file__).resolve().parent

COMPILE_JS = """
const solc = require(process.argv[1] + '/solc');
const fs = require('fs');
const source = fs.readFileSync(process.argv[2], 'utf8');
const input = {language: 'Solidity', sources: {'Probe.sol': {content: source}},
  settings: {evmVersion: 'cancun', optimizer: {enabled: true, runs: 200},
    outputSelection: {'*': {'*': ['abi', 'evm.bytecode.object']}}}};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
process.stdout.write(JSON.stringify(out));
"""


@pytest.fixture(scope="session")
def probe_artifact() -> dict[str, Any]:
    """ABI and bytecode of tests/explorer/Probe.sol, compiled by the pinned solc-js."""
    out = subprocess.run(
        ["node", "-e", COMPILE_JS, str(REPO_ROOT / "node_modules"), str(HERE / "Probe.sol")],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    compiled = json.loads(out.stdout)
    errors = [e for e in compiled.get("errors", []) if e["severity"] == "error"]
    assert not errors, errors
    probe = compiled["contracts"]["Probe.sol"]["Probe"]
    return {"abi": probe["abi"], "bytecode": "0x" + probe["evm"]["bytecode"]["object"]}


@pytest.fixture
def make_database_url(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty databases (SQLite files, or PostgreSQL schemas)."""
    stack = ExitStack()

    def make() -> str:
        pg = os.environ.get(PG_URL_ENV)
        if pg:
            generator = _pg_schema_url(pg)
            url = next(generator)
            stack.callback(lambda: next(generator, None))
            return url
        return f"sqlite:///{tmp_path / f'db-{uuid.uuid4().hex[:8]}.sqlite3'}"

    with stack:
        yield make


@pytest.fixture
def own_anvil(tmp_path: Path, anvil_binary: Path) -> Iterator[AnvilSupervisor]:
    """A dedicated automining anvil, for tests that rewrite chain history."""
    node = start_anvil(tmp_path / "own-anvil", anvil_binary)
    yield node
    node.stop(snapshot=False)


@pytest.fixture
def make_context(
    tmp_path: Path, make_database_url: Callable[[], str]
) -> Iterator[Callable[[str], PlatformContext]]:
    """A factory of platform contexts on a fresh database for a given RPC URL."""
    contexts: list[PlatformContext] = []

    def make(rpc_url: str) -> PlatformContext:
        settings = Settings.from_env(environ={}, root=REPO_ROOT).with_overrides(
            data_dir=tmp_path / "var",
            database_url=make_database_url(),
            rpc_url=rpc_url,
            operator_key=ANVIL_DEFAULT_OPERATOR_KEY,
        )
        ctx = PlatformContext.create(settings)
        create_schema(ctx.engine)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def deploy_probe(probe_artifact: dict[str, Any]) -> Callable[[Web3], Any]:
    """Deploys the Probe contract from the first dev account; returns the contract object."""

    def deploy(w3: Web3) -> Any:
        factory = w3.eth.contract(abi=probe_artifact["abi"], bytecode=probe_artifact["bytecode"])
        tx_hash = factory.constructor().transact({"from": w3.eth.accounts[0]})
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
        return w3.eth.contract(address=receipt["contractAddress"], abi=probe_artifact["abi"])

    return deploy
