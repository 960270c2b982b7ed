"""The moderators' queue (platform admins): open reports, frozen works and owners' appeals.

A read-only use case for the moderation page (`gallery/moderation_pages.py`); freezing and
unfreezing stay with `GalleryService` and its JSON API. There is no "dismiss" in the API, so a
report counts as open until a moderator freezes or unfreezes its work after it was sent. A
work counts as frozen when the chain says so (the reason code is read from the contract); the
note and the date come from the latest freeze recorded here. An appeal is open while its work
is still frozen and no unfreeze came after it. Reporters are shown masked: moderators judge
the report, not the person.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from busanchain.accounts import repository as accounts_repo
from busanchain.gallery import repository as repo
from busanchain.gallery.service import GalleryService
from busanchain.gallery.tables import GalleryAppeal, GalleryModeration, GalleryReport
from busanchain.platform.context import PlatformContext

QUEUE_LIMIT = 200


def latest_reports(session: Session, limit: int = QUEUE_LIMIT) -> Sequence[GalleryReport]:
    """The latest reports, newest first."""
    query = select(GalleryReport).order_by(GalleryReport.id.desc()).limit(limit)
    return session.scalars(query).all()


def latest_decisions(session: Session) -> dict[int, GalleryModeration]:
    """Each moderated token's latest freeze or unfreeze."""
    query = select(GalleryModeration).order_by(GalleryModeration.id)
    return {row.token_id: row for row in session.scalars(query)}


def mask_username(username: str | None) -> str:
    """A username shown to moderators: its first two characters, then stars."""
    if not username:
        return "-"
    return username[:2] + "***"


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _after(decision: GalleryModeration | None, moment: datetime) -> bool:
    """Whether `decision` exists and was made after `moment`."""
    return decision is not None and decision.created_at >= moment


class ModerationQueue:
    """What the moderation page lists, read from the database and the Gallery contract."""

    def __init__(self, context: PlatformContext, gallery: GalleryService | None = None) -> None:
        self.context = context
        self.gallery = gallery or GalleryService(context)

    def overview(self) -> dict[str, list[dict[str, Any]]]:
        """`reports` (open), `frozen` (works frozen now) and `appeals` (newest first)."""
        with self.context.unit_of_work() as session:
            decisions = latest_decisions(session)
            reports = [
                self._report(session, r)
                for r in latest_reports(session)
                if not _after(decisions.get(r.token_id), r.created_at)
            ]
            appeals = list(repo.appeals(session, QUEUE_LIMIT))
            frozen_rows = [d for d in decisions.values() if d.action == "freeze"]
        frozen = self._frozen_now(frozen_rows[-QUEUE_LIMIT:])
        frozen_ids = {row["token_id"] for row in frozen}
        return {
            "reports": reports,
            "frozen": frozen,
            "appeals": [_appeal(a, decisions.get(a.token_id), frozen_ids) for a in appeals],
        }

    @staticmethod
    def _report(session: Session, row: GalleryReport) -> dict[str, Any]:
        reporter = accounts_repo.user_by_id(session, row.reporter_user_id)
        return {
            "id": row.id,
            "token_id": row.token_id,
            "kind": row.kind,
            "text": row.text,
            "reporter": mask_username(reporter.username if reporter else None),
            "created_at": _iso(row.created_at),
        }

    def _frozen_now(self, rows: Iterable[GalleryModeration]) -> list[dict[str, Any]]:
        """The recorded freezes whose work the chain still has frozen, newest first."""
        frozen = []
        for row in sorted(rows, key=lambda r: r.id, reverse=True):
            reason = self.gallery.frozen_reason(row.token_id)
            if reason is None:
                continue
            frozen.append(
                {
                    "token_id": row.token_id,
                    "reason_code": reason,
                    "note": row.note,
                    "created_at": _iso(row.created_at),
                }
            )
        return frozen


def _appeal(
    row: GalleryAppeal, decision: GalleryModeration | None, frozen: set[int]
) -> dict[str, Any]:
    """An appeal with `open`: its work is still frozen and no unfreeze came after it."""
    lifted = decision is not None and decision.action == "unfreeze"
    return {
        "id": row.id,
        "token_id": row.token_id,
        "owner": row.owner,
        "text": row.text,
        "tx_hash": row.tx_hash,
        "created_at": _iso(row.created_at),
        "open": row.token_id in frozen and not (lifted and _after(decision, row.created_at)),
    }
