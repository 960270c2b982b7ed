"""Re-issue of a lost claim code, on a real anvil and a real database.

The old voucher is cancelled on chain (by the studio's own key, through the outbox) before
the new code exists: afterwards the old code is refused by the service and a claim with the
old voucher reverts on chain, while the new code claims. Claimed photos, photos being claimed
and other studios' photos cannot be re-issued; a double submit re-issues once.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from busanchain.domain.errors import Conflict, NotFound, TransactionReverted
from busanchain.domain.roles import Role
from busanchain.outbox.repository import OutboxRepository
from busanchain.outbox.tables import OutboxState
from busanchain.studio.contracts import MintVoucher, sign_claim
from busanchain.studio.service import AlreadyClaimed, NotIssued, StudioService, claim_signer
from busanchain.studio.tables import PhotoRecord, StudioRecord
from busanchain.web.app import create_app
from tests.accounts.conftest import login
from tests.studio.studio_support import (
    StudioWorld,
    address_of,
    approved_studio,
    upload_one,
    user,
)
from tests.token.conftest import platform  # noqa: F401 (fixture)


@pytest.fixture
def world(service: StudioService) -> StudioWorld:
    admin = user(service.context, "reissue-admin", Role.ADMIN)
    return approved_studio(service, "gamma", "246813579", admin)


@dataclass(frozen=True)
class OldVoucher:
    """What a customer's lost code stood for: the signed voucher and its claim code."""

    voucher: MintVoucher
    signature: bytes
    code: str


def issued_photo(service: StudioService, world: StudioWorld, seed: int) -> tuple[int, OldVoucher]:
    """Upload and issue a photo; its id and the voucher behind the first code."""
    photo_id = int(str(upload_one(service, world, seed)["id"]))
    status, issued = service.issue(world.owner_id, photo_id, f"issue-{seed}-key")
    assert status == 201 and issued["claim_code_shown"]
    with service.context.unit_of_work() as session:
        record = session.get(PhotoRecord, photo_id)
        assert record is not None
        voucher = service._voucher_of(record)
        signature = bytes.fromhex((record.voucher_signature or "0x")[2:])
    return photo_id, OldVoucher(voucher, signature, str(issued["claim_code"]))


def old_claim_calldata(service: StudioService, old: OldVoucher, to: str) -> bytes:
    """`PhotoNFT.claim` with the old voucher, signed by the old claim key (what a thief with
    the lost code, or the platform's old outbox entry, would send)."""
    claim_sig = sign_claim(claim_signer(old.code), service.domain, old.voucher.voucher_id, to)
    args = [old.voucher.as_tuple(), old.signature, to, claim_sig]
    return bytes.fromhex(service.nft.encode_abi("claim", args)[2:])


def cancel_entries(service: StudioService, photo_id: int, voucher_id: int) -> list[Any]:
    """The outbox entries that cancelled a photo's voucher."""
    with service.context.unit_of_work() as session:
        entry = OutboxRepository(session).by_reference(
            f"photo:{photo_id}:cancel-voucher:{voucher_id}"
        )
        return [] if entry is None else [(entry.intent, entry.sender, entry.state)]


def next_voucher_id(service: StudioService, studio_id: int) -> int:
    with service.context.unit_of_work() as session:
        record = session.get(StudioRecord, studio_id)
        assert record is not None
        return record.next_voucher_id


def test_reissue_cancels_the_old_voucher_on_chain_and_the_new_code_claims(
    service: StudioService, world: StudioWorld
) -> None:
    photo_id, old = issued_photo(service, world, 301)
    studio_address = address_of(service.context, world.owner_id)
    status, answer = service.reissue(world.owner_id, photo_id, "reissue-key-0001", "http://x")
    assert status == 201, answer
    assert answer["claim_code_shown"] and answer["claim_code"] != old.code
    assert answer["claim_url"] == f"http://x/claim/{answer['claim_code']}"
    assert answer["replaced_voucher_id"] == old.voucher.voucher_id
    photo = answer["photo"]
    assert photo["state"] == "issued" and photo["voucher_id"] != old.voucher.voucher_id
    assert photo["voucher_expiry"] >= old.voucher.expiry
    # on chain: the old voucher is used (cancelled by the studio's own key), the new one is not
    assert service._read("voucherUsed", [studio_address, old.voucher.voucher_id]) is True
    assert service._read("voucherUsed", [studio_address, photo["voucher_id"]]) is False
    assert cancel_entries(service, photo_id, old.voucher.voucher_id) == [
        ("studio.cancelVoucher", studio_address, OutboxState.CONFIRMED)
    ]
    with service.context.unit_of_work() as session:  # the operator paid the studio's gas
        gas = OutboxRepository(session).by_reference(
            f"photo:{photo_id}:cancel-gas:{old.voucher.voucher_id}"
        )
        charged = service.outbox.client.fee_params().max_fee_per_gas > 0
        assert (gas is not None) == charged
        assert gas is None or (gas.to_address, gas.state) == (studio_address, "confirmed")
    # the service refuses the old code
    citizen = user(service.context, "lost-code-customer", Role.CITIZEN)
    with pytest.raises(NotFound):
        service.claim(citizen, old.code, None, "claim-old-0001")
    with pytest.raises(NotFound):
        service.claim_preview(None, old.code)
    # and so does the chain: a claim with the old voucher reverts, even sent without estimation
    to = address_of(service.context, citizen)
    data = old_claim_calldata(service, old, to)
    with pytest.raises(TransactionReverted) as refused:
        service.outbox.estimate(service.operator, service.nft.address, data)
    assert "VoucherUsed" in str(refused.value.details["reason"])
    with pytest.raises(TransactionReverted) as reverted:
        service.outbox.execute(
            signer=service.operator,
            intent="test.old-claim",
            to=service.nft.address,
            data=data,
            gas=500_000,
        )
    assert "VoucherUsed" in str(reverted.value.details["reason"])
    assert service._read("tokenOfContent", [old.voucher.content_hash]) == 0
    # the new code claims
    status, claimed = service.claim(citizen, answer["claim_code"], None, "claim-new-0001")
    assert status == 200 and claimed["state"] == "claimed", claimed
    assert service._read("ownerOf", [claimed["token_id"]]) == to
    # a replay of the re-issue answers without the code and re-issues nothing
    again_status, again = service.reissue(world.owner_id, photo_id, "reissue-key-0001")
    assert again_status == 201 and not again["claim_code_shown"] and "claim_code" not in again


def test_a_claimed_photo_cannot_be_reissued(service: StudioService, world: StudioWorld) -> None:
    photo_id, old = issued_photo(service, world, 311)
    citizen = user(service.context, "happy-customer", Role.CITIZEN)
    status, _ = service.claim(citizen, old.code, None, "claim-ok-0001")
    assert status == 200
    with pytest.raises(AlreadyClaimed) as refused:
        service.reissue(world.owner_id, photo_id, "reissue-claimed-01")
    assert refused.value.status == 409
    assert "재발급" in refused.value.message("ko") and "re-issued" in refused.value.message("en")
    uploaded = upload_one(service, world, 312)
    with pytest.raises(NotIssued) as not_issued:
        service.reissue(world.owner_id, int(str(uploaded["id"])), "reissue-uploaded-1")
    assert not_issued.value.status == 409 and not_issued.value.message("ko")


def test_a_photo_whose_claim_is_pending_cannot_be_reissued(
    service: StudioService, world: StudioWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo_id, old = issued_photo(service, world, 321)
    citizen = user(service.context, "pending-customer", Role.CITIZEN)
    client = service.outbox.client
    monkeypatch.setattr("busanchain.studio.service.WAIT_FOR_RECEIPT_S", 0.3)
    client.request("evm_setAutomine", [False])
    try:
        status, pending = service.claim(citizen, old.code, None, "claim-pend-0001")
        assert status == 202 and pending["state"] == "claiming"
        with pytest.raises(AlreadyClaimed):
            service.reissue(world.owner_id, photo_id, "reissue-pending-1")
    finally:
        client.request("evm_setAutomine", [True])
    monkeypatch.setattr("busanchain.studio.service.WAIT_FOR_RECEIPT_S", 10.0)
    status, claimed = service.claim(citizen, old.code, None, "claim-pend-0001")
    assert status == 200 and claimed["state"] == "claimed"
    assert cancel_entries(service, photo_id, old.voucher.voucher_id) == []


def test_a_reissue_still_being_mined_answers_202_and_the_same_key_finishes_it(
    service: StudioService, world: StudioWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo_id, old = issued_photo(service, world, 331)
    client = service.outbox.client
    citizen = user(service.context, "waiting-customer", Role.CITIZEN)
    monkeypatch.setattr("busanchain.studio.service.WAIT_FOR_RECEIPT_S", 0.3)
    client.request("evm_setAutomine", [False])
    try:
        status, pending = service.reissue(world.owner_id, photo_id, "reissue-slow-0001")
        assert status == 202, pending
        assert pending["photo"]["state"] == "reissuing" and "claim_code" not in pending
        # no new code exists yet, and the old one is already refused by the service
        with pytest.raises(Conflict):
            service.claim(citizen, old.code, None, "claim-slow-0001")
    finally:
        client.request("evm_setAutomine", [True])
    monkeypatch.setattr("busanchain.studio.service.WAIT_FOR_RECEIPT_S", 10.0)
    status, done = service.reissue(world.owner_id, photo_id, "reissue-slow-0001")
    assert status == 201 and done["claim_code_shown"], done
    assert done["photo"]["state"] == "issued"
    status, claimed = service.claim(citizen, done["claim_code"], None, "claim-slow-0002")
    assert status == 200 and claimed["state"] == "claimed"


def test_a_double_submit_with_the_same_key_reissues_once(
    service: StudioService, world: StudioWorld
) -> None:
    photo_id, old = issued_photo(service, world, 341)
    before = next_voucher_id(service, world.studio_id)
    answers: list[tuple[int, dict[str, Any]]] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            answers.append(service.reissue(world.owner_id, photo_id, "reissue-double-01"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(answers) == 2
    shown = [a for _, a in answers if a["claim_code_shown"]]
    assert len(shown) == 1, answers  # one new code, shown once
    assert next_voucher_id(service, world.studio_id) == before + 1
    assert len(cancel_entries(service, photo_id, old.voucher.voucher_id)) == 1
    assert service.photo(world.owner_id, photo_id)["voucher_id"] == before
    # a different key re-issues again (a second loss): the first new code is cancelled too
    status, second = service.reissue(world.owner_id, photo_id, "reissue-double-02")
    assert status == 201 and second["claim_code"] != shown[0]["claim_code"]
    citizen = user(service.context, "double-customer", Role.CITIZEN)
    with pytest.raises(NotFound):
        service.claim(citizen, shown[0]["claim_code"], None, "claim-double-01")


def test_another_studio_cannot_reissue(service: StudioService, world: StudioWorld) -> None:
    photo_id, old = issued_photo(service, world, 351)
    other = approved_studio(service, "delta", "135792468", world.admin_id)
    with pytest.raises(NotFound):
        service.reissue(other.owner_id, photo_id, "reissue-other-001")
    citizen = user(service.context, "nosy-citizen", Role.CITIZEN)
    with pytest.raises(NotFound):  # not a studio at all
        service.reissue(citizen, photo_id, "reissue-other-002")
    record = service.photo(world.owner_id, photo_id)
    assert record["state"] == "issued" and record["voucher_id"] == old.voucher.voucher_id
    studio_address = address_of(service.context, world.owner_id)
    assert service._read("voucherUsed", [studio_address, old.voucher.voucher_id]) is False


# -- over HTTP ---------------------------------------------------------------------------------


@dataclass
class Client:
    """A logged-in test client and the headers its unsafe requests need."""

    http: TestClient
    headers: dict[str, str]

    def post(self, url: str, **headers: str) -> Any:
        return self.http.post(url, headers=self.headers | headers)


@pytest.fixture
def clients(service: StudioService, world: StudioWorld) -> Iterator[dict[str, Client]]:
    app = create_app(service.context)
    other = approved_studio(service, "epsilon", "975318642", world.admin_id)
    user(service.context, "http-citizen", Role.CITIZEN)
    out: dict[str, Client] = {}
    for name, username in (
        ("owner", "gamma-owner"),
        ("other", "epsilon-owner"),
        ("citizen", "http-citizen"),
    ):
        http = TestClient(app)
        csrf = login(http, username)["csrf_token"]
        out[name] = Client(http, {"X-CSRF-Token": csrf})
    assert other.owner_id
    yield out
    for client in out.values():
        client.http.close()


def test_the_reissue_api(
    service: StudioService, world: StudioWorld, clients: dict[str, Client]
) -> None:
    photo_id, old = issued_photo(service, world, 361)
    url = f"/api/studio/photos/{photo_id}/reissue"
    missing = clients["owner"].post(url)
    assert missing.status_code in (400, 422), missing.text  # no Idempotency-Key
    assert clients["other"].post(url, **{"Idempotency-Key": "api-other-0001"}).status_code == 404
    assert clients["citizen"].post(url, **{"Idempotency-Key": "api-citz-0001"}).status_code == 403
    done = clients["owner"].post(url, **{"Idempotency-Key": "api-reissue-001"})
    assert done.status_code == 201, done.text
    body = done.json()
    assert body["claim_code_shown"] and body["claim_url"] == f"/claim/{body['claim_code']}"
    replay = clients["owner"].post(url, **{"Idempotency-Key": "api-reissue-001"})
    assert replay.status_code == 201 and "claim_code" not in replay.json()
    assert clients["owner"].http.get(f"/claim/{old.code}").status_code == 404
    citizen = user(service.context, "api-claimer", Role.CITIZEN)
    status, _ = service.claim(citizen, body["claim_code"], None, "api-claim-0001")
    assert status == 200
    for lang, text in (("ko", "재발급할 수 없습니다"), ("en", "cannot be re-issued")):
        refused = clients["owner"].post(
            f"{url}?lang={lang}", **{"Idempotency-Key": f"api-{lang}-late1"}
        )
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "photo_already_claimed" and text in error["message"]


def test_the_session_page_reissues_a_batch_and_shows_the_new_codes_once(
    service: StudioService, world: StudioWorld, clients: dict[str, Client]
) -> None:
    first, lost_first = issued_photo(service, world, 371)
    second, lost_second = issued_photo(service, world, 372)
    page = clients["owner"].http.get(f"/studio/sessions/{world.session_id}")
    assert page.status_code == 200 and 'data-testid="reissue-all"' in page.text
    key = re.search(r'name="reissue_key" value="([0-9a-f]+)"', page.text)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert key and csrf
    form = {
        "csrf_token": csrf.group(1),
        "reissue_key": key.group(1),
        "photo_id": [str(first), str(second)],
    }
    url = f"/studio/sessions/{world.session_id}/reissue"
    shown = clients["owner"].http.post(url, data=form)
    assert shown.status_code == 200, shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert shown.text.count('data-testid="claim-qr"') == 2
    assert 'data-testid="reissued-note"' in shown.text
    codes = re.findall(r"/claim/([0-9a-f]{64})", shown.text)
    assert codes and not {lost_first.code, lost_second.code} & set(codes)
    again = clients["owner"].http.post(url, data=form)  # a reload re-issues nothing
    assert again.text.count('data-testid="already-shown"') == 2
    assert 'data-testid="claim-qr"' not in again.text
    assert next_voucher_id(service, world.studio_id) == 5  # 2 first codes + 2 new ones
    theirs = form | {
        "csrf_token": clients["other"].headers["X-CSRF-Token"],
        "reissue_key": "k" * 32,
    }
    assert clients["other"].http.post(url, data=theirs).status_code == 404
    assert clients["owner"].http.post(url, data=form | {"csrf_token": "forged"}).status_code == 403


THIEF = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"  # anvil's 10th unlocked account


def test_a_restart_records_a_claim_that_beat_the_cancellation(
    service: StudioService, world: StudioWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The platform stops while a re-issue's cancellation waits to be mined, and the old code
    is used on chain first (the lost code was found): `resume_pending` records the photo as
    claimed by that claim instead of leaving it "reissuing" for ever."""
    photo_id, old = issued_photo(service, world, 351)
    client = service.outbox.client
    monkeypatch.setattr("busanchain.studio.service.WAIT_FOR_RECEIPT_S", 0.3)
    client.request("evm_setAutomine", [False])
    try:
        status, pending = service.reissue(world.owner_id, photo_id, "reissue-race-0001")
        assert status == 202 and pending["photo"]["state"] == "reissuing", pending
        data = old_claim_calldata(service, old, THIEF)
        tip = 50 * 10**9  # ahead of the cancellation in the next block
        client.request(
            "eth_sendTransaction",
            [
                {
                    "from": THIEF,
                    "to": service.nft.address,
                    "data": "0x" + data.hex(),
                    "gas": hex(600_000),
                    "maxFeePerGas": hex(10 * tip),
                    "maxPriorityFeePerGas": hex(tip),
                }
            ],
        )
        for _ in range(3):
            client.request("evm_mine", [])
    finally:
        client.request("evm_setAutomine", [True])
    token_id = int(service._read("tokenOfContent", [old.voucher.content_hash]))
    assert token_id > 0 and service._read("ownerOf", [token_id]) == THIEF
    assert service.photo(world.owner_id, photo_id)["state"] == "reissuing"  # the crash left it

    monkeypatch.setattr("busanchain.studio.service.WAIT_FOR_RECEIPT_S", 10.0)
    service.resume_pending()
    photo = service.photo(world.owner_id, photo_id)
    assert photo["state"] == "claimed" and photo["token_id"] == token_id
    assert photo["owner_address"] == THIEF
