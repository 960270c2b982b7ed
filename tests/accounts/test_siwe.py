"""Linking an external wallet with Sign-In with Ethereum (EIP-4361)."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from tests.accounts.conftest import csrf_headers, signup

WALLET = Account.from_key("0x" + "11" * 32)
OTHER = Account.from_key("0x" + "22" * 32)


def _sign(account: Any, text: str) -> str:
    return "0x" + bytes(account.sign_message(encode_defunct(text=text)).signature).hex()


def _challenge(client: TestClient, address: str) -> dict[str, Any]:
    response = client.post(
        "/api/accounts/siwe/nonce", json={"address": address}, headers=csrf_headers(client)
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _verify(client: TestClient, message: str, signature: str) -> Any:
    return client.post(
        "/api/accounts/siwe/verify",
        json={"message": message, "signature": signature},
        headers=csrf_headers(client),
    )


def test_link_wallet(app_client: TestClient) -> None:
    signup(app_client, "alice")
    challenge = _challenge(app_client, WALLET.address.lower())
    message = challenge["message"]
    assert message.startswith("127.0.0.1:8000 wants you to sign in with your Ethereum account:\n")
    assert f"\n{WALLET.address}\n" in message
    assert f"Nonce: {challenge['nonce']}" in message and "Chain ID: 31337" in message
    response = _verify(app_client, message, _sign(WALLET, message))
    assert response.status_code == 200, response.text
    assert response.json()["address"] == WALLET.address
    me = app_client.get("/api/accounts/me").json()
    assert me["user"]["linked_wallets"] == [WALLET.address]
    # The nonce is single use.
    again = _verify(app_client, message, _sign(WALLET, message))
    assert again.status_code == 403


def test_wrong_signature_is_refused(app_client: TestClient) -> None:
    signup(app_client, "bob")
    message = _challenge(app_client, WALLET.address)["message"]
    response = _verify(app_client, message, _sign(OTHER, message))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "siwe_rejected"
    garbage = _verify(app_client, message, "0x" + "00" * 65)
    assert garbage.status_code == 403
    assert app_client.get("/api/accounts/me").json()["user"]["linked_wallets"] == []


def test_wrong_nonce_is_refused(app_client: TestClient) -> None:
    signup(app_client, "carol")
    challenge = _challenge(app_client, WALLET.address)
    message = challenge["message"].replace(challenge["nonce"], "a" * 32)
    response = _verify(app_client, message, _sign(WALLET, message))
    assert response.status_code == 403


def test_wrong_domain_uri_or_chain_is_refused(app_client: TestClient) -> None:
    signup(app_client, "dave")
    for old, new in (
        ("127.0.0.1:8000 wants", "evil.example wants"),
        ("URI: http://127.0.0.1:8000", "URI: http://evil.example"),
        ("Chain ID: 31337", "Chain ID: 1"),
    ):
        message = _challenge(app_client, WALLET.address)["message"].replace(old, new)
        response = _verify(app_client, message, _sign(WALLET, message))
        assert response.status_code == 403, old


def test_expired_message_is_refused(app_client: TestClient) -> None:
    signup(app_client, "erin")
    message = _challenge(app_client, WALLET.address)["message"]
    head, _, _ = message.partition("\nExpiration Time: ")
    expired = head + "\nExpiration Time: 2020-01-01T00:00:00Z"
    response = _verify(app_client, expired, _sign(WALLET, expired))
    assert response.status_code == 403


def test_nonce_of_another_user_is_refused(app_client: TestClient) -> None:
    signup(app_client, "fay")
    message = _challenge(app_client, WALLET.address)["message"]
    thief = TestClient(app_client.app)
    signup(thief, "gus")
    response = _verify(thief, message, _sign(WALLET, message))
    assert response.status_code == 403


def test_a_wallet_links_to_one_user_only(app_client: TestClient) -> None:
    signup(app_client, "hal")
    message = _challenge(app_client, OTHER.address)["message"]
    assert _verify(app_client, message, _sign(OTHER, message)).status_code == 200
    rival = TestClient(app_client.app)
    signup(rival, "ivy")
    message = _challenge(rival, OTHER.address)["message"]
    response = _verify(rival, message, _sign(OTHER, message))
    assert response.status_code == 409


def test_bad_inputs_are_422(app_client: TestClient) -> None:
    signup(app_client, "joe")
    headers = csrf_headers(app_client)
    bad_address = app_client.post(
        "/api/accounts/siwe/nonce", json={"address": "0x1234"}, headers=headers
    )
    assert bad_address.status_code == 422
    not_siwe = _verify(app_client, "hello\u202e world", "0x" + "ab" * 65)
    assert not_siwe.status_code == 422
    short_sig = _verify(app_client, "x", "0x1234")
    assert short_sig.status_code == 422
