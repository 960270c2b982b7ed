"""The group committer: many requests, one transaction, each request's own outcome."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from busanchain.domain.errors import Conflict
from busanchain.idempotency.tables import IdempotencyRecord
from busanchain.payments.commits import GroupCommitter
from busanchain.platform.context import PlatformContext
from busanchain.platform.reads import read_session


def _answer(n: int) -> Any:
    def work(session: Session) -> tuple[int, dict[str, Any]]:
        return 202, {"n": n}

    return work


def _refuse(session: Session) -> tuple[int, dict[str, Any]]:
    raise Conflict("busy", "사용 중")


def test_each_request_gets_its_own_committed_answer(context: PlatformContext) -> None:
    committer = GroupCommitter(context)
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(
            pool.map(lambda n: committer.submit("s", f"key-{n:04d}", "fp", _answer(n)), range(64))
        )
    assert answers == [(202, {"n": n}) for n in range(64)]
    with read_session(context) as session:
        stored = session.scalars(select(IdempotencyRecord).where(IdempotencyRecord.scope == "s"))
        assert sorted(r.key for r in stored if r.status_code == 202) == [
            f"key-{n:04d}" for n in range(64)
        ]


def test_a_key_claimed_twice_is_kept_once(context: PlatformContext) -> None:
    committer = GroupCommitter(context)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(lambda n: committer.submit("s", "same-key", "fp", _answer(n)), [1] * 8)
        )
    assert sum(1 for a in answers if a is not None) == 1
    assert sum(1 for a in answers if a is None) == 7


def test_a_refused_request_does_not_undo_the_others(context: PlatformContext) -> None:
    committer = GroupCommitter(context)
    with pytest.raises(Conflict):
        committer.submit("s", "refused-1", "fp", _refuse)
    assert committer.submit("s", "accepted-1", "fp", _answer(1)) == (202, {"n": 1})
    with read_session(context) as session:
        keys = set(session.scalars(select(IdempotencyRecord.key)))
    assert "accepted-1" in keys and "refused-1" not in keys
