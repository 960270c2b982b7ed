"""Group commit: accepted payments of concurrent requests share one database transaction.

Each request hands its Idempotency-Key and the work that writes its payment to the
committer thread and waits. The thread writes every waiting request's key, payment and
nonce, each inside its own savepoint (one failure does not undo the others), commits them
together (one fsync for many payments) and only then releases the requests, so an answer
is still given only after the payment is durable. The key's semantics are those of
`IdempotencyService.run`: a key another request claimed first is reported back (the caller
then replays that request's answer).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from busanchain.db.base import utcnow
from busanchain.domain.errors import BusanchainError
from busanchain.idempotency.repository import IdempotencyRepository
from busanchain.idempotency.tables import IdempotencyRecord
from busanchain.platform.context import PlatformContext

Work = Callable[[Session], tuple[int, dict[str, Any]]]
MAX_GROUP = 256
IDLE_EXIT_S = 5.0  # the thread ends after this long without work (restarted on demand)


@dataclass
class _Job:
    """One request waiting for its payment to be committed."""

    scope: str
    key: str
    fingerprint: str
    work: Work
    done: threading.Event = field(default_factory=threading.Event)
    answer: tuple[int, dict[str, Any]] | None = None
    error: BaseException | None = None


class GroupCommitter:
    """Commits the payments of many concurrent requests in one transaction."""

    def __init__(self, context: PlatformContext, max_group: int = MAX_GROUP) -> None:
        self.context = context
        self.max_group = max_group
        self._queue: list[_Job] = []
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(
        self, scope: str, key: str, fingerprint: str, work: Work
    ) -> tuple[int, dict[str, Any]] | None:
        """Claim the key and run `work` in a shared transaction; the committed answer, or
        None when another request claimed the key first (nothing of `work` was kept)."""
        job = _Job(scope, key, fingerprint, work)
        with self._cv:
            self._queue.append(job)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="payments-group-commit", daemon=True
                )
                self._thread.start()
            self._cv.notify()
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.answer

    def _loop(self) -> None:
        while True:
            with self._cv:
                if not self._queue:
                    self._cv.wait(IDLE_EXIT_S)
                if not self._queue:
                    self._thread = None
                    return
                jobs = self._queue[: self.max_group]
                del self._queue[: self.max_group]
            self._commit(jobs)

    def _commit(self, jobs: list[_Job]) -> None:
        """One transaction for all jobs; each job's writes in its own savepoint."""
        answers: dict[int, tuple[int, dict[str, Any]] | None] = {}
        try:
            with self.context.unit_of_work() as session:
                for index, job in enumerate(jobs):
                    try:
                        with session.begin_nested():
                            answers[index] = _claim_and_work(session, job)
                    except IntegrityError:
                        answers[index] = None  # claimed by another request: it replays
                    except BusanchainError as exc:
                        job.error = exc
            for index, job in enumerate(jobs):
                if job.error is None:
                    job.answer = answers.get(index)
        except BaseException as exc:  # nothing was committed: every request fails
            for job in jobs:
                job.error = job.error or exc
        finally:
            for job in jobs:
                job.done.set()


def _claim_and_work(session: Session, job: _Job) -> tuple[int, dict[str, Any]]:
    """What `IdempotencyService` does in its transaction: claim the key, work, store the
    answer (all inside the caller's savepoint)."""
    record = IdempotencyRecord(scope=job.scope, key=job.key, request_hash=job.fingerprint)
    IdempotencyRepository(session).add(record)
    status, body = job.work(session)
    record.status_code = status
    record.response_body = json.dumps(body, ensure_ascii=False)
    record.completed_at = utcnow()
    session.flush()
    return status, body
