"""Demo allowance programs for `busanchain up --demo` (idempotent).

Three programs with sensible rules: 부산 청년수당 (youth allowance, disbursed by one Merkle
root), 가족수당 (family allowance, direct grants) and 양육수당 (child-rearing allowance,
residents imported, round left for the official to run). The demo users citizen1 and
citizen2 are enrolled as residents linked to their accounts, so they receive vouchers.
All names, phone numbers and resident numbers are invented.
"""

from __future__ import annotations

import csv
import io
import logging
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from busanchain.domain.busan import categories
from busanchain.platform.context import PlatformContext
from busanchain.programs import repository
from busanchain.programs.disburse import Disburser
from busanchain.programs.importer import ResidentImporter, parse_resident_id
from busanchain.programs.residents import resident_crypto
from busanchain.programs.service import ProgramService
from busanchain.programs.tables import ResidentRecord

log = logging.getLogger(__name__)

SURNAMES = "김이박최정강조윤장임"
GIVEN = ("민준", "서연", "도윤", "지우", "하준", "서윤", "시우", "하은", "주원", "지민", "예준")
DISTRICTS = ("26350", "26290", "26440", "26410", "26110")
# (username, resident number, name, phone, birth date, district): invented people.
LINKED = (
    ("citizen1", "980312-1048215", "김부산", "010-2026-0001", "1998-03-12", "26350"),
    ("citizen2", "010705-4038176", "이해운", "010-2026-0002", "2001-07-05", "26290"),
)


def _programs() -> list[tuple[str, dict[str, Any]]]:
    now = datetime.now(UTC)
    start = (now - timedelta(days=1)).isoformat()
    end = (now + timedelta(days=365)).isoformat()
    blocked = [c.mcc for c in categories().values() if c.typical_rule == "blocked"]
    allowed = [c.mcc for c in categories().values() if c.typical_rule != "blocked"]
    common = {"starts_at": start, "expires_at": end, "blocked_categories": blocked}
    return [
        (
            "merkle",
            {
                **common,
                "name_ko": "부산 청년수당",
                "name_en": "Busan youth allowance",
                "kind": "youth",
                "budget": 50_000_000,
                "per_person_amount": 500_000,
                "per_payment_cap": 100_000,
                "daily_cap": 200_000,
            },
        ),
        (
            "direct",
            {
                **common,
                "name_ko": "부산 가족수당",
                "name_en": "Busan family allowance",
                "kind": "family",
                "budget": 30_000_000,
                "per_person_amount": 300_000,
                "per_payment_cap": 150_000,
            },
        ),
        (
            "",
            {
                **common,
                "name_ko": "부산 양육수당",
                "name_en": "Busan child-rearing allowance",
                "kind": "childcare",
                "budget": 20_000_000,
                "per_person_amount": 200_000,
                "allowed_categories": allowed[: max(1, len(allowed) // 2)],
                "blocked_categories": [],
            },
        ),
    ]


def _resident_rows(kind: str, rng: random.Random, count: int) -> list[list[str]]:
    rows = []
    for i in range(count):
        if kind == "childcare":
            born = date(2021, 1, 1) + timedelta(days=rng.randrange(1400))
        else:
            born = date(1993, 1, 1) + timedelta(days=rng.randrange(3650))
        digit = (1 if born.year < 2000 else 3) + rng.randrange(2)
        rows.append(
            [
                f"{born:%y%m%d}-{digit}{rng.randrange(100_000, 1_000_000)}",
                rng.choice(SURNAMES) + GIVEN[i % len(GIVEN)],
                f"010-{rng.randrange(2000, 9999)}-{rng.randrange(1000, 9999)}",
                born.isoformat(),
                rng.choice(DISTRICTS),
            ]
        )
    return rows


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["주민등록번호", "이름", "전화번호", "생년월일", "구군"])
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _link_demo_citizens(context: PlatformContext, user_ids: dict[str, int]) -> list[list[str]]:
    """Residents for citizen1 and citizen2, linked to their accounts; their CSV rows."""
    crypto = resident_crypto(context)
    rows = []
    with context.unit_of_work() as session:
        for username, number, name, phone, born, district in LINKED:
            if username not in user_ids:
                continue
            digits, _born = parse_resident_id(number)
            digest = crypto.hash_id(digits)
            if not repository.residents_by_hash(session, [digest]):
                envelope = crypto.seal_personal(digest, name, phone)
                session.add(
                    ResidentRecord(
                        resident_hash=digest,
                        birth_date=date.fromisoformat(born),
                        district=int(district),
                        user_id=user_ids[username],
                        kek_id=envelope.kek_id,
                        wrapped_dek=envelope.wrapped_dek,
                        nonce=envelope.nonce,
                        ciphertext=envelope.ciphertext,
                    )
                )
            rows.append([number, name, phone, born, district])
    return rows


def load_demo_programs(context: PlatformContext, user_ids: dict[str, int]) -> list[str]:
    """Create, fill and disburse the demo programs once; returns lines to print."""
    service = ProgramService(context)
    service.finish_all()
    Disburser(context).resume()
    existing = {p.name_en: p for p in service.list()}
    linked = _link_demo_citizens(context, user_ids)
    official = user_ids.get("official")
    rng = random.Random(2026)
    lines = []
    for mode, fields in _programs():
        program = existing.get(fields["name_en"]) or service.create(official, fields)
        with context.unit_of_work() as session:
            enrolled = repository.enrollment_count(session, program.id)
        if not enrolled:
            rows = _resident_rows(fields["kind"], rng, 10)
            if fields["kind"] != "childcare":
                rows = linked + rows[len(linked) :]
            ResidentImporter(context).import_file(
                program.id, "demo-residents.csv", _csv(rows), official
            )
        disburser = Disburser(context)
        with context.unit_of_work() as session:
            waiting = bool(repository.pending_enrollments(session, program.id))
        if mode and waiting:
            disburser.run_round(program.id, official, mode)
        rounds = disburser.rounds(program.id)
        summary = ", ".join(f"round {r.round_id} {r.mode} {r.state}" for r in rounds) or "no round"
        lines.append(f"  정책 {program.id} {program.name_ko} / {program.name_en}: {summary}")
    log.info("demo programs loaded")
    return lines
