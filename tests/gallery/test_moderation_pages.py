"""The moderators' page (/admin/moderation) over HTTP, on real anvil: admins only; a report
shows up with its work, kind, text, masked reporter and date; freezing takes it off the open
list and lists the work as frozen with the reason read from the chain; the owner's appeal
shows with "unfreeze"; unfreezing closes it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from busanchain.accounts.service import account_service_for
from busanchain.domain.roles import Role
from busanchain.gallery.moderation import mask_username
from busanchain.web.app import create_app
from tests.accounts.conftest import login, make_user
from tests.gallery.conftest import GalleryWorld
from tests.token.conftest import Actor

PAGE = "/admin/moderation"
REPORT_TEXT = "제 사진을 도용했습니다 <script>alert(1)</script>"


def _html(client: TestClient, url: str = PAGE) -> tuple[int, str]:
    answer = client.get(url, headers={"Accept": "text/html"}, follow_redirects=False)
    return answer.status_code, answer.text


def _rows(html: str, testid: str) -> list[str]:
    """The rows of one table of the page (report-row, frozen-row or appeal-row)."""
    return re.findall(rf'<tr data-testid="{testid}"(.*?)</tr>', html, re.DOTALL)


def _post(a: Actor, url: str, body: object) -> dict[str, object]:
    answer = a.client.post(url, json=body, headers=a.headers)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()  # type: ignore[no-any-return]


def _report(world: GalleryWorld, kind: str = "theft") -> None:
    body = {"token_id": world.token_id, "kind": kind, "text": REPORT_TEXT}
    _post(world.buyer, "/api/gallery/reports", body)


def test_only_admins_in_a_totp_session_open_the_page(world: GalleryWorld) -> None:
    visitor = TestClient(world.buyer.client.app)
    answer = visitor.get(PAGE, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    for who in (world.buyer, world.seller):
        status, text = _html(who.client)
        assert status == 403 and "<html" in text
    make_user(account_service_for(world.context), "half-moderator", Role.ADMIN)
    with TestClient(create_app(world.context)) as client:
        login(client, "half-moderator")
        status, text = _html(client)
        assert status == 403 and "OTP" in text
    status, text = _html(world.admin.client)
    assert status == 200 and "신고·거래 정지" in text
    assert 'href="/admin/moderation"' in text
    status, english = _html(world.admin.client, PAGE + "?lang=en")
    assert status == 200 and "Open reports" in english


def test_a_report_shows_with_its_work_kind_text_and_masked_reporter(
    world: GalleryWorld,
) -> None:
    _, empty = _html(world.admin.client)
    assert _rows(empty, "report-row") == [] and "처리할 신고가 없습니다." in empty
    _report(world)
    _, text = _html(world.admin.client)
    rows = _rows(text, "report-row")
    assert len(rows) == 1
    row = rows[0]
    assert f'data-token="{world.token_id}"' in row
    assert f'href="/gallery/tokens/{world.token_id}"' in row
    assert "도난(내 사진을 훔침)" in row  # the kind, in Korean
    assert "제 사진을 도용했습니다 &lt;script&gt;" in row  # the text, escaped
    assert mask_username("buyer") in row and ">buyer<" not in row
    assert re.search(r"\d{4}-\d{2}-\d{2}", row)
    assert 'data-action="freeze"' in row


def test_freeze_appeal_and_unfreeze_move_through_the_page(world: GalleryWorld) -> None:
    _report(world, "copy")
    token = world.token_id
    _post(
        world.admin,
        f"/api/gallery/tokens/{token}/freeze",
        {"reason_code": "copy", "note": "검토 중 / under review"},
    )
    _, text = _html(world.admin.client)
    assert _rows(text, "report-row") == []  # decided after the report
    frozen = _rows(text, "frozen-row")
    assert len(frozen) == 1 and f'data-token="{token}"' in frozen[0]
    assert 'data-reason="copy"' in frozen[0] and "무단 복제" in frozen[0]
    assert "검토 중 / under review" in frozen[0] and 'data-action="unfreeze"' in frozen[0]

    _post(world.seller, f"/api/gallery/tokens/{token}/appeal", {"text": "제가 찍은 사진입니다."})
    _, text = _html(world.admin.client)
    appeals = _rows(text, "appeal-row")
    assert len(appeals) == 1
    assert 'data-open="true"' in appeals[0] and "제가 찍은 사진입니다." in appeals[0]
    assert world.seller.address[:6] in appeals[0] and 'data-testid="appeal-unfreeze"' in appeals[0]

    _post(world.admin, f"/api/gallery/tokens/{token}/unfreeze", {"note": "확인 완료"})
    assert world.gallery.frozen_reason(token) is None
    _, text = _html(world.admin.client)
    assert _rows(text, "frozen-row") == []
    appeals = _rows(text, "appeal-row")
    assert len(appeals) == 1 and 'data-open="false"' in appeals[0]
    assert "appeal-unfreeze" not in appeals[0]


def test_a_report_after_a_freeze_is_open_again(world: GalleryWorld) -> None:
    token = world.token_id
    _post(world.admin, f"/api/gallery/tokens/{token}/freeze", {"reason_code": "abuse"})
    _report(world, "other")
    _, text = _html(world.admin.client)
    assert len(_rows(text, "report-row")) == 1
    assert len(_rows(text, "frozen-row")) == 1
