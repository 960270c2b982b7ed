"""Exports for officials and auditors: payments, program summaries and the clawback report, as
CSV (UTF-8 with a byte-order mark, so Excel opens Korean text correctly) or XLSX.

Payments are exported without personal data: the payer is its wallet address only (no user
id, name or phone), the merchant is its public code and address.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select

from busanchain.domain.errors import ValidationFailed
from busanchain.merchants.tables import MerchantRecord
from busanchain.payments.tables import PaymentRecord
from busanchain.platform.context import PlatformContext
from busanchain.reports.clawback import clawback_report
from busanchain.reports.service import (
    ReportService,
    aware,
    category_names,
    district_names,
)

BOM = "\ufeff"
CHUNK_ROWS = 500
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class Column:
    """A column: header in Korean and English."""

    ko: str
    en: str

    def header(self, lang: str) -> str:
        """The header in the reader's language."""
        return self.en if lang == "en" else self.ko


@dataclass
class Table:
    """A named table whose rows are produced lazily (`rows()` may be called once per export)."""

    name: str
    sheet: str
    columns: list[Column]
    rows: Callable[[], Iterable[list[Any]]]


def parse_format(value: str) -> str:
    """'csv' or 'xlsx', or ValidationFailed (ko/en)."""
    fmt = value.strip().lower()
    if fmt not in FORMATS:
        raise ValidationFailed(
            "format must be csv or xlsx.", "format은 csv 또는 xlsx여야 합니다.", format=value
        )
    return fmt


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return aware(value).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


PAYMENT_COLUMNS = [
    Column("결제번호", "payment_id"),
    Column("사업번호", "program_id"),
    Column("영업일(KST)", "business_day"),
    Column("확정 시각(UTC)", "confirmed_at"),
    Column("결제자 주소", "payer_address"),
    Column("가맹점 코드", "merchant_code"),
    Column("가맹점 주소", "merchant_address"),
    Column("업종코드", "mcc"),
    Column("업종", "category"),
    Column("구·군 코드", "district_code"),
    Column("구·군", "district"),
    Column("금액(원)", "amount_krw"),
    Column("환불액(원)", "refunded_krw"),
    Column("상태", "state"),
    Column("온체인 결제번호", "chain_payment_id"),
    Column("블록", "block_number"),
]


def payments_table(context: PlatformContext, program_id: int | None, lang: str) -> Table:
    """Every payment (one program or all), masked: addresses and codes, no personal data."""
    en = lang == "en"

    def rows() -> Iterator[list[Any]]:
        query = (
            select(PaymentRecord, MerchantRecord.code, MerchantRecord.mcc, MerchantRecord.district)
            .join(MerchantRecord, MerchantRecord.id == PaymentRecord.merchant_id)
            .order_by(PaymentRecord.id)
            .execution_options(yield_per=CHUNK_ROWS)
        )
        if program_id is not None:
            query = query.where(PaymentRecord.program_id == program_id)
        with context.unit_of_work() as session:
            for p, code, mcc, district in session.execute(query):
                yield [
                    p.id, p.program_id, _cell(p.business_day), _cell(p.confirmed_at), p.payer,
                    code, p.merchant, mcc, category_names(mcc)[en], district,
                    district_names(district)[en], p.amount, p.refunded, p.state,
                    p.chain_payment_id, p.block_number,
                ]  # fmt: skip

    suffix = f"program-{program_id}" if program_id is not None else "all"
    return Table(f"payments-{suffix}", "payments", PAYMENT_COLUMNS, rows)


PROGRAM_COLUMNS = [
    Column("사업번호", "program_id"),
    Column("사업명", "name"),
    Column("종류", "kind"),
    Column("상태", "state"),
    Column("시작(UTC)", "starts_at"),
    Column("만료(UTC)", "expires_at"),
    Column("예산(원)", "budget_krw"),
    Column("지급액(원)", "granted_krw"),
    Column("사용액(원)", "spent_krw"),
    Column("결제 건수", "payments"),
    Column("미사용(원)", "unspent_krw"),
    Column("미청구(원)", "unclaimed_krw"),
    Column("미배정(원)", "unallocated_krw"),
    Column("회수액(원)", "withdrawn_krw"),
]


def programs_table(context: PlatformContext, lang: str) -> Table:
    """One row per program: budget, granted, spent and what is left (on chain when known)."""

    def rows() -> Iterator[list[Any]]:
        for s in ReportService(context).summaries():
            yield [
                s.id, s.name_en if lang == "en" else s.name_ko, s.kind, s.state,
                _cell(s.starts_at), _cell(s.expires_at), s.budget, s.granted, s.spent,
                s.payments, s.unspent, s.unclaimed, s.unallocated,
                s.chain.withdrawn if s.chain else None,
            ]  # fmt: skip

    return Table("programs-summary", "programs", PROGRAM_COLUMNS, rows)


CLAWBACK_COLUMNS = [
    Column("사업번호", "program_id"),
    Column("사업명", "name"),
    Column("만료(UTC)", "expires_at"),
    Column("상태", "status"),
    Column("예치액(원)", "locked_krw"),
    Column("미사용(원)", "unspent_krw"),
    Column("미청구(원)", "unclaimed_krw"),
    Column("회수액(원)", "withdrawn_krw"),
    Column("회수 거래", "withdrawal_tx_hash"),
    Column("블록", "block_number"),
]


def clawback_table(context: PlatformContext, lang: str) -> Table:
    """The expiry-clawback report (amounts just before the withdrawal, when withdrawn)."""

    def rows() -> Iterator[list[Any]]:
        for r in clawback_report(context):
            yield [
                r.program_id, r.name_en if lang == "en" else r.name_ko, _cell(r.expires_at),
                r.status, r.locked, r.unspent, r.unclaimed, r.withdrawn, r.tx_hash,
                r.block_number,
            ]  # fmt: skip

    return Table("expiry-clawback", "clawback", CLAWBACK_COLUMNS, rows)


def csv_chunks(table: Table, lang: str) -> Iterator[bytes]:
    """The table as CSV bytes with a BOM, a few hundred rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([c.header(lang) for c in table.columns])
    for count, row in enumerate(table.rows(), start=1):
        writer.writerow(["" if v is None else v for v in row])
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def xlsx_bytes(table: Table, lang: str) -> bytes:
    """The table as an XLSX workbook with one sheet (written in streaming mode)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(table.sheet)
    sheet.append([c.header(lang) for c in table.columns])
    for row in table.rows():
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def render(table: Table, fmt: str, lang: str) -> tuple[str, str, Iterator[bytes]]:
    """(media type, file name, body chunks) of a table in `fmt` ('csv' or 'xlsx')."""
    fmt = parse_format(fmt)
    filename = f"{table.name}.{fmt}"
    if fmt == "csv":
        return FORMATS[fmt], filename, csv_chunks(table, lang)
    return FORMATS[fmt], filename, iter([xlsx_bytes(table, lang)])
