"""Language negotiation: Korean first, English on request, and the choice is remembered."""

from __future__ import annotations

from fastapi.testclient import TestClient

from busanchain.http.i18n import negotiate
from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app


def test_negotiation_order() -> None:
    assert negotiate(None, None, "") == "ko"
    assert negotiate(None, None, "en-US,en;q=0.9") == "en"
    assert negotiate(None, "ko", "en-US") == "ko"
    assert negotiate("en", "ko", "ko-KR") == "en"
    assert negotiate("fr", None, "de-DE") == "ko"


def test_lang_choice_is_remembered(context: PlatformContext) -> None:
    client = TestClient(create_app(context))
    first = client.get("/?lang=en")
    assert first.status_code == 200 and 'lang="en"' in first.text
    later = client.get("/", headers={"accept-language": "ko-KR"})
    assert 'lang="en"' in later.text
    back = client.get("/?lang=ko")
    assert 'lang="ko"' in back.text
    error = client.get("/api/nothing-here")
    assert error.json()["error"]["message"] == "찾을 수 없습니다."
