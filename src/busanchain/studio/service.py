"""Studio use cases: studios, photographers, sessions, uploads, claim vouchers, claims, publish.

Every chain write (MINTER_ROLE grants and revocations, relayed claims and publications) goes
through the outbox, committed in the same unit of work as the state change it belongs to,
and only then broadcast; the operator pays the gas. Private content is served only to the
photo's rightful party: the studio that uploaded it until the claim, then the NFT's owner.
Everyone else is told "not found", so the existence of a private photo is never confirmed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, cast

from eth_abi import decode
from eth_utils import keccak
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from web3 import Web3
from web3.contract import Contract

from busanchain.chain.artifacts import load_artifact
from busanchain.chain.signing import Signer, signer_from_key
from busanchain.db.base import utcnow
from busanchain.deployment.service import DeploymentService
from busanchain.domain.addresses import parse_address
from busanchain.domain.errors import (
    BusanchainError,
    ChainError,
    ConfigurationError,
    Conflict,
    NotFound,
    TransactionReverted,
    ValidationFailed,
)
from busanchain.domain.personal import clean_text
from busanchain.idempotency.service import IdempotencyService, parse_key, request_fingerprint
from busanchain.keys.service import key_service_for
from busanchain.merchants.rules import business_number_hash, parse_business_number
from busanchain.outbox.nonces import key_lock
from busanchain.outbox.repository import OutboxRepository
from busanchain.outbox.service import OutboxService, TxOutcome
from busanchain.outbox.tables import OutboxState
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.studio import repository as repo
from busanchain.studio.cid import cid_of_bytes
from busanchain.studio.contracts import (
    ERROR_TEXT,
    MAX_ROYALTY_BPS,
    PHOTO_NFT,
    MintVoucher,
    PhotoDomain,
    new_claim_key,
    sign_claim,
    sign_mint_voucher,
    sign_publish,
    sign_publish_on_claim,
)
from busanchain.studio.credentials import StudioCredentialService
from busanchain.studio.images import ProcessedPhoto, process_upload
from busanchain.studio.phash import hamming_distance, hash_from_hex, hash_to_hex
from busanchain.studio.store import ContentStore, placeholder_png
from busanchain.studio.tables import (
    ContentKind,
    ContentRecord,
    PhotographerRecord,
    PhotoRecord,
    PhotoState,
    ShootingSessionRecord,
    StudioRecord,
    StudioStatus,
    Visibility,
)

WAIT_FOR_RECEIPT_S = 10.0
VOUCHER_TTL_S = 30 * 24 * 3600
PUBLISH_TTL_S = 3600
NEAR_DUPLICATE_BITS = 6
MAX_FILES_PER_UPLOAD = 20
STUDIO_GAS_WEI = 10**16  # 0.01 ETH: what the operator sends a studio for its own cancellations
MINTER_ROLE = keccak(text="MINTER_ROLE")
CLAIMED_TOPIC = "0x" + keccak(text="Claimed(uint256,uint256,address,address,bytes32)").hex()
SESSION_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
CLAIM_CODE_RE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
STUB_NAME = "비공개 사진 / Private photo"
IMAGE_SIZES = {
    "original": ContentKind.ORIGINAL,
    "1280": ContentKind.THUMB_1280,
    "320": ContentKind.THUMB_320,
}
PRIVATE_KINDS = (
    ContentKind.ORIGINAL,
    ContentKind.THUMB_320,
    ContentKind.THUMB_1280,
    ContentKind.METADATA,
)


class ClaimExpired(BusanchainError):
    """The claim code's voucher has expired."""

    status = 410
    code = "claim_expired"
    default_ko = ERROR_TEXT["VoucherExpired"][0]
    default_en = ERROR_TEXT["VoucherExpired"][1]


class NearDuplicate(Conflict):
    """The photo looks like one already issued or minted."""

    code = "photo_near_duplicate"
    default_ko = (
        "이미 발행된 사진과 거의 같은 사진입니다. 다른 사진이 맞다면 force=true로 다시 올리세요."
    )
    default_en = (
        "This photo is nearly identical to one already issued. "
        "If it is a different photo, upload it again with force=true."
    )


class AlreadyClaimed(Conflict):
    """The photo was claimed (or its claim is in the outbox): its code cannot be re-issued."""

    code = "photo_already_claimed"
    default_ko = "손님이 이미 받았거나 받는 중인 사진이라 수령 코드를 재발급할 수 없습니다."
    default_en = (
        "The customer has already claimed this photo (or the claim is being processed), "
        "so its claim code cannot be re-issued."
    )


class NotIssued(Conflict):
    """No claim code was issued for the photo yet: there is nothing to re-issue."""

    code = "photo_not_issued"
    default_ko = "아직 수령 코드를 발급하지 않은 사진입니다. 먼저 수령 코드를 발급하세요."
    default_en = "No claim code was issued for this photo yet: issue one first."


class DuplicatePhoto(Conflict):
    """The exact same photo is already on the platform."""

    code = "photo_duplicate"
    default_ko = "이미 플랫폼에 올라온 사진입니다."
    default_en = "This photo is already on the platform."


SERVICE_NAME = "studio"


def _simple_outputs(abi: Any, fn: str) -> list[str]:
    """The output types of a view that returns only simple values (no tuples)."""
    for item in abi:
        if item.get("type") == "function" and item["name"] == fn:
            return [str(out["type"]) for out in item["outputs"]]
    raise KeyError(fn)


def _studio_taken() -> Conflict:
    return Conflict(
        "A studio with this account or business number is already registered.",
        "이 계정 또는 사업자등록번호로 이미 등록된 사진관이 있습니다.",
    )


def _session_taken() -> Conflict:
    return Conflict(
        "The studio already has a session with this code.",
        "이미 같은 코드의 촬영이 있습니다.",
        field="code",
    )


def _not_found() -> NotFound:
    return NotFound("No such photo.", "해당 사진이 없습니다.")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def canonical_json(value: dict[str, Any]) -> bytes:
    """Stable JSON bytes (sorted keys, UTF-8): the same document always has the same CID."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def parse_royalty_bps(value: object) -> int:
    """A royalty share in basis points, 0..1000 (10%)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ROYALTY_BPS:
        ko, en = ERROR_TEXT["RoyaltyTooHigh"]
        raise ValidationFailed(
            f"{en} Give basis points from 0 to {MAX_ROYALTY_BPS}.",
            f"{ko} 0~{MAX_ROYALTY_BPS} 사이의 베이시스 포인트로 입력하세요.",
            field="royalty_bps",
        )
    return value


def parse_session_code(value: str) -> str:
    """A session code: 1-32 letters, digits, '-' or '_' (never a customer's name or phone)."""
    code = value.strip()
    if not SESSION_CODE_RE.match(code):
        raise ValidationFailed(
            "A session code has 1-32 letters, digits, - or _ (no personal data).",
            "촬영 코드는 영문, 숫자, -, _ 1~32자입니다(개인정보 금지).",
            field="code",
        )
    return code


def claim_signer(code: str) -> Signer:
    """The claim key from a claim code (the key's hex private key), or ValidationFailed."""
    text = code.strip()
    if not CLAIM_CODE_RE.match(text):
        raise ValidationFailed(
            "A claim code is 64 hexadecimal characters.",
            "수령 코드는 16진수 64자리입니다.",
            field="code",
        )
    try:
        return signer_from_key(text if text.startswith("0x") else "0x" + text)
    except (ValueError, TypeError):
        raise ValidationFailed(
            "The claim code is invalid.", "수령 코드가 올바르지 않습니다."
        ) from None


@dataclass
class _Reissue:
    """A re-issue in flight: the old voucher, the signer of vouchers, and how its
    cancellation ended (None until followed)."""

    old_id: int
    sha256: str
    signing_address: str
    outcome: TxOutcome | None = None


@dataclass(frozen=True)
class Upload:
    """One uploaded file."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class Blob:
    """Bytes served by the gateway."""

    data: bytes
    media_type: str
    cid: str
    public: bool


def studio_dict(record: StudioRecord) -> dict[str, Any]:
    """What the owner and the admins see of a studio (JSON-ready)."""
    return {
        "id": record.id,
        "name_ko": record.name_ko,
        "name_en": record.name_en,
        "business_number_tail": record.business_number_tail,
        "signing_address": record.signing_address,
        "default_royalty_bps": record.default_royalty_bps,
        "status": record.status,
        "decision_note": record.decision_note,
        "created_at": _iso(record.created_at),
    }


def photographer_dict(record: PhotographerRecord) -> dict[str, Any]:
    """A photographer (JSON-ready)."""
    return {
        "id": record.id,
        "name": record.name,
        "royalty_bps": record.royalty_bps,
        "has_account": record.user_id is not None,
    }


def session_dict(record: ShootingSessionRecord) -> dict[str, Any]:
    """A shooting session (JSON-ready)."""
    return {
        "id": record.id,
        "code": record.code,
        "photographer_id": record.photographer_id,
        "created_at": _iso(record.created_at),
    }


def photo_dict(record: PhotoRecord) -> dict[str, Any]:
    """A photo as its studio or owner sees it (JSON-ready; never the claim code)."""
    return {
        "id": record.id,
        "studio_id": record.studio_id,
        "session_id": record.session_id,
        "photographer_id": record.photographer_id,
        "state": record.state,
        "sha256": record.sha256,
        "phash": record.phash,
        "cid": record.cid,
        "media_type": record.media_type,
        "width": record.width,
        "height": record.height,
        "thumb_320_cid": record.thumb_320_cid,
        "thumb_1280_cid": record.thumb_1280_cid,
        "metadata_cid": record.metadata_cid,
        "stub_cid": record.stub_cid,
        "captured_at": _iso(record.captured_at),
        "duplicate_warning": record.duplicate_warning,
        "near_duplicate_of": record.near_duplicate_of,
        "voucher_id": record.voucher_id,
        "voucher_expiry": record.voucher_expiry,
        "royalty_receiver": record.royalty_receiver,
        "royalty_bps": record.royalty_bps,
        "token_id": record.token_id,
        "owner_address": record.owner_address,
        "published": record.published,
        "claim_error": record.claim_error,
        "created_at": _iso(record.created_at),
        "issued_at": _iso(record.issued_at),
        "claimed_at": _iso(record.claimed_at),
    }


class StudioService:
    """Photo studios, their uploads and vouchers, and the customers' claims."""

    def __init__(self, context: PlatformContext, outbox: OutboxService | None = None) -> None:
        self.context = context
        self.outbox = outbox or OutboxService(context)
        self.operator: Signer = operator_signer(context.settings)
        self.store = ContentStore.under(context.settings.data_dir)

    # -- chain -----------------------------------------------------------------------------

    @cached_property
    def nft(self) -> Contract:
        """The deployed PhotoNFT contract."""
        chain_id = self.outbox.client.chain_id()
        found = DeploymentService(self.context, self.outbox).addresses(chain_id)
        if PHOTO_NFT not in found:
            raise ConfigurationError(
                "PhotoNFT is not deployed on this chain; run `busanchain deploy`.",
                "이 체인에 PhotoNFT 계약이 없습니다. `busanchain deploy`를 실행하세요.",
            )
        address = Web3.to_checksum_address(found[PHOTO_NFT])
        return Web3().eth.contract(address=address, abi=load_artifact(PHOTO_NFT).abi)

    @cached_property
    def domain(self) -> PhotoDomain:
        """The EIP-712 domain of the deployed PhotoNFT."""
        return PhotoDomain(self.outbox.client.chain_id(), self.nft.address)

    def _calldata(self, fn: str, args: list[Any]) -> bytes:
        return bytes.fromhex(self.nft.encode_abi(fn, args)[2:])

    def _read(self, fn: str, args: list[Any]) -> Any:
        """Call a single-output view of PhotoNFT and decode it."""
        call = {"to": self.nft.address, "data": self.nft.encode_abi(fn, args)}
        types = _simple_outputs(self.nft.abi, fn)
        value = decode(types, self.outbox.client.call(call))[0]
        return Web3.to_checksum_address(value) if types[0] == "address" else value

    def _chain_time(self) -> int:
        block = self.outbox.client.request("eth_getBlockByNumber", ["latest", False])
        return int(block["timestamp"], 16)

    def _is_minter(self, address: str) -> bool:
        return bool(self._read("hasRole", [MINTER_ROLE, address]))

    # -- studios ---------------------------------------------------------------------------

    def register(
        self,
        user_id: int,
        name_ko: str,
        name_en: str | None,
        business_number: str,
        default_royalty_bps: object = 500,
    ) -> dict[str, Any]:
        """Register the user's studio (state pending); a platform admin decides.

        Raises:
            ValidationFailed: a bad name, business number (check digit) or royalty.
            Conflict: the user or the business number already has a studio.
        """
        name = clean_text(str(name_ko), 100)
        if not name:
            raise ValidationFailed(
                "The studio name is required.", "사진관 이름을 입력하세요.", field="name_ko"
            )
        english = clean_text(str(name_en), 100) if name_en else None
        digits = parse_business_number(business_number)
        bps = parse_royalty_bps(default_royalty_bps)
        address = key_service_for(self.context).custodial_address(user_id)
        if address is None:
            raise ValidationFailed("This account has no wallet.", "이 계정에는 지갑이 없습니다.")
        bizno_hash = business_number_hash(digits)
        try:
            with self.context.unit_of_work() as session:
                if repo.studio_of_owner(session, user_id) or repo.studio_by_bizno(
                    session, bizno_hash
                ):
                    raise _studio_taken()
                record = StudioRecord(
                    owner_user_id=user_id,
                    name_ko=name,
                    name_en=english or None,
                    business_number_hash=bizno_hash,
                    business_number_tail=digits[-3:],
                    signing_address=address,
                    default_royalty_bps=bps,
                    status=StudioStatus.PENDING,
                )
                session.add(record)
                session.flush()
                return studio_dict(record)
        except IntegrityError:
            raise _studio_taken() from None

    def my_studio(self, user_id: int) -> dict[str, Any]:
        """The user's studio, or NotFound."""
        with self.context.unit_of_work() as session:
            return studio_dict(self._own_studio(session, user_id, active=False))

    def studios(self, status: str | None) -> list[dict[str, Any]]:
        """Studios in a status (all when None), for the platform admins."""
        known = {v for k, v in vars(StudioStatus).items() if k.isupper()}
        if status is not None and status not in known:
            raise ValidationFailed(
                f"Unknown status; use one of {', '.join(sorted(known))}.",
                f"알 수 없는 상태입니다: {', '.join(sorted(known))} 중 하나를 쓰세요.",
                field="status",
            )
        with self.context.unit_of_work() as session:
            return [studio_dict(r) for r in repo.studios(session, status)]

    def approve(self, studio_id: int, admin_id: int) -> dict[str, Any]:
        """Grant MINTER_ROLE to the studio's signing address (idempotent; re-run finishes).

        An approved studio gets development content credentials (a test CA; see
        `credentials.py`) unless it uploaded its own certificate.
        """
        answer = self._set_minter(studio_id, admin_id, True, None)
        if answer["status"] == StudioStatus.ACTIVE:
            StudioCredentialService(self.context).ensure_development(studio_id)
        return answer

    def suspend(self, studio_id: int, admin_id: int, note: str | None = None) -> dict[str, Any]:
        """Revoke the studio's MINTER_ROLE (idempotent): its unclaimed vouchers stop working."""
        return self._set_minter(studio_id, admin_id, False, note)

    def reject(self, studio_id: int, admin_id: int, note: str | None) -> dict[str, Any]:
        """Reject a pending studio (nothing goes on chain)."""
        text = clean_text(note, 300) if note else None
        with self.context.unit_of_work() as session:
            record = self._studio(session, studio_id, lock=True)
            if record.status != StudioStatus.PENDING:
                raise Conflict(
                    "Only a pending studio can be rejected.",
                    "심사 대기 중인 사진관만 반려할 수 있습니다.",
                )
            record.status = StudioStatus.REJECTED
            record.decided_by, record.decided_at, record.decision_note = admin_id, utcnow(), text
            return studio_dict(record)

    def _studio(self, session: Session, studio_id: int, lock: bool = False) -> StudioRecord:
        record = repo.studio(session, studio_id, lock=lock)
        if record is None:
            raise NotFound("No such studio.", "해당 사진관이 없습니다.")
        return record

    def _own_studio(self, session: Session, user_id: int, active: bool = True) -> StudioRecord:
        record = repo.studio_of_owner(session, user_id)
        if record is None:
            raise NotFound("You have not registered a studio.", "등록한 사진관이 없습니다.")
        if active and record.status != StudioStatus.ACTIVE:
            raise Conflict(
                f"The studio is {record.status}; only an approved studio can do this.",
                f"사진관 상태가 {record.status}입니다. 승인된 사진관만 할 수 있습니다.",
                status=record.status,
            )
        return record

    def _set_minter(
        self, studio_id: int, admin_id: int, grant: bool, note: str | None
    ) -> dict[str, Any]:
        text = clean_text(note, 300) if note else None
        sources = (
            (StudioStatus.PENDING, StudioStatus.APPROVING, StudioStatus.SUSPENDED)
            if grant
            else (StudioStatus.ACTIVE, StudioStatus.SUSPENDING)
        )
        target = StudioStatus.ACTIVE if grant else StudioStatus.SUSPENDED
        with self.context.unit_of_work() as session:
            record = self._studio(session, studio_id)
            status, address, pending = record.status, record.signing_address, record.role_entry_id
        if pending is not None and self._still_open(pending):
            return self._studio_view(studio_id)  # the earlier decision is still being mined
        if status == target:
            return self._finish_decision(studio_id, admin_id, target, text)
        if status not in sources:
            raise Conflict(
                f"A {status} studio cannot be {'approved' if grant else 'suspended'}.",
                f"현재 상태({status})에서는 {'승인' if grant else '정지'}할 수 없습니다.",
            )
        if self._is_minter(address) != grant:
            outcome = self._role_tx(studio_id, grant, address)
            if outcome.status in (OutboxState.REVERTED, OutboxState.FAILED):
                raise TransactionReverted(
                    f"The role transaction was reverted: {outcome.revert_reason}",
                    f"권한 거래가 거부되었습니다: {outcome.revert_reason}",
                    reason=outcome.revert_reason,
                )
            if self._is_minter(address) != grant:
                return self._studio_view(studio_id)  # still pending: deciding again finishes it
        return self._finish_decision(studio_id, admin_id, target, text)

    def _studio_view(self, studio_id: int) -> dict[str, Any]:
        with self.context.unit_of_work() as session:
            return studio_dict(self._studio(session, studio_id))

    def _finish_decision(
        self, studio_id: int, admin_id: int, target: str, note: str | None
    ) -> dict[str, Any]:
        with self.context.unit_of_work() as session:
            record = self._studio(session, studio_id, lock=True)
            record.status = target
            record.decided_by, record.decided_at = admin_id, utcnow()
            record.decision_note = note if note is not None else record.decision_note
            return studio_dict(record)

    def _role_tx(self, studio_id: int, grant: bool, address: str) -> TxOutcome:
        """grantRole/revokeRole(MINTER_ROLE, address) through the outbox, with the new state."""
        fn = "grantRole" if grant else "revokeRole"
        data = self._calldata(fn, [MINTER_ROLE, address])
        with (
            key_lock(self.outbox.client.chain_id(), self.operator.address),
            self.context.unit_of_work() as session,
        ):
            record = self._studio(session, studio_id, lock=True)
            entry = self.outbox.enqueue(
                session,
                signer=self.operator,
                intent=f"studio.{fn}",
                to=self.nft.address,
                data=data,
                reference=f"studio:{studio_id}",
            )
            record.role_entry_id = entry.id
            record.status = StudioStatus.APPROVING if grant else StudioStatus.SUSPENDING
            entry_id = entry.id
        self.outbox.broadcast(entry_id)
        return self.outbox.wait(entry_id, WAIT_FOR_RECEIPT_S)

    # -- photographers and sessions --------------------------------------------------------

    def add_photographer(
        self, user_id: int, name: str, royalty_bps: object = None, account: str | None = None
    ) -> dict[str, Any]:
        """Add a photographer to the user's studio; `account` links a platform username."""
        text = clean_text(str(name), 100)
        if not text:
            raise ValidationFailed(
                "The photographer's name is required.", "사진가 이름을 입력하세요.", field="name"
            )
        with self.context.unit_of_work() as session:
            studio = self._own_studio(session, user_id, active=False)
            bps = (
                studio.default_royalty_bps
                if royalty_bps is None
                else parse_royalty_bps(royalty_bps)
            )
            linked = None
            if account:
                linked = repo.user_id_by_username(session, clean_text(account, 100).lower())
                if linked is None:
                    raise ValidationFailed(
                        "No account with this username.",
                        "해당 아이디의 계정이 없습니다.",
                        field="account",
                    )
            record = PhotographerRecord(
                studio_id=studio.id, name=text, user_id=linked, royalty_bps=bps
            )
            session.add(record)
            session.flush()
            return photographer_dict(record)

    def photographers(self, user_id: int) -> list[dict[str, Any]]:
        """The photographers of the user's studio."""
        with self.context.unit_of_work() as session:
            studio = self._own_studio(session, user_id, active=False)
            return [photographer_dict(r) for r in repo.photographers(session, studio.id)]

    def create_session(
        self, user_id: int, code: str, photographer_id: int | None = None
    ) -> dict[str, Any]:
        """Open a shooting session, named by a code (no personal data)."""
        text = parse_session_code(code)
        try:
            with self.context.unit_of_work() as session:
                studio = self._own_studio(session, user_id)
                if photographer_id is not None:
                    self._photographer_of(session, studio, photographer_id)
                if repo.session_code_taken(session, studio.id, text):
                    raise _session_taken()
                record = ShootingSessionRecord(
                    studio_id=studio.id, code=text, photographer_id=photographer_id
                )
                session.add(record)
                session.flush()
                return session_dict(record)
        except IntegrityError:
            raise _session_taken() from None

    def session_detail(self, user_id: int, session_id: int) -> dict[str, Any]:
        """A session of the user's studio with its photos."""
        with self.context.unit_of_work() as session:
            record = self._own_session(session, user_id, session_id)
            out = session_dict(record)
            out["photos"] = [photo_dict(p) for p in repo.photos_of_session(session, record.id)]
            return out

    def sessions(self, user_id: int) -> list[dict[str, Any]]:
        """The user's studio's sessions, newest first, with photo counts per state (read only)."""
        with self.context.unit_of_work() as session:
            studio = self._own_studio(session, user_id, active=False)
            counts = repo.photo_state_counts(session, studio.id)
            out = []
            for record in repo.sessions_of_studio(session, studio.id):
                row = session_dict(record)
                row["photo_counts"] = counts.get(record.id, {})
                out.append(row)
            return out

    def _own_session(
        self, session: Session, user_id: int, session_id: int
    ) -> ShootingSessionRecord:
        studio = repo.studio_of_owner(session, user_id)
        record = repo.shooting_session(session, session_id)
        if studio is None or record is None or record.studio_id != studio.id:
            raise NotFound("No such session.", "해당 촬영이 없습니다.")
        return record

    @staticmethod
    def _photographer_of(
        session: Session, studio: StudioRecord, photographer_id: int
    ) -> PhotographerRecord:
        record = repo.photographer(session, photographer_id)
        if record is None or record.studio_id != studio.id:
            raise ValidationFailed(
                "No such photographer in your studio.",
                "사진관에 해당 사진가가 없습니다.",
                field="photographer_id",
            )
        return record

    # -- uploads ---------------------------------------------------------------------------

    def upload(
        self, user_id: int, session_id: int, files: list[Upload], force: bool = False
    ) -> list[dict[str, Any]]:
        """Process, check and store photos of a session: all of them, or none.

        JPEG and PNG originals carry the studio's signed C2PA manifest (its credentials,
        see `credentials.py`); the stored sha256 and CID are those of the signed file.

        Raises:
            PhotoRejected: a file failed the pipeline (its own 4xx).
            DuplicatePhoto: the same photo (sha256 before signing) is on the platform (409).
            CredentialsExpired: the studio's uploaded C2PA certificate has expired (409).
            NearDuplicate: it looks like an issued or minted photo (409) and `force` is off.
        """
        if not files:
            raise ValidationFailed("Choose at least one photo.", "사진을 하나 이상 고르세요.")
        if len(files) > MAX_FILES_PER_UPLOAD:
            raise ValidationFailed(
                f"At most {MAX_FILES_PER_UPLOAD} photos per upload.",
                f"한 번에 최대 {MAX_FILES_PER_UPLOAD}장까지 올릴 수 있습니다.",
            )
        with self.context.unit_of_work() as session:
            studio_id = self._own_studio(session, user_id).id
            self._own_session(session, user_id, session_id)
        signing = StudioCredentialService(self.context).for_signing(studio_id)
        processed = [process_upload(f.data, f.filename, credentials=signing) for f in files]
        if len({p.clean_sha256 for p in processed}) != len(processed):
            raise DuplicatePhoto(
                "The same photo was chosen twice.", "같은 사진을 두 번 골랐습니다."
            )
        placeholder = self.store.put(placeholder_png())
        try:
            return self._record_uploads(user_id, session_id, processed, force, placeholder)
        except IntegrityError:
            # a concurrent upload committed the same photo (or the placeholder) first: the
            # second pass sees its rows and answers 409 for a duplicate
            return self._record_uploads(user_id, session_id, processed, force, placeholder)

    def _record_uploads(
        self,
        user_id: int,
        session_id: int,
        processed: list[ProcessedPhoto],
        force: bool,
        placeholder: str,
    ) -> list[dict[str, Any]]:
        with self.context.unit_of_work() as session:
            studio = self._own_studio(session, user_id)
            shoot = self._own_session(session, user_id, session_id)
            self._ensure_placeholder(session, placeholder)
            issued = repo.issued_hashes(session)
            records = [
                self._add_photo(session, studio, shoot, photo, issued, force, placeholder)
                for photo in processed
            ]
            return [photo_dict(r) for r in records]

    def _ensure_placeholder(self, session: Session, cid: str) -> None:
        if repo.content(session, cid) is None:
            data = placeholder_png()
            session.add(
                ContentRecord(
                    cid=cid,
                    kind=ContentKind.PLACEHOLDER,
                    media_type="image/png",
                    size=len(data),
                    photo_id=None,
                    visibility=Visibility.PUBLIC,
                )
            )
            session.flush()

    def _near_duplicate(
        self, photo: ProcessedPhoto, issued: Sequence[tuple[int, str]], force: bool
    ) -> tuple[int | None, str | None]:
        for other_id, other_hash in issued:
            distance = hamming_distance(photo.phash, hash_from_hex(other_hash))
            if distance <= NEAR_DUPLICATE_BITS:
                if not force:
                    raise NearDuplicate(distance=distance)
                warning = f"near duplicate of photo {other_id} ({distance} bits; forced)"
                return other_id, warning
        return None, None

    def _add_photo(
        self,
        session: Session,
        studio: StudioRecord,
        shoot: ShootingSessionRecord,
        photo: ProcessedPhoto,
        issued: Sequence[tuple[int, str]],
        force: bool,
        placeholder: str,
    ) -> PhotoRecord:
        if repo.photo_by_sha256(session, photo.sha256) or repo.photo_by_clean_sha256(
            session, photo.clean_sha256
        ):
            raise DuplicatePhoto(sha256=photo.sha256)
        similar, warning = self._near_duplicate(photo, issued, force)
        photographer = (
            repo.photographer(session, shoot.photographer_id) if shoot.photographer_id else None
        )
        record = PhotoRecord(
            studio_id=studio.id,
            session_id=shoot.id,
            photographer_id=shoot.photographer_id,
            sha256=photo.sha256,
            clean_sha256=photo.clean_sha256,
            phash=hash_to_hex(photo.phash),
            cid=photo.cid,
            media_type=photo.original.media_type,
            width=photo.original.width,
            height=photo.original.height,
            metadata_cid="",
            stub_cid="",
            captured_at=photo.captured_at,
            near_duplicate_of=similar,
            duplicate_warning=warning,
            state=PhotoState.UPLOADED,
        )
        session.add(record)
        session.flush()
        self._keep(
            session, record.id, ContentKind.ORIGINAL, photo.original.data, photo.original.media_type
        )
        thumbs = {320: ContentKind.THUMB_320, 1280: ContentKind.THUMB_1280}
        for side, rendition in photo.thumbnails.items():
            cid = self._keep(session, record.id, thumbs[side], rendition.data, rendition.media_type)
            setattr(record, f"thumb_{side}_cid", cid)
        metadata = self._metadata(studio, photographer, record)
        record.metadata_cid = self._keep(
            session, record.id, ContentKind.METADATA, canonical_json(metadata), "application/json"
        )
        stub = _stub_metadata(record.sha256, placeholder)
        record.stub_cid = self._keep(
            session,
            record.id,
            ContentKind.STUB_METADATA,
            canonical_json(stub),
            "application/json",
            Visibility.PUBLIC,
        )
        return record

    def _keep(
        self,
        session: Session,
        photo_id: int,
        kind: str,
        data: bytes,
        media_type: str,
        visibility: str = Visibility.PRIVATE,
    ) -> str:
        """Write a blob to the store and record it (a CID already recorded keeps its row)."""
        cid = self.store.put(data)
        if repo.content(session, cid) is None:
            session.add(
                ContentRecord(
                    cid=cid,
                    kind=kind,
                    media_type=media_type,
                    size=len(data),
                    photo_id=photo_id,
                    visibility=visibility,
                )
            )
            session.flush()
        return cid

    @staticmethod
    def _metadata(
        studio: StudioRecord, photographer: PhotographerRecord | None, record: PhotoRecord
    ) -> dict[str, Any]:
        """OpenSea-style metadata of a photo (served only while the owner publishes it)."""
        taken = record.captured_at.date().isoformat() if record.captured_at else None
        attributes: list[dict[str, Any]] = [{"trait_type": "studio", "value": studio.name_ko}]
        if photographer is not None:
            attributes.append({"trait_type": "photographer", "value": photographer.name})
        if taken is not None:
            attributes.append({"trait_type": "date", "value": taken})
        return {
            "name": f"{studio.name_ko} #{record.id}",
            "description": f"{studio.name_ko} 사진 / Photo by {studio.name_en or studio.name_ko}",
            "image": f"ipfs://{record.cid}",
            "attributes": attributes,
        }

    # -- vouchers --------------------------------------------------------------------------

    def issue(
        self, user_id: int, photo_id: int, idempotency_key: str | None, public_url: str = ""
    ) -> tuple[int, dict[str, Any]]:
        """Sign a claim voucher for an uploaded photo; the claim code is shown only now.

        The studio's custodial key signs a `MintVoucher` (sha256 of the original, both CIDs,
        royalty, 30-day expiry, a fresh claim key, the studio's next voucher id). Only the
        claim key's address and the signed voucher are stored: a repeat of the request with
        the same Idempotency-Key answers without the code.
        """
        key = parse_key(idempotency_key)
        scope = f"studio.issue:user:{user_id}"
        fingerprint = request_fingerprint("POST", f"/api/studio/photos/{photo_id}/issue", {})
        expiry = self._chain_time() + VOUCHER_TTL_S
        claim_key = new_claim_key()
        domain = self.domain
        signer = key_service_for(self.context).signer_for_user(user_id)

        def work(session: Session) -> tuple[int, dict[str, Any]]:
            record = self._issue_in(
                session, user_id, photo_id, signer, domain, expiry, claim_key.address
            )
            return 201, {"photo": photo_dict(record), "claim_code_shown": False}

        stored = IdempotencyService(self.context).run(scope, key, fingerprint, work)
        if stored.replayed:
            return stored.status_code, stored.body
        code = claim_key.private_key[2:]
        answer = dict(stored.body)
        answer.update(
            claim_code=code, claim_url=f"{public_url}/claim/{code}", claim_code_shown=True
        )
        return stored.status_code, answer

    def _issue_in(
        self,
        session: Session,
        user_id: int,
        photo_id: int,
        signer: Signer,
        domain: PhotoDomain,
        expiry: int,
        claim_key: str,
    ) -> PhotoRecord:
        studio = self._own_studio(session, user_id)
        record = repo.photo(session, photo_id, lock=True)
        if record is None or record.studio_id != studio.id:
            raise _not_found()
        if record.state != PhotoState.UPLOADED:
            raise Conflict(
                f"The photo is already {record.state}.", f"이미 처리된 사진입니다({record.state})."
            )
        if signer.address != studio.signing_address:
            raise Conflict("The studio's signing key changed.", "사진관 서명 키가 바뀌었습니다.")
        return self._sign_voucher_in(session, studio, record, signer, domain, expiry, claim_key)

    def _sign_voucher_in(
        self,
        session: Session,
        studio: StudioRecord,
        record: PhotoRecord,
        signer: Signer,
        domain: PhotoDomain,
        expiry: int,
        claim_key: str,
    ) -> PhotoRecord:
        """Sign a fresh voucher (the studio's next voucher id) into `record`: state issued."""
        receiver, bps = self._royalty(session, studio, record)
        studio_row = self._studio(session, studio.id, lock=True)
        voucher = MintVoucher(
            content_hash=bytes.fromhex(record.sha256),
            metadata_cid=record.metadata_cid,
            stub_cid=record.stub_cid,
            royalty_receiver=receiver,
            royalty_bps=bps,
            expiry=expiry,
            claim_key=claim_key,
            voucher_id=studio_row.next_voucher_id,
        )
        signature = sign_mint_voucher(signer, domain, voucher)
        studio_row.next_voucher_id += 1
        record.voucher_id = voucher.voucher_id
        record.claim_key_address = claim_key
        record.royalty_receiver, record.royalty_bps = receiver, bps
        record.voucher_expiry = expiry
        record.voucher_signature = "0x" + signature.hex()
        record.state, record.issued_at = PhotoState.ISSUED, utcnow()
        session.flush()
        return record

    def _royalty(
        self, session: Session, studio: StudioRecord, record: PhotoRecord
    ) -> tuple[str, int]:
        """(receiver, bps): the photographer's wallet if they have an account, else the studio."""
        photographer = (
            repo.photographer(session, record.photographer_id) if record.photographer_id else None
        )
        if photographer is None:
            return studio.signing_address, studio.default_royalty_bps
        receiver = studio.signing_address
        if photographer.user_id is not None:
            wallets = repo.addresses_of_user(session, photographer.user_id)
            receiver = wallets[0] if wallets else receiver
        return receiver, photographer.royalty_bps

    # -- re-issue of a lost claim code ------------------------------------------------------

    def reissue(
        self, user_id: int, photo_id: int, idempotency_key: str | None, public_url: str = ""
    ) -> tuple[int, dict[str, Any]]:
        """Replace a lost claim code: cancel the old voucher on chain, then sign a new one.

        One photo per call (`POST /api/studio/photos/{id}/reissue`); the session page
        re-issues a customer's whole batch by calling it once per chosen photo. The studio's
        own key sends `PhotoNFT.cancelVoucher(old voucher id)` through the outbox (the
        contract keys vouchers by their signer, so only the studio can cancel them; the
        operator first sends the studio's wallet gas money if the chain charges for gas).
        Only when the chain says the old voucher is used is a new voucher signed (next voucher
        id, fresh claim key, new expiry) and its code shown, once, as after `issue`.

        Answers 201 with the new code; 202 while the cancellation is being mined (repeat with
        the same Idempotency-Key, or re-issue again, to finish it: the code is shown then);
        422 if the cancellation was reverted (the old code stays valid). A replay of a
        finished re-issue answers without the code.

        Raises:
            NotFound: not a photo of the caller's studio (404).
            AlreadyClaimed: claimed on chain, or its claim is in the outbox (409).
            NotIssued: no code was issued yet (409).
        """
        key = parse_key(idempotency_key)
        scope = f"studio.reissue:user:{user_id}"
        fingerprint = request_fingerprint("POST", f"/api/studio/photos/{photo_id}/reissue", {})
        signer = key_service_for(self.context).signer_for_user(user_id)
        chain_id = self.outbox.client.chain_id()
        self.domain  # noqa: B018 (looks the contract up before the unit of work opens)

        def work(session: Session) -> tuple[int, dict[str, Any]]:
            record = self._start_reissue_in(session, user_id, photo_id, signer)
            return 202, {"photo": photo_dict(record), "claim_code_shown": False}

        # the same order as `_publish_tx` (owner key, then operator): no lock-order inversion
        with key_lock(chain_id, signer.address), key_lock(chain_id, self.operator.address):
            stored = IdempotencyService(self.context).run(scope, key, fingerprint, work)
        if stored.replayed and stored.body["photo"]["state"] != PhotoState.REISSUING:
            return stored.status_code, stored.body
        status, answer = self._finish_reissue(photo_id, signer, public_url)
        kept = {k: v for k, v in answer.items() if k not in ("claim_code", "claim_url")}
        kept["claim_code_shown"] = False
        IdempotencyService(self.context).update_answer(scope, key, status, kept)
        return status, answer

    def _start_reissue_in(
        self, session: Session, user_id: int, photo_id: int, signer: Signer
    ) -> PhotoRecord:
        """Check the photo, queue the old voucher's cancellation, mark the photo reissuing."""
        studio = self._own_studio(session, user_id)
        record = repo.photo(session, photo_id, lock=True)
        if record is None or record.studio_id != studio.id:
            raise _not_found()
        if record.state == PhotoState.REISSUING:
            return record  # an earlier re-issue is still being mined: this one finishes it
        if record.state in (PhotoState.CLAIMING, PhotoState.CLAIMED):
            raise AlreadyClaimed(state=record.state)
        if record.state != PhotoState.ISSUED:
            raise NotIssued(state=record.state)
        if signer.address != studio.signing_address:
            raise Conflict("The studio's signing key changed.", "사진관 서명 키가 바뀌었습니다.")
        if int(self._read("tokenOfContent", [bytes.fromhex(record.sha256)])):
            raise AlreadyClaimed(state="minted")
        if not self._read("voucherUsed", [signer.address, record.voucher_id or 0]):
            self._enqueue_cancel(session, record, signer)
        record.state = PhotoState.REISSUING
        session.flush()
        return record

    def _enqueue_cancel(self, session: Session, record: PhotoRecord, signer: Signer) -> None:
        """Sign `cancelVoucher(voucher id)` with the studio's key into the outbox (and its gas)."""
        data = self._calldata("cancelVoucher", [record.voucher_id or 0])
        try:
            gas = self.outbox.estimate(signer, self.nft.address, data)
            self._fund_studio_gas(session, record, signer.address, gas)
            self.outbox.enqueue(
                session,
                signer=signer,
                intent="studio.cancelVoucher",
                to=self.nft.address,
                data=data,
                gas=gas,
                reference=_cancel_reference(record),
            )
        except TransactionReverted as exc:
            raise _friendly_revert(exc) from exc

    def _fund_studio_gas(
        self, session: Session, record: PhotoRecord, address: str, gas: int
    ) -> None:
        """Queue gas money for the studio's own transaction if the chain charges and it lacks it."""
        need = gas * self.outbox.client.fee_params().max_fee_per_gas
        balance = int(self.outbox.client.request("eth_getBalance", [address, "latest"]), 16)
        if need == 0 or balance >= need:
            return
        self.outbox.enqueue(
            session,
            signer=self.operator,
            intent="studio.gas",
            to=address,
            data=b"",
            value=max(STUDIO_GAS_WEI, need),
            gas=21_000,
            reference=_gas_reference(record),
        )

    def _finish_reissue(
        self, photo_id: int, signer: Signer, public_url: str
    ) -> tuple[int, dict[str, Any]]:
        """Follow the cancellation; once the old voucher is used on chain, sign the new one."""
        shown, flight = self._follow_cancellation(photo_id)
        if flight is None:
            return 200, {"photo": shown, "claim_code_shown": False}
        outcome = flight.outcome
        if not self._read("voucherUsed", [signer.address, flight.old_id]):
            if outcome is not None and outcome.status in OutboxState.OPEN:
                return 202, self._reissuing_answer(photo_id, outcome)
            return self._abort_reissue(photo_id, outcome)
        minted = self._minted_token(flight.sha256)
        if minted is not None:
            self._record_minted(photo_id, minted)
            raise AlreadyClaimed(state="minted")
        return self._sign_reissued(photo_id, signer, flight.old_id, public_url)

    def _follow_cancellation(self, photo_id: int) -> tuple[dict[str, Any], _Reissue | None]:
        """The photo (as JSON) and, while it is being re-issued, its old voucher's cancellation
        followed to its receipt (the gas money first, then the cancellation), or until
        WAIT_FOR_RECEIPT_S."""
        with self.context.unit_of_work() as session:
            record = repo.photo(session, photo_id)
            if record is None:
                raise _not_found()
            shown = photo_dict(record)
            if record.state != PhotoState.REISSUING:
                return shown, None
            outbox = OutboxRepository(session)
            found = (
                outbox.by_reference(_gas_reference(record)),
                outbox.by_reference(_cancel_reference(record)),
            )
            entries = [e.id for e in found if e is not None]
            flight = _Reissue(
                old_id=record.voucher_id or 0,
                sha256=record.sha256,
                signing_address=self._studio(session, record.studio_id).signing_address,
            )
        for entry_id in entries:
            self.outbox.broadcast(entry_id)
            flight.outcome = self.outbox.wait(entry_id, WAIT_FOR_RECEIPT_S)
        return shown, flight

    def _reissuing_answer(self, photo_id: int, outcome: TxOutcome) -> dict[str, Any]:
        with self.context.unit_of_work() as session:
            record = repo.photo(session, photo_id)
            assert record is not None
            return {
                "photo": photo_dict(record),
                "claim_code_shown": False,
                "operation_id": outcome.entry_id,
                "tx_hash": outcome.tx_hash,
            }

    def _abort_reissue(
        self, photo_id: int, outcome: TxOutcome | None
    ) -> tuple[int, dict[str, Any]]:
        """The cancellation failed: the photo is issued again under its old (still valid) code."""
        with self.context.unit_of_work() as session:
            record = repo.photo(session, photo_id, lock=True)
            assert record is not None
            if record.state == PhotoState.REISSUING:
                record.state = PhotoState.ISSUED
            reason = (outcome.revert_reason or outcome.status) if outcome else "not cancelled"
            return 422, {
                "photo": photo_dict(record),
                "claim_code_shown": False,
                "revert_reason": reason,
                "tx_hash": outcome.tx_hash if outcome else None,
            }

    def _record_minted(self, photo_id: int, minted: tuple[int, str]) -> None:
        """The old voucher was claimed before it could be cancelled: record the token."""
        with self.context.unit_of_work() as session:
            record = repo.photo(session, photo_id, lock=True)
            assert record is not None
            if record.state == PhotoState.REISSUING:
                record.token_id, record.owner_address = minted
                record.state, record.claimed_at = PhotoState.CLAIMED, utcnow()

    def _sign_reissued(
        self, photo_id: int, signer: Signer, old_id: int, public_url: str
    ) -> tuple[int, dict[str, Any]]:
        """Sign the new voucher (only one request wins); the new code is in this answer only."""
        claim_key = new_claim_key()
        expiry = self._chain_time() + VOUCHER_TTL_S
        domain = self.domain
        with self.context.unit_of_work() as session:
            record = repo.photo(session, photo_id, lock=True)
            assert record is not None
            if record.state != PhotoState.REISSUING:
                return 200, {"photo": photo_dict(record), "claim_code_shown": False}
            studio = self._studio(session, record.studio_id)
            if signer.address != studio.signing_address:
                raise Conflict(
                    "The studio's signing key changed.", "사진관 서명 키가 바뀌었습니다."
                )
            self._sign_voucher_in(
                session, studio, record, signer, domain, expiry, claim_key.address
            )
            body: dict[str, Any] = {"photo": photo_dict(record), "replaced_voucher_id": old_id}
        code = claim_key.private_key[2:]
        body.update(claim_code=code, claim_url=f"{public_url}/claim/{code}", claim_code_shown=True)
        return 201, body

    # -- claims ----------------------------------------------------------------------------

    def claim(
        self,
        user_id: int,
        code: str,
        to: str | None,
        idempotency_key: str | None,
        publish: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        """Claim a photo with its code: the operator relays `PhotoNFT.claim` and pays the gas.

        `to` defaults to the user's custodial address (created if missing); otherwise it must
        be one of the user's wallets. With `publish`, the photo is also published in the same
        transaction (`claimAndPublish`, signed by the custodial key: one block, not two);
        an external wallet publishes by itself. Answers 200 claimed, 202 pending (repeat the
        request with the same key to follow it), 422 reverted.
        Raises NotFound for an unknown code, Conflict if already claimed, ClaimExpired (410).
        """
        key = parse_key(idempotency_key)
        claimer = claim_signer(code)
        wanted = parse_address(to) if to else None
        scope = f"studio.claim:user:{user_id}"
        body: dict[str, Any] = {"claim_key": claimer.address, "to": wanted}
        if publish:
            body["publish"] = True
        fingerprint = request_fingerprint("POST", "/api/studio/claims", body)
        domain, nft = self.domain, self.nft
        now = self._chain_time()

        def work(session: Session) -> tuple[int, dict[str, Any]]:
            record = self._claim_in(session, user_id, claimer, wanted, domain, nft, now, publish)
            return 202, self._claim_answer(record, None)

        with ExitStack() as locks:
            chain_id = self.outbox.client.chain_id()
            owner = key_service_for(self.context).custodial_address(user_id)
            if publish and owner is not None:  # the consent uses the owner's next nonce
                locks.enter_context(key_lock(chain_id, owner))
            with key_lock(chain_id, self.operator.address):
                stored = IdempotencyService(self.context).run(scope, key, fingerprint, work)
            photo_id = int(stored.body["photo_id"])
            if stored.replayed and stored.body.get("state") != PhotoState.CLAIMING:
                return stored.status_code, stored.body
            status, answer = self._settle_claim(photo_id)
        IdempotencyService(self.context).update_answer(scope, key, status, answer)
        return status, answer

    def _claim_in(
        self,
        session: Session,
        user_id: int,
        claimer: Signer,
        wanted: str | None,
        domain: PhotoDomain,
        nft: Contract,
        now: int,
        publish: bool = False,
    ) -> PhotoRecord:
        record = repo.photo_by_claim_key(session, claimer.address)
        if record is None:
            raise NotFound("No photo has this claim code.", "이 수령 코드의 사진이 없습니다.")
        record = repo.photo(session, record.id, lock=True)
        assert record is not None
        if record.state != PhotoState.ISSUED:
            ko, en = ERROR_TEXT["VoucherUsed"]
            raise Conflict(en, ko)
        if (record.voucher_expiry or 0) <= now:
            raise ClaimExpired(expiry=record.voucher_expiry)
        to = self._recipient(session, user_id, wanted)
        voucher = self._voucher_of(record)
        studio_sig = bytes.fromhex((record.voucher_signature or "0x")[2:])
        claim_sig = sign_claim(claimer, domain, voucher.voucher_id, to)
        args = [voucher.as_tuple(), studio_sig, to, claim_sig]
        if publish:
            self.outbox.claim_wallet(session, to)  # the consent signs the owner's next nonce
            args += self._publish_consent(session, user_id, to, voucher, now)
        data = self._calldata("claimAndPublish" if publish else "claim", args)
        try:
            entry = self.outbox.enqueue(
                session,
                signer=self.operator,
                intent="studio.claim",
                to=nft.address,
                data=data,
                reference=f"photo:{record.id}",
                on_behalf_of=to if publish else None,  # the owner's publish consent
            )
        except TransactionReverted as exc:
            raise _friendly_revert(exc) from exc
        record.claim_entry_id, record.claim_error = entry.id, None
        record.state = PhotoState.CLAIMING
        record.publish_target = True if publish else None
        session.flush()
        return record

    def _publish_consent(
        self, session: Session, user_id: int, to: str, voucher: MintVoucher, now: int
    ) -> list[Any]:
        """`claimAndPublish`'s last two arguments: a deadline and the custodial key's consent."""
        owner = key_service_for(self.context).signer_in(session, user_id)
        if owner.address != to:
            raise ValidationFailed(
                "Only your platform wallet can publish as it claims: "
                "claim to your external wallet, then publish from it.",
                "수령하면서 공개하기는 플랫폼 지갑에서만 됩니다. "
                "외부 지갑으로 받은 뒤 그 지갑에서 공개하세요.",
                field="publish",
            )
        nonce, deadline = int(self._read("nonces", [to])), now + PUBLISH_TTL_S
        consent = sign_publish_on_claim(owner, self.domain, voucher.content_hash, nonce, deadline)
        return [deadline, consent]

    def _recipient(self, session: Session, user_id: int, wanted: str | None) -> str:
        mine = repo.addresses_of_user(session, user_id)
        if wanted is None:
            if mine:
                return mine[0]
            return key_service_for(self.context).create_custodial_key(session, user_id)
        if wanted not in mine:
            raise ValidationFailed(
                "`to` must be your wallet or one of your linked wallets.",
                "받을 주소는 내 지갑 또는 연결한 지갑이어야 합니다.",
                field="to",
            )
        return wanted

    @staticmethod
    def _voucher_of(record: PhotoRecord) -> MintVoucher:
        return MintVoucher(
            content_hash=bytes.fromhex(record.sha256),
            metadata_cid=record.metadata_cid,
            stub_cid=record.stub_cid,
            royalty_receiver=record.royalty_receiver or "",
            royalty_bps=record.royalty_bps or 0,
            expiry=record.voucher_expiry or 0,
            claim_key=record.claim_key_address or "",
            voucher_id=record.voucher_id or 0,
        )

    def _settle_claim(self, photo_id: int) -> tuple[int, dict[str, Any]]:
        """Broadcast a pending claim, wait, and record the owner from the receipt's event."""
        with self.context.unit_of_work() as session:
            record = repo.photo(session, photo_id)
            entry_id = record.claim_entry_id if record else None
            sha256 = record.sha256 if record else ""
            wants_public = bool(record and record.publish_target)
        if entry_id is None:
            raise _not_found()
        self.outbox.broadcast(entry_id)
        outcome = self.outbox.wait(entry_id, WAIT_FOR_RECEIPT_S)
        minted = self._claimed_event(outcome) if outcome.status == OutboxState.CONFIRMED else None
        if minted is None and outcome.status == OutboxState.CONFIRMED:
            minted = self._minted_token(sha256)
        public = bool(minted and wants_public and self._read("isPublished", [minted[0]]))
        with self.context.unit_of_work() as session:
            record = repo.photo(session, photo_id, lock=True)
            assert record is not None
            if record.state == PhotoState.CLAIMING and minted is not None:
                record.token_id, record.owner_address = minted
                record.state, record.claimed_at = PhotoState.CLAIMED, utcnow()
                if record.publish_target:  # claimAndPublish: as the chain has it now
                    self._set_visibility(session, record, public)
                    record.publish_target = None
            elif record.state == PhotoState.CLAIMING and outcome.status not in OutboxState.OPEN:
                record.state, record.publish_target = PhotoState.ISSUED, None
                record.claim_error = (outcome.revert_reason or outcome.status)[:300]
                record.claim_entry_id = None
                return 422, self._claim_answer(record, outcome)
            status = 200 if record.state == PhotoState.CLAIMED else 202
            return status, self._claim_answer(record, outcome)

    def _claimed_event(self, outcome: TxOutcome) -> tuple[int, str] | None:
        """(token id, owner) from the receipt's `Claimed` event."""
        receipt = self.outbox.client.receipt(outcome.tx_hash)
        for log in (receipt or {}).get("logs", []):
            topics = log.get("topics", [])
            same = str(log.get("address", "")).lower() == self.nft.address.lower()
            if same and len(topics) == 4 and str(topics[0]).lower() == CLAIMED_TOPIC:
                owner = Web3.to_checksum_address("0x" + str(topics[3])[-40:])
                return int(str(topics[1]), 16), owner
        return None

    def _minted_token(self, sha256: str) -> tuple[int, str] | None:
        """(token id, owner) of the token minted for a content hash, if any (from the chain)."""
        token_id = int(self._read("tokenOfContent", [bytes.fromhex(sha256)]))
        return (token_id, str(self._read("ownerOf", [token_id]))) if token_id else None

    @staticmethod
    def _claim_answer(record: PhotoRecord, outcome: TxOutcome | None) -> dict[str, Any]:
        return {
            "photo_id": record.id,
            "state": record.state,
            "token_id": record.token_id,
            "owner_address": record.owner_address,
            "published": record.published,
            "operation_id": record.claim_entry_id,
            "tx_hash": outcome.tx_hash if outcome else None,
            "revert_reason": record.claim_error,
        }

    def claim_preview(self, user_id: int | None, code: str) -> dict[str, Any]:
        """What a claim page may show about a code: the studio, the state, the expiry (read only).

        Never the photo's CIDs or id unless the caller already owns it: until then the page
        shows only the public placeholder. Raises NotFound for an unknown code.
        """
        claimer = claim_signer(code)
        with self.context.unit_of_work() as session:
            record = repo.photo_by_claim_key(session, claimer.address)
            if record is None:
                raise NotFound("No photo has this claim code.", "이 수령 코드의 사진이 없습니다.")
            studio = self._studio(session, record.studio_id)
            mine = user_id is not None and self._is_owner(session, user_id, record)
            return {
                "studio_name_ko": studio.name_ko,
                "studio_name_en": studio.name_en,
                "state": record.state,
                "voucher_expiry": record.voucher_expiry,
                "placeholder_cid": cid_of_bytes(placeholder_png()),
                "mine": mine,
                "photo_id": record.id if mine else None,
            }

    # -- owners ----------------------------------------------------------------------------

    def my_photos(self, user_id: int) -> list[dict[str, Any]]:
        """The claimed photos the user owns (custodial or linked wallets)."""
        with self.context.unit_of_work() as session:
            mine = repo.addresses_of_user(session, user_id)
            return [photo_dict(r) for r in repo.photos_owned_by(session, mine)]

    def photo(self, user_id: int, photo_id: int) -> dict[str, Any]:
        """A photo for its studio or its owner; NotFound for everyone else."""
        with self.context.unit_of_work() as session:
            record = repo.photo(session, photo_id)
            if record is None or not self._may_see_record(session, user_id, record):
                raise _not_found()
            return photo_dict(record)

    def publish(self, user_id: int, photo_id: int, published: bool) -> tuple[int, dict[str, Any]]:
        """Publish or unpublish an owned photo: the owner's key signs, the operator relays.

        Answers 200 once confirmed (visibility flipped), 202 while pending.
        """
        with self.context.unit_of_work() as session:
            record = repo.photo(session, photo_id)
            if record is None or not self._is_owner(session, user_id, record):
                raise _not_found()
            token_id, owner = record.token_id or 0, record.owner_address
            pending = record.publish_entry_id
        signer = key_service_for(self.context).signer_for_user(user_id)
        if owner != signer.address:
            raise ValidationFailed(
                "This photo is in your external wallet: publish it from that wallet.",
                "이 사진은 외부 지갑에 있습니다. 그 지갑에서 공개 설정을 하세요.",
            )
        if pending is not None and self._still_open(pending):
            return 202, self.photo(user_id, photo_id)  # one signed change at a time
        if bool(self._read("isPublished", [token_id])) != published:
            if published and self._beneficial_owner(token_id) is not None:
                ko, en = ERROR_TEXT["TokenInEscrow"]
                raise Conflict(en, ko)
            outcome = self._publish_tx(photo_id, signer, token_id, published)
            if outcome.status in (OutboxState.REVERTED, OutboxState.FAILED):
                raise _friendly_revert(
                    TransactionReverted(reason=outcome.revert_reason or outcome.status)
                )
        on_chain = bool(self._read("isPublished", [token_id]))
        with self.context.unit_of_work() as session:
            record = repo.photo(session, photo_id, lock=True)
            assert record is not None
            self._set_visibility(session, record, on_chain)
            if on_chain == published:
                record.publish_entry_id = None  # settled: nothing left for recovery
            return (200 if on_chain == published else 202), photo_dict(record)

    def _still_open(self, entry_id: int) -> bool:
        """Finish an earlier transaction if it can be; True while it is still not mined."""
        if self.outbox.refresh(entry_id).status not in OutboxState.OPEN:
            return False
        self.outbox.broadcast(entry_id)
        return self.outbox.wait(entry_id, WAIT_FOR_RECEIPT_S).status in OutboxState.OPEN

    def _publish_tx(
        self, photo_id: int, owner: Signer, token_id: int, published: bool
    ) -> TxOutcome:
        chain_id = self.outbox.client.chain_id()
        with key_lock(chain_id, owner.address), key_lock(chain_id, self.operator.address):
            with self.context.unit_of_work() as session:
                self.outbox.claim_wallet(session, owner.address)
                nonce = int(self._read("nonces", [owner.address]))
                deadline = self._chain_time() + PUBLISH_TTL_S
                sig = sign_publish(owner, self.domain, token_id, published, nonce, deadline)
                data = self._calldata("setPublishedWithSig", [token_id, published, deadline, sig])
                record = repo.photo(session, photo_id, lock=True)
                assert record is not None
                entry = self.outbox.enqueue(
                    session,
                    signer=self.operator,
                    intent="studio.publish",
                    to=self.nft.address,
                    data=data,
                    reference=f"photo:{photo_id}",
                    on_behalf_of=owner.address,
                )
                record.publish_entry_id, record.publish_target = entry.id, published
                entry_id = entry.id
            self.outbox.broadcast(entry_id)
            return self.outbox.wait(entry_id, WAIT_FOR_RECEIPT_S)

    def sync_token(self, photo_id: int) -> None:
        """Bring a minted photo's owner and publication state in line with the chain.

        If the node cannot be reached, the recorded state stands until the next read.
        """
        with self.context.unit_of_work() as session:
            record = repo.photo(session, photo_id)
            if record is None or record.state != PhotoState.CLAIMED or record.token_id is None:
                return
            token_id = record.token_id
        try:
            owner = self._beneficial_owner(token_id) or str(self._read("ownerOf", [token_id]))
            published = bool(self._read("isPublished", [token_id]))
        except ChainError:
            return
        with self.context.unit_of_work() as session:
            record = repo.photo(session, photo_id, lock=True)
            assert record is not None
            if record.owner_address != owner:
                record.owner_address = owner
            if record.published != published:
                self._set_visibility(session, record, published)

    def _beneficial_owner(self, token_id: int) -> str | None:
        """The seller while the token is in an escrow (a Gallery auction), else None.

        The escrow contract is only a custodian: the seller keeps owning the photo, as
        `Gallery.holderOf` says, and keeps access to its private content.
        """
        address = str(self._read("escrowedFrom", [token_id]))
        return None if int(address, 16) == 0 else address

    def resume_pending(self) -> int:
        """After a restart: finish claims and publication changes a crash left in flight.

        A claim in state `claiming` is followed to its receipt (rebroadcast if the node lost
        it); a publication change is settled and the photo's owner and visibility are read
        back from the chain. A re-issue is followed too (see `_settle_reissue`). Returns how
        many photos were looked at. Idempotent.
        """
        with self.context.unit_of_work() as session:
            pending = [
                (p.id, p.state, p.publish_entry_id)
                for p in repo.photos_with_open_transactions(session)
            ]
        for photo_id, state, publish_entry in pending:
            if state == PhotoState.CLAIMING:
                self._settle_claim(photo_id)
            if state == PhotoState.REISSUING:
                self._settle_reissue(photo_id)
            if publish_entry is not None and not self._still_open(publish_entry):
                self._clear_publish_entry(photo_id, publish_entry)
            self.sync_token(photo_id)
        return len(pending)

    def _settle_reissue(self, photo_id: int) -> None:
        """After a restart, a re-issue whose old voucher could not be cancelled goes back to
        `issued` (the old code still works), and one whose old voucher was claimed first is
        recorded as claimed. One whose cancellation went through stays `reissuing`: the new
        code can only be shown in the answer to the studio's next press of "re-issue"."""
        _shown, flight = self._follow_cancellation(photo_id)
        outcome = flight.outcome if flight else None
        if flight is None or (outcome is not None and outcome.status in OutboxState.OPEN):
            return  # not re-issuing, or still on its way (the next restart or press follows it)
        if not self._read("voucherUsed", [flight.signing_address, flight.old_id]):
            self._abort_reissue(photo_id, flight.outcome)
            return
        minted = self._minted_token(flight.sha256)
        if minted is not None:
            self._record_minted(photo_id, minted)

    def _clear_publish_entry(self, photo_id: int, entry_id: int) -> None:
        with self.context.unit_of_work() as session:
            record = repo.photo(session, photo_id, lock=True)
            if record is not None and record.publish_entry_id == entry_id:
                record.publish_entry_id = None

    @staticmethod
    def _set_visibility(session: Session, record: PhotoRecord, published: bool) -> None:
        record.published = published
        visibility = Visibility.PUBLIC if published else Visibility.PRIVATE
        for blob in repo.content_of_photo(session, record.id):
            if blob.kind in PRIVATE_KINDS:
                blob.visibility = visibility

    # -- gateway ---------------------------------------------------------------------------

    def content(self, user_id: int | None, cid: str) -> Blob:
        """A stored blob by CID, if public or the caller is its rightful party; else NotFound.

        For a minted photo the owner and publication state are first read from the chain
        (a sale moves the token and makes it private again), so access follows the token.
        """
        with self.context.unit_of_work() as session:
            row = repo.content(session, cid)
            photo_id = row.photo_id if row is not None else None
        if photo_id is not None:
            self.sync_token(photo_id)
        with self.context.unit_of_work() as session:
            row = repo.content(session, cid)
            if row is None or not self._may_read(session, user_id, row):
                raise NotFound("Not found.", "찾을 수 없습니다.")
            media_type, public = row.media_type, row.visibility == Visibility.PUBLIC
        data = self.store.get(cid)
        if data is None:
            raise NotFound("Not found.", "찾을 수 없습니다.")
        return Blob(data, media_type, cid, public)

    def photo_image(self, user_id: int | None, photo_id: int, size: str | None) -> Blob:
        """A photo's image at a size (original, 1280 or 320), by the same rule as `content`."""
        kind = IMAGE_SIZES.get(size or "1280")
        if kind is None:
            raise ValidationFailed(
                "size: original, 1280 or 320.", "size: original, 1280, 320 중 하나입니다."
            )
        with self.context.unit_of_work() as session:
            record = repo.photo(session, photo_id)
            if record is None:
                raise _not_found()
            cids = {
                ContentKind.ORIGINAL: record.cid,
                ContentKind.THUMB_1280: record.thumb_1280_cid,
                ContentKind.THUMB_320: record.thumb_320_cid,
            }
            cid = cids[kind] or record.cid
        return self.content(user_id, cid)

    def _may_read(self, session: Session, user_id: int | None, row: ContentRecord) -> bool:
        if row.visibility == Visibility.PUBLIC:
            return True
        if user_id is None or row.photo_id is None:
            return False
        record = repo.photo(session, row.photo_id)
        return record is not None and self._is_rightful(session, user_id, record)

    @staticmethod
    def _is_owner(session: Session, user_id: int, record: PhotoRecord) -> bool:
        if record.state != PhotoState.CLAIMED or record.owner_address is None:
            return False
        return record.owner_address in repo.addresses_of_user(session, user_id)

    def _is_rightful(self, session: Session, user_id: int, record: PhotoRecord) -> bool:
        """The owner once claimed; before that, the studio that uploaded it."""
        if record.state == PhotoState.CLAIMED:
            return self._is_owner(session, user_id, record)
        studio = repo.studio(session, record.studio_id)
        return studio is not None and studio.owner_user_id == user_id

    def _may_see_record(self, session: Session, user_id: int, record: PhotoRecord) -> bool:
        """The photo's record (not its image): its studio always, and its owner."""
        studio = repo.studio(session, record.studio_id)
        if studio is not None and studio.owner_user_id == user_id:
            return True
        return self._is_owner(session, user_id, record)


def _stub_metadata(sha256: str, placeholder_cid: str) -> dict[str, Any]:
    """The public stub a private token points at: no picture, only the content hash."""
    return {
        "name": STUB_NAME,
        "description": "소유자가 공개하지 않은 사진입니다. / The owner keeps this photo private.",
        "image": f"ipfs://{placeholder_cid}",
        "attributes": [{"trait_type": "content_hash", "value": "0x" + sha256}],
    }


def _cancel_reference(record: PhotoRecord) -> str:
    """The outbox reference of the cancellation of a photo's current voucher."""
    return f"photo:{record.id}:cancel-voucher:{record.voucher_id}"


def _gas_reference(record: PhotoRecord) -> str:
    """The outbox reference of the gas money sent for that cancellation."""
    return f"photo:{record.id}:cancel-gas:{record.voucher_id}"


def _friendly_revert(exc: TransactionReverted) -> BusanchainError:
    """A PhotoNFT revert as a clear ko/en error (expired vouchers as 410, used as 409)."""
    reason = str(exc.details.get("reason", ""))
    name = reason.split("(")[0].strip()
    if name == "VoucherExpired":
        return ClaimExpired(reason=reason)
    if name in ("VoucherUsed", "ContentAlreadyMinted"):
        ko, en = ERROR_TEXT[name]
        return Conflict(en, ko, reason=reason)
    if name in ERROR_TEXT:
        ko, en = ERROR_TEXT[name]
        return TransactionReverted(en, ko, reason=reason)
    return exc


def studio_service_for(context: PlatformContext) -> StudioService:
    """The studio service of a platform context: one per process, so that requests share its
    chain handles and HTTP connection pool (the service keeps no per-request state)."""
    service = context.services.get(SERVICE_NAME)
    if service is None:
        service = context.services.setdefault(SERVICE_NAME, StudioService(context))
    return cast(StudioService, service)
