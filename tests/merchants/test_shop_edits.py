"""Owners edit their own shop; category and district changes are requested and decided."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from busanchain.domain.errors import Conflict, NotFound, ValidationFailed
from busanchain.domain.roles import Role
from busanchain.keys.tables import SealedField
from busanchain.merchants.service import MerchantService, MerchantView
from busanchain.merchants.shop_edits import BANK_FIELD, ShopEditService
from busanchain.merchants.tables import ChangeRequestRecord, MerchantRecord
from busanchain.platform.context import PlatformContext
from tests.merchants.conftest import Actor, active_merchant, actor, bizno, new_merchant_user


@pytest.fixture
def edits(service: MerchantService) -> ShopEditService:
    return ShopEditService(service.context, service)


def merchant_row(context: PlatformContext, merchant_id: int) -> dict[str, Any]:
    with context.unit_of_work() as session:
        record = session.get(MerchantRecord, merchant_id)
        assert record is not None
        return {c.name: getattr(record, c.name) for c in MerchantRecord.__table__.columns}


# -- the owner's own edits -----------------------------------------------------------------


def test_owner_edits_names_address_phone_and_sealed_bank_account(
    edits: ShopEditService, official_id: int
) -> None:
    view = active_merchant(edits.merchants, "editor", official_id, nine="600000001")
    out = edits.edit_own(
        view.owner_user_id,
        {
            "shop_name_ko": " 해운대 새 마트 ",
            "shop_name_en": "Haeundae New Mart",
            "street_address": "해운대로 99",
            "customer_phone": "051-123-4567",
            "bank_code": "032",
            "bank_account_number": "112-2334-455667",
        },
    )
    assert out["shop_name_ko"] == "해운대 새 마트"
    assert (out["street_address"], out["customer_phone"]) == ("해운대로 99", "0511234567")
    assert out["bank_account"] == {"bank_code": "032", "number": "*********5667"}
    assert out["mcc"] == view.mcc and out["district"] == view.district
    account = edits.bank_account(view.owner_user_id)
    assert account is not None and account.number == "1122334455667"
    assert "1122334455667" not in repr(account)
    with edits.context.unit_of_work() as session:
        sealed = session.scalars(
            select(SealedField).where(
                SealedField.user_id == view.owner_user_id, SealedField.field == BANK_FIELD
            )
        ).one()
        assert b"1122334455667" not in sealed.ciphertext
    assert "1122334455667" not in str(merchant_row(edits.context, view.id))
    # the public view shows the shop phone, never the account
    public = edits.merchants.by_code(view.code).public_dict()
    assert public["customer_phone"] == "0511234567" and "bank_account" not in public

    # only the fields sent change; "" clears optional ones; an empty bank pair removes it
    again = edits.edit_own(
        view.owner_user_id, {"shop_name_en": "", "bank_code": "", "bank_account_number": ""}
    )
    assert again["shop_name_en"] is None and again["shop_name_ko"] == "해운대 새 마트"
    assert again["bank_account"] is None
    assert edits.bank_account(view.owner_user_id) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"shop_name_ko": "새 이름", "mcc": 5812},
        {"shop_name_ko": "새 이름", "district": 26260},
        {"shop_name_ko": ""},
        {"shop_name_ko": "x" * 101},
        {"shop_name_ko": "새 이름", "customer_phone": "12"},
        {"shop_name_ko": "새 이름", "customer_phone": "call me"},
        {"shop_name_ko": "새 이름", "bank_code": "999", "bank_account_number": "1122334455"},
        {"shop_name_ko": "새 이름", "bank_code": "032", "bank_account_number": "12345"},
        {"shop_name_ko": "새 이름", "bank_code": "032", "bank_account_number": "1122x34455"},
        {"shop_name_ko": "새 이름", "bank_account_number": "1122334455"},
        {"street_address": "bad\u0000address"},
    ],
)
def test_bad_edits_change_nothing(
    edits: ShopEditService, official_id: int, fields: dict[str, Any]
) -> None:
    view = active_merchant(edits.merchants, "bad_editor", official_id, nine="600000002")
    before = merchant_row(edits.context, view.id)
    with pytest.raises(ValidationFailed) as refused:
        edits.edit_own(view.owner_user_id, fields)
    assert refused.value.message("ko") != refused.value.message("en")
    assert merchant_row(edits.context, view.id) == before
    assert edits.bank_account(view.owner_user_id) is None


def test_edits_need_a_shop_in_an_editable_state(edits: ShopEditService, official_id: int) -> None:
    nobody = new_merchant_user(edits.context, "no_shop")
    with pytest.raises(NotFound):
        edits.edit_own(nobody, {"shop_name_ko": "가게"})
    owner = new_merchant_user(edits.context, "rejected_shop")
    view = edits.merchants.apply(owner, "가게", None, bizno("600000003"), 5411, 26350, None)
    assert edits.edit_own(owner, {"street_address": "중앙대로 1"})["street_address"]  # applied
    edits.merchants.reject(view.id, official_id, None)
    with pytest.raises(Conflict):
        edits.edit_own(owner, {"shop_name_ko": "새 가게"})


# -- change requests -----------------------------------------------------------------------


def registry_entry(service: MerchantService, view: MerchantView) -> tuple[int, int]:
    entry = service.chain.read_one(service.chain.registry, "merchantOf", [view.wallet_address])
    return int(entry[1]), int(entry[2])


def test_a_change_request_is_written_on_chain_when_approved(
    edits: ShopEditService, official_id: int
) -> None:
    view = active_merchant(edits.merchants, "mover", official_id, nine="600000004")
    request = edits.request_change(view.owner_user_id, 5812, "26260", "이전 개업")
    assert (request["state"], request["mcc"], request["district"]) == ("pending", 5812, 26260)
    assert registry_entry(edits.merchants, view) == (5411, 26350)  # nothing yet
    with pytest.raises(Conflict):  # one open request at a time
        edits.request_change(view.owner_user_id, 5814, None)
    assert [c["request_id"] for c in edits.changes()] == [request["request_id"]]

    decided = edits.approve_change(request["request_id"], official_id)

    assert decided["state"] == "approved"
    assert registry_entry(edits.merchants, view) == (5812, 26260)
    current = edits.merchants.get(view.id)
    assert (current.mcc, current.district) == (5812, 26260)
    with pytest.raises(Conflict):
        edits.approve_change(request["request_id"], official_id)
    assert edits.changes() == []
    assert edits.own_changes(view.owner_user_id)[0]["state"] == "approved"


def test_a_rejected_request_changes_nothing(edits: ShopEditService, official_id: int) -> None:
    view = active_merchant(edits.merchants, "stayer", official_id, nine="600000005")
    request = edits.request_change(view.owner_user_id, None, 26110)
    decided = edits.reject_change(request["request_id"], official_id, "서류 확인 필요")
    assert (decided["state"], decided["decision_note"]) == ("rejected", "서류 확인 필요")
    assert registry_entry(edits.merchants, view) == (5411, 26350)
    assert edits.merchants.get(view.id).district == 26350
    again = edits.request_change(view.owner_user_id, None, 26110)  # a new request is allowed
    assert again["state"] == "pending"


@pytest.mark.parametrize(
    ("mcc", "district"),
    [(None, None), (5411, 26350), (1, None), (None, 11110), ("x", None)],
)
def test_bad_change_requests_are_refused(
    edits: ShopEditService, official_id: int, mcc: object, district: object
) -> None:
    view = active_merchant(edits.merchants, "bad_mover", official_id, nine="600000006")
    with pytest.raises(ValidationFailed):
        edits.request_change(view.owner_user_id, mcc, district)
    with edits.context.unit_of_work() as session:
        assert session.scalars(select(ChangeRequestRecord)).all() == []


def test_a_shop_under_review_cannot_request_a_change(edits: ShopEditService) -> None:
    owner = new_merchant_user(edits.context, "waiting_mover")
    edits.merchants.apply(owner, "가게", None, bizno("600000007"), 5411, 26350, None)
    with pytest.raises(Conflict):
        edits.request_change(owner, 5812, None)


# -- over HTTP -------------------------------------------------------------------------------


@pytest.fixture
def people(platform: PlatformContext) -> Iterator[dict[str, Actor]]:
    made = {
        "official": actor(platform, "edit_official", Role.OFFICIAL),
        "auditor": actor(platform, "edit_auditor", Role.AUDITOR),
        "shop": actor(platform, "edit_shop", Role.MERCHANT),
        "other": actor(platform, "edit_other", Role.MERCHANT),
    }
    yield made
    for who in made.values():
        who.client.close()


def registered(platform: PlatformContext, who: Actor, nine: str) -> MerchantView:
    service = MerchantService(platform)
    view = service.apply(who.user_id, "기장 멸치 상회", None, bizno(nine), 5411, 26710, None)
    return service.approve(view.id, None)


def test_owner_api_edits_and_cannot_touch_another_shop(
    platform: PlatformContext, people: dict[str, Actor]
) -> None:
    shop, other = people["shop"], people["other"]
    mine = registered(platform, shop, "600000008")
    theirs = registered(platform, other, "600000009")

    changed = shop.client.patch(
        "/api/merchants/me",
        json={
            "shop_name_en": "Gijang Anchovy",
            "bank_code": "090",
            "bank_account_number": "3333-01-2345678",
        },
        headers=shop.headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["shop_name_en"] == "Gijang Anchovy"
    assert body["bank_account"] == {"bank_code": "090", "number": "*********5678"}
    assert shop.client.get("/api/merchants/me").json()["bank_account"]["number"].endswith("5678")

    refused = shop.client.patch(
        "/api/merchants/me?lang=ko", json={"mcc": 5812}, headers=shop.headers
    )
    assert refused.status_code == 422
    assert "변경 요청" in refused.json()["error"]["message"]
    english = shop.client.patch(
        "/api/merchants/me?lang=en", json={"district": 26260}, headers=shop.headers
    )
    assert "change request" in english.json()["error"]["message"]
    bad_phone = shop.client.patch(
        "/api/merchants/me",
        json={"shop_name_ko": "새 이름", "customer_phone": "x"},
        headers=shop.headers,
    )
    assert bad_phone.status_code == 422
    assert MerchantService(platform).get(mine.id).shop_name_ko == "기장 멸치 상회"  # no partial
    extra = shop.client.patch(
        "/api/merchants/me", json={"wallet_address": "0x0"}, headers=shop.headers
    )
    assert extra.status_code == 422

    # another shop: the registrar's routes are closed to merchants
    for method, url in (
        ("PATCH", f"/api/merchants/{theirs.id}"),
        ("POST", f"/api/merchants/{theirs.id}/suspend"),
    ):
        response = shop.client.request(
            method, url, json={"shop_name_ko": "탈취"}, headers=shop.headers
        )
        assert response.status_code == 403, (url, response.text)
    assert MerchantService(platform).get(theirs.id).shop_name_ko == "기장 멸치 상회"
    assert other.client.get("/api/merchants/me").json()["bank_account"] is None


def test_change_request_api_roles(platform: PlatformContext, people: dict[str, Actor]) -> None:
    shop, official, auditor = people["shop"], people["official"], people["auditor"]
    view = registered(platform, shop, "600000010")
    created = shop.client.post(
        "/api/merchants/me/change-requests",
        json={"mcc": 5814, "reason": "카페로 업종 변경"},
        headers=shop.headers,
    )
    assert created.status_code == 201, created.text
    request_id = created.json()["request_id"]
    duplicate = shop.client.post(
        "/api/merchants/me/change-requests", json={"district": 26110}, headers=shop.headers
    )
    assert duplicate.status_code == 409
    assert shop.client.get("/api/merchants/me/change-requests").json()[0]["state"] == "pending"

    listed = auditor.client.get("/api/merchants/change-requests")
    assert listed.status_code == 200
    assert [c["merchant_code"] for c in listed.json()] == [view.code]
    assert auditor.client.get("/api/merchants/change-requests?state=bogus").status_code == 422
    for who in (shop, auditor):
        for action in ("approve", "reject"):
            response = who.client.post(
                f"/api/merchants/change-requests/{request_id}/{action}", headers=who.headers
            )
            assert response.status_code == 403, (action, response.text)
    assert shop.client.get("/api/merchants/change-requests").status_code == 403

    page = official.client.get("/merchants/registrar")
    assert f'data-request="{request_id}"' in page.text and "카페로 업종 변경" in page.text
    approved = official.client.post(
        f"/api/merchants/change-requests/{request_id}/approve", headers=official.headers
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    assert shop.client.get("/api/merchants/me").json()["mcc"] == 5814
    again = official.client.post(
        f"/api/merchants/change-requests/{request_id}/approve", headers=official.headers
    )
    assert again.status_code == 409
    missing = official.client.post(
        "/api/merchants/change-requests/99999/reject", headers=official.headers
    )
    assert missing.status_code == 404


def test_me_page_shows_the_edit_forms_and_masked_account(
    platform: PlatformContext, people: dict[str, Actor]
) -> None:
    shop = people["shop"]
    registered(platform, shop, "600000011")
    ShopEditService(platform).edit_own(
        shop.user_id, {"bank_code": "032", "bank_account_number": "1122334455667"}
    )
    page = shop.client.get("/merchants/me")
    assert page.status_code == 200
    assert 'id="edit-form"' in page.text and 'id="change-form"' in page.text
    assert "부산은행" in page.text and "*********5667" in page.text
    assert "1122334455667" not in page.text
    english = shop.client.get("/merchants/me?lang=en").text
    assert "Edit shop details" in english and "Busan Bank" in english
