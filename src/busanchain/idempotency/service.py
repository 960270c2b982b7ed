"""Idempotent execution of money-moving requests.

The first request with a key claims it in the same database transaction as the work it
does (for example the outbox entry of a transfer), and stores its answer. A repeat with the
same key and body gets the stored answer and has no effect. A repeat with a different body
is refused with 422. A repeat that arrives while the first is still running waits for it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from busanchain.db.base import utcnow
from busanchain.domain.errors import IdempotencyConflict, IdempotencyInProgress, ValidationFailed
from busanchain.idempotency.repository import IdempotencyRepository
from busanchain.idempotency.tables import IdempotencyRecord
from busanchain.platform.context import PlatformContext

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-]{8,200}$")


@dataclass(frozen=True)
class StoredResponse:
    """An answer to replay."""

    status_code: int
    body: dict[str, Any]
    replayed: bool


def parse_key(raw: str | None) -> str:
    """Validate an Idempotency-Key header value."""
    if raw is None or not KEY_PATTERN.match(raw):
        raise ValidationFailed(
            "An Idempotency-Key header of 8-200 characters (letters, digits, - _ . :) is required.",
            "8~200자(영문, 숫자, - _ . :)의 Idempotency-Key 헤더가 필요합니다.",
        )
    return raw


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """A stable hash of what was asked: method, path and canonical JSON body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


class IdempotencyService:
    """Claims keys, stores answers and replays them."""

    def __init__(self, context: PlatformContext, wait_s: float = 30.0) -> None:
        self.context = context
        self.wait_s = wait_s

    def run(
        self,
        scope: str,
        key: str,
        fingerprint: str,
        work: Callable[[Session], tuple[int, dict[str, Any]]],
    ) -> StoredResponse:
        """Do `work` once for this key; its answer is stored in the same transaction.

        `work` runs inside the unit of work that claims the key; if it raises, nothing is
        stored and the key stays free, so a corrected retry can use it.
        """
        deadline = time.monotonic() + self.wait_s
        while True:
            stored = self._replay(scope, key, fingerprint)
            if stored is not None:
                return stored
            try:
                with self.context.unit_of_work() as session:
                    status, body = self._claim_and_work(session, scope, key, fingerprint, work)
                return StoredResponse(status, body, replayed=False)
            except IntegrityError:
                pass  # another request claimed the key first: replay its answer
            if time.monotonic() >= deadline:
                raise IdempotencyInProgress()
            time.sleep(0.02)

    def _claim_and_work(
        self,
        session: Session,
        scope: str,
        key: str,
        fingerprint: str,
        work: Callable[[Session], tuple[int, dict[str, Any]]],
    ) -> tuple[int, dict[str, Any]]:
        record = IdempotencyRecord(scope=scope, key=key, request_hash=fingerprint)
        IdempotencyRepository(session).add(record)
        status, body = work(session)
        record.status_code = status
        record.response_body = json.dumps(body, ensure_ascii=False)
        record.completed_at = utcnow()
        return status, body

    def _replay(self, scope: str, key: str, fingerprint: str) -> StoredResponse | None:
        with self.context.unit_of_work() as session:
            record = IdempotencyRepository(session).find(scope, key)
            if record is None:
                return None
            if record.request_hash != fingerprint:
                raise IdempotencyConflict()
            if record.status_code is None or record.response_body is None:
                return None
            return StoredResponse(record.status_code, json.loads(record.response_body), True)

    def update_answer(self, scope: str, key: str, status: int, body: dict[str, Any]) -> None:
        """Replace the stored answer once the outcome is known (for example a receipt)."""
        with self.context.unit_of_work() as session:
            record = IdempotencyRepository(session).find(scope, key)
            if record is not None:
                record.status_code = status
                record.response_body = json.dumps(body, ensure_ascii=False)
