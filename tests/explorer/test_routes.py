"""Explorer pages and JSON API over a real chain with the real DigitalWon deployed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web3 import Web3

from busanchain.chain.artifacts import load_artifact
from busanchain.chain.rpc import make_web3
from busanchain.chain.signing import signer_from_key
from busanchain.config import ANVIL_DEFAULT_OPERATOR_KEY
from busanchain.deployment.service import DeploymentService
from busanchain.explorer.indexer import ChainIndexer
from busanchain.explorer.service import contract_book_from_registry
from busanchain.outbox.service import OutboxService
from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app
from tests.conftest import module_context, start_anvil

pytestmark = pytest.mark.chain

GAS = 300_000


@dataclass
class World:
    """A chain with DigitalWon, some transfers and one failed transfer, all indexed."""

    client: TestClient
    token: str
    alice: str
    bob: str
    carol: str
    minted: str
    moved: str
    failed: str
    tip: int


def _send(w3: Web3, call: object, sender: str) -> str:
    tx_hash = call.transact({"from": sender, "gas": GAS})  # type: ignore[attr-defined]
    w3.eth.wait_for_transaction_receipt(tx_hash)
    return "0x" + bytes(tx_hash).hex()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, anvil_binary: Path) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("explorer-routes")
    node = start_anvil(tmp / "anvil", anvil_binary)
    try:
        with module_context(tmp, node.config.rpc_url) as context:
            yield from _world(context, node.config.rpc_url)
    finally:
        node.stop(snapshot=False)


def _world(context: PlatformContext, rpc_url: str) -> Iterator[World]:
    operator = signer_from_key(ANVIL_DEFAULT_OPERATOR_KEY)
    token = DeploymentService(context, OutboxService(context)).deploy_all(operator)["DigitalWon"]
    w3 = make_web3(rpc_url)
    owner, alice, bob, carol = w3.eth.accounts[:4]
    won = w3.eth.contract(address=token, abi=load_artifact("DigitalWon").abi)
    minted = _send(w3, won.functions.mint(alice, 50_000, b"\x01" * 32), owner)
    moved = _send(w3, won.functions.transfer(bob, 1_234), alice)
    failed = _send(w3, won.functions.transfer(carol, 10**9), bob)
    ChainIndexer(context, contract_book_from_registry(context)).sync()
    with TestClient(create_app(context)) as client:
        yield World(client, token, alice, bob, carol, minted, moved, failed, w3.eth.block_number)


@pytest.fixture(autouse=True)
def _fresh_language(world: World) -> None:
    """Each test starts without a remembered language (a `?lang=` choice sets a cookie)."""
    world.client.cookies.clear()


# ---- pages ---------------------------------------------------------------------------------


def test_overview_page_lists_blocks_transactions_and_a_chart(world: World) -> None:
    page = world.client.get("/explorer")
    assert page.status_code == 200
    assert "블록 탐색기" in page.text
    assert f'data-testid="indexed-tip">{world.tip}<' in page.text
    assert world.moved[:10] in page.text
    assert '<svg class="chart"' in page.text and "<rect" in page.text
    assert 'class="responsive"' in page.text and "data-label=" in page.text
    assert "http://" not in page.text.split("<body>")[1].replace(world.client.base_url.host, "")


def test_overview_page_in_english(world: World) -> None:
    page = world.client.get("/explorer?lang=en")
    assert page.status_code == 200
    assert "Block explorer" in page.text and "블록 탐색기" not in page.text
    assert f'href="/explorer/block/{world.tip}?lang=en"' in page.text


def test_transaction_page_shows_the_decoded_call_and_events(world: World) -> None:
    page = world.client.get(f"/explorer/tx/{world.moved}")
    assert page.status_code == 200
    assert '<code data-testid="function-name">transfer</code>' in page.text
    assert "Transfer" in page.text and "1234" in page.text
    assert "성공" in page.text


def test_failed_transaction_page_shows_the_revert_reason(world: World) -> None:
    page = world.client.get(f"/explorer/tx/{world.failed}?lang=en")
    assert page.status_code == 200
    assert "Failed" in page.text
    assert f"ERC20InsufficientBalance(sender={world.bob}, balance=1234, needed=1000000000)" in (
        page.text
    )


def test_block_page_by_number_and_by_hash(world: World) -> None:
    api = world.client.get(f"/api/explorer/blocks/{world.tip}").json()
    by_number = world.client.get(f"/explorer/block/{world.tip}")
    by_hash = world.client.get(f"/explorer/block/{api['hash']}")
    assert by_number.status_code == by_hash.status_code == 200
    assert f'data-testid="block-number">{world.tip}<' in by_hash.text
    assert world.failed[:10] in by_number.text


def test_address_page_shows_live_balance_and_history(world: World) -> None:
    page = world.client.get(f"/explorer/address/{world.bob.lower()}")
    assert page.status_code == 200
    assert f'<code data-testid="address">{world.bob}</code>' in page.text
    assert "<strong>1,234</strong> 원" in page.text
    assert world.moved[:10] in page.text and world.failed[:10] in page.text


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/explorer/tx/0x1234", 422, "해시 형식이 아닙니다"),
        ("/explorer/tx/" + "0x" + "ab" * 32, 404, "색인된 거래 중에 없습니다"),
        ("/explorer/block/latest", 422, "블록은 번호나 해시"),
        ("/explorer/block/99999999", 404, "색인된 블록 중에 없습니다"),
        ("/explorer/block/" + "9" * 30, 422, "블록은 번호나 해시"),
        ("/explorer/address/0xnothex", 422, "주소 형식이 아닙니다"),
        ("/explorer/address/0x" + "g" * 40, 422, "주소 형식이 아닙니다"),
        ("/explorer/address/0x52908400098527886E0F7030069857D2E4169Ee7", 422, "체크섬"),
        ("/explorer/address/0x" + "12" * 20 + "?tx_page=0", 422, "입력값이 올바르지 않습니다"),
    ],
)
def test_bad_or_unknown_pages_answer_4xx_in_korean(
    world: World, path: str, status: int, message: str
) -> None:
    page = world.client.get(path, headers={"accept": "text/html"})
    assert page.status_code == status
    assert "text/html" in page.headers["content-type"]
    assert message in page.text


def test_bad_hash_message_in_english(world: World) -> None:
    page = world.client.get("/explorer/tx/0x1234?lang=en")
    assert page.status_code == 422
    assert "Not a hash" in page.text


def test_address_with_no_history_is_shown_not_404(world: World) -> None:
    page = world.client.get("/explorer/address/0x" + "12" * 20)
    assert page.status_code == 200
    assert "이체 내역이 없습니다" in page.text


# ---- search --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "target"),
    [
        ("{tip}", "/explorer/block/{tip}"),
        (" {moved} ", "/explorer/tx/{moved}"),
        ("{alice_lower}", "/explorer/address/{alice}"),
    ],
)
def test_search_redirects_by_the_form_of_the_query(world: World, query: str, target: str) -> None:
    values = {
        "tip": world.tip,
        "moved": world.moved,
        "alice": world.alice,
        "alice_lower": world.alice.lower(),
    }
    answer = world.client.get(
        "/explorer/search", params={"q": query.format(**values)}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == target.format(**values)


def test_search_for_a_block_hash_redirects_to_the_block(world: World) -> None:
    block_hash = world.client.get("/api/explorer/blocks/1").json()["hash"]
    answer = world.client.get(
        "/explorer/search", params={"q": block_hash, "lang": "en"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/explorer/block/{block_hash}?lang=en"


@pytest.mark.parametrize(
    ("query", "status"),
    [("hello", 422), ("", 422), ("0x" + "cd" * 32, 404), ("0x12", 422), ("9" * 20, 422)],
)
def test_search_explains_what_it_cannot_find(world: World, query: str, status: int) -> None:
    answer = world.client.get("/explorer/search", params={"q": query})
    assert answer.status_code == status
    assert 'data-testid="search-message"' in answer.text


# ---- JSON API ------------------------------------------------------------------------------


def test_api_blocks_page_newest_first(world: World) -> None:
    first = world.client.get("/api/explorer/blocks", params={"limit": 2}).json()
    assert [b["number"] for b in first["items"]] == [world.tip, world.tip - 1]
    second = world.client.get(
        "/api/explorer/blocks", params={"limit": 2, "before": first["next_before"]}
    ).json()
    assert second["items"][0]["number"] == world.tip - 2


def test_api_transaction_has_decoded_call_events_and_reason(world: World) -> None:
    ok = world.client.get(f"/api/explorer/txs/{world.moved.upper().replace('0X', '0x')}")
    assert ok.status_code == 200
    body = ok.json()
    assert body["function_name"] == "transfer"
    assert body["function_args"][1] == {"name": "value", "type": "uint256", "value": "1234"}
    assert body["events"][0]["event_name"] == "Transfer"
    assert body["events"][0]["address_name"] == "DigitalWon"
    failed = world.client.get(f"/api/explorer/txs/{world.failed}").json()
    assert failed["status"] == 0
    assert failed["revert_reason"].startswith("ERC20InsufficientBalance(")


def test_api_address_has_balance_and_paginated_history(world: World) -> None:
    body = world.client.get(f"/api/explorer/addresses/{world.alice}", params={"per_page": 1}).json()
    assert body["digital_won"] == {
        "deployed": True,
        "token_address": world.token,
        "balance": str(50_000 - 1_234),
    }
    assert body["transfers"]["total"] == 2 and len(body["transfers"]["items"]) == 1
    assert body["transfers"]["items"][0]["amount"] == "1234"
    second = world.client.get(
        f"/api/explorer/addresses/{world.alice}", params={"per_page": 1, "transfer_page": 2}
    ).json()
    assert second["transfers"]["items"][0]["tx_hash"] == world.minted


def test_api_search_and_overview(world: World) -> None:
    found = world.client.get("/api/explorer/search", params={"q": world.moved}).json()
    assert found == {
        "kind": "transaction",
        "id": world.moved,
        "page_url": f"/explorer/tx/{world.moved}",
        "api_url": f"/api/explorer/txs/{world.moved}",
    }
    overview = world.client.get("/api/explorer/overview").json()
    assert overview["indexed_tip"] == world.tip
    assert sum(p["tx_count"] for p in overview["chart"]) == world.tip  # one tx per block


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/explorer/txs/0xzz", 422, "validation_failed"),
        ("/api/explorer/txs/0x" + "00" * 32, 404, "not_found"),
        ("/api/explorer/blocks/-1", 422, "validation_failed"),
        ("/api/explorer/blocks?limit=0", 422, "validation_failed"),
        ("/api/explorer/blocks?before=-5", 422, "validation_failed"),
        ("/api/explorer/addresses/0x1234", 422, "validation_failed"),
        ("/api/explorer/search?q=%F0%9F%98%80", 422, "validation_failed"),
        ("/api/explorer/search", 422, "validation_failed"),
    ],
)
def test_api_bad_input_is_4xx_with_a_message(
    world: World, path: str, status: int, code: str
) -> None:
    answer = world.client.get(path)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    english = world.client.get(path + ("&" if "?" in path else "?") + "lang=en")
    assert english.json()["error"]["message"] != answer.json()["error"]["message"]


def test_openapi_documents_the_explorer_api(world: World) -> None:
    spec = world.client.get("/openapi.json").json()
    for path in (
        "/api/explorer/blocks",
        "/api/explorer/blocks/{ident}",
        "/api/explorer/txs/{tx_hash}",
        "/api/explorer/addresses/{address}",
        "/api/explorer/search",
    ):
        assert path in spec["paths"]
    assert "TxDetail" in spec["components"]["schemas"]
    assert not any(p.startswith("/explorer") for p in spec["paths"])
