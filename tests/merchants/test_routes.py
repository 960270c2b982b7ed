"""The merchants API and pages, through the whole web app (real anvil, real database)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from busanchain.domain.roles import Role
from busanchain.idempotency.tables import IdempotencyRecord
from busanchain.merchants.qr import dynamic_payload, static_payload
from busanchain.merchants.service import MerchantService
from busanchain.merchants.tables import MerchantRecord, SettlementRecord
from busanchain.outbox.tables import OutboxEntry
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from tests.merchants.conftest import Actor, actor, add_payment, add_program, bizno

APPLY = {
    "shop_name_ko": "광안리 분식",
    "shop_name_en": "Gwangalli Snacks",
    "mcc": 5814,
    "district": 26500,
    "street_address": "광안해변로 1",
}


@pytest.fixture
def registrar(platform: PlatformContext) -> Iterator[Actor]:
    a = actor(platform, "registrar1", Role.OFFICIAL)
    yield a
    a.client.close()


@pytest.fixture
def shop(platform: PlatformContext) -> Iterator[Actor]:
    a = actor(platform, "shopowner", Role.MERCHANT)
    yield a
    a.client.close()


def apply(who: Actor, nine: str, **extra: Any) -> dict[str, Any]:
    body = {**APPLY, "business_number": bizno(nine), **extra}
    response = who.client.post("/api/merchants", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def approve(registrar: Actor, merchant_id: int) -> dict[str, Any]:
    response = registrar.client.post(
        f"/api/merchants/{merchant_id}/approve", headers=registrar.headers
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def row_count(context: PlatformContext, table: Any) -> int:
    with context.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_apply_approve_and_public_lookup(
    platform: PlatformContext, shop: Actor, registrar: Actor
) -> None:
    applied = apply(shop, "900000001")
    assert applied["status"] == "applied"
    assert applied["wallet_address"] == shop.address
    assert applied["business_number_tail"] == bizno("900000001")[-3:]
    assert shop.client.get(f"/api/merchants/{applied['code']}").status_code == 404  # not yet

    waiting = registrar.client.get("/api/merchants/applications?status=applied").json()
    assert [m["code"] for m in waiting] == [applied["code"]]
    approved = approve(registrar, applied["id"])

    assert approved["status"] == "active"
    service = MerchantService(platform)
    assert service.chain.read_one(service.chain.registry, "isActive", [shop.address]) is True
    public = shop.client.get(f"/api/merchants/{applied['code'].lower()}").json()
    assert public["shop_name_ko"] == "광안리 분식"
    assert public["district_en"] == "Suyeong-gu"
    assert "owner_user_id" not in public
    assert shop.client.get("/api/merchants/me").json()["status"] == "active"


def test_suspend_and_reactivate_over_the_api(
    platform: PlatformContext, shop: Actor, registrar: Actor
) -> None:
    merchant_id = apply(shop, "900000002")["id"]
    approve(registrar, merchant_id)
    service = MerchantService(platform)
    url = f"/api/merchants/{merchant_id}"
    suspended = registrar.client.post(
        f"{url}/suspend", json={"note": "점검"}, headers=registrar.headers
    )
    assert suspended.json()["status"] == "suspended"
    assert service.chain.read_one(service.chain.registry, "isActive", [shop.address]) is False
    again = registrar.client.post(f"{url}/suspend", headers=registrar.headers)
    assert again.status_code == 200
    back = registrar.client.post(f"{url}/reactivate", headers=registrar.headers)
    assert back.json()["status"] == "active"
    assert service.chain.read_one(service.chain.registry, "isActive", [shop.address]) is True


def test_duplicate_business_number_is_409(platform: PlatformContext, shop: Actor) -> None:
    apply(shop, "900000003")
    other = actor(platform, "othershop", Role.MERCHANT)
    body = {**APPLY, "business_number": bizno("900000003").replace("-", "")}
    response = other.client.post("/api/merchants", json=body, headers=other.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert row_count(platform, MerchantRecord) == 1


def test_only_officials_decide(platform: PlatformContext, shop: Actor) -> None:
    merchant_id = apply(shop, "900000004")["id"]
    citizen = actor(platform, "citizen9", Role.CITIZEN)
    for who in (shop, citizen):
        for action in ("approve", "reject", "suspend", "reactivate"):
            response = who.client.post(
                f"/api/merchants/{merchant_id}/{action}", headers=who.headers
            )
            assert response.status_code == 403, (action, response.text)
        assert who.client.get("/api/merchants/applications").status_code == 403
    assert (
        citizen.client.post("/api/merchants", json=APPLY, headers=citizen.headers).status_code
        == 403
    )
    visitor = platform_client(platform)
    assert visitor.post(f"/api/merchants/{merchant_id}/approve").status_code in (401, 403)
    assert MerchantService(platform).get(merchant_id).status == "applied"


def platform_client(context: PlatformContext) -> Any:
    from fastapi.testclient import TestClient

    from busanchain.web.app import create_app

    return TestClient(create_app(context))


def test_a_merchant_sees_only_its_own_report(
    platform: PlatformContext, shop: Actor, registrar: Actor
) -> None:
    mine = apply(shop, "900000005")
    approve(registrar, mine["id"])
    other = actor(platform, "othershop2", Role.MERCHANT)
    theirs = apply(other, "900000006")
    approve(registrar, theirs["id"])
    day = date(2026, 11, 21)
    service = MerchantService(platform)
    mine_view, theirs_view = service.get(mine["id"]), service.get(theirs["id"])
    with platform.unit_of_work() as session:
        add_payment(session, mine_view, 1_000, day, nonce=1)
        add_payment(session, theirs_view, 99_000, day, nonce=2)

    own = shop.client.get(f"/api/merchants/me/report?day={day}").json()
    assert own["payments"] == {"count": 1, "gross": 1_000}
    assert own["merchant_code"] == mine["code"]
    assert shop.client.get(f"/api/merchants/{theirs['id']}/report").status_code == 403
    by_official = registrar.client.get(f"/api/merchants/{theirs['id']}/report?day={day}").json()
    assert by_official["payments"]["gross"] == 99_000
    csv_text = shop.client.get(f"/api/merchants/me/report?day={day}&format=csv")
    assert csv_text.headers["content-type"].startswith("text/csv")
    assert csv_text.text.splitlines()[1].startswith(f"{day},{mine['code']},1,1000,")


def test_search_api_filters(platform: PlatformContext, shop: Actor, registrar: Actor) -> None:
    approve(registrar, apply(shop, "900000007")["id"])  # fast food in Suyeong-gu
    other = actor(platform, "barowner", Role.MERCHANT)
    approve(
        registrar,
        apply(other, "900000008", mcc=5813, district=26350, shop_name_ko="해운대 바")["id"],
    )
    with platform.unit_of_work() as session:
        add_program(session, 77, blocked_categories=[5813])
    visitor = platform_client(platform)

    def names(query: str) -> list[str]:
        response = visitor.get(f"/api/merchants/search{query}")
        assert response.status_code == 200, response.text
        return [m["shop_name_ko"] for m in response.json()]

    assert sorted(names("")) == ["광안리 분식", "해운대 바"]
    assert names("?district=26350") == ["해운대 바"]
    assert names("?mcc=5814&district=") == ["광안리 분식"]
    assert names("?program=77") == ["광안리 분식"]
    assert names("?q=%EB%B0%94") == ["해운대 바"]
    page = visitor.get("/merchants/search?district=26350")
    assert page.status_code == 200 and "해운대 바" in page.text and "/pay?m=" in page.text
    assert "Haeundae-gu" in visitor.get("/merchants/search?lang=en").text


def test_qr_codes_round_trip(platform: PlatformContext, shop: Actor, registrar: Actor) -> None:
    code = apply(shop, "900000009")["code"]
    static = shop.client.get("/api/merchants/me/qr.svg")
    assert static.status_code == 200
    assert static.headers["content-type"].startswith("image/svg+xml")
    assert static.headers["x-qr-payload"] == static_payload(code)
    assert "<svg" in static.text
    dynamic = shop.client.get("/api/merchants/me/qr.svg?amount=12000&order=A-1024")
    payload = dynamic.headers["x-qr-payload"]
    parsed = shop.client.get("/api/merchants/qr/parse", params={"payload": payload}).json()
    assert parsed["merchant_code"] == code
    assert (parsed["amount"], parsed["order_id"]) == (12000, "A-1024")
    assert parsed["expires_at"] > time.time()
    plain = shop.client.get("/api/merchants/qr/parse", params={"payload": static_payload(code)})
    assert plain.json() == {
        "merchant_code": code,
        "amount": None,
        "order_id": None,
        "expires_at": None,
    }


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "hello",
        "busanchain:pay?",
        "busanchain:pay?m=BS-XXXX",
        "busanchain:pay?m=BS-7K2Q9P&a=100",
        "busanchain:pay?m=BS-7K2Q9P&m=BS-7K2Q9Q",
        "busanchain:pay?m=BS-7K2Q9P&a=0&o=A1&t=9999999999",
        "busanchain:pay?m=BS-7K2Q9P&a=10000001&o=A1&t=9999999999",
        "busanchain:pay?m=BS-7K2Q9P&a=-5&o=A1&t=9999999999",
        "busanchain:pay?m=BS-7K2Q9P&a=100&o=bad%20id&t=9999999999",
        "busanchain:pay?m=BS-7K2Q9P&a=100&o=" + "x" * 33 + "&t=9999999999",
        "busanchain:pay?m=BS-7K2Q9P&a=100&o=A1&t=1",
        "busanchain:pay?m=BS-7K2Q9P&a=100&o=A1&t=soon",
        "busanchain:pay?m=BS-7K2Q9P&x=1",
        "https://evil.example/?m=BS-7K2Q9P",
        "x" * 400,
    ],
)
def test_bad_qr_payloads_are_422(platform: PlatformContext, payload: str) -> None:
    response = platform_client(platform).get("/api/merchants/qr/parse", params={"payload": payload})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"]


def test_dynamic_payload_is_parsed_back(platform: PlatformContext) -> None:
    text = dynamic_payload("BS-7K2Q9P", 5000, "order_1", now=int(time.time()))
    client = platform_client(platform)
    assert client.get("/api/merchants/qr/parse", params={"payload": text}).json()["amount"] == 5000


def test_redemption_over_the_api_burns_once(
    platform: PlatformContext, shop: Actor, registrar: Actor
) -> None:
    approve(registrar, apply(shop, "900000010")["id"])
    service = MerchantService(platform)
    token = service.chain.token
    service.outbox.execute(
        signer=operator_signer(platform.settings),
        intent="test.mint",
        to=token.address,
        data=service.chain.calldata(token, "mint", [shop.address, 40_000, b"\x09" * 32]),
    )
    supply = service.chain.read_one(token, "totalSupply", [])
    headers = {**shop.headers, "Idempotency-Key": "api-redeem-0001"}
    first = shop.client.post(
        "/api/merchants/me/redemptions", json={"amount": 25_000}, headers=headers
    )
    second = shop.client.post(
        "/api/merchants/me/redemptions", json={"amount": 25_000}, headers=headers
    )
    assert first.status_code == 200, first.text
    assert second.json() == first.json()
    assert first.json()["state"] == "burned"
    assert first.json()["bank_reference"] is None  # an official records the transfer later
    assert service.chain.token_balance(shop.address) == 15_000
    assert supply - service.chain.read_one(token, "totalSupply", []) == 25_000
    changed = shop.client.post("/api/merchants/me/redemptions", json={"amount": 1}, headers=headers)
    assert changed.status_code == 422  # same key, other body
    no_key = shop.client.post(
        "/api/merchants/me/redemptions", json={"amount": 1}, headers=shop.headers
    )
    assert no_key.status_code == 422
    settlements = shop.client.get("/api/merchants/me/settlements").json()
    assert [s["amount"] for s in settlements] == [25_000]
    assert row_count(platform, SettlementRecord) == 1


BAD_REQUESTS: list[tuple[str, str, Any]] = [
    ("POST", "/api/merchants", {**APPLY, "business_number": "123-45-67891"}),
    ("POST", "/api/merchants", {**APPLY, "business_number": "1234567890123456789012"}),
    ("POST", "/api/merchants", {**APPLY, "business_number": bizno("910000001"), "mcc": 1}),
    ("POST", "/api/merchants", {**APPLY, "business_number": bizno("910000001"), "district": 11110}),
    ("POST", "/api/merchants", {**APPLY, "business_number": bizno("910000001"), "mcc": "x"}),
    (
        "POST",
        "/api/merchants",
        {**APPLY, "business_number": bizno("910000001"), "shop_name_ko": ""},
    ),
    ("POST", "/api/merchants", {**APPLY, "business_number": bizno("910000001"), "extra": 1}),
    ("POST", "/api/merchants", {"shop_name_ko": "x"}),
    ("POST", "/api/merchants", "not json"),
    ("POST", "/api/merchants", [1, 2]),
    ("GET", "/api/merchants/search?district=abc", None),
    ("GET", "/api/merchants/search?district=11110", None),
    ("GET", "/api/merchants/search?mcc=99999999999", None),
    ("GET", "/api/merchants/search?program=999", None),
    ("GET", "/api/merchants/search?page=0", None),
    ("GET", "/api/merchants/search?q=" + "x" * 200, None),
    ("GET", "/api/merchants/not-a-code", None),
    ("GET", "/api/merchants/BS-222222", None),
    ("GET", "/api/merchants/me/report?day=2026-13-01", None),
    ("GET", "/api/merchants/me/report?format=xml", None),
    ("GET", "/api/merchants/me/qr.svg?amount=0&order=A1", None),
    ("GET", "/api/merchants/me/qr.svg?amount=100", None),
    ("GET", "/api/merchants/me/qr.svg?amount=100&order=%3Cscript%3E", None),
    ("GET", "/api/merchants/qr/parse", None),
    ("POST", "/api/merchants/me/redemptions", {"amount": "100"}),
    ("POST", "/api/merchants/me/redemptions", {"amount": -1}),
    ("POST", "/api/merchants/me/redemptions", {"amount": 10**16}),
    ("POST", "/api/merchants/me/redemptions", {"amount": 10**6}),
    ("POST", "/api/merchants/0/approve", None),
    ("POST", "/api/merchants/99999/approve", None),
    ("POST", "/api/merchants/abc/approve", None),
    ("POST", "/api/merchants/99999999999/suspend", None),
    ("POST", "/api/merchants/1/reject", {"note": "x" * 301}),
    ("GET", "/api/merchants/applications?status=bogus", None),
    ("PATCH", "/api/merchants/1", {"mcc": 1}),
    ("GET", "/api/merchants/1/report?day=yesterday", None),
]


def _registrar_only(method: str, url: str) -> bool:
    """Requests that only an official may make (a shop would get 403 before validation)."""
    markers = ("/approve", "/suspend", "/reject", "/applications", "/api/merchants/1/")
    return method == "PATCH" or any(m in url for m in markers)


def test_bad_input_is_4xx_and_leaves_nothing(
    platform: PlatformContext, shop: Actor, registrar: Actor
) -> None:
    merchant_id = apply(shop, "900000011")["id"]
    approve(registrar, merchant_id)
    tables = (MerchantRecord, SettlementRecord, IdempotencyRecord, OutboxEntry)
    before = [row_count(platform, table) for table in tables]
    for method, url, body in BAD_REQUESTS:
        who = registrar if _registrar_only(method, url) else shop
        headers = {**who.headers, "Idempotency-Key": f"bad-key-{abs(hash(url)) % 10**8:08d}"}
        response = who.client.request(method, url, json=body, headers=headers)
        assert 400 <= response.status_code < 500, (method, url, response.status_code, response.text)
        if response.headers.get("content-type", "").startswith("application/json"):
            assert response.json()["error"]["message"]
    assert [row_count(platform, table) for table in tables] == before


def test_pages_render_for_each_role(
    platform: PlatformContext, shop: Actor, registrar: Actor
) -> None:
    assert (
        shop.client.get("/merchants/me", follow_redirects=False).headers["location"]
        == "/merchants/apply"
    )
    assert "사업자등록번호" in shop.client.get("/merchants/apply").text
    merchant_id = apply(shop, "900000012")["id"]
    assert "심사 대기" in shop.client.get("/merchants/me").text
    review = registrar.client.get("/merchants/registrar")
    assert review.status_code == 200 and "광안리 분식" in review.text
    approve(registrar, merchant_id)
    page = shop.client.get("/merchants/me?lang=en")
    assert page.status_code == 200
    assert "Shop QR code" in page.text and "<svg" in page.text and "report-chart" in page.text
    assert shop.client.get("/merchants/registrar").status_code == 403
    assert registrar.client.get("/merchants/apply").status_code == 403
    visitor = platform_client(platform)
    assert visitor.get("/merchants/me", follow_redirects=False).status_code == 303
    assert visitor.get("/merchants/search").status_code == 200
    assert visitor.get("/merchants/search?district=abc").status_code == 200
