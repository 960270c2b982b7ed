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
import multiprocessing as mp
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, overload
from unicodedata import is_normalized

from Crypto.Hash import keccak as _keccak
from sqlalchemy import func, select
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
from busanchain.programs.residents import SEAL_VERSION, ResidentCrypto, resident_crypto
from busanchain.programs.rules import district_code
from busanchain.programs.tables import (
    ImportRecord,
    ProgramRecord,
    ResidentRecord,
)

log = logging.getLogger(__name__)


KST = timezone(timedelta(hours=9))
MAX_NAME = 60
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
_RRN_RE = re.compile(r"^(\d{6})-?(\d{7})$", re.ASCII)  # ASCII digits only (not ٩ or ９)
_PHONE_RE = re.compile(r"^(01[016789])(\d{3,4})(\d{4})$", re.ASCII)
_PHONE_SEPARATORS = re.compile(r"[\s-]")
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


class CsvLines(Sequence[list[str]]):
    """Data rows of a CSV text with no quotes: a row is one line, split when it is read.

    Splitting is then left to whoever reads a row (the checking workers), and gives the
    same cells as `csv.reader`, which only differs from `str.split` on quoted fields.
    """

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def __len__(self) -> int:
        return len(self.lines)

    @overload
    def __getitem__(self, index: int) -> list[str]: ...

    @overload
    def __getitem__(self, index: slice) -> CsvLines: ...

    def __getitem__(self, index: int | slice) -> list[str] | CsvLines:
        if isinstance(index, slice):
            return CsvLines(self.lines[index])
        return [c.strip() for c in self.lines[index].split(",")]


def _csv_rows(text: str) -> Sequence[list[str]]:
    """Non-empty rows of a CSV text (lazily split when it has no quotes and plain newlines)."""
    if '"' not in text:
        plain = text.replace("\r\n", "\n")
        if "\r" not in plain:
            # A row is empty when all its cells strip to nothing.
            return CsvLines([line for line in plain.split("\n") if line.replace(",", "").strip()])
    rows = [[c.strip() for c in r] for r in csv.reader(io.StringIO(text))]
    return [r for r in rows if any(c for c in r)]


def read_table(filename: str, content: bytes) -> tuple[list[str], Sequence[list[str]]]:
    """Header (canonical column names) and data rows of a CSV or XLSX file."""
    rows: Sequence[list[str]]
    if filename.lower().endswith((".xlsx", ".xlsm")) or content[:2] == b"PK":
        rows = [r for r in _xlsx_rows(content) if any(c for c in r)]
    else:
        rows = _csv_rows(_decode(content))
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


@dataclass(frozen=True)
class Rules:
    """What a row is checked against: one program's eligibility rules, as plain values."""

    min_age: int | None
    max_age: int | None
    allowed_districts: frozenset[int]
    per_person_amount: int
    start_day: date
    today: date

    @classmethod
    def of(cls, program: ProgramRecord) -> Rules:
        """The rules of a program (its start day and today in Korea)."""
        start = program.starts_at
        return cls(
            program.min_age,
            program.max_age,
            frozenset(program.allowed_districts or []),
            program.per_person_amount,
            (start if start.tzinfo else start.replace(tzinfo=UTC)).astimezone(KST).date(),
            datetime.now(KST).date(),
        )


class RowChecker:
    """Checks rows of one file against one program's rules."""

    def __init__(self, rules: Rules, crypto: ResidentCrypto, header: list[str]) -> None:
        self.rules = rules
        self.crypto = crypto
        self.index = {name: header.index(name) for name in COLUMNS if name in header}
        self.start_day = rules.start_day
        self.today = rules.today
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
        text = self._get(values, "name")
        # Fast path, same outcome as clean_text: printable text has no character of the
        # categories Cc, Cf, Cs, Co or Cn (nor Zs other than the ASCII space).
        if 0 < len(text) <= MAX_NAME and text.isprintable() and is_normalized("NFC", text):
            return text
        try:
            name = clean_text(text, MAX_NAME)
        except ValidationFailed as exc:
            self._error(row, "name", exc.message_en, exc.message_ko)
            return ""
        if not name:
            self._error(row, "name", "The name is empty.", "이름이 비어 있습니다.")
        return name

    def _phone(self, row: int, values: Sequence[str]) -> str:
        digits = _PHONE_SEPARATORS.sub("", self._get(values, "phone"))
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
        low, high = self.rules.min_age, self.rules.max_age
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
        allowed = self.rules.allowed_districts
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
        limit = self.rules.per_person_amount
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


# -- checking in parallel ---------------------------------------------------------------------

PARALLEL_MIN = 20_000  # rows; smaller files are checked in this process
CHECK_CHUNK = 25_000  # rows per worker task (one data key per chunk)
WORKERS = 2
CHUNK_WAIT_S = 300.0
LOOKUP_CHUNK = 2000  # resident hashes per existence query

# (row, resident_hash, birth_date ISO, district, amount, wallet, wrapped_dek, nonce, ciphertext)
Staged = tuple[int, str, str, int, int, str | None, bytes, bytes, bytes]


@dataclass(frozen=True)
class _Job:
    """One file to check; the worker processes inherit it when they are forked."""

    rules: Rules
    crypto: ResidentCrypto
    header: list[str]
    rows: Sequence[list[str]]


_JOB: _Job | None = None
_FORK_LOCK = threading.Lock()


def _check_slice(job: _Job, start: int, end: int) -> tuple[list[RowError], list[Staged]]:
    """Check rows [start, end) of the file; hash and seal the valid ones.

    A chunk with a bad row is not sealed (nothing of the file will be stored anyway), but
    its valid rows still come back for the cross checks (duplicates and so on).
    """
    checker = RowChecker(job.rules, job.crypto, job.header)
    try:
        valid = [
            r
            for r in (checker.check(n + 2, job.rows[n]) for n in range(start, end))
            if r is not None
        ]
    finally:
        checker.close()
    if checker.errors:  # the file will not be stored: cross-check the rest, seal nothing
        unsealed = (b"", b"", b"")
        return checker.errors, [_staged(r, unsealed) for r in valid]
    sealer = job.crypto.sealer()
    return [], [_staged(r, sealer.seal(r.resident_hash, r.name, r.phone)) for r in valid]


def _staged(r: ResidentRow, sealed: tuple[bytes, bytes, bytes]) -> Staged:
    return (
        r.row,
        r.resident_hash,
        r.birth_date.isoformat(),
        r.district,
        r.amount,
        r.wallet,
        *sealed,
    )


def _check_range(bounds: tuple[int, int]) -> tuple[list[RowError], list[Staged]]:
    """Worker entry point: check one chunk of the inherited job."""
    assert _JOB is not None, "the job is set before the pool forks"
    return _check_slice(_JOB, *bounds)


def checked_chunks(job: _Job) -> Iterator[tuple[list[RowError], list[Staged]]]:
    """(errors, staged rows) per chunk of the file, in file order.

    Large files are checked by `WORKERS` forked processes while the caller stores the
    previous chunks; the workers only compute (no database, no chain, no logging).
    """
    global _JOB
    count = len(job.rows)
    bounds = [(s, min(s + CHECK_CHUNK, count)) for s in range(0, count, CHECK_CHUNK)]
    if count < PARALLEL_MIN or WORKERS < 1 or "fork" not in mp.get_all_start_methods():
        for start, end in bounds:
            yield _check_slice(job, start, end)
        return
    with _FORK_LOCK:  # two imports at once must not fork with each other's job
        _JOB = job
        try:
            pool = mp.get_context("fork").Pool(WORKERS)  # the workers are forked here
        finally:
            _JOB = None
    with pool:
        results = pool.imap(_check_range, bounds)
        for _bounds in bounds:  # a lost worker must not hang the import forever
            yield results.next(timeout=CHUNK_WAIT_S)


_RESIDENT_COLUMNS = (
    "resident_hash",
    "birth_date",
    "district",
    "wallet_address",
    "kek_id",
    "wrapped_dek",
    "nonce",
    "ciphertext",
    "version",
)
_ENROLLMENT_COLUMNS = ("program_id", "resident_id", "import_id", "amount")


class _Stager:
    """Cross-checks chunks as they come and stores them in the caller's transaction.

    Storing stops at the first error (the caller then rolls the transaction back), so a
    file is stored whole or not at all.
    """

    def __init__(
        self, session: Session, program: ProgramRecord, import_id: int, kek_id: str
    ) -> None:
        self.session = session
        self.kek_id = kek_id
        self.program = program
        self.import_id = import_id
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        self.errors: list[RowError] = []
        self.seen: dict[str, int] = {}
        self.wallets: dict[str, int] = {}
        self.old: dict[str, tuple[int, str | None]] = {}  # hash -> (id, wallet) before import
        self.enrolled: set[int] | None = None
        self.taken_wallets = repository.enrolled_wallets(session, program.id)
        self.total = repository.enrolled_total(session, program.id)
        self.amount = 0
        self.rows = 0
        # SQLite: BEGIN IMMEDIATE holds the write lock, so explicit ids are safe.
        self.before = int(session.scalar(select(func.max(ResidentRecord.id))) or 0)
        self.next_id = self.before + 1
        self.ids: dict[str, int] = {}  # resident ids of the file's rows (once known)
        self.deferred: list[tuple[str, int]] = []  # (hash, amount) enrolled at the end
        self.updates: list[tuple[int, int, str | None]] = []  # old residents: id, district, wallet
        self.no_wallet: list[str] = []
        self.new_residents = 0

    def add(self, errors: list[RowError], staged: list[Staged]) -> None:
        """Cross-check a chunk; store it if the file is clean so far."""
        self.errors.extend(errors)
        self._lookup_old([s[1] for s in staged if s[1] not in self.seen])
        chunk_errors = len(self.errors)
        for s in staged:
            self._cross_check(s)
        if len(self.errors) == chunk_errors and not self.errors:
            self._store(staged)

    def _lookup_old(self, hashes: list[str]) -> None:
        if not hashes or self.before == 0:
            return
        table = ResidentRecord
        for start in range(0, len(hashes), LOOKUP_CHUNK):
            found = self.session.execute(
                select(table.resident_hash, table.id, table.wallet_address).where(
                    table.resident_hash.in_(hashes[start : start + LOOKUP_CHUNK]),
                    table.id <= self.before,
                )
            )
            self.old.update({h: (i, w) for h, i, w in found})

    def _cross_check(self, s: Staged) -> None:
        row, resident_hash, _birth, _district, amount, wallet = s[:6]
        self.amount += amount
        self.rows += 1
        first = self.seen.setdefault(resident_hash, row)
        if first != row:
            self.errors.append(_dup(row, "resident_id", first))
        old = self.old.get(resident_hash)
        if old is not None:
            if self.enrolled is None:
                self.enrolled = repository.enrolled_resident_ids(self.session, self.program.id)
            if old[0] in self.enrolled:
                self.errors.append(
                    RowError(
                        row,
                        "resident_id",
                        "이 주민은 이미 이 정책의 대상자로 등록되어 있습니다.",
                        "This resident is already enrolled in the program.",
                    )
                )
            if wallet and old[1] not in (None, wallet):
                self.errors.append(
                    RowError(
                        row,
                        "wallet",
                        "이 주민에게는 다른 지갑이 이미 연결되어 있습니다.",
                        "A different wallet is already linked to this resident.",
                    )
                )
        if wallet:
            first_w = self.wallets.setdefault(wallet, row)
            if first_w != row:
                self.errors.append(_dup(row, "wallet", first_w))
            elif wallet in self.taken_wallets and (old is None or old[1] != wallet):
                self.errors.append(
                    RowError(
                        row,
                        "wallet",
                        "이 지갑은 이 정책의 다른 대상자가 쓰고 있습니다.",
                        "This wallet already belongs to another resident in the program.",
                    )
                )

    def _store(self, staged: list[Staged]) -> None:
        kek_id, sqlite = self.kek_id, self.sqlite
        new: list[tuple[Any, ...]] = []
        for _row, h, birth, district, _amount, wallet, wrapped, nonce, sealed in staged:
            if not wallet:
                self.no_wallet.append(h)
            old = self.old.get(h)
            if old is not None:
                self.ids[h] = old[0]
                self.updates.append((old[0], district, wallet))
                continue
            born: str | date = birth if sqlite else date.fromisoformat(birth)
            new.append((h, born, district, wallet, kek_id, wrapped, nonce, sealed, SEAL_VERSION))
        columns: tuple[str, ...] = _RESIDENT_COLUMNS
        if sqlite:  # ids known up front (in file order): enrollments go in now, in file order
            ids = range(self.next_id, self.next_id + len(new))
            self.next_id += len(new)
            self.ids.update(zip((n[0] for n in new), ids, strict=True))
            new = [(i, *n) for i, n in zip(ids, new, strict=True)]
            columns = ("id", *columns)
        stamped = ("created_at", "updated_at")
        repository.bulk_insert(self.session, "residents", columns, new, stamped)
        self.new_residents += len(new)
        pid, iid = self.program.id, self.import_id
        if sqlite:
            enroll = [(pid, self.ids[s[1]], iid, s[4]) for s in staged]
            repository.bulk_insert(self.session, "enrollments", _ENROLLMENT_COLUMNS, enroll)
        else:
            self.deferred.extend((s[1], s[4]) for s in staged)

    def budget_errors(self) -> list[RowError]:
        """The budget check over the whole file."""
        total = self.total + self.amount
        if total <= self.program.budget:
            return []
        return [
            RowError(
                0,
                "amount",
                f"대상자 금액 합계 {total:,}원이 예산 {self.program.budget:,}원을 넘습니다.",
                f"The amounts total {total} won, above the budget of {self.program.budget} won.",
            )
        ]

    def finish(self) -> None:
        """Enrollments whose resident ids were unknown, and updates of known residents."""
        if self.deferred:
            found = self.session.execute(
                select(ResidentRecord.id, ResidentRecord.resident_hash).where(
                    ResidentRecord.id > self.before
                )
            )
            self.ids.update({h: i for i, h in found if h in self.seen and h not in self.old})
            rows = [
                (self.program.id, self.ids[h], self.import_id, amount)
                for h, amount in self.deferred
            ]
            repository.bulk_insert(self.session, "enrollments", _ENROLLMENT_COLUMNS, rows)
        for resident_id, district, wallet in self.updates:
            old = self.session.get(ResidentRecord, resident_id)
            assert old is not None
            old.district = district
            if wallet and old.wallet_address is None:
                old.wallet_address = wallet
        self.session.flush()


class _Discard(Exception):
    """Rolls the unit of work back when the file has errors."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("import discarded")
        self.errors = errors


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

        Rows are checked in chunks (in worker processes for large files) and stored in one
        transaction as they come; the first bad row stops the storing, and the transaction
        is rolled back once every row has been checked for the report.

        Raises:
            ImportRejected: some rows are bad (details: import_id, error_count, errors).
            ValidationFailed: the file cannot be read or lacks columns.
            NotFound / Conflict: no such program, or it can take no residents.
        """
        report = progress or (lambda _stage, _done, _total: None)
        report("read file", 0, 1)
        header, raw_rows = read_table(filename, content)
        report("check and store rows", 0, len(raw_rows))
        try:
            with self.context.unit_of_work() as session:
                program = self._program(session, program_id)
                record = ImportRecord(
                    program_id=program.id,
                    filename=filename[:200],
                    rows=len(raw_rows),
                    state="accepted",
                    errors=[],
                    created_by=official_user_id,
                )
                session.add(record)
                session.flush()
                stager = _Stager(session, program, record.id, self.crypto.kek.key_id)
                job = _Job(Rules.of(program), self.crypto, header, raw_rows)
                done = 0
                for errors, staged in checked_chunks(job):
                    stager.add(errors, staged)
                    done = min(done + CHECK_CHUNK, len(raw_rows))
                    report("check and store rows", done, len(raw_rows))
                errors = sorted(stager.errors + stager.budget_errors(), key=lambda e: e.row)
                if errors:
                    raise _Discard(errors)
                report("finish import", 0, 1)
                stager.finish()
                accounts = self._create_accounts(session, [stager.ids[h] for h in stager.no_wallet])
                result = ImportResult(
                    import_id=record.id,
                    state="accepted",
                    rows=stager.rows,
                    total_amount=stager.amount,
                    new_residents=stager.new_residents,
                    new_accounts=accounts,
                )
                report("commit import", 0, 1)
        except _Discard as discarded:
            self._reject(program_id, filename, len(raw_rows), discarded.errors, official_user_id)
        log.info("import %s into program %s: %d rows", result.import_id, program_id, result.rows)
        return result

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
