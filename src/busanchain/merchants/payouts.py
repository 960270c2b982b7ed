"""The KRW side of a redemption: city officials record the bank transfers of burned settlements.

A redemption burns the merchant's DigitalWon on chain (`MerchantService.redeem`); the KRW is
a bank transfer the city makes outside this platform. Officials list the burned settlements
awaiting transfer, export them as a transfer file for the bank, and mark each one paid with
the bank's transfer reference. Marking is idempotent per Idempotency-Key, and a settlement is
paid once: the same reference again is answered as it is, a different one is a conflict.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from busanchain.db.base import utcnow
from busanchain.domain.errors import Conflict, NotFound, ValidationFailed
from busanchain.idempotency.service import IdempotencyService, parse_key, request_fingerprint
from busanchain.merchants import repository as repo
from busanchain.merchants.rules import mask_account, parse_bank_reference
from busanchain.merchants.service import settlement_dict
from busanchain.merchants.shop_edits import BankAccount, bank_account_of
from busanchain.merchants.tables import MerchantRecord, SettlementRecord, SettlementState
from busanchain.platform.context import PlatformContext

PAID_PATH = "/api/merchants/settlements/{id}/paid"
AWAITING = SettlementState.BURNED  # burned on chain, the KRW transfer not made yet
PAID = SettlementState.PAID
LISTED = (AWAITING, PAID)
TRANSFER_COLUMNS = (
    "settlement_id",
    "business_day",
    "merchant_code",
    "shop_name",
    "bank_code",
    "account_number",
    "amount_krw",
    "memo",
)


@dataclass(frozen=True)
class PayoutLine:
    """A settlement with its shop and (opened) bank account, for officials' lists."""

    settlement: dict[str, Any]
    merchant_code: str
    shop_name_ko: str
    shop_name_en: str | None
    account: BankAccount | None

    def as_dict(self, full_account: bool = False) -> dict[str, Any]:
        """JSON-ready; the account number is masked unless `full_account`."""
        account = None
        if self.account is not None:
            number = self.account.number if full_account else mask_account(self.account.number)
            account = {"bank_code": self.account.bank_code, "number": number}
        return {
            **self.settlement,
            "merchant_code": self.merchant_code,
            "shop_name_ko": self.shop_name_ko,
            "shop_name_en": self.shop_name_en,
            "bank_account": account,
        }


class PayoutService:
    """Bank transfers of burned settlements: lists, transfer file, mark paid."""

    def __init__(self, context: PlatformContext) -> None:
        self.context = context

    def lines(self, state: str | None = AWAITING) -> list[PayoutLine]:
        """Settlements in `state` (burned: oldest first; paid: newest first) with their shops."""
        chosen = state or AWAITING
        if chosen not in LISTED:
            raise ValidationFailed(
                "state: burned (awaiting transfer) or paid.",
                "state: burned(이체 대기) 또는 paid(지급 완료)입니다.",
                field="state",
            )
        with self.context.unit_of_work() as session:
            return [
                _line(self.context, session, record, shop)
                for record, shop in repo.settlements_in_state(session, chosen)
            ]

    def transfer_file(self, full_account: bool) -> str:
        """The awaiting list as a CSV transfer file (UTF-8 with BOM, so Excel reads Korean).

        Officials get full account numbers (the bank needs them); auditors get them masked.
        """
        buffer = io.StringIO()
        buffer.write("\ufeff")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(TRANSFER_COLUMNS)
        for line in self.lines(AWAITING):
            item = line.as_dict(full_account)
            account = item["bank_account"] or {"bank_code": "", "number": ""}
            writer.writerow(
                [
                    item["settlement_id"],
                    item["business_day"],
                    item["merchant_code"],
                    _csv_safe(item["shop_name_ko"]),
                    account["bank_code"],
                    account["number"],
                    item["amount"],
                    f"BUSANCHAIN-{item['settlement_id']}",
                ]
            )
        return buffer.getvalue()

    def mark_paid(
        self,
        settlement_id: int,
        official_user_id: int,
        bank_reference: object,
        idempotency_key: str | None,
    ) -> tuple[int, dict[str, Any]]:
        """Record the bank transfer of a burned settlement, once per Idempotency-Key.

        Raises:
            ValidationFailed: no key, or the reference is empty, too long or not printable.
            NotFound: no such settlement.
            Conflict: the settlement is not burned yet (or failed), it was paid with another
                reference, or the reference is already recorded on another settlement.
        """
        key = parse_key(idempotency_key)
        reference = parse_bank_reference(bank_reference)
        path = PAID_PATH.format(id=settlement_id)
        fingerprint = request_fingerprint("POST", path, {"bank_reference": reference})

        def work(session: Session) -> tuple[int, dict[str, Any]]:
            return 200, self._mark(session, settlement_id, official_user_id, reference)

        stored = IdempotencyService(self.context).run(
            f"merchants.paid:user:{official_user_id}", key, fingerprint, work
        )
        return stored.status_code, stored.body

    @staticmethod
    def _mark(
        session: Session, settlement_id: int, official_user_id: int, reference: str
    ) -> dict[str, Any]:
        record = repo.settlement(session, settlement_id, lock=True)
        if record is None:
            raise NotFound("No such settlement.", "해당 정산 기록이 없습니다.")
        if record.state == SettlementState.PAID:
            if record.bank_reference == reference:
                return settlement_dict(record)  # the same transfer, recorded again
            raise Conflict(
                "This settlement was already paid with another bank reference.",
                "이 정산은 이미 다른 은행 참조번호로 지급 처리되었습니다.",
            )
        if record.state != SettlementState.BURNED:
            raise Conflict(
                "Only a burned settlement awaiting transfer can be marked paid.",
                "소각이 끝나 이체를 기다리는 정산만 지급 완료로 표시할 수 있습니다.",
            )
        other = repo.settlement_by_bank_reference(session, reference)
        if other is not None:
            raise Conflict(
                "This bank reference is already recorded on another settlement.",
                "이 은행 참조번호는 이미 다른 정산에 기록되어 있습니다.",
            )
        record.state = SettlementState.PAID
        record.bank_reference = reference
        record.paid_at = utcnow()
        record.paid_by = official_user_id
        session.flush()
        return settlement_dict(record)


def _line(
    context: PlatformContext, session: Session, record: SettlementRecord, shop: MerchantRecord
) -> PayoutLine:
    return PayoutLine(
        settlement_dict(record),
        shop.code,
        shop.shop_name_ko,
        shop.shop_name_en,
        bank_account_of(context, session, shop.owner_user_id),
    )


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas in a cell (a shop name starting with = + - @)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
