"""Keys at rest: nothing secret in the database or the logs, rows bound to their owner,
and rotation to a new KEK re-encrypts every row."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from busanchain.accounts.service import AccountService, account_service_for
from busanchain.db.base import Base
from busanchain.domain.personal import PersonalData
from busanchain.keys.kek import KeyUnavailable, kek_from_hex
from busanchain.keys.service import KeyService, key_service_for
from busanchain.keys.tables import CustodialKey, SealedField
from busanchain.platform.context import PlatformContext
from busanchain.web.app import create_app

PASSWORD = "a very secret passphrase"
NAME = "김비밀"
PHONE = "01098765432"


def _dump(context: PlatformContext) -> str:
    """Every column of every row of every table, as text (bytes as hex and as text)."""
    parts: list[str] = []
    with context.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        raw = bytes(value)
                        parts += [raw.hex(), raw.decode("latin-1"), raw.decode("utf-8", "ignore")]
                    else:
                        parts.append(str(value))
    return "\n".join(parts)


def _totp_user(client: TestClient) -> str:
    import pyotp

    out = client.post(
        "/api/accounts/signup",
        json={"username": "totpuser", "password": PASSWORD, "name": NAME, "phone": PHONE},
    ).json()
    headers = {"X-CSRF-Token": out["csrf_token"]}
    secret = client.post("/api/accounts/totp/enroll", headers=headers).json()["secret"]
    confirmed = client.post(
        "/api/accounts/totp/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=headers
    )
    assert confirmed.status_code == 200
    return str(secret)


def test_no_secret_in_database_or_logs(
    context: PlatformContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(context)) as client:
        totp_secret = _totp_user(client)
        user_id = client.get("/api/accounts/me").json()["user"]["id"]
        profile = client.get(f"/api/accounts/{user_id}").json()
        assert profile["name"] == NAME and profile["phone"] == PHONE
    keys = key_service_for(context)
    with context.unit_of_work() as session:
        private_key = keys._decrypt_private_key(session, user_id).hex()
    signer = keys.signer_for_user(user_id)
    assert signer.address == profile["custodial_address"] == Account.from_key(private_key).address
    secrets_ = {
        "private key": private_key,
        "private key (upper)": private_key.upper(),
        "totp secret": totp_secret,
        "phone": PHONE,
        "name": NAME,
        "password": PASSWORD,
    }
    dump = _dump(context)
    assert profile["custodial_address"] in dump  # the dump really covers the tables
    for what, value in secrets_.items():
        assert value not in dump, f"{what} found in the database"
        assert value not in caplog.text, f"{what} found in the logs"
    assert "custodial key" in caplog.text  # the logs were captured at all


def test_signer_signs_for_the_custodial_address(context: PlatformContext) -> None:
    accounts = account_service_for(context)
    user = accounts.create_user("signer", PASSWORD, [])
    signer = key_service_for(context).signer_for_user(user.id)
    tx = {"to": signer.address, "value": 1, "gas": 21000, "gasPrice": 1, "nonce": 0, "chainId": 1}
    signed = signer.sign_transaction(tx)
    assert Account.recover_transaction(signed.raw) == signer.address
    assert "0x" not in repr(signer).replace(signer.address, "")


def _users(accounts: AccountService, n: int) -> list[int]:
    personal = PersonalData(name="홍길동", phone="01012345678")
    return [accounts.create_user(f"user{i}", PASSWORD, [], personal=personal).id for i in range(n)]


SEALED = ("kek_id", "wrapped_dek", "nonce", "ciphertext")


def _swap(context: PlatformContext, model: Any, where_a: Any, where_b: Any) -> None:
    """Exchange the sealed columns of two rows, as an attacker with database access could."""
    with context.unit_of_work() as session:
        columns = [getattr(model, c) for c in SEALED]
        row_a = session.execute(select(*columns).where(where_a)).one()
        row_b = session.execute(select(*columns).where(where_b)).one()
        session.execute(update(model).where(where_a).values(dict(zip(SEALED, row_b, strict=True))))
        session.execute(update(model).where(where_b).values(dict(zip(SEALED, row_a, strict=True))))


def test_swapping_two_users_ciphertexts_breaks_decryption(context: PlatformContext) -> None:
    accounts = account_service_for(context)
    keys = key_service_for(context)
    a, b = _users(accounts, 2)
    keys.signer_for_user(a), keys.signer_for_user(b)  # both open before the swap
    _swap(context, CustodialKey, CustodialKey.user_id == a, CustodialKey.user_id == b)
    is_name = SealedField.field == "personal.name"
    _swap(
        context,
        SealedField,
        (SealedField.user_id == a) & is_name,
        (SealedField.user_id == b) & is_name,
    )
    for uid in (a, b):
        with pytest.raises(KeyUnavailable):
            keys.signer_for_user(uid)
        with pytest.raises(KeyUnavailable), context.unit_of_work() as session:
            keys.get_field(session, uid, "personal.name")
        with context.unit_of_work() as session:  # the untouched field still opens
            assert keys.get_field(session, uid, "personal.phone") == "01012345678"


def _kek_ids(context: PlatformContext) -> set[str]:
    with context.unit_of_work() as session:
        ids = set(session.scalars(select(CustodialKey.kek_id)))
        return ids | set(session.scalars(select(SealedField.kek_id)))


def _row_count(context: PlatformContext) -> int:
    with context.unit_of_work() as session:
        return len(list(session.scalars(select(CustodialKey.id)))) + len(
            list(session.scalars(select(SealedField.id)))
        )


def test_rotation_re_encrypts_every_row(context: PlatformContext) -> None:
    accounts = account_service_for(context)
    keys = key_service_for(context)
    old_kek = kek_from_hex(context.settings.kek_env or "")
    users = _users(accounts, 5)
    addresses = {uid: keys.signer_for_user(uid).address for uid in users}
    with context.unit_of_work() as session:
        before = {r.id: r.ciphertext for r in session.scalars(select(SealedField))}
    rows = _row_count(context)
    new_kek = kek_from_hex(secrets.token_hex(32))

    assert keys.rotate(new_kek, batch_size=3) == rows
    assert _kek_ids(context) == {new_kek.key_id}
    with context.unit_of_work() as session:
        after = {r.id: r.ciphertext for r in session.scalars(select(SealedField))}
    assert all(after[i] != before[i] for i in before)  # fresh data keys, new ciphertext
    only_new = KeyService(context, new_kek)
    only_old = KeyService(context, old_kek)
    for uid in users:
        assert only_new.signer_for_user(uid).address == addresses[uid]
        with context.unit_of_work() as session:
            assert only_new.get_field(session, uid, "personal.name") == "홍길동"
        with pytest.raises(KeyUnavailable):
            only_old.signer_for_user(uid)
    assert keys.rotate(new_kek) == 0  # nothing left to do
    # New rows are sealed under the new KEK by the rotated service.
    extra = accounts.create_user("late", PASSWORD, [])
    assert only_new.signer_for_user(extra.id)


def test_interrupted_rotation_is_finished_by_running_it_again(context: PlatformContext) -> None:
    accounts = account_service_for(context)
    old_kek = kek_from_hex(context.settings.kek_env or "")
    users = _users(accounts, 3)
    rows = _row_count(context)
    new_kek = kek_from_hex(secrets.token_hex(32))
    first = KeyService(context, old_kek)
    done = first._rotate_batch(CustodialKey, [new_kek, old_kek], new_kek, 2)  # then "crash"
    assert done == 2 and len(_kek_ids(context)) == 2
    resumed = KeyService(context, old_kek)
    assert resumed.rotate(new_kek) == rows - 2
    assert _kek_ids(context) == {new_kek.key_id}
    for uid in users:
        signer = KeyService(context, new_kek).signer_for_user(uid)
        message = encode_defunct(text="hello")
        with context.unit_of_work() as session:
            old_key = resumed._decrypt_private_key(session, uid)
        signature = Account.sign_message(message, private_key=old_key)
        assert Account.recover_message(message, signature=signature.signature) == signer.address
