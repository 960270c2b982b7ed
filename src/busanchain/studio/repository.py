"""Queries over the studio tables. Repositories never commit: the service owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from busanchain.accounts import repository as accounts_repo
from busanchain.keys import repository as keys_repo
from busanchain.studio.tables import (
    ContentRecord,
    PhotographerRecord,
    PhotoRecord,
    PhotoState,
    ShootingSessionRecord,
    StudioCredentialRecord,
    StudioRecord,
)

MINTED_OR_ISSUED = (PhotoState.ISSUED, PhotoState.CLAIMING, PhotoState.CLAIMED)


def studio(session: Session, studio_id: int, lock: bool = False) -> StudioRecord | None:
    """One studio by id (optionally row-locked)."""
    stmt = select(StudioRecord).where(StudioRecord.id == studio_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def studio_of_owner(session: Session, user_id: int) -> StudioRecord | None:
    """The studio a user owns (at most one)."""
    return session.scalars(
        select(StudioRecord).where(StudioRecord.owner_user_id == user_id)
    ).first()


def studio_by_bizno(session: Session, bizno_hash: str) -> StudioRecord | None:
    """The studio registered with a business number hash."""
    stmt = select(StudioRecord).where(StudioRecord.business_number_hash == bizno_hash)
    return session.scalars(stmt).first()


def studios(session: Session, status: str | None) -> Sequence[StudioRecord]:
    """Studios in a status (all when None), oldest first."""
    stmt = select(StudioRecord).order_by(StudioRecord.id)
    if status is not None:
        stmt = stmt.where(StudioRecord.status == status)
    return session.scalars(stmt).all()


def photographer(session: Session, photographer_id: int) -> PhotographerRecord | None:
    """One photographer by id."""
    return session.get(PhotographerRecord, photographer_id)


def photographers(session: Session, studio_id: int) -> Sequence[PhotographerRecord]:
    """A studio's photographers."""
    stmt = select(PhotographerRecord).where(PhotographerRecord.studio_id == studio_id)
    return session.scalars(stmt.order_by(PhotographerRecord.id)).all()


def shooting_session(session: Session, session_id: int) -> ShootingSessionRecord | None:
    """One shooting session by id."""
    return session.get(ShootingSessionRecord, session_id)


def session_code_taken(session: Session, studio_id: int, code: str) -> bool:
    """Whether a studio already has a session with this code."""
    stmt = select(ShootingSessionRecord.id).where(
        ShootingSessionRecord.studio_id == studio_id, ShootingSessionRecord.code == code
    )
    return session.scalars(stmt).first() is not None


def sessions_of_studio(session: Session, studio_id: int) -> Sequence[ShootingSessionRecord]:
    """A studio's shooting sessions, newest first."""
    stmt = select(ShootingSessionRecord).where(ShootingSessionRecord.studio_id == studio_id)
    return session.scalars(stmt.order_by(ShootingSessionRecord.id.desc())).all()


def photo_state_counts(session: Session, studio_id: int) -> dict[int, dict[str, int]]:
    """{session id: {photo state: count}} for a studio's photos."""
    stmt = (
        select(PhotoRecord.session_id, PhotoRecord.state, func.count())
        .where(PhotoRecord.studio_id == studio_id)
        .group_by(PhotoRecord.session_id, PhotoRecord.state)
    )
    counts: dict[int, dict[str, int]] = {}
    for session_id, state, count in session.execute(stmt).all():
        counts.setdefault(int(session_id), {})[str(state)] = int(count)
    return counts


def photo(session: Session, photo_id: int, lock: bool = False) -> PhotoRecord | None:
    """One photo by id (optionally row-locked)."""
    stmt = select(PhotoRecord).where(PhotoRecord.id == photo_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def photos_of_session(session: Session, session_id: int) -> Sequence[PhotoRecord]:
    """The photos of a shooting session."""
    stmt = select(PhotoRecord).where(PhotoRecord.session_id == session_id)
    return session.scalars(stmt.order_by(PhotoRecord.id)).all()


def photo_by_sha256(session: Session, sha256: str) -> PhotoRecord | None:
    """The photo whose stored original has this sha256, anywhere on the platform."""
    return session.scalars(select(PhotoRecord).where(PhotoRecord.sha256 == sha256)).first()


def photo_by_clean_sha256(session: Session, clean_sha256: str) -> PhotoRecord | None:
    """The photo whose original had this sha256 before it was signed, anywhere."""
    stmt = select(PhotoRecord).where(PhotoRecord.clean_sha256 == clean_sha256)
    return session.scalars(stmt).first()


def photo_by_claim_key(session: Session, address: str) -> PhotoRecord | None:
    """The photo whose voucher names this claim key address."""
    stmt = select(PhotoRecord).where(PhotoRecord.claim_key_address == address)
    return session.scalars(stmt).first()


def issued_hashes(session: Session) -> Sequence[tuple[int, str]]:
    """(photo id, pHash hex) of every photo issued or minted on the platform."""
    stmt = select(PhotoRecord.id, PhotoRecord.phash).where(PhotoRecord.state.in_(MINTED_OR_ISSUED))
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def photos_owned_by(session: Session, addresses: Sequence[str]) -> Sequence[PhotoRecord]:
    """Claimed photos whose owner is one of `addresses`."""
    if not addresses:
        return []
    stmt = select(PhotoRecord).where(
        PhotoRecord.owner_address.in_(list(addresses)), PhotoRecord.state == PhotoState.CLAIMED
    )
    return session.scalars(stmt.order_by(PhotoRecord.id)).all()


def content(session: Session, cid: str) -> ContentRecord | None:
    """One stored blob's row."""
    return session.get(ContentRecord, cid)


def content_of_photo(session: Session, photo_id: int) -> Sequence[ContentRecord]:
    """Every blob of a photo."""
    stmt = select(ContentRecord).where(ContentRecord.photo_id == photo_id)
    return session.scalars(stmt).all()


def addresses_of_user(session: Session, user_id: int) -> list[str]:
    """The user's custodial address and linked wallets (checksummed)."""
    key = keys_repo.custodial_key_for_user(session, user_id)
    linked = accounts_repo.linked_wallets(session, user_id)
    return ([key.address] if key else []) + list(linked)


def user_id_by_username(session: Session, username: str) -> int | None:
    """The id of the account with this username (or e-mail), if any."""
    record = accounts_repo.user_by_login(session, username)
    return record.id if record else None


def photos_with_open_transactions(session: Session) -> Sequence[PhotoRecord]:
    """Photos whose claim or re-issue is being mined, or with a publication change recorded
    (to re-check)."""
    return session.scalars(
        select(PhotoRecord)
        .where(
            PhotoRecord.state.in_([PhotoState.CLAIMING, PhotoState.REISSUING])
            | PhotoRecord.publish_entry_id.is_not(None)
        )
        .order_by(PhotoRecord.id)
    ).all()


def credentials_of_studio(
    session: Session, studio_id: int, lock: bool = False
) -> StudioCredentialRecord | None:
    """A studio's content credentials row (optionally row-locked), if it has one."""
    stmt = select(StudioCredentialRecord).where(StudioCredentialRecord.studio_id == studio_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()
