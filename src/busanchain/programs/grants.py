"""Grants of a program: the page's search and the revocation shared by the API and the page.

The listing pages by keyset (never loading a whole program), filters district and state in
SQL, and opens sealed names only for a name search (bounded per request). A revocation is
checked against the contract's own rules first (a claimed, spent, pending or expired grant
gets a clear 422), then signed into the outbox with its Idempotency-Key in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from busanchain.accounts.service import User
from busanchain.domain.errors import NotFound, ValidationFailed
from busanchain.http.i18n import pick
from busanchain.idempotency.service import IdempotencyService, parse_key, request_fingerprint
from busanchain.platform.context import PlatformContext
from busanchain.platform.reads import read_session
from busanchain.programs import repository
from busanchain.programs.disburse import Disburser
from busanchain.programs.residents import mask_name, open_resident
from busanchain.programs.service import ProgramView
from busanchain.vouchers.contracts import VoucherChain

GRANT_PAGE = 25
NAME_SCAN_CHUNK = 500
NAME_SCAN_LIMIT = 5_000  # sealed names opened by one search request at most
STATE_FILTERS: dict[str, tuple[str, ...]] = {
    "granted": ("open",),
    "claimed": ("claiming", "claimed"),
    "revoking": ("revoking",),
    "revoked": ("revoked",),
}
GRANT_LABELS: dict[str, tuple[str, str]] = {
    "pending": ("지급 진행 중", "Being granted"),
    "granted": ("지급됨", "Granted"),
    "claiming": ("청구 중", "Being claimed"),
    "claimed": ("청구됨", "Claimed"),
    "spent": ("사용됨", "Spent"),
    "revoking": ("회수 중", "Revoking"),
    "revoked": ("회수됨", "Revoked"),
    "expired": ("만료", "Expired"),
}
_CLAIMED = (
    "The citizen already claimed this grant; a claimed grant cannot be revoked.",
    "시민이 이미 청구한 지급은 회수할 수 없습니다.",
)
NOT_REVOCABLE: dict[str, tuple[str, str]] = {
    "claiming": _CLAIMED,
    "claimed": _CLAIMED,
    "spent": (
        "The citizen already spent these vouchers; only unspent vouchers can be revoked.",
        "시민이 이미 사용한 바우처는 회수할 수 없습니다(미사용분만 회수 가능).",
    ),
    "pending": (
        "This round is still being granted; revoke once it is done.",
        "아직 지급 중인 회차입니다. 지급이 끝난 뒤 회수하세요.",
    ),
    "expired": (
        "The program has expired; its unspent backing returns by the expiry clawback.",
        "만료된 정책입니다. 남은 예치금은 만료 회수로 돌아갑니다.",
    ),
}


@dataclass(frozen=True)
class GrantLine:
    """A grant as the program page lists it (`name` masked, and only for officials)."""

    id: int
    program_id: int
    round_id: int
    mode: str
    address: str
    amount: int
    status: str
    name: str | None
    district: int | None
    entry_id: int | None

    @property
    def can_revoke(self) -> bool:
        """Whether the contract would still accept a revocation (granted, unclaimed, unspent)."""
        return self.status == "granted"

    def label(self, lang: str) -> str:
        """The state in the reader's language."""
        return pick(lang, *GRANT_LABELS.get(self.status, (self.status, self.status)))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (no name: the API answers auditors too)."""
        return {
            "grant_id": self.id,
            "program_id": self.program_id,
            "round_id": self.round_id,
            "mode": self.mode,
            "address": self.address,
            "amount": self.amount,
            "state": self.status,
            "label_ko": GRANT_LABELS.get(self.status, (self.status,))[0],
            "label_en": GRANT_LABELS.get(self.status, ("", self.status))[1],
            "can_revoke": self.can_revoke,
        }


@dataclass(frozen=True)
class GrantQuery:
    """The program page's grant search: name (officials), district, state, keyset cursor."""

    name: str = ""
    district: int | None = None
    state: str = ""
    after: int = 0


@dataclass(frozen=True)
class GrantPage:
    """One page of grants; `next_after` continues it (None at the end).

    `partial` is set when a name search stopped after NAME_SCAN_LIMIT grants.
    """

    lines: list[GrantLine]
    next_after: int | None
    partial: bool


def _live(state: str, expires_at: datetime) -> bool:
    aware = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
    return state == "live" and aware > datetime.now(UTC)


def _grant_status(row: repository.GrantRow, live: bool, chain: VoucherChain) -> str:
    """granted / pending / claiming / claimed / spent / revoking / revoked / expired.

    A direct grant counts as spent once the holder's revocable vouchers (direct grants not yet
    revoked, capped by the unspent balance) fall below its amount: the contract's own rule.
    """
    grant, _number, mode, round_state, _resident = row
    if round_state != "done":
        return "pending"
    if grant.state != "open":
        return grant.state
    if not live:
        return "expired"
    if mode == "direct":
        revocable = chain.read_one(chain.voucher, "revocable", [grant.program_id, grant.address])
        if int(revocable) < grant.amount:
            return "spent"
    return "granted"


def _line(row: repository.GrantRow, status: str, name: str | None, show_names: bool) -> GrantLine:
    grant, number, mode, _round_state, resident = row
    return GrantLine(
        id=grant.id,
        program_id=grant.program_id,
        round_id=number,
        mode=mode,
        address=grant.address,
        amount=grant.amount,
        status=status,
        name=mask_name(name) if show_names and name else None,
        district=resident.district if resident is not None else None,
        entry_id=grant.claim_entry_id,
    )


def _name_of(context: PlatformContext, row: repository.GrantRow) -> str | None:
    resident = row[4]
    return open_resident(context, resident)["name"] if resident is not None else None


def _name_matches(query: str, name: str | None) -> bool:
    """A query matches the masked name (김*수 for 김민수) or equals the full name."""
    return name is not None and (query in mask_name(name) or query == name)


def find_grants(
    context: PlatformContext, program: ProgramView, query: GrantQuery, show_names: bool
) -> GrantPage:
    """A page of a program's grants, in id order after `query.after`.

    District and state filter in SQL. Names are sealed, so a name search opens them chunk by
    chunk and stops after NAME_SCAN_LIMIT grants; the page then offers to search further.
    """
    states = STATE_FILTERS.get(query.state, ())
    chunk = NAME_SCAN_CHUNK if query.name else GRANT_PAGE + 1
    live, chain = _live(program.state, program.expires_at), VoucherChain(context)
    found: list[GrantLine] = []
    cursor, scanned = query.after, 0
    with read_session(context) as session:
        while True:
            rows = repository.grants_page(
                session, program.id, cursor, chunk, query.district, states
            )
            for row in rows:
                name = _name_of(context, row) if query.name or show_names else None
                if query.name and not _name_matches(query.name, name):
                    cursor, scanned = row[0].id, scanned + 1
                    continue
                if len(found) == GRANT_PAGE:
                    return GrantPage(found, found[-1].id, False)
                found.append(_line(row, _grant_status(row, live, chain), name, show_names))
                cursor, scanned = row[0].id, scanned + 1
            if len(rows) < chunk:
                return GrantPage(found, None, False)
            if scanned >= NAME_SCAN_LIMIT:
                more = repository.grants_page(
                    session, program.id, cursor, 1, query.district, states
                )
                return GrantPage(found, cursor, True) if more else GrantPage(found, None, False)


def grant_line(context: PlatformContext, grant_id: int, show_names: bool) -> GrantLine:
    """One grant as listed on the program page."""
    with read_session(context) as session:
        row = repository.grant_row(session, grant_id)
        if row is None:
            raise NotFound(f"No grant {grant_id}.", f"지급 {grant_id}이(가) 없습니다.")
        program = repository.program(session, row[0].program_id)
        assert program is not None
        status = _grant_status(row, _live(program.state, program.expires_at), VoucherChain(context))
        name = _name_of(context, row) if show_names else None
        return _line(row, status, name, show_names)


def _require_revocable(session: Session, chain: VoucherChain, grant_id: int) -> None:
    """422 with the reason when the contract would refuse (claimed, spent, expired, pending)."""
    row = repository.grant_row(session, grant_id)
    if row is None:
        raise NotFound(f"No grant {grant_id}.", f"지급 {grant_id}이(가) 없습니다.")
    program = repository.program(session, row[0].program_id)
    assert program is not None
    status = _grant_status(row, _live(program.state, program.expires_at), chain)
    if status in NOT_REVOCABLE:
        raise ValidationFailed(*NOT_REVOCABLE[status], state=status)


def revoke_once(
    context: PlatformContext, user: User, grant_id: int, raw_key: str | None, timeout_s: float
) -> tuple[int, dict[str, Any]]:
    """Revoke a grant once per Idempotency-Key; the API and the page form share the scope.

    The revocation is signed into the outbox and the key stored in one transaction, then
    broadcast and followed for `timeout_s`; a replay follows the same transaction again.
    """
    disburser = Disburser(context)
    path = f"/api/programs/grants/{grant_id}/revoke"
    key, scope = parse_key(raw_key), f"user:{user.id}:POST:{path}"
    idem = IdempotencyService(context)

    def work(session: Session) -> tuple[int, dict[str, Any]]:
        _require_revocable(session, disburser.chain, grant_id)
        entry_id = disburser.enqueue_revoke(session, grant_id)
        return 202, {"grant_id": grant_id, "entry_id": entry_id, "state": "revoking"}

    with disburser.lock():
        stored = idem.run(scope, key, request_fingerprint("POST", path, {}), work)
    if stored.body.get("state") != "revoking":
        return stored.status_code, stored.body
    answer = disburser.follow_revoke(grant_id, int(stored.body["entry_id"]), timeout_s)
    status = {"revoked": 200, "open": 422}.get(str(answer["state"]), 202)
    answer["entry_id"] = stored.body["entry_id"]
    idem.update_answer(scope, key, status, answer)
    return status, answer


def follow_grant(context: PlatformContext, grant_id: int) -> GrantLine:
    """A grant's line; a revocation still pending is looked up on chain and recorded first."""
    line = grant_line(context, grant_id, show_names=False)
    if line.status == "revoking" and line.entry_id is not None:
        disburser = Disburser(context)
        disburser.settle_revoke(grant_id, disburser.outbox.refresh(line.entry_id))
        line = grant_line(context, grant_id, show_names=False)
    return line
