"""The studio service on a real anvil and a real database: studios, uploads, vouchers, claims."""

from __future__ import annotations

import json

import pytest
from eth_abi import decode
from web3 import Web3

from busanchain.accounts.tables import LinkedWallet
from busanchain.domain.errors import Conflict, NotFound, TransactionReverted, ValidationFailed
from busanchain.domain.roles import Role
from busanchain.studio.errors import PhotoRejected
from busanchain.studio.service import (
    MINTER_ROLE,
    ClaimExpired,
    DuplicatePhoto,
    NearDuplicate,
    StudioService,
    Upload,
)
from busanchain.studio.tables import PhotoRecord
from tests.merchants.conftest import bad_bizno, bizno
from tests.studio import corpus
from tests.studio.studio_support import (
    StudioWorld,
    address_of,
    approved_studio,
    camera_photo,
    upload_one,
    user,
)
from tests.token.conftest import platform  # noqa: F401 (fixture)


@pytest.fixture
def world(service: StudioService) -> StudioWorld:
    admin = user(service.context, "platform-admin", Role.ADMIN)
    return approved_studio(service, "alpha", "123456789", admin)


def test_register_checks_the_business_number_and_refuses_doubles(service: StudioService) -> None:
    owner = user(service.context, "studio-x", Role.STUDIO)
    with pytest.raises(ValidationFailed):
        service.register(owner, "엑스 사진관", None, bad_bizno("220811111"), 500)
    with pytest.raises(ValidationFailed):
        service.register(owner, "엑스 사진관", None, bizno("220811111"), 1001)
    studio = service.register(owner, "엑스 사진관", None, bizno("220811111"), 300)
    assert studio["status"] == "pending"
    assert studio["signing_address"] == address_of(service.context, owner)
    other = user(service.context, "studio-y", Role.STUDIO)
    with pytest.raises(Conflict):
        service.register(other, "와이 사진관", None, bizno("220811111"), 300)
    with pytest.raises(Conflict):
        service.register(owner, "엑스 사진관 2", None, bizno("220811112"), 300)


def test_approve_grants_and_suspend_revokes_the_minter_role(service: StudioService) -> None:
    admin = user(service.context, "admin-a", Role.ADMIN)
    world = approved_studio(service, "beta", "333444555", admin)
    signer = address_of(service.context, world.owner_id)
    assert service._read("hasRole", [MINTER_ROLE, signer]) is True
    assert service.approve(world.studio_id, admin)["status"] == "active"  # idempotent
    suspended = service.suspend(world.studio_id, admin, "checking")
    assert suspended["status"] == "suspended"
    assert service._read("hasRole", [MINTER_ROLE, signer]) is False
    with pytest.raises(Conflict):
        service.upload(world.owner_id, world.session_id, [Upload("a.jpg", camera_photo(1))])
    assert service.approve(world.studio_id, admin)["status"] == "active"
    assert service._read("hasRole", [MINTER_ROLE, signer]) is True


def test_reject_only_pending(service: StudioService) -> None:
    admin = user(service.context, "admin-r", Role.ADMIN)
    owner = user(service.context, "studio-r", Role.STUDIO)
    studio = service.register(owner, "알 사진관", None, bizno("555666777"), 0)
    assert service.reject(studio["id"], admin, "incomplete")["status"] == "rejected"
    with pytest.raises(Conflict):
        service.reject(studio["id"], admin, None)
    with pytest.raises(Conflict):
        service.approve(studio["id"], admin)
    with pytest.raises(NotFound):
        service.approve(999_999, admin)


def test_upload_stores_renditions_metadata_and_stub(
    service: StudioService, world: StudioWorld
) -> None:
    photographer = service.add_photographer(world.owner_id, "김작가", 700)
    session = service.create_session(world.owner_id, "S-2", photographer["id"])
    photos = service.upload(
        world.owner_id,
        session["id"],
        [Upload("a.jpg", camera_photo(11)), Upload("b.jpg", camera_photo(12))],
    )
    assert [p["state"] for p in photos] == ["uploaded", "uploaded"]
    photo = photos[0]
    assert service.store.get(photo["cid"]) is not None
    for key in ("thumb_320_cid", "thumb_1280_cid", "metadata_cid", "stub_cid"):
        assert service.store.get(photo[key]) is not None, key
    metadata = json.loads(service.store.get(photo["metadata_cid"]) or b"")
    assert metadata["image"] == f"ipfs://{photo['cid']}"
    traits = {a["trait_type"]: a["value"] for a in metadata["attributes"]}
    assert traits == {"studio": "alpha 사진관", "photographer": "김작가", "date": "2026-05-01"}
    stub = json.loads(service.store.get(photo["stub_cid"]) or b"")
    assert stub["name"] == "비공개 사진 / Private photo"
    assert stub["attributes"] == [{"trait_type": "content_hash", "value": "0x" + photo["sha256"]}]
    placeholder = stub["image"].removeprefix("ipfs://")
    assert service.content(None, placeholder).public


def test_duplicates_are_refused_and_nothing_is_kept(
    service: StudioService, world: StudioWorld
) -> None:
    data = camera_photo(21)
    service.upload(world.owner_id, world.session_id, [Upload("a.jpg", data)])
    with pytest.raises(DuplicatePhoto) as exact:
        service.upload(world.owner_id, world.session_id, [Upload("a.jpg", data)])
    assert exact.value.status == 409
    fresh = Upload("c.jpg", camera_photo(22))
    with pytest.raises(DuplicatePhoto):
        service.upload(world.owner_id, world.session_id, [fresh, fresh])
    with pytest.raises(PhotoRejected):
        service.upload(world.owner_id, world.session_id, [fresh, Upload("z.jpg", b"not a photo")])
    # all-or-nothing: the good photo of the refused batches was not kept
    assert len(service.session_detail(world.owner_id, world.session_id)["photos"]) == 1


def test_near_duplicate_of_an_issued_photo_needs_force(
    service: StudioService, world: StudioWorld
) -> None:
    original = corpus.photo(480, 360, 31)
    first = service.upload(
        world.owner_id, world.session_id, [Upload("a.jpg", corpus.jpeg(original, 92))]
    )[0]
    recompressed = Upload("b.jpg", corpus.jpeg(original, 60))
    # not issued yet: a near duplicate is accepted (the studio's own retake)
    second = service.upload(world.owner_id, world.session_id, [recompressed])[0]
    assert second["duplicate_warning"] is None
    service.issue(world.owner_id, first["id"], "issue-key-near-1")
    again = Upload("c.jpg", corpus.jpeg(original, 75))
    with pytest.raises(NearDuplicate) as refused:
        service.upload(world.owner_id, world.session_id, [again])
    assert refused.value.status == 409
    assert "force" in refused.value.message("en") and refused.value.message("ko")
    forced = service.upload(world.owner_id, world.session_id, [again], force=True)[0]
    assert forced["near_duplicate_of"] == first["id"]
    assert "near duplicate" in forced["duplicate_warning"]


def test_happy_path_issue_claim_publish(service: StudioService, world: StudioWorld) -> None:
    photo = upload_one(service, world, 41)
    status, issued = service.issue(world.owner_id, photo["id"], "issue-key-0001")
    assert status == 201 and issued["claim_code_shown"]
    code = issued["claim_code"]
    assert issued["claim_url"] == f"/claim/{code}"
    assert issued["photo"]["state"] == "issued" and issued["photo"]["voucher_id"] == 1
    # a replay does not show the code again
    replay_status, replay = service.issue(world.owner_id, photo["id"], "issue-key-0001")
    assert replay_status == 201 and "claim_code" not in replay
    # before the claim: the studio sees the private original, others do not
    assert service.content(world.owner_id, photo["cid"]).data
    citizen = user(service.context, "customer", Role.CITIZEN)
    with pytest.raises(NotFound):
        service.content(citizen, photo["cid"])
    status, claimed = service.claim(citizen, code, None, "claim-key-0001")
    assert status == 200, claimed
    assert claimed["state"] == "claimed"
    assert claimed["owner_address"] == address_of(service.context, citizen)
    token_id = claimed["token_id"]
    assert service._read("ownerOf", [token_id]) == claimed["owner_address"]
    # after the claim: the owner sees it, the studio no longer does
    assert service.content(citizen, photo["cid"]).data
    with pytest.raises(NotFound):
        service.content(world.owner_id, photo["cid"])
    assert [p["id"] for p in service.my_photos(citizen)] == [photo["id"]]
    # double claim
    with pytest.raises(Conflict):
        service.claim(citizen, code, None, "claim-key-0002")
    # publish -> public; unpublish -> private again
    status, published = service.publish(citizen, photo["id"], True)
    assert status == 200 and published["published"]
    assert service._read("isPublished", [token_id]) is True
    assert service.content(None, photo["cid"]).public
    assert service.content(None, photo["metadata_cid"]).public
    status, private = service.publish(citizen, photo["id"], False)
    assert status == 200 and not private["published"]
    with pytest.raises(NotFound):
        service.content(None, photo["cid"])
    stranger = user(service.context, "stranger", Role.CITIZEN)
    with pytest.raises(NotFound):
        service.publish(stranger, photo["id"], True)


def test_claim_with_unknown_bad_or_expired_codes(
    service: StudioService, world: StudioWorld
) -> None:
    citizen = user(service.context, "claimer", Role.CITIZEN)
    with pytest.raises(NotFound):
        service.claim(citizen, "ab" * 32, None, "claim-unknown-1")
    with pytest.raises(ValidationFailed):
        service.claim(citizen, "not-a-code", None, "claim-bad-0001")
    photo = upload_one(service, world, 51)
    _, issued = service.issue(world.owner_id, photo["id"], "issue-exp-0001")
    with pytest.raises(ValidationFailed):  # not one of the caller's wallets
        service.claim(citizen, issued["claim_code"], "0x" + "12" * 20, "claim-to-0001")
    with service.context.unit_of_work() as session:
        record = session.get(PhotoRecord, photo["id"])
        assert record is not None
        record.voucher_expiry = 1  # long past
    with pytest.raises(ClaimExpired) as expired:
        service.claim(citizen, issued["claim_code"], None, "claim-exp-0001")
    assert expired.value.status == 410 and expired.value.message("ko")


def test_a_suspended_studio_voucher_is_refused_before_any_gas_is_spent(
    service: StudioService, world: StudioWorld
) -> None:
    photo = upload_one(service, world, 61)
    _, issued = service.issue(world.owner_id, photo["id"], "issue-susp-0001")
    service.suspend(world.studio_id, world.admin_id)
    citizen = user(service.context, "late-claimer", Role.CITIZEN)
    with pytest.raises(TransactionReverted) as refused:
        service.claim(citizen, issued["claim_code"], None, "claim-susp-0001")
    assert refused.value.message("ko") == "등록된 스튜디오의 서명이 아닙니다"
    assert service.photo(world.owner_id, photo["id"])["state"] == "issued"
    service.approve(world.studio_id, world.admin_id)
    status, claimed = service.claim(citizen, issued["claim_code"], None, "claim-susp-0001")
    assert status == 200 and claimed["state"] == "claimed"  # the same key, now accepted


def test_royalty_goes_to_a_photographer_with_an_account(
    service: StudioService, world: StudioWorld
) -> None:
    shooter = user(service.context, "shooter", Role.CITIZEN)
    photographer = service.add_photographer(world.owner_id, "이작가", 900, "shooter")
    assert photographer["has_account"] and photographer["royalty_bps"] == 900
    plain = service.add_photographer(world.owner_id, "최작가")
    assert plain["royalty_bps"] == 500  # the studio's default
    with pytest.raises(ValidationFailed):
        service.add_photographer(world.owner_id, "유령", 100, "nobody-here")
    session = service.create_session(world.owner_id, "S-ROY", photographer["id"])
    photo = service.upload(world.owner_id, session["id"], [Upload("r.jpg", camera_photo(71))])[0]
    _, issued = service.issue(world.owner_id, photo["id"], "issue-roy-0001")
    assert issued["photo"]["royalty_receiver"] == address_of(service.context, shooter)
    assert issued["photo"]["royalty_bps"] == 900
    citizen = user(service.context, "roy-claimer", Role.CITIZEN)
    _, claimed = service.claim(citizen, issued["claim_code"], None, "claim-roy-0001")
    data = service.nft.encode_abi("royaltyInfo", [claimed["token_id"], 10_000])
    out = service.outbox.client.call({"to": service.nft.address, "data": data})
    receiver, amount = decode(["address", "uint256"], out)
    assert (receiver.lower(), amount) == (address_of(service.context, shooter).lower(), 900)


def test_claim_to_a_linked_external_wallet(service: StudioService, world: StudioWorld) -> None:
    citizen = user(service.context, "wallet-holder", Role.CITIZEN)
    external = Web3.to_checksum_address("0x" + "ab" * 20)
    with service.context.unit_of_work() as session:
        session.add(LinkedWallet(user_id=citizen, address=external))
    photo = upload_one(service, world, 97)
    _, issued = service.issue(world.owner_id, photo["id"], "issue-ext-0001")
    status, claimed = service.claim(citizen, issued["claim_code"], external.lower(), "claim-ext-1")
    assert status == 200 and claimed["owner_address"] == external
    assert service.content(citizen, photo["cid"]).data  # the linked wallet's owner may see it
    with pytest.raises(ValidationFailed):  # the platform cannot sign for an external wallet
        service.publish(citizen, photo["id"], True)


def test_claim_and_publish_in_one_transaction(service: StudioService, world: StudioWorld) -> None:
    photo = upload_one(service, world, 43)
    _, issued = service.issue(world.owner_id, photo["id"], "issue-pub-0001")
    citizen = user(service.context, "shows-at-once", Role.CITIZEN)
    with pytest.raises(NotFound):
        service.content(None, photo["cid"])
    blocks = service.outbox.client.block_number()
    status, claimed = service.claim(citizen, issued["claim_code"], None, "claim-pub-01", True)
    assert status == 200 and claimed["state"] == "claimed" and claimed["published"], claimed
    assert service.outbox.client.block_number() == blocks + 1  # one transaction, one block
    token_id = claimed["token_id"]
    assert service._read("isPublished", [token_id]) is True
    assert service._read("ownerOf", [token_id]) == address_of(service.context, citizen)
    assert service.content(None, photo["cid"]).public
    assert service.content(None, photo["metadata_cid"]).public
    [mine] = service.my_photos(citizen)
    assert mine["published"]
    replay = service.claim(citizen, issued["claim_code"], None, "claim-pub-01", True)
    assert replay == (200, claimed)
    status, private = service.publish(citizen, photo["id"], False)  # still the owner's choice
    assert status == 200 and not private["published"]


def test_claim_and_publish_to_an_external_wallet_is_refused_whole(
    service: StudioService, world: StudioWorld
) -> None:
    citizen = user(service.context, "external-shower", Role.CITIZEN)
    external = Web3.to_checksum_address("0x" + "cd" * 20)
    with service.context.unit_of_work() as session:
        session.add(LinkedWallet(user_id=citizen, address=external))
    photo = upload_one(service, world, 44)
    _, issued = service.issue(world.owner_id, photo["id"], "issue-pub-0002")
    code = issued["claim_code"]
    with pytest.raises(ValidationFailed) as refused:
        service.claim(citizen, code, external, "claim-pub-02", True)
    assert refused.value.details["field"] == "publish"
    assert service.photo(world.owner_id, photo["id"])["state"] == "issued"  # nothing was sent
    status, claimed = service.claim(citizen, code, external, "claim-pub-03")
    assert status == 200 and not claimed["published"]


@pytest.mark.parametrize("publish", [False, True], ids=["claim", "claim-and-publish"])
def test_a_claim_cut_off_by_a_crash_is_finished_after_restart(
    service: StudioService, world: StudioWorld, monkeypatch: pytest.MonkeyPatch, publish: bool
) -> None:
    """The claim's transaction is in the outbox but the node lost it (and the answer was
    202): the recovery pass on the next start rebroadcasts it and records the owner (and,
    for a claim that also publishes, the publication)."""
    photo = upload_one(service, world, 61)
    _, issued = service.issue(world.owner_id, photo["id"], "issue-crash-001")
    citizen = user(service.context, "crash-claimer", Role.CITIZEN)
    client = service.outbox.client
    monkeypatch.setattr("busanchain.studio.service.WAIT_FOR_RECEIPT_S", 0.3)
    client.request("evm_setAutomine", [False])
    try:
        code = issued["claim_code"]
        status, pending = service.claim(citizen, code, None, "claim-crash-01", publish)
        assert status == 202 and pending["state"] == "claiming" and not pending["published"]
        client.request("anvil_dropAllTransactions", [])  # the node forgot it
    finally:
        client.request("evm_setAutomine", [True])
    monkeypatch.setattr("busanchain.studio.service.WAIT_FOR_RECEIPT_S", 10.0)
    restarted = StudioService(service.context)
    assert restarted.resume_pending() == 1
    [mine] = restarted.my_photos(citizen)
    assert mine["state"] == "claimed" and mine["owner_address"] == address_of(
        service.context, citizen
    )
    assert restarted._read("ownerOf", [mine["token_id"]]) == mine["owner_address"]
    assert mine["published"] is publish
    assert restarted._read("isPublished", [mine["token_id"]]) is publish
    assert restarted.resume_pending() == 0  # nothing left in flight
