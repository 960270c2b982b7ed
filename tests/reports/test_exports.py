"""CSV and XLSX exports parse back with the right rows, Korean intact and no personal data."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from busanchain.domain.errors import ValidationFailed
from busanchain.domain.roles import Role
from busanchain.platform.context import PlatformContext
from busanchain.reports.exports import csv_chunks, parse_format, payments_table, xlsx_bytes
from tests.reports.conftest import GROCERY, NOW, RESTAURANT, Rows
from tests.token.conftest import actor

PERSONAL = ("ORDER-SECRET-1", "98765431", "shopowner", "가게 ")


def _seed(rows: Rows) -> list[str]:
    rows.program(1)
    rows.program(2)
    rows.merchant("BS-GROC01", GROCERY)
    rows.merchant("BS-REST01", RESTAURANT)
    payers = []
    for i in range(3):
        payers.append(f"0x{i + 1:040x}")
        rows.pay("BS-GROC01", 10_000 * (i + 1), payer=payers[-1], at=NOW - timedelta(hours=i))
    rows.pay("BS-REST01", 5_000, program_id=2)
    return payers


def test_payments_csv_has_bom_korean_headers_and_masked_rows(
    context: PlatformContext, rows: Rows
) -> None:
    payers = _seed(rows)
    raw = b"".join(csv_chunks(payments_table(context, 1, "ko"), "ko"))
    assert raw.startswith("\ufeff".encode())
    text = raw.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    header, body = table[0], table[1:]
    assert header[0] == "결제번호" and "결제자 주소" in header and "업종" in header
    assert len(body) == 3  # program 1 only
    assert [r[header.index("결제자 주소")] for r in body] == payers
    assert {r[header.index("업종")] for r in body} == {"식료품점·슈퍼마켓"}
    assert [int(r[header.index("금액(원)")]) for r in body] == [10_000, 20_000, 30_000]
    for needle in PERSONAL:
        assert needle not in text


def test_payments_xlsx_parses_back(context: PlatformContext, rows: Rows) -> None:
    _seed(rows)
    blob = xlsx_bytes(payments_table(context, None, "en"), "en")
    sheet = load_workbook(io.BytesIO(blob), read_only=True)["payments"]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][:3] == ["payment_id", "program_id", "business_day"]
    assert len(values) == 1 + 4
    categories = {r[values[0].index("category")] for r in values[1:]}
    assert categories == {"Grocery stores and supermarkets", "Restaurants"}
    flat = " ".join(str(v) for r in values for v in r)
    for needle in PERSONAL:
        assert needle not in flat


def test_format_must_be_csv_or_xlsx() -> None:
    assert parse_format(" XLSX ") == "xlsx"
    with pytest.raises(ValidationFailed):
        parse_format("pdf")


def test_export_endpoints_stream_files_with_names(context: PlatformContext, rows: Rows) -> None:
    _seed(rows)
    auditor = actor(context, "auditor1", Role.AUDITOR)
    got = auditor.client.get("/api/reports/exports/payments?format=csv&program_id=1")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/csv")
    assert 'filename="payments-program-1.csv"' in got.headers["content-disposition"]
    assert got.content.startswith("\ufeff".encode()) and len(got.text.splitlines()) == 4
    got = auditor.client.get("/api/reports/exports/programs?format=xlsx")
    assert got.status_code == 200
    assert 'filename="programs-summary.xlsx"' in got.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(got.content), read_only=True)["programs"]
    programs = [r for r in sheet.iter_rows(values_only=True)][1:]
    assert [(r[0], r[8], r[9]) for r in programs] == [(1, 60_000, 3), (2, 5_000, 1)]
    bad = auditor.client.get("/api/reports/exports/payments?format=pdf")
    assert bad.status_code == 422 and "csv" in bad.json()["error"]["message"]
