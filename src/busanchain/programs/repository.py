"""Queries over the programs tables. Repositories never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from busanchain.keys.tables import CustodialKey
from busanchain.programs.tables import (
    EnrollmentRecord,
    GrantRecord,
    ImportRecord,
    ProgramRecord,
    ResidentRecord,
    RoundRecord,
)


def program(session: Session, program_id: int, lock: bool = False) -> ProgramRecord | None:
    """One program by id (optionally row-locked)."""
    stmt = select(ProgramRecord).where(ProgramRecord.id == program_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def programs(session: Session) -> Sequence[ProgramRecord]:
    """Every program, newest first."""
    return session.scalars(select(ProgramRecord).order_by(ProgramRecord.id.desc())).all()


def max_program_id(session: Session) -> int:
    """The largest program id used so far (0 if none)."""
    return int(session.scalar(select(func.max(ProgramRecord.id))) or 0)


def import_record(session: Session, program_id: int, import_id: int) -> ImportRecord | None:
    """One import of a program."""
    return session.scalars(
        select(ImportRecord).where(
            ImportRecord.id == import_id, ImportRecord.program_id == program_id
        )
    ).first()


def imports(session: Session, program_id: int, limit: int = 20) -> Sequence[ImportRecord]:
    """The latest imports of a program."""
    return session.scalars(
        select(ImportRecord)
        .where(ImportRecord.program_id == program_id)
        .order_by(ImportRecord.id.desc())
        .limit(limit)
    ).all()


def residents_by_hash(session: Session, hashes: Iterable[str]) -> dict[str, ResidentRecord]:
    """Residents whose resident_hash is in `hashes` (queried in chunks)."""
    wanted = list(hashes)
    found: dict[str, ResidentRecord] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = session.scalars(
            select(ResidentRecord).where(ResidentRecord.resident_hash.in_(chunk))
        )
        found.update({r.resident_hash: r for r in rows})
    return found


def enrolled_resident_ids(session: Session, program_id: int) -> set[int]:
    """Ids of residents enrolled in a program."""
    stmt = select(EnrollmentRecord.resident_id).where(EnrollmentRecord.program_id == program_id)
    return set(session.scalars(stmt))


def enrolled_total(session: Session, program_id: int) -> int:
    """Sum of the amounts due to everyone enrolled in a program."""
    stmt = select(func.sum(EnrollmentRecord.amount)).where(
        EnrollmentRecord.program_id == program_id
    )
    return int(session.scalar(stmt) or 0)


def enrollment_count(session: Session, program_id: int) -> int:
    """How many residents are enrolled in a program."""
    stmt = select(func.count()).where(EnrollmentRecord.program_id == program_id)
    return int(session.scalar(stmt.select_from(EnrollmentRecord)) or 0)


def enrolled_wallets(session: Session, program_id: int) -> set[str]:
    """Addresses (linked wallets and custodial addresses) of a program's enrollees."""
    rows = session.execute(
        select(ResidentRecord.wallet_address, CustodialKey.address)
        .join(EnrollmentRecord, EnrollmentRecord.resident_id == ResidentRecord.id)
        .outerjoin(CustodialKey, CustodialKey.user_id == ResidentRecord.user_id)
        .where(EnrollmentRecord.program_id == program_id)
    )
    return {wallet or custodial for wallet, custodial in rows if wallet or custodial}


def pending_enrollments(session: Session, program_id: int) -> list[tuple[int, int, int, str]]:
    """(enrollment id, resident id, amount, address) of enrollees not yet in a round.

    The address is the resident's linked wallet if any, else their custodial address.
    """
    rows = session.execute(
        select(
            EnrollmentRecord.id,
            EnrollmentRecord.resident_id,
            EnrollmentRecord.amount,
            ResidentRecord.wallet_address,
            CustodialKey.address,
        )
        .join(ResidentRecord, ResidentRecord.id == EnrollmentRecord.resident_id)
        .outerjoin(CustodialKey, CustodialKey.user_id == ResidentRecord.user_id)
        .where(EnrollmentRecord.program_id == program_id, EnrollmentRecord.round_pk.is_(None))
        .order_by(EnrollmentRecord.id)
    )
    return [(e, r, amount, wallet or custodial) for e, r, amount, wallet, custodial in rows]


def assign_round(session: Session, program_id: int, last_id: int, round_pk: int) -> None:
    """Mark the program's waiting enrollments (ids up to `last_id`) as handled by a round.

    The caller holds the program's row lock, so no enrollment is added meanwhile.
    """
    session.execute(
        update(EnrollmentRecord)
        .where(
            EnrollmentRecord.program_id == program_id,
            EnrollmentRecord.round_pk.is_(None),
            EnrollmentRecord.id <= last_id,
        )
        .values(round_pk=round_pk)
        .execution_options(synchronize_session=False)
    )


def enrollments_page(
    session: Session, program_id: int, offset: int, limit: int
) -> Sequence[tuple[EnrollmentRecord, ResidentRecord]]:
    """A page of a program's enrollments with their residents."""
    rows = session.execute(
        select(EnrollmentRecord, ResidentRecord)
        .join(ResidentRecord, ResidentRecord.id == EnrollmentRecord.resident_id)
        .where(EnrollmentRecord.program_id == program_id)
        .order_by(EnrollmentRecord.id)
        .offset(offset)
        .limit(limit)
    )
    return [(e, r) for e, r in rows]


def round_record(session: Session, round_pk: int, lock: bool = False) -> RoundRecord | None:
    """One round by primary key."""
    stmt = select(RoundRecord).where(RoundRecord.id == round_pk)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def round_by_number(session: Session, program_id: int, round_id: int) -> RoundRecord | None:
    """One round of a program by its on-chain round id."""
    return session.scalars(
        select(RoundRecord).where(
            RoundRecord.program_id == program_id, RoundRecord.round_id == round_id
        )
    ).first()


def rounds(session: Session, program_id: int) -> Sequence[RoundRecord]:
    """A program's rounds, newest first."""
    return session.scalars(
        select(RoundRecord)
        .where(RoundRecord.program_id == program_id)
        .order_by(RoundRecord.round_id.desc())
    ).all()


def unfinished_rounds(session: Session, program_id: int | None = None) -> Sequence[RoundRecord]:
    """Rounds committed but not finished (to resume after a crash)."""
    stmt = select(RoundRecord).where(RoundRecord.state.in_(("posting", "granting")))
    if program_id is not None:
        stmt = stmt.where(RoundRecord.program_id == program_id)
    return session.scalars(stmt.order_by(RoundRecord.id)).all()


def max_round_id(session: Session, program_id: int) -> int:
    """The largest round id of a program (0 if none)."""
    stmt = select(func.max(RoundRecord.round_id)).where(RoundRecord.program_id == program_id)
    return int(session.scalar(stmt) or 0)


def grant(session: Session, grant_id: int, lock: bool = False) -> GrantRecord | None:
    """One grant by id."""
    stmt = select(GrantRecord).where(GrantRecord.id == grant_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def open_merkle_grants(
    session: Session, program_id: int, address: str
) -> Sequence[tuple[GrantRecord, RoundRecord]]:
    """Open grants of `address` under posted (confirmed) Merkle roots of a program."""
    rows = session.execute(
        select(GrantRecord, RoundRecord)
        .join(RoundRecord, RoundRecord.id == GrantRecord.round_pk)
        .where(
            GrantRecord.program_id == program_id,
            GrantRecord.address == address,
            GrantRecord.state == "open",
            RoundRecord.mode == "merkle",
            RoundRecord.state == "done",
        )
        .order_by(GrantRecord.id)
    )
    return [(g, r) for g, r in rows]


def grants_of(session: Session, program_id: int, address: str) -> Sequence[GrantRecord]:
    """Every grant of an address in a program."""
    return session.scalars(
        select(GrantRecord)
        .where(GrantRecord.program_id == program_id, GrantRecord.address == address)
        .order_by(GrantRecord.id)
    ).all()


def _dialect_marks(session: Session, count: int) -> str:
    style = session.get_bind().dialect.paramstyle
    mark = "?" if style == "qmark" else "%s"
    return ", ".join([mark] * count)


def bulk_insert(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    stamped: Sequence[str] = (),
) -> None:
    """executemany of plain tuples through the session's connection (same transaction).

    SQLAlchemy's per-row parameter processing costs more than SQLite's insert itself at a
    million rows; values must already be in the driver's types (`stamped` columns get
    CURRENT_TIMESTAMP).
    """
    if not rows:
        return
    names = ", ".join([*columns, *stamped])
    values = _dialect_marks(session, len(columns)) + "".join(", CURRENT_TIMESTAMP" for _ in stamped)
    session.connection().exec_driver_sql(
        f"INSERT INTO {table} ({names}) VALUES ({values})",  # noqa: S608 (fixed names)
        list(rows),
    )


GrantRow = tuple[GrantRecord, int, str, str, ResidentRecord | None]
"""A grant with its round's number, mode and state, and its resident (if known)."""


def _grant_rows() -> Select[GrantRecord, int, str, str, ResidentRecord]:
    # Only three round columns: a Merkle round row also holds its whole tree (tens of MB).
    return (
        select(
            GrantRecord, RoundRecord.round_id, RoundRecord.mode, RoundRecord.state, ResidentRecord
        )
        .join(RoundRecord, RoundRecord.id == GrantRecord.round_pk)
        .outerjoin(ResidentRecord, ResidentRecord.id == GrantRecord.resident_id)
    )


def grants_page(
    session: Session,
    program_id: int,
    after_id: int,
    limit: int,
    district: int | None = None,
    states: Sequence[str] = (),
) -> list[GrantRow]:
    """Up to `limit` grants of a program with ids above `after_id` (keyset paging, id order).

    Never scans more than it returns plus what the filters skip: the program_id index keeps
    grants in id order, so a page of a million-grant program costs a page.
    """
    stmt = _grant_rows().where(GrantRecord.program_id == program_id, GrantRecord.id > after_id)
    if district is not None:
        stmt = stmt.where(ResidentRecord.district == district)
    if states:
        stmt = stmt.where(GrantRecord.state.in_(list(states)))
    rows = session.execute(stmt.order_by(GrantRecord.id).limit(limit))
    return [(g, number, mode, state, r) for g, number, mode, state, r in rows]


def grant_row(session: Session, grant_id: int) -> GrantRow | None:
    """One grant with its round's number, mode and state and its resident."""
    row = session.execute(_grant_rows().where(GrantRecord.id == grant_id)).first()
    if row is None:
        return None
    grant_record, number, mode, state, resident = row
    return grant_record, number, mode, state, resident
