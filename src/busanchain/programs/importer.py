"""Import eligible residents from CSV or XLSX: every row valid, or nothing imported.

Columns (header row; English or Korean names, any order):
`resident_id` (주민등록번호), `name` (이름), `phone` (전화번호), `birth_date` (생년월일),
`district` (구군), optional `amount` (금액, default: the per-person amount) and optional
`wallet` (지갑, a linked self-custody 0x address).

Resident numbers: 13 digits, with or without the dash. The first six digits must be a real
date and the 7th digit the century/sex digit (1-8); `birth_date` must equal that date. The
check digit is *not* enforced: numbers issued since October 2020 no longer carry one.

Every row is checked against the program (age at the program's start within the range,
district allowed, amount up to the per-person amount, budget) and for duplicates within the
file and in the program. If any row is bad, an `ImportRecord` in state `rejected` keeps the
per-row report (row, column, Korean and English message) and nothing else is stored; the
caller gets 422 with the report. Otherwise everything is stored in one transaction.

Wallets: a resident already linked to a user keeps that user's custodial wallet; a `wallet`
column links a self-custody wallet; anyone else gets a new citizen account (no usable
password, username `r` + random hex) with a custodial key, linked to the resident.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, cast

from Crypto.Hash import keccak as _keccak
from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from busanchain.accounts import repository as accounts_repository
from busanchain.accounts.tables import UserRecord
from busanchain.domain.errors import Conflict, NotFound, ValidationFailed
from busanchain.domain.personal import clean_text
from busanchain.domain.roles import Role
from busanchain.keys.service import key_service_for
from busanchain.platform.context import PlatformContext
from busanchain.programs import repository
from busanchain.programs.fasttree import keccak_hasher
from busanchain.programs.residents import ResidentCrypto, resident_crypto
from busanchain.programs.rules import district_code
from busanchain.programs.tables import (
    EnrollmentRecord,
    ImportRecord,
    ProgramRecord,
    ResidentRecord,
)

log = logging.getLogger(__name__)


def _table(model: type[Any]) -> Table:
    """The Core table of a model (Core bulk inserts skip the ORM's per-row work)."""
    return cast(Table, model.__table__)


KST = timezone(timedelta(hours=9))
MAX_STORED_ERRORS = 1000
MAX_REPORTED_ERRORS = 200
INSERT_CHUNK = 5000
UNUSABLE_PASSWORD = "!imported-resident"  # noqa: S105 (not a hash: no password can match)
COLUMNS = ("resident_id", "name", "phone", "birth_date", "district", "amount", "wallet")
REQUIRED = COLUMNS[:5]
ALIASES = {
    "주민등록번호": "resident_id",
    "주민번호": "resident_id",
    "이름": "name",
    "성명": "name",
    "전화번호": "phone",
    "휴대전화": "phone",
    "연락처": "phone",
    "생년월일": "birth_date",
    "구군": "district",
    "구·군": "district",
    "거주지": "district",
    "금액": "amount",
    "지급액": "amount",
    "지갑": "wallet",
    "지갑주소": "wallet",
}
_RRN_RE = re.compile(r"^(\d{6})-?(\d{7})$")
_PHONE_RE = re.compile(r"^(01[016789])(\d{3,4})(\d{4})$")
_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_CENTURY = {"1": 1900, "2": 1900, "5": 1900, "6": 1900, "3": 2000, "4": 2000, "7": 2000, "8": 2000}

Progress = Callable[[str, int, int], None]


class ImportRejected(ValidationFailed):
    """At least one row is bad; `details` holds the per-row report."""

    code = "import_rejected"
    default_ko = "잘못된 행이 있어 명단 전체를 가져오지 않았습니다."
    default_en = "Some rows are invalid, so nothing was imported."


@dataclass(frozen=True)
class RowError:
    """One problem in one row (row numbers count the header as row 1, like a spreadsheet)."""

    row: int
    column: str
    message_ko: str
    message_en: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "row": self.row,
            "column": self.column,
            "message_ko": self.message_ko,
            "message_en": self.message_en,
        }


@dataclass
class ResidentRow:
    """A valid row, normalised."""

    row: int
    resident_hash: str
    name: str
    phone: str
    birth_date: date
    district: int
    amount: int
    wallet: str | None


@dataclass
class ImportResult:
    """What an import did."""

    import_id: int
    state: str
    rows: int
    total_amount: int = 0
    new_residents: int = 0
    new_accounts: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "import_id": self.import_id,
            "state": self.state,
            "rows": self.rows,
            "total_amount": self.total_amount,
            "new_residents": self.new_residents,
            "new_accounts": self.new_accounts,
            "errors": self.errors,
        }


# -- reading files --------------------------------------------------------------------------


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed(
        "The CSV file must be UTF-8 or CP949 (EUC-KR) text.",
        "CSV 파일은 UTF-8 또는 CP949(EUC-KR) 인코딩이어야 합니다.",
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _xlsx_rows(content: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise ValidationFailed(
            "The file is not a readable XLSX workbook.", "XLSX 파일을 읽을 수 없습니다."
        ) from None
    sheet = book.worksheets[0]
    for values in sheet.iter_rows(values_only=True):
        yield [_cell(v) for v in values]
    book.close()


def read_table(filename: str, content: bytes) -> tuple[list[str], list[list[str]]]:
    """Header (canonical column names) and data rows of a CSV or XLSX file."""
    if filename.lower().endswith((".xlsx", ".xlsm")) or content[:2] == b"PK":
        rows = list(_xlsx_rows(content))
    else:
        rows = [[c.strip() for c in r] for r in csv.reader(io.StringIO(_decode(content)))]
    rows = [r for r in rows if any(c for c in r)]
    if not rows:
        raise ValidationFailed("The file is empty.", "파일이 비어 있습니다.")
    header = [ALIASES.get(h.strip(), h.strip().lower()) for h in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ValidationFailed(
            f"Missing columns: {', '.join(missing)}.",
            f"필수 열이 없습니다: {', '.join(missing)}.",
            missing=missing,
        )
    return header, rows[1:]


# -- checking rows --------------------------------------------------------------------------


def parse_resident_id(value: str) -> tuple[str, date]:
    """13 digits and the birth date they encode, or ValueError."""
    match = _RRN_RE.match(value.strip())
    if not match:
        raise ValueError("format")
    digits = match.group(1) + match.group(2)
    century = _CENTURY.get(digits[6])
    if century is None:
        raise ValueError("century")
    born = date(century + int(digits[:2]), int(digits[2:4]), int(digits[4:6]))
    return digits, born


def age_on(born: date, day: date) -> int:
    """Completed years (만 나이) on `day`."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class RowChecker:
    """Checks rows of one file against one program."""

    def __init__(self, program: ProgramRecord, crypto: ResidentCrypto, header: list[str]) -> None:
        self.program = program
        self.crypto = crypto
        self.index = {name: header.index(name) for name in COLUMNS if name in header}
        start = program.starts_at
        self.start_day = (
            (start if start.tzinfo else start.replace(tzinfo=UTC)).astimezone(KST).date()
        )
        self.today = datetime.now(KST).date()
        self.errors: list[RowError] = []
        self.keccak256, self.close = keccak_hasher()

    def _error(self, row: int, column: str, en: str, ko: str) -> None:
        self.errors.append(RowError(row, column, ko, en))

    def _get(self, values: Sequence[str], column: str) -> str:
        at = self.index.get(column)
        return values[at].strip() if at is not None and at < len(values) else ""

    def check(self, row: int, values: Sequence[str]) -> ResidentRow | None:
        """A normalised row, or None after recording its errors."""
        before = len(self.errors)
        digits, born = self._resident_id(row, values)
        name = self._name(row, values)
        phone = self._phone(row, values)
        birth = self._birth(row, values, born)
        district = self._district(row, values)
        amount = self._amount(row, values)
        wallet = self._wallet(row, values)
        if len(self.errors) > before or digits is None or birth is None:
            return None
        return ResidentRow(
            row,
            self.crypto.hash_id(digits),
            name,
            phone,
            birth,
            district,
            amount,
            wallet,
        )

    def _resident_id(self, row: int, values: Sequence[str]) -> tuple[str | None, date | None]:
        try:
            return parse_resident_id(self._get(values, "resident_id"))
        except ValueError:
            self._error(
                row,
                "resident_id",
                "Not a resident registration number: 13 digits (YYMMDD-SNNNNNN) with a real "
                "birth date are required.",
                "주민등록번호가 올바르지 않습니다: 실제 생년월일이 들어간 13자리"
                "(YYMMDD-SNNNNNN)여야 합니다.",
            )
            return None, None

    def _name(self, row: int, values: Sequence[str]) -> str:
        try:
            name = clean_text(self._get(values, "name"), 60)
        except ValidationFailed as exc:
            self._error(row, "name", exc.message_en, exc.message_ko)
            return ""
        if not name:
            self._error(row, "name", "The name is empty.", "이름이 비어 있습니다.")
        return name

    def _phone(self, row: int, values: Sequence[str]) -> str:
        digits = re.sub(r"[\s-]", "", self._get(values, "phone"))
        match = _PHONE_RE.match(digits)
        if not match:
            self._error(
                row,
                "phone",
                "Not a Korean mobile number such as 010-1234-5678.",
                "휴대전화 번호 형식(예: 010-1234-5678)이 아닙니다.",
            )
            return ""
        return "-".join(match.groups())

    def _birth(self, row: int, values: Sequence[str], born: date | None) -> date | None:
        text = self._get(values, "birth_date").replace(".", "-").replace("/", "-")
        try:
            birth = (
                date.fromisoformat(text)
                if len(text) != 8
                else date(int(text[:4]), int(text[4:6]), int(text[6:]))
            )
        except ValueError:
            self._error(
                row,
                "birth_date",
                "A date YYYY-MM-DD is required.",
                "YYYY-MM-DD 형식의 날짜여야 합니다.",
            )
            return None
        if born is not None and birth != born:
            self._error(
                row,
                "birth_date",
                "The birth date does not match the resident registration number.",
                "생년월일이 주민등록번호와 일치하지 않습니다.",
            )
            return None
        if birth > self.today:
            self._error(
                row, "birth_date", "The birth date is in the future.", "생년월일이 미래입니다."
            )
            return None
        self._age(row, birth)
        return birth

    def _age(self, row: int, birth: date) -> None:
        low, high = self.program.min_age, self.program.max_age
        age = age_on(birth, self.start_day)
        if (low is not None and age < low) or (high is not None and age > high):
            span = f"{low if low is not None else 0}-{high if high is not None else ''}"
            self._error(
                row,
                "birth_date",
                f"Age {age} at the program start is outside the eligible range {span}.",
                f"정책 시작일 기준 만 {age}세로 대상 연령({span}세)이 아닙니다.",
            )

    def _district(self, row: int, values: Sequence[str]) -> int:
        try:
            code = district_code(self._get(values, "district"))
        except ValidationFailed as exc:
            self._error(row, "district", exc.message_en, exc.message_ko)
            return 0
        allowed = self.program.allowed_districts or []
        if allowed and code not in allowed:
            self._error(
                row,
                "district",
                "This district is not covered by the program.",
                "이 정책의 대상 지역(구·군)이 아닙니다.",
            )
        return code

    def _amount(self, row: int, values: Sequence[str]) -> int:
        text = self._get(values, "amount").replace(",", "")
        limit = self.program.per_person_amount
        if not text:
            return limit
        amount = int(text) if text.isdigit() else 0
        if not 0 < amount <= limit:
            self._error(
                row,
                "amount",
                f"The amount must be a whole number from 1 to the per-person amount {limit}.",
                f"금액은 1원부터 1인당 금액 {limit:,}원 사이의 정수여야 합니다.",
            )
        return amount

    def _wallet(self, row: int, values: Sequence[str]) -> str | None:
        text = self._get(values, "wallet")
        if not text:
            return None
        if not _ADDRESS_RE.match(text):
            self._error(
                row,
                "wallet",
                "Not an address (0x + 40 hex digits).",
                "지갑 주소(0x+16진수 40자리)가 아닙니다.",
            )
            return None
        body = text[2:]
        checksummed = checksum_address(body.lower(), self.keccak256)
        if body != body.lower() and body != body.upper() and checksummed != text:
            self._error(row, "wallet", "The address checksum is wrong.", "주소 체크섬이 틀립니다.")
            return None
        return checksummed


_HIGH_NIBBLE = bytes(0x20 if chr(i) in "89abcdef" else 0 for i in range(256))
_LETTER = bytes(0x20 if chr(i) in "abcdef" else 0 for i in range(256))


def checksum_address(body: str, keccak256: Callable[[bytes], bytes] | None = None) -> str:
    """EIP-55 form of 40 lower-case hex digits, computed with byte tables (no per-char loop).

    A letter is upper-cased (bit 0x20 cleared) where the keccak of the lower-case address
    has a nibble of 8 or more; eth_utils does the same about 10x slower.
    """
    raw = body.encode("ascii")
    hashed = keccak256(raw) if keccak256 else _keccak.new(data=raw, digest_bits=256).digest()
    digest = hashed.hex().encode("ascii")[:40]
    flip = int.from_bytes(digest.translate(_HIGH_NIBBLE), "big") & int.from_bytes(
        raw.translate(_LETTER), "big"
    )
    return "0x" + (int.from_bytes(raw, "big") ^ flip).to_bytes(40, "big").decode("ascii")


class ResidentImporter:
    """Imports resident files into programs."""

    def __init__(self, context: PlatformContext) -> None:
        self.context = context
        self.crypto = resident_crypto(context)

    def import_file(
        self,
        program_id: int,
        filename: str,
        content: bytes,
        official_user_id: int | None = None,
        progress: Progress | None = None,
    ) -> ImportResult:
        """Check and import a file; all rows or none.

        Raises:
            ImportRejected: some rows are bad (details: import_id, error_count, errors).
            ValidationFailed: the file cannot be read or lacks columns.
            NotFound / Conflict: no such program, or it can take no residents.
        """
        report = progress or (lambda _stage, _done, _total: None)
        report("read file", 0, 1)
        header, raw_rows = read_table(filename, content)
        report("check rows", 0, len(raw_rows))
        with self.context.unit_of_work() as session:
            program = self._program(session, program_id)
            checker = RowChecker(program, self.crypto, header)
            rows: list[ResidentRow] = []
            try:
                for number, values in enumerate(raw_rows, start=2):
                    row = checker.check(number, values)
                    if row is not None:
                        rows.append(row)
                    if number % 10_000 == 0:
                        report("check rows", number - 1, len(raw_rows))
            finally:
                checker.close()
            report("check rows", len(raw_rows), len(raw_rows))
            report("cross checks", 0, 1)
            errors = checker.errors + self._cross_checks(session, program, rows)
            if not errors:
                result = self._store(session, program, filename, rows, official_user_id, report)
                log.info(
                    "import %s into program %s: %d rows", result.import_id, program_id, len(rows)
                )
                return result
        self._reject(program_id, filename, len(raw_rows), errors, official_user_id)
        raise AssertionError("unreachable")  # pragma: no cover

    def _program(self, session: Session, program_id: int) -> ProgramRecord:
        program = repository.program(session, program_id, lock=True)
        if program is None:
            raise NotFound(f"No program {program_id}.", f"정책 {program_id}이(가) 없습니다.")
        if program.state == "failed":
            raise Conflict(
                "This program failed to publish; it takes no residents.",
                "체인 등록에 실패한 정책에는 대상자를 추가할 수 없습니다.",
            )
        return program

    def _cross_checks(
        self, session: Session, program: ProgramRecord, rows: list[ResidentRow]
    ) -> list[RowError]:
        errors: list[RowError] = []
        seen: dict[str, int] = {}
        wallets: dict[str, int] = {}
        existing = repository.residents_by_hash(session, [r.resident_hash for r in rows])
        enrolled = repository.enrolled_resident_ids(session, program.id) if existing else set()
        taken_wallets = repository.enrolled_wallets(session, program.id)
        for r in rows:
            first = seen.setdefault(r.resident_hash, r.row)
            if first != r.row:
                errors.append(_dup(r.row, "resident_id", first))
            old = existing.get(r.resident_hash)
            if old is not None and old.id in enrolled:
                errors.append(
                    RowError(
                        r.row,
                        "resident_id",
                        "이 주민은 이미 이 정책의 대상자로 등록되어 있습니다.",
                        "This resident is already enrolled in the program.",
                    )
                )
            if old is not None and r.wallet and old.wallet_address not in (None, r.wallet):
                errors.append(
                    RowError(
                        r.row,
                        "wallet",
                        "이 주민에게는 다른 지갑이 이미 연결되어 있습니다.",
                        "A different wallet is already linked to this resident.",
                    )
                )
            if r.wallet:
                first_w = wallets.setdefault(r.wallet, r.row)
                if first_w != r.row:
                    errors.append(_dup(r.row, "wallet", first_w))
                elif r.wallet in taken_wallets and (old is None or old.wallet_address != r.wallet):
                    errors.append(
                        RowError(
                            r.row,
                            "wallet",
                            "이 지갑은 이 정책의 다른 대상자가 쓰고 있습니다.",
                            "This wallet already belongs to another resident in the program.",
                        )
                    )
        total = sum(r.amount for r in rows) + repository.enrolled_total(session, program.id)
        if total > program.budget:
            errors.append(
                RowError(
                    0,
                    "amount",
                    f"대상자 금액 합계 {total:,}원이 예산 {program.budget:,}원을 넘습니다.",
                    f"The amounts total {total} won, above the budget of {program.budget} won.",
                )
            )
        return errors

    def _reject(
        self,
        program_id: int,
        filename: str,
        count: int,
        errors: list[RowError],
        official_user_id: int | None,
    ) -> None:
        stored = [e.as_dict() for e in errors[:MAX_STORED_ERRORS]]
        with self.context.unit_of_work() as session:
            record = ImportRecord(
                program_id=program_id,
                filename=filename[:200],
                rows=count,
                state="rejected",
                errors=stored,
                created_by=official_user_id,
            )
            session.add(record)
            session.flush()
            import_id = record.id
        raise ImportRejected(
            f"{len(errors)} problem(s) found; nothing was imported. See the per-row report.",
            f"문제 {len(errors)}건이 있어 아무것도 가져오지 않았습니다. 행별 보고서를 확인하세요.",
            import_id=import_id,
            error_count=len(errors),
            errors=stored[:MAX_REPORTED_ERRORS],
        )

    def _store(
        self,
        session: Session,
        program: ProgramRecord,
        filename: str,
        rows: list[ResidentRow],
        official_user_id: int | None,
        report: Progress,
    ) -> ImportResult:
        record = ImportRecord(
            program_id=program.id,
            filename=filename[:200],
            rows=len(rows),
            state="accepted",
            errors=[],
            created_by=official_user_id,
        )
        session.add(record)
        session.flush()
        report("store residents", 0, len(rows))
        existing = repository.residents_by_hash(session, [r.resident_hash for r in rows])
        ids = {h: res.id for h, res in existing.items()}
        for r in rows:
            old = existing.get(r.resident_hash)
            if old is not None:
                old.district = r.district
                if r.wallet and old.wallet_address is None:
                    old.wallet_address = r.wallet
        new_rows = [r for r in rows if r.resident_hash not in existing]
        ids.update(self._insert_residents(session, new_rows, report))
        accounts = self._create_accounts(
            session, [ids[r.resident_hash] for r in rows if not r.wallet]
        )
        enrollments = [
            {
                "program_id": program.id,
                "resident_id": ids[r.resident_hash],
                "import_id": record.id,
                "amount": r.amount,
            }
            for r in rows
        ]
        for start in range(0, len(enrollments), INSERT_CHUNK):
            session.execute(
                insert(_table(EnrollmentRecord)), enrollments[start : start + INSERT_CHUNK]
            )
            report("store enrollments", min(start + INSERT_CHUNK, len(rows)), len(rows))
        report("commit import", 0, 1)
        return ImportResult(
            import_id=record.id,
            state="accepted",
            rows=len(rows),
            total_amount=sum(r.amount for r in rows),
            new_residents=len(new_rows),
            new_accounts=accounts,
        )

    def _insert_residents(
        self, session: Session, rows: list[ResidentRow], report: Progress
    ) -> dict[str, int]:
        """Bulk insert (executemany), then read the new ids back by hash."""
        if not rows:
            return {}
        # The database stamps the times: binding two datetimes per row doubles the insert time.
        stamped = insert(_table(ResidentRecord)).values(
            created_at=func.current_timestamp(), updated_at=func.current_timestamp()
        )
        before = int(session.scalar(select(func.max(ResidentRecord.id))) or 0)
        for start in range(0, len(rows), INSERT_CHUNK):
            batch = []
            for r in rows[start : start + INSERT_CHUNK]:
                env = self.crypto.seal_personal(r.resident_hash, r.name, r.phone)
                batch.append(
                    {
                        "resident_hash": r.resident_hash,
                        "birth_date": r.birth_date,
                        "district": r.district,
                        "wallet_address": r.wallet,
                        "kek_id": env.kek_id,
                        "wrapped_dek": env.wrapped_dek,
                        "nonce": env.nonce,
                        "ciphertext": env.ciphertext,
                        "version": 1,
                    }
                )
            session.execute(stamped, batch)
            report("store residents", min(start + INSERT_CHUNK, len(rows)), len(rows))
        wanted = {r.resident_hash for r in rows}
        found = session.execute(
            select(ResidentRecord.id, ResidentRecord.resident_hash).where(
                ResidentRecord.id > before
            )
        )
        return {h: i for i, h in found if h in wanted}

    def _create_accounts(self, session: Session, resident_ids: list[int]) -> int:
        """A citizen account with a custodial key for each resident with no wallet yet."""
        if not resident_ids:
            return 0
        keys = key_service_for(self.context)
        created = 0
        for start in range(0, len(resident_ids), 500):
            chunk = resident_ids[start : start + 500]
            residents = session.scalars(
                select(ResidentRecord).where(
                    ResidentRecord.id.in_(chunk),
                    ResidentRecord.user_id.is_(None),
                    ResidentRecord.wallet_address.is_(None),
                )
            ).all()
            for resident in residents:
                user = UserRecord(
                    username=f"r{secrets.token_hex(8)}", password_hash=UNUSABLE_PASSWORD
                )
                session.add(user)
                session.flush()
                accounts_repository.add_roles(session, user.id, [Role.CITIZEN.value], None)
                keys.create_custodial_key(session, user.id)
                resident.user_id = user.id
                created += 1
        return created


def _dup(row: int, column: str, first: int) -> RowError:
    return RowError(
        row,
        column,
        f"{first}행과 중복됩니다.",
        f"Duplicate of row {first}.",
    )
