"""The explorer before anything is indexed or deployed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app

pytestmark = pytest.mark.chain


def test_pages_work_on_an_empty_index(context: PlatformContext) -> None:
    with TestClient(create_app(context)) as client:
        overview = client.get("/explorer")
        address = client.get("/explorer/address/0x" + "ab" * 20 + "?lang=en")
        blocks = client.get("/api/explorer/blocks").json()

    assert overview.status_code == 200
    assert "아직 색인된 블록이 없습니다" in overview.text
    assert "<svg" not in overview.text
    assert address.status_code == 200
    assert "DigitalWon is not deployed on this chain." in address.text
    assert blocks == {"items": [], "next_before": None}


def test_unknown_block_on_an_empty_index_is_404(context: PlatformContext) -> None:
    with TestClient(create_app(context)) as client:
        answer = client.get("/api/explorer/blocks/0?lang=en")

    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "No such block is indexed."
