"""Shop owners edit their own shop; category and district changes go to the registrar.

Names, street address, the customer phone and the settlement bank account are the owner's
to change. The category (MCC) and district are rules on chain (programs allow or block
them), so an owner can only request a change; a registrar (city official) approves it, and
approval writes to the MerchantRegistry through `MerchantService.update`.

The bank account is financial data: it is sealed per owner (`keys.SealedField`, AES-GCM
under the KEK, bound to the owner and the field name) and pages show it masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from busanchain.db.base import utcnow
from busanchain.domain.busan import categories, districts, parse_category, parse_district
from busanchain.domain.errors import Conflict, NotFound, ValidationFailed
from busanchain.domain.personal import clean_text, parse_phone
from busanchain.keys.service import key_service_for
from busanchain.merchants import repository as repo
from busanchain.merchants.rules import mask_account, parse_bank_account
from busanchain.merchants.service import MerchantService, MerchantView, iso_utc
from busanchain.merchants.tables import (
    ChangeRequestRecord,
    ChangeState,
    MerchantRecord,
    MerchantStatus,
)
from busanchain.platform.context import PlatformContext

BANK_FIELD = "merchant.bank_account"
EDITABLE = (MerchantStatus.APPLIED, MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED)
ON_CHAIN = (MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED)
UNSET: Any = object()  # "leave as is", as opposed to None ("clear")


@dataclass(frozen=True)
class BankAccount:
    """A settlement account: bank code and account digits (never logged)."""

    bank_code: str
    number: str

    def masked(self) -> dict[str, str]:
        """What pages and the owner's API see."""
        return {"bank_code": self.bank_code, "number": mask_account(self.number)}

    def __repr__(self) -> str:
        return f"BankAccount({self.bank_code}, {mask_account(self.number)})"


def bank_account_of(context: PlatformContext, session: Session, user_id: int) -> BankAccount | None:
    """Open an owner's sealed settlement account, if one is set."""
    stored = key_service_for(context).get_field(session, user_id, BANK_FIELD)
    if not stored:
        return None
    code, _sep, number = stored.partition(":")
    return BankAccount(code, number)


@dataclass(frozen=True)
class ShopEdit:
    """Validated owner changes; UNSET fields stay as they are, None clears optional ones."""

    shop_name_ko: Any = UNSET
    shop_name_en: Any = UNSET
    street_address: Any = UNSET
    customer_phone: Any = UNSET
    bank_account: Any = UNSET  # BankAccount, None (remove) or UNSET


def parse_shop_edit(fields: dict[str, Any]) -> ShopEdit:
    """Validate the fields an owner sent (only keys present are changed).

    Raises:
        ValidationFailed: a bad value, or a category/district change (those are requested).
    """
    if "mcc" in fields or "district" in fields:
        raise ValidationFailed(
            "The category and district are changed by a registrar: send a change request.",
            "업종과 구·군은 직접 바꿀 수 없습니다. 변경 요청을 보내면 시청 담당자가 승인합니다.",
            field="mcc" if "mcc" in fields else "district",
        )
    values: dict[str, Any] = {}
    if "shop_name_ko" in fields:
        name = clean_text(str(fields["shop_name_ko"] or ""), 100)
        if not name:
            raise ValidationFailed(
                "The shop name is required.", "상호를 입력하세요.", field="shop_name_ko"
            )
        values["shop_name_ko"] = name
    for name, limit in (("shop_name_en", 100), ("street_address", 200)):
        if name in fields:
            values[name] = clean_text(str(fields[name] or ""), limit) or None
    if "customer_phone" in fields:
        raw = fields["customer_phone"]
        values["customer_phone"] = parse_phone(str(raw)) if raw else None
    values.update(_bank_edit(fields))
    return ShopEdit(**values)


def _bank_edit(fields: dict[str, Any]) -> dict[str, Any]:
    code, number = fields.get("bank_code"), fields.get("bank_account_number")
    if "bank_code" not in fields and "bank_account_number" not in fields:
        return {}
    if not code and not number:
        return {"bank_account": None}
    bank, digits = parse_bank_account(code or "", number or "")
    return {"bank_account": BankAccount(bank, digits)}


def change_dict(record: ChangeRequestRecord, shop: MerchantRecord | None = None) -> dict[str, Any]:
    """A change request (JSON-ready), with the shop's current values when given."""
    out: dict[str, Any] = {
        "request_id": record.id,
        "merchant_id": record.merchant_id,
        "mcc": record.mcc,
        "district": record.district,
        "reason": record.reason,
        "state": record.state,
        "requested_at": iso_utc(record.requested_at),
        "decided_at": iso_utc(record.decided_at),
        "decision_note": record.decision_note,
    }
    if shop is not None:
        out.update(
            merchant_code=shop.code,
            shop_name_ko=shop.shop_name_ko,
            shop_name_en=shop.shop_name_en,
            current_mcc=shop.mcc,
            current_district=shop.district,
        )
    return out


class ShopEditService:
    """The owner's own edits and the registrar's decisions on change requests."""

    def __init__(self, context: PlatformContext, merchants: MerchantService | None = None) -> None:
        self.context = context
        self._merchants = merchants

    @property
    def merchants(self) -> MerchantService:
        """The merchant service (built on first use: it resolves contracts on the chain)."""
        if self._merchants is None:
            self._merchants = MerchantService(self.context)
        return self._merchants

    # -- the owner -------------------------------------------------------------------------

    def edit_own(self, user_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """Apply the owner's edits in one transaction; the shop's owner view with its account.

        Raises:
            ValidationFailed: a bad value (nothing is changed).
            NotFound: the user has no shop.
            Conflict: the shop is being registered or was rejected.
        """
        edit = parse_shop_edit(fields)
        with self.context.unit_of_work() as session:
            record = self._own(session, user_id, lock=True)
            if record.status not in EDITABLE:
                raise Conflict(
                    f"A {record.status} shop cannot be edited now.",
                    f"현재 상태({record.status})에서는 가게 정보를 고칠 수 없습니다.",
                )
            for name in ("shop_name_ko", "shop_name_en", "street_address", "customer_phone"):
                value = getattr(edit, name)
                if value is not UNSET:
                    setattr(record, name, value)
            if edit.bank_account is not UNSET:
                stored = edit.bank_account
                text = f"{stored.bank_code}:{stored.number}" if stored is not None else None
                key_service_for(self.context).put_field(session, user_id, BANK_FIELD, text)
            session.flush()
            return self._owner_view(session, record)

    def own(self, user_id: int) -> dict[str, Any]:
        """The owner's view of its shop, with the masked bank account."""
        with self.context.unit_of_work() as session:
            return self._owner_view(session, self._own(session, user_id))

    def bank_account(self, user_id: int) -> BankAccount | None:
        """The owner's settlement account (opened), if set."""
        with self.context.unit_of_work() as session:
            return bank_account_of(self.context, session, user_id)

    def request_change(
        self, user_id: int, mcc: object = None, district: object = None, reason: str | None = None
    ) -> dict[str, Any]:
        """File a request for a new category and/or district (one open request per shop).

        Raises:
            ValidationFailed: nothing to change, or an unknown category or district.
            Conflict: the shop is not registered on chain, or a request is already open.
        """
        new_mcc = parse_category(mcc) if mcc not in (None, "") else None
        new_district = parse_district(district) if district not in (None, "") else None
        note = clean_text(reason, 300) or None if reason else None
        with self.context.unit_of_work() as session:
            record = self._own(session, user_id, lock=True)
            if record.status not in ON_CHAIN:
                raise Conflict(
                    "Only a registered shop can request a change; wait for the review.",
                    "등록된 가게만 변경을 요청할 수 있습니다. 심사가 끝날 때까지 기다려 주세요.",
                )
            new_mcc = None if new_mcc == record.mcc else new_mcc
            new_district = None if new_district == record.district else new_district
            if new_mcc is None and new_district is None:
                raise ValidationFailed(
                    "Choose a new category or district.", "새 업종이나 구·군을 고르세요."
                )
            if repo.pending_change(session, record.id) is not None:
                raise Conflict(
                    "A change request is already waiting for the registrar.",
                    "이미 심사 중인 변경 요청이 있습니다.",
                )
            change = repo.add_change_request(
                session,
                ChangeRequestRecord(
                    merchant_id=record.id,
                    mcc=new_mcc,
                    district=new_district,
                    reason=note,
                    requested_by=user_id,
                ),
            )
            return change_dict(change, record)

    def own_changes(self, user_id: int) -> list[dict[str, Any]]:
        """The owner's change requests, newest first."""
        with self.context.unit_of_work() as session:
            record = self._own(session, user_id)
            rows = repo.change_requests(session, merchant_id=record.id, limit=20)
            return [change_dict(r, record) for r in rows]

    # -- the registrar ---------------------------------------------------------------------

    def changes(self, state: str | None = ChangeState.PENDING) -> list[dict[str, Any]]:
        """Change requests in a state (all when None) with their shops, newest first."""
        known = (ChangeState.PENDING, ChangeState.APPROVED, ChangeState.REJECTED)
        if state is not None and state not in known:
            raise ValidationFailed(
                f"Unknown state; use one of {', '.join(known)}.",
                f"알 수 없는 상태입니다: {', '.join(known)} 중 하나를 쓰세요.",
                field="state",
            )
        with self.context.unit_of_work() as session:
            rows = repo.change_requests(session, state=state)
            return [change_dict(r, repo.merchant(session, r.merchant_id)) for r in rows]

    def approve_change(self, request_id: int, official_user_id: int) -> dict[str, Any]:
        """Write the requested category/district to the registry on chain, then close it.

        The chain write is `MerchantService.update` (idempotent: re-approving after a
        timeout finishes the same update); the request is closed only once it succeeded.
        """
        with self.context.unit_of_work() as session:
            change = self._pending(session, request_id)
            merchant_id, mcc, district = change.merchant_id, change.mcc, change.district
        self.merchants.update(merchant_id, official_user_id, mcc=mcc, district=district)
        return self._close(request_id, official_user_id, ChangeState.APPROVED, None)

    def reject_change(
        self, request_id: int, official_user_id: int, note: str | None
    ) -> dict[str, Any]:
        """Close a request without changing anything."""
        text = clean_text(note, 300) or None if note else None
        return self._close(request_id, official_user_id, ChangeState.REJECTED, text)

    # -- internals -------------------------------------------------------------------------

    def _close(
        self, request_id: int, official_user_id: int, state: str, note: str | None
    ) -> dict[str, Any]:
        with self.context.unit_of_work() as session:
            change = self._pending(session, request_id, lock=True)
            change.state = state
            change.decided_by = official_user_id
            change.decided_at = utcnow()
            change.decision_note = note
            session.flush()
            return change_dict(change, repo.merchant(session, change.merchant_id))

    @staticmethod
    def _pending(session: Session, request_id: int, lock: bool = False) -> ChangeRequestRecord:
        change = repo.change_request(session, request_id, lock=lock)
        if change is None:
            raise NotFound("No such change request.", "해당 변경 요청이 없습니다.")
        if change.state != ChangeState.PENDING:
            raise Conflict("This request was already decided.", "이미 처리된 변경 요청입니다.")
        return change

    @staticmethod
    def _own(session: Session, user_id: int, lock: bool = False) -> MerchantRecord:
        record = repo.by_owner(session, user_id)
        if record is None:
            raise NotFound(
                "You have not applied for a shop yet.", "아직 가게를 신청하지 않았습니다."
            )
        if lock:
            locked = repo.merchant(session, record.id, lock=True)
            assert locked is not None
            return locked
        return record

    def _owner_view(self, session: Session, record: MerchantRecord) -> dict[str, Any]:
        out = MerchantView.of(record).owner_dict()
        account = bank_account_of(self.context, session, record.owner_user_id)
        out["bank_account"] = account.masked() if account else None
        return out


def category_and_district_names(mcc: int | None, district: int | None, lang: str) -> str:
    """'카페 · 수영구' style text of a requested change (for pages)."""
    parts = []
    if mcc is not None:
        found = categories().get(mcc)
        parts.append(found.name(lang) if found else str(mcc))
    if district is not None:
        place = districts().get(district)
        parts.append(place.name(lang) if place else str(district))
    return " · ".join(parts)
