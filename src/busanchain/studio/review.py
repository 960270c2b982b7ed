"""The platform admins' review queue of studios: who is waiting, who is approved or suspended.

A read-only use case for the admin page (`studio/admin_pages.py`): the studio rows as the API
shows them, plus the owner's username (the API's studio answer leaves it out). Decisions are
made through `StudioService` (`approve`, `reject`, `suspend`) by the JSON API.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from busanchain.accounts import repository as accounts_repo
from busanchain.platform.context import PlatformContext
from busanchain.studio import repository as repo
from busanchain.studio.service import studio_dict
from busanchain.studio.tables import StudioRecord, StudioStatus

WAITING = (StudioStatus.PENDING, StudioStatus.APPROVING)
DECIDED = (StudioStatus.ACTIVE, StudioStatus.SUSPENDING, StudioStatus.SUSPENDED)


class StudioReview:
    """Studios grouped for the admin page, each with its owner's username."""

    def __init__(self, context: PlatformContext) -> None:
        self.context = context

    def queue(self) -> dict[str, list[dict[str, Any]]]:
        """`waiting` (pending, being approved) and `decided` (approved, suspended) studios."""
        with self.context.unit_of_work() as session:
            return {
                "waiting": self._rows(session, WAITING),
                "decided": self._rows(session, DECIDED),
            }

    @staticmethod
    def _rows(session: Session, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
        """The studios in `statuses`, oldest first, with `owner_username`."""
        rows: list[StudioRecord] = []
        for status in statuses:
            rows.extend(repo.studios(session, status))
        rows.sort(key=lambda record: record.id)
        return [_with_owner(session, record) for record in rows]


def _with_owner(session: Session, record: StudioRecord) -> dict[str, Any]:
    """The studio's API answer plus its owner's username."""
    owner = accounts_repo.user_by_id(session, record.owner_user_id)
    return {**studio_dict(record), "owner_username": owner.username if owner else "-"}
