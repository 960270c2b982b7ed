"""POST /api/activation: hand-over, generic mismatch, conflicts, lockout, atomicity, bad input."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from busanchain.accounts.sessions import SESSION_COOKIE
from busanchain.accounts.tables import UserRecord
from busanchain.activation.service import ActivationRequest, activation_service_for
from busanchain.domain.errors import BusanchainError
from busanchain.programs.importer import UNUSABLE_PASSWORD
from tests.activation.conftest import (
    NEW_PASSWORD,
    World,
    client_at,
    custodial_address,
    failures,
    snapshot,
)

URL = "/api/activation"


def _user(world: World, user_id: int) -> UserRecord:
    with world.context.unit_of_work() as session:
        record = session.get(UserRecord, user_id)
        assert record is not None
        session.expunge(record)
        return record


def test_activation_logs_in_and_the_wallet_shows_the_custodial_address(
    world: World, client: TestClient
) -> None:
    before = snapshot(world.context)
    assert world.alice.user_id is not None
    address = custodial_address(world.context, world.alice.user_id)
    digits = world.alice.number.replace("-", "")
    phone = "+82 " + world.alice.phone[1:]  # +82 10-1234-5678
    answer = client.post(URL, json=world.alice.body(resident_number=digits, phone=phone))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["username"] == "minsu" and body["wallet_address"] == address
    assert body["next_url"] == "/wallet" and body["replayed"] is False
    assert SESSION_COOKIE in client.cookies
    me = client.get("/api/accounts/me").json()
    assert me["user"]["id"] == world.alice.user_id and me["user"]["username"] == "minsu"
    assert me["user"]["roles"] == ["citizen"] and me["csrf_token"] == body["csrf_token"]
    wallet = client.get("/api/payments/wallet")
    assert wallet.status_code == 200, wallet.text
    assert wallet.json()["address"] == address
    # Same user, same key, same resident link: only the username and password changed.
    after = snapshot(world.context)
    assert after["residents"] == before["residents"] and after["keys"] == before["keys"]
    assert len(after["users"]) == len(before["users"]) and after["roles"] == before["roles"]
    # A new browser logs in with the new password.
    other = client_at(world.context, "10.0.0.2")
    login = other.post("/api/accounts/login", json={"login": "minsu", "password": NEW_PASSWORD})
    assert login.status_code == 200, login.text
    assert other.get("/api/payments/wallet").json()["address"] == address


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_wrong_phone_wrong_number_and_unknown_resident_get_one_answer(
    world: World, client: TestClient, lang: str
) -> None:
    before = snapshot(world.context)
    attempts = [
        world.alice.body(phone="010-0000-0000"),  # right number, wrong phone
        world.alice.body(resident_number=world.bob.number),  # someone else's number
        world.alice.body(resident_number=world.stranger_number),  # never imported
        world.alice.body(resident_number=world.stranger_number, phone="010-9999-9999"),
    ]
    answers = [client.post(URL, json=body, params={"lang": lang}) for body in attempts]
    assert {a.status_code for a in answers} == {401}
    errors = {(a.json()["error"]["code"], a.json()["error"]["message"]) for a in answers}
    assert len(errors) == 1, errors
    code, message = errors.pop()
    assert code == "activation_mismatch"
    assert ("일치하지 않습니다" if lang == "ko" else "do not match our records") in message
    assert SESSION_COOKIE not in client.cookies
    assert snapshot(world.context) == before
    assert len(failures(world.context)) == 2 * len(attempts)  # the address and the resident


def test_already_activated_is_409_and_a_repeat_logs_in_again(
    world: World, client: TestClient
) -> None:
    assert client.post(URL, json=world.alice.body()).status_code == 200
    activated = snapshot(world.context)
    other = client_at(world.context, "10.0.0.2")
    for lang, text in (("en", "log in instead"), ("ko", "로그인하세요")):
        taken = other.post(
            URL,
            json=world.alice.body(username="mallory", password="another pw 1"),
            params={"lang": lang},
        )
        assert taken.status_code == 409
        assert taken.json()["error"]["code"] == "already_activated"
        assert text in taken.json()["error"]["message"]
    wrong = other.post(URL, json=world.alice.body(password="not the password"))
    assert wrong.status_code == 409 and SESSION_COOKIE not in other.cookies
    assert snapshot(world.context) == activated
    # The same request again (a double submit, a retry) logs in instead of failing.
    again = other.post(URL, json=world.alice.body())
    assert again.status_code == 200, again.text
    assert again.json()["replayed"] is True and again.json()["username"] == "minsu"
    assert other.get("/api/accounts/me").json()["user"]["id"] == world.alice.user_id
    assert snapshot(world.context)["users"] == activated["users"]


def test_a_resident_with_a_self_custody_wallet_gets_409(world: World, client: TestClient) -> None:
    before = snapshot(world.context)
    answer = client.post(URL, json=world.carol.body(), params={"lang": "en"})
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "self_custody_wallet"
    assert "linked self-custody wallet" in answer.json()["error"]["message"]
    korean = client.post(URL, json=world.carol.body(), params={"lang": "ko"})
    assert "개인 지갑" in korean.json()["error"]["message"]
    assert snapshot(world.context) == before and failures(world.context) == []


def test_a_taken_username_is_409_and_changes_nothing(world: World, client: TestClient) -> None:
    assert client.post(URL, json=world.bob.body(username="bob")).status_code == 200
    before = snapshot(world.context)
    answer = client_at(world.context, "10.0.0.3").post(URL, json=world.alice.body(username="BOB"))
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "username_taken"
    assert snapshot(world.context) == before
    assert world.alice.user_id is not None
    assert _user(world, world.alice.user_id).password_hash == UNUSABLE_PASSWORD


def test_five_failures_lock_the_resident_even_with_the_right_phone(world: World) -> None:
    wrong = world.alice.body(phone="010-0000-0000")
    for i in range(5):  # from five addresses: the resident's own count locks it
        assert client_at(world.context, f"10.0.1.{i}").post(URL, json=wrong).status_code == 401
    before = snapshot(world.context)
    fresh = client_at(world.context, "10.0.2.1")
    locked = fresh.post(URL, json=world.alice.body(), params={"lang": "en"})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "activation_throttled"
    assert "15 minutes" in locked.json()["error"]["message"]
    retry = int(locked.headers["Retry-After"])
    assert 0 < retry <= 15 * 60 and locked.json()["error"]["details"]["retry_after_s"] == retry
    korean = fresh.post(URL, json=world.alice.body(), params={"lang": "ko"})
    assert "15분" in korean.json()["error"]["message"]
    assert snapshot(world.context) == before
    # Another resident from the same fresh address is not locked.
    assert fresh.post(URL, json=world.bob.body(username="bob")).status_code == 200


def test_five_failures_lock_the_client_address_for_every_resident(
    world: World, client: TestClient
) -> None:
    for i in range(5):  # spraying numbers from one address
        body = world.bob.body(resident_number=f"0{i}0101-3{i}23456")
        assert client.post(URL, json=body).status_code == 401
    locked = client.post(URL, json=world.bob.body())
    assert locked.status_code == 429 and "Retry-After" in locked.headers
    # The lock is in the database: a restarted app (another worker) still refuses.
    assert client_at(world.context, "10.0.0.1").post(URL, json=world.bob.body()).status_code == 429
    assert client_at(world.context, "10.0.0.9").post(URL, json=world.bob.body()).status_code == 200


def test_success_clears_the_residents_failures(world: World, client: TestClient) -> None:
    for i in range(4):
        wrong = world.alice.body(phone="010-0000-0000")
        assert client_at(world.context, f"10.0.3.{i}").post(URL, json=wrong).status_code == 401
    assert client.post(URL, json=world.alice.body()).status_code == 200
    assert not [s for s in failures(world.context) if s.startswith("activation:resident:")]


def test_concurrent_double_submit_activates_once(world: World) -> None:
    service = activation_service_for(world.context)
    assert world.alice.user_id is not None
    barrier = threading.Barrier(4)
    results: list[Any] = []
    requests = [
        ActivationRequest(world.alice.number, world.alice.phone, name, pw)
        for name, pw in [("minsu", NEW_PASSWORD)] * 2
        + [("jiwoo", "second password"), ("minsu", "x" * 9)]
    ]

    def submit(request: ActivationRequest, address: str) -> None:
        barrier.wait()
        try:
            results.append(service.activate(request, address))
        except BusanchainError as exc:
            results.append(exc)

    threads = [
        threading.Thread(target=submit, args=(r, f"10.0.4.{i}")) for i, r in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    record = _user(world, world.alice.user_id)
    winners = [r for r in results if not isinstance(r, BusanchainError) and not r.replayed]
    assert len(results) == 4 and len(winners) == 1, results
    assert record.username == winners[0].username  # renamed and password set together
    assert record.password_hash != UNUSABLE_PASSWORD
    for other in results:
        if isinstance(other, BusanchainError):
            assert other.code == "already_activated"
        else:
            assert other.user_id == world.alice.user_id and other.username == record.username


@pytest.mark.parametrize(
    "changes",
    [
        {"resident_number": "900101-123456"},  # 12 digits
        {"resident_number": "abcdef-ghijklm"},
        {"resident_number": "901301-1234567"},  # no 13th month
        {"resident_number": "900101-9234567"},  # no such century digit
        {"resident_number": "٩٠٠١٠١-١٢٣٤٥٦٧"},  # non-ASCII digits
        {"resident_number": "9" * 100_000},
        {"resident_number": 9001011234567},
        {"phone": "call me maybe"},
        {"phone": "+1 415 555 0100"},
        {"phone": "010-1234"},
        {"phone": "0" * 100_000},
        {"username": "no spaces allowed"},
        {"username": "x" * 100_000},
        {"password": "short"},
        {"password": "p" * 100_000},
        {"extra": "field"},
    ],
)
def test_bad_input_is_422_and_counts_nothing(
    world: World, client: TestClient, changes: dict[str, Any]
) -> None:
    before = snapshot(world.context)
    answer = client.post(URL, json=world.alice.body(**changes))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_failed"
    assert snapshot(world.context) == before and failures(world.context) == []


def test_missing_fields_wrong_types_and_huge_bodies_are_4xx(
    world: World, client: TestClient
) -> None:
    before = snapshot(world.context)
    assert client.post(URL, json={}).status_code == 422
    assert client.post(URL, json=[world.alice.body()]).status_code == 422
    assert (
        client.post(
            URL, content=b"{not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 422
    )
    huge = client.post(URL, json=world.alice.body(password="p" * 2_000_000))
    assert huge.status_code == 413
    assert snapshot(world.context) == before and failures(world.context) == []


def test_number_and_phone_match_in_any_common_format(world: World) -> None:
    service = activation_service_for(world.context)
    number = world.bob.number.replace("-", "")
    phone = "(" + world.bob.phone.replace("-", ") ", 1).replace("-", " ")  # (010) 1234 5678
    result = service.activate(ActivationRequest(number, phone, "Bob", NEW_PASSWORD), "10.0.5.1")
    assert result.username == "bob" and result.user_id == world.bob.user_id
    assert world.bob.user_id is not None
    assert _user(world, world.bob.user_id).username == "bob"
