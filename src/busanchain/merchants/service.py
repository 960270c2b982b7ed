"""Merchant use cases: apply, registrar decisions (on chain), search, redemption, reports.

Every chain write goes through the outbox, committed in the same unit of work as the status
change it belongs to, and only then broadcast. Decisions are idempotent: re-running an
approval, suspension or reactivation finishes the pending transaction, and the registry on
chain is the final word on whether a merchant is registered and active.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from busanchain.chain.signing import EIP712_DOMAIN_TYPE, Signer
from busanchain.db.base import utcnow
from busanchain.domain.addresses import parse_amount
from busanchain.domain.busan import categories, districts, parse_category, parse_district
from busanchain.domain.errors import Conflict, NotFound, TransactionReverted, ValidationFailed
from busanchain.domain.personal import clean_text
from busanchain.idempotency.service import IdempotencyService, parse_key, request_fingerprint
from busanchain.keys.service import key_service_for
from busanchain.merchants import repository as repo
from busanchain.merchants.rules import (
    business_day,
    business_number_hash,
    day_bounds_utc,
    new_code,
    parse_business_number,
    parse_code,
)
from busanchain.merchants.tables import (
    MerchantRecord,
    MerchantStatus,
    SettlementRecord,
    SettlementState,
)
from busanchain.outbox.nonces import key_lock
from busanchain.outbox.repository import OutboxRepository
from busanchain.outbox.service import OutboxService, TxOutcome, crash_point
from busanchain.outbox.tables import OutboxState
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.vouchers.contracts import VoucherChain

WAIT_FOR_RECEIPT_S = 10.0
MERCHANT_GAS_WEI = 5 * 10**16  # 0.05 ETH: enough for many refund transactions
REDEEM_GAS = 150_000  # redeemFrom cannot be estimated before its permit is mined
PERMIT_TTL_S = 3600
PAGE_SIZE = 20
MAX_PAGE = 500
REDEEM_PATH = "/api/merchants/me/redemptions"
TOKEN_DOMAIN_NAME = "DigitalWon"  # noqa: S105 (a contract name) ERC20Permit("DigitalWon"); EIP-712 version "1"
REPORT_DAYS = 14


@dataclass(frozen=True)
class MerchantView:
    """A merchant as other features and pages see it (no business number, no personal data)."""

    id: int
    code: str
    shop_name_ko: str
    shop_name_en: str | None
    mcc: int
    district: int
    wallet_address: str
    status: str
    owner_user_id: int
    street_address: str | None = None
    business_number_tail: str = ""
    decision_note: str | None = None
    applied_at: datetime | None = None
    customer_phone: str | None = None

    @classmethod
    def of(cls, record: MerchantRecord) -> MerchantView:
        """From a table row."""
        return cls(
            record.id,
            record.code,
            record.shop_name_ko,
            record.shop_name_en,
            record.mcc,
            record.district,
            record.wallet_address,
            record.status,
            record.owner_user_id,
            record.street_address,
            record.business_number_tail,
            record.decision_note,
            record.applied_at,
            record.customer_phone,
        )

    def shop_name(self, lang: str) -> str:
        """The shop's name in the user's language (Korean when there is no English name)."""
        return (self.shop_name_en or self.shop_name_ko) if lang == "en" else self.shop_name_ko

    def public_dict(self) -> dict[str, Any]:
        """What anyone may know about an active shop (JSON-ready)."""
        category = categories().get(self.mcc)
        district = districts().get(self.district)
        return {
            "code": self.code,
            "shop_name_ko": self.shop_name_ko,
            "shop_name_en": self.shop_name_en,
            "mcc": self.mcc,
            "category_ko": category.name_ko if category else None,
            "category_en": category.name_en if category else None,
            "district": self.district,
            "district_ko": district.name_ko if district else None,
            "district_en": district.name_en if district else None,
            "street_address": self.street_address,
            "customer_phone": self.customer_phone,
            "wallet_address": self.wallet_address,
            "status": self.status,
        }

    def owner_dict(self) -> dict[str, Any]:
        """What the owner and the registrar see (adds id, owner and the decision)."""
        out = self.public_dict()
        out.update(
            id=self.id,
            owner_user_id=self.owner_user_id,
            business_number_tail=self.business_number_tail,
            decision_note=self.decision_note,
            applied_at=self.applied_at.isoformat() if self.applied_at else None,
        )
        return out


@dataclass(frozen=True)
class Application:
    """A validated merchant application."""

    shop_name_ko: str
    shop_name_en: str | None
    business_number: str
    mcc: int
    district: int
    street_address: str | None


def parse_application(
    shop_name_ko: str,
    shop_name_en: str | None,
    business_number: str,
    mcc: object,
    district: object,
    street_address: str | None,
) -> Application:
    """Validate an application's fields (ko/en messages); bars may apply: programs decide."""
    name_ko = clean_text(str(shop_name_ko), 100)
    if not name_ko:
        raise ValidationFailed(
            "The shop name is required.", "상호를 입력하세요.", field="shop_name_ko"
        )
    name_en = clean_text(str(shop_name_en), 100) if shop_name_en else None
    address = clean_text(str(street_address), 200) if street_address else None
    return Application(
        name_ko,
        name_en or None,
        parse_business_number(business_number),
        parse_category(mcc),
        parse_district(district),
        address or None,
    )


def _settlement_answer(record: SettlementRecord, outcome: TxOutcome | None) -> dict[str, Any]:
    return {
        "settlement_id": record.id,
        "amount": record.amount,
        "state": record.state,
        "redemption_ref": record.redemption_ref,
        "bank_reference": record.bank_reference,
        "business_day": record.business_day.isoformat(),
        "operation_id": record.entry_id,
        "tx_hash": outcome.tx_hash if outcome else None,
        "revert_reason": record.revert_reason,
    }


def _settlement_status(state: str) -> int:
    done = {SettlementState.PAID: 200, SettlementState.BURNED: 200, SettlementState.FAILED: 422}
    return done.get(state, 202)


def iso_utc(moment: datetime | None) -> str | None:
    """A stored instant as ISO 8601 in UTC (SQLite hands timestamps back without a zone)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def settlement_dict(record: SettlementRecord) -> dict[str, Any]:
    """A settlement for lists (JSON-ready)."""
    return {
        "settlement_id": record.id,
        "amount": record.amount,
        "state": record.state,
        "redemption_ref": record.redemption_ref,
        "bank_reference": record.bank_reference,
        "business_day": record.business_day.isoformat(),
        "created_at": iso_utc(record.created_at),
        "settled_at": iso_utc(record.settled_at),
        "paid_at": iso_utc(record.paid_at),
    }


class MerchantService:
    """Merchants for shop owners, the registrar (city officials) and citizens."""

    def __init__(self, context: PlatformContext, outbox: OutboxService | None = None) -> None:
        self.context = context
        self.outbox = outbox or OutboxService(context)
        self.chain = VoucherChain(context, self.outbox)
        self.operator: Signer = operator_signer(context.settings)

    # -- reading -----------------------------------------------------------------------------

    def get(self, merchant_id: int) -> MerchantView:
        """A merchant by id, or NotFound."""
        with self.context.unit_of_work() as session:
            return MerchantView.of(self._record(session, merchant_id))

    def by_code(self, code: str) -> MerchantView:
        """A merchant by its public code (any status), or NotFound; bad codes: ValidationFailed."""
        canonical = parse_code(code)
        with self.context.unit_of_work() as session:
            record = repo.by_code(session, canonical)
            if record is None:
                raise NotFound(f"No merchant {canonical}.", f"가맹점 {canonical}이(가) 없습니다.")
            return MerchantView.of(record)

    def by_owner(self, user_id: int) -> MerchantView | None:
        """The merchant a user owns, if any."""
        with self.context.unit_of_work() as session:
            record = repo.by_owner(session, user_id)
            return MerchantView.of(record) if record else None

    def applications(self, status: str | None) -> list[MerchantView]:
        """Merchants in a status (all when None), for the registrar."""
        known = {v for k, v in vars(MerchantStatus).items() if k.isupper()}
        if status is not None and status not in known:
            raise ValidationFailed(
                f"Unknown status; use one of {', '.join(sorted(known))}.",
                f"알 수 없는 상태입니다: {', '.join(sorted(known))} 중 하나를 쓰세요.",
                field="status",
            )
        with self.context.unit_of_work() as session:
            return [MerchantView.of(r) for r in repo.by_status(session, status)]

    def search(
        self,
        district: int | None = None,
        mcc: int | None = None,
        program_id: int | None = None,
        query: str | None = None,
        page: int = 1,
    ) -> list[MerchantView]:
        """Active merchants by district, category, a program's rules and a name query."""
        if not 1 <= page <= MAX_PAGE:
            raise ValidationFailed(
                "The page number is out of range.", "페이지 번호가 범위를 벗어났습니다."
            )
        wanted_districts = [parse_district(district)] if district is not None else None
        wanted_mccs = [parse_category(mcc)] if mcc is not None else None
        text = clean_text(query, 50).replace("%", "").replace("_", "") if query else None
        with self.context.unit_of_work() as session:
            blocked: list[int] = []
            if program_id is not None:
                program = repo.program(session, program_id)
                if program is None:
                    raise NotFound("No such program.", "해당 지원 사업이 없습니다.")
                wanted_districts = _narrow(wanted_districts, program.allowed_districts)
                wanted_mccs = _narrow(wanted_mccs, program.allowed_categories)
                blocked = list(program.blocked_categories or [])
            if wanted_districts == [] or wanted_mccs == []:
                return []
            rows = repo.search(
                session,
                status=MerchantStatus.ACTIVE,
                districts=wanted_districts,
                mccs=wanted_mccs,
                blocked_mccs=blocked,
                query=text or None,
                offset=(page - 1) * PAGE_SIZE,
                limit=PAGE_SIZE,
            )
            return [MerchantView.of(r) for r in rows]

    def programs(self) -> list[tuple[int, str, str]]:
        """(id, name_ko, name_en) of every program, for the search page's select."""
        with self.context.unit_of_work() as session:
            return [(p.id, p.name_ko, p.name_en) for p in repo.programs(session)]

    # -- applying ------------------------------------------------------------------------------

    def apply(
        self,
        user_id: int,
        shop_name_ko: str,
        shop_name_en: str | None,
        business_number: str,
        mcc: object,
        district: object,
        street_address: str | None = None,
    ) -> MerchantView:
        """File an application for the user (a merchant); the shop's wallet is the user's.

        Raises:
            ValidationFailed: a field breaks a rule (the business number's check digit, ...).
            Conflict: the business number or the user already has a live application or shop.
        """
        form = parse_application(
            shop_name_ko, shop_name_en, business_number, mcc, district, street_address
        )
        wallet = key_service_for(self.context).custodial_address(user_id)
        if wallet is None:
            raise ValidationFailed("This account has no wallet.", "이 계정에는 지갑이 없습니다.")
        bizno_hash = business_number_hash(form.business_number)
        with self.context.unit_of_work() as session:
            for old in repo.colliding(session, bizno_hash, wallet):
                if old.status != MerchantStatus.REJECTED:
                    raise Conflict(
                        "A shop with this business number or owner is already registered or "
                        "under review.",
                        "이 사업자등록번호 또는 계정으로 이미 등록되었거나 "
                        "심사 중인 가게가 있습니다.",
                    )
                session.delete(old)  # a rejected application never reached the chain
            session.flush()
            record = MerchantRecord(
                code=self._free_code(session),
                owner_user_id=user_id,
                shop_name_ko=form.shop_name_ko,
                shop_name_en=form.shop_name_en,
                business_number_hash=bizno_hash,
                business_number_tail=form.business_number[-3:],
                mcc=form.mcc,
                district=form.district,
                street_address=form.street_address,
                wallet_address=wallet,
                status=MerchantStatus.APPLIED,
            )
            session.add(record)
            session.flush()
            return MerchantView.of(record)

    @staticmethod
    def _free_code(session: Session) -> str:
        while True:
            code = new_code()
            if not repo.code_taken(session, code):
                return code

    # -- registrar decisions ---------------------------------------------------------------------

    def approve(self, merchant_id: int, official_user_id: int | None) -> MerchantView:
        """Register an applied merchant on chain; re-running finishes a pending registration.

        The registry transaction is committed to the outbox together with the REGISTERING
        status, then broadcast. When the chain charges gas (a non-zero fee), the operator
        also sends the merchant's wallet 0.05 ETH in the same unit of work: merchants send
        their own refund transactions (PolicyVoucher.refund must come from the merchant),
        while payments and redemptions are relayed and paid for by the operator. On a
        zero-fee chain (a permissioned Besu network with zeroBaseFee and no tip) nothing is
        sent: there the merchant needs no ether.
        """
        view = self.get(merchant_id)
        if view.status == MerchantStatus.ACTIVE:
            return view
        if view.status == MerchantStatus.APPLIED:
            if self._registered_on_chain(view):
                return self._set_status(merchant_id, MerchantStatus.ACTIVE, official_user_id)
            register = [
                view.wallet_address,
                bytes.fromhex(self._hash_of(merchant_id)[2:]),
                view.mcc,
                view.district,
            ]

            def submit(session: Session, record: MerchantRecord) -> None:
                if record.status != MerchantStatus.APPLIED:
                    raise Conflict(
                        "The application was decided meanwhile.", "이미 처리된 신청입니다."
                    )
                record.status = MerchantStatus.REGISTERING
                record.decided_by = official_user_id
                record.decided_at = utcnow()
                record.decision_note = None
                self._fund_gas(session, record.wallet_address)

            self._registry_tx(merchant_id, "merchants.register", "register", register, submit)
        elif view.status != MerchantStatus.REGISTERING:
            raise Conflict(
                f"A {view.status} merchant cannot be approved.",
                f"현재 상태({view.status})에서는 승인할 수 없습니다.",
            )
        return self._finish_registration(merchant_id, official_user_id)

    def reject(
        self, merchant_id: int, official_user_id: int | None, note: str | None
    ) -> MerchantView:
        """Reject an application that is still waiting (nothing goes on chain)."""
        text = clean_text(note, 300) if note else None
        with self.context.unit_of_work() as session:
            record = self._record(session, merchant_id, lock=True)
            if record.status != MerchantStatus.APPLIED:
                raise Conflict(
                    "Only a waiting application can be rejected.",
                    "심사 대기 중인 신청만 반려할 수 있습니다.",
                )
            record.status = MerchantStatus.REJECTED
            record.decided_by = official_user_id
            record.decided_at = utcnow()
            record.decision_note = text
            return MerchantView.of(record)

    def suspend(
        self, merchant_id: int, official_user_id: int | None, note: str | None = None
    ) -> MerchantView:
        """Suspend an active merchant on chain (idempotent)."""
        return self._set_active(merchant_id, official_user_id, False, note)

    def reactivate(
        self, merchant_id: int, official_user_id: int | None, note: str | None = None
    ) -> MerchantView:
        """Reactivate a suspended merchant on chain (idempotent)."""
        return self._set_active(merchant_id, official_user_id, True, note)

    def update(
        self,
        merchant_id: int,
        official_user_id: int | None,
        *,
        mcc: object = None,
        district: object = None,
        shop_name_ko: str | None = None,
        shop_name_en: str | None = None,
        street_address: str | None = None,
    ) -> MerchantView:
        """Change a merchant's details; a new category or district is written to the registry."""
        view = self.get(merchant_id)
        new_mcc = parse_category(mcc) if mcc is not None else view.mcc
        new_district = parse_district(district) if district is not None else view.district
        name_ko = clean_text(shop_name_ko, 100) if shop_name_ko is not None else view.shop_name_ko
        if not name_ko:
            raise ValidationFailed("The shop name is required.", "상호를 입력하세요.")
        on_chain = view.status in (MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED)
        if on_chain:
            entry = self.chain.read_one(self.chain.registry, "merchantOf", [view.wallet_address])
            if (int(entry[1]), int(entry[2])) != (new_mcc, new_district):
                args = [view.wallet_address, bytes(entry[0]), new_mcc, new_district]
                self._expect_confirmed(
                    self._registry_tx(merchant_id, "merchants.update", "update", args, None)
                )
        elif view.status == MerchantStatus.REGISTERING:
            raise Conflict("The registration is in progress.", "등록이 진행 중입니다.")
        with self.context.unit_of_work() as session:
            record = self._record(session, merchant_id, lock=True)
            record.mcc, record.district, record.shop_name_ko = new_mcc, new_district, name_ko
            if shop_name_en is not None:
                record.shop_name_en = clean_text(shop_name_en, 100) or None
            if street_address is not None:
                record.street_address = clean_text(street_address, 200) or None
            record.decided_by = official_user_id
            return MerchantView.of(record)

    # -- registrar internals -------------------------------------------------------------------

    def _record(self, session: Session, merchant_id: int, lock: bool = False) -> MerchantRecord:
        record = repo.merchant(session, merchant_id, lock=lock)
        if record is None:
            raise NotFound("No such merchant.", "해당 가맹점이 없습니다.")
        return record

    def _hash_of(self, merchant_id: int) -> str:
        with self.context.unit_of_work() as session:
            return self._record(session, merchant_id).business_number_hash

    def _registered_on_chain(self, view: MerchantView) -> bool:
        entry = self.chain.read_one(self.chain.registry, "merchantOf", [view.wallet_address])
        return "0x" + bytes(entry[0]).hex() == self._hash_of(view.id)

    def _set_status(
        self, merchant_id: int, status: str, official_user_id: int | None
    ) -> MerchantView:
        with self.context.unit_of_work() as session:
            record = self._record(session, merchant_id, lock=True)
            record.status = status
            record.decided_by = official_user_id
            record.decided_at = record.decided_at or utcnow()
            return MerchantView.of(record)

    def _fund_gas(self, session: Session, wallet: str) -> None:
        """Queue 0.05 ETH for the merchant's own refund transactions, if gas costs anything."""
        if self.outbox.client.fee_params().max_fee_per_gas == 0:
            return
        balance = int(self.outbox.client.request("eth_getBalance", [wallet, "latest"]), 16)
        if balance >= MERCHANT_GAS_WEI // 2:
            return
        self.outbox.enqueue(
            session,
            signer=self.operator,
            intent="merchants.gas",
            to=wallet,
            data=b"",
            value=MERCHANT_GAS_WEI,
            gas=21_000,
            reference=f"merchant-wallet:{wallet}",
        )

    def _registry_tx(
        self,
        merchant_id: int,
        intent: str,
        fn: str,
        args: list[Any],
        on_submit: Callable[[Session, MerchantRecord], None] | None,
    ) -> TxOutcome:
        """Send one registry call for a merchant, or finish the same call still pending."""
        pending = self._open_entry(merchant_id, intent)
        if pending is None:
            registry = self.chain.registry
            data = self.chain.calldata(registry, fn, args)
            with (
                key_lock(self.outbox.client.chain_id(), self.operator.address),
                self.context.unit_of_work() as session,
            ):
                record = self._record(session, merchant_id, lock=True)
                entry = self.outbox.enqueue(
                    session,
                    signer=self.operator,
                    intent=intent,
                    to=registry.address,
                    data=data,
                    reference=f"merchant:{merchant_id}",
                )
                record.registry_entry_id = entry.id
                if on_submit is not None:
                    on_submit(session, record)
                pending = entry.id
            crash_point("after_outbox_commit")
        self.outbox.broadcast(pending)
        self._broadcast_open_gas(merchant_id)
        return self.outbox.wait(pending, WAIT_FOR_RECEIPT_S)

    def _broadcast_open_gas(self, merchant_id: int) -> None:
        with self.context.unit_of_work() as session:
            wallet = self._record(session, merchant_id).wallet_address
            entry = OutboxRepository(session).by_reference(f"merchant-wallet:{wallet}")
            entry_id = entry.id if entry is not None and entry.state in OutboxState.OPEN else None
        if entry_id is not None:
            self.outbox.broadcast(entry_id)

    def _open_entry(self, merchant_id: int, intent: str) -> int | None:
        """The merchant's last registry entry, if it has this intent and is not mined yet."""
        with self.context.unit_of_work() as session:
            record = self._record(session, merchant_id)
            entry_id = record.registry_entry_id
            entry = OutboxRepository(session).get(entry_id) if entry_id is not None else None
            if entry is None or entry.intent != intent:
                return None
        outcome = self.outbox.refresh(entry.id)
        return entry.id if outcome.status in OutboxState.OPEN else None

    def _finish_registration(self, merchant_id: int, official_user_id: int | None) -> MerchantView:
        view = self.get(merchant_id)
        if view.status != MerchantStatus.REGISTERING:
            return view
        with self.context.unit_of_work() as session:
            entry_id = self._record(session, merchant_id).registry_entry_id
        outcome = self.outbox.refresh(entry_id) if entry_id is not None else None
        if outcome is not None and outcome.status in OutboxState.OPEN:
            self.outbox.broadcast(outcome.entry_id)
            outcome = self.outbox.wait(outcome.entry_id, WAIT_FOR_RECEIPT_S)
        if self._registered_on_chain(view):
            return self._set_status(merchant_id, MerchantStatus.ACTIVE, official_user_id)
        if outcome is not None and outcome.status in OutboxState.OPEN:
            return view  # still pending: approving again finishes it
        reason = (outcome.revert_reason if outcome else None) or "unknown"
        with self.context.unit_of_work() as session:
            record = self._record(session, merchant_id, lock=True)
            record.status = MerchantStatus.APPLIED
            record.registry_entry_id = None
            record.decision_note = f"registration reverted: {reason}"[:300]
        raise TransactionReverted(
            f"The registration was reverted: {reason}",
            f"가맹점 등록 거래가 거부되었습니다: {reason}",
            reason=reason,
        )

    def _set_active(
        self, merchant_id: int, official_user_id: int | None, active: bool, note: str | None
    ) -> MerchantView:
        text = clean_text(note, 300) if note else None
        view = self.get(merchant_id)
        target = MerchantStatus.ACTIVE if active else MerchantStatus.SUSPENDED
        source = MerchantStatus.SUSPENDED if active else MerchantStatus.ACTIVE
        if view.status not in (source, target):
            raise Conflict(
                f"A {view.status} merchant cannot be {'reactivated' if active else 'suspended'}.",
                f"현재 상태({view.status})에서는 {'재개' if active else '정지'}할 수 없습니다.",
            )
        is_active = bool(
            self.chain.read_one(self.chain.registry, "isActive", [view.wallet_address])
        )
        if is_active != active:
            fn = "reactivate" if active else "suspend"
            outcome = self._registry_tx(
                merchant_id, f"merchants.{fn}", fn, [view.wallet_address], None
            )
            is_active = bool(
                self.chain.read_one(self.chain.registry, "isActive", [view.wallet_address])
            )
            if is_active != active:
                self._expect_confirmed(outcome)
                return self.get(merchant_id)  # still pending: run again to finish
        with self.context.unit_of_work() as session:
            record = self._record(session, merchant_id, lock=True)
            record.status = target
            record.decided_by = official_user_id
            record.decision_note = text if text is not None else record.decision_note
            return MerchantView.of(record)

    @staticmethod
    def _expect_confirmed(outcome: TxOutcome) -> None:
        if outcome.status in (OutboxState.REVERTED, OutboxState.FAILED):
            reason = outcome.revert_reason or outcome.status
            raise TransactionReverted(
                f"The registry transaction was reverted: {reason}",
                f"가맹점 등록부 거래가 거부되었습니다: {reason}",
                reason=reason,
                tx_hash=outcome.tx_hash,
            )

    # -- redemption ------------------------------------------------------------------------------

    def redeem(
        self, merchant_user_id: int, amount: object, idempotency_key: str | None
    ) -> tuple[int, dict[str, Any]]:
        """Burn the merchant's DigitalWon for KRW, once per Idempotency-Key; (status, answer).

        The merchant's custodial key signs an EIP-2612 permit for the operator (the issuer),
        and the operator sends `permit` then `redeemFrom(holder, amount, redemptionRef)`:
        the operator pays the gas. Both transactions, the settlement row (state pending) and
        the idempotency claim commit together before anything is broadcast; the random
        redemption reference burns at most once on chain. When the burn is confirmed the
        settlement is "burned" (awaiting transfer): the KRW is a bank transfer the city
        makes, recorded by an official with the bank's reference (`PayoutService.mark_paid`).
        Answers: 200 burned, 202 pending (repeat the request to follow it), 422 failed.
        """
        key = parse_key(idempotency_key)
        try:
            value = parse_amount(int(str(amount)))
        except ValueError:
            raise ValidationFailed(
                "The amount must be a whole number of won.", "금액은 원 단위 정수입니다."
            ) from None
        view = self.by_owner(merchant_user_id)
        if view is None or view.status not in (MerchantStatus.ACTIVE, MerchantStatus.SUSPENDED):
            raise NotFound("You have no registered shop.", "등록된 가게가 없습니다.")
        scope = f"merchants.redeem:user:{merchant_user_id}"
        fingerprint = request_fingerprint("POST", REDEEM_PATH, {"amount": value})
        self.chain.token  # noqa: B018 (resolve the address before claiming the key)
        chain_id = self.outbox.client.chain_id()
        merchant_signer = key_service_for(self.context).signer_for_user(merchant_user_id)
        idem = IdempotencyService(self.context)

        def work(session: Session) -> tuple[int, dict[str, Any]]:
            return self._enqueue_redemption(session, view, merchant_signer, value)

        # One redemption at a time per merchant: permit nonces are sequential.
        with key_lock(chain_id, view.wallet_address):
            with key_lock(chain_id, self.operator.address):
                stored = idem.run(scope, key, fingerprint, work)
            settlement_id = int(stored.body["settlement_id"])
            if stored.replayed and stored.body.get("state") != SettlementState.PENDING:
                return stored.status_code, stored.body
            crash_point("after_outbox_commit")
            status, answer = self._settle(settlement_id)
        idem.update_answer(scope, key, status, answer)
        return status, answer

    def _enqueue_redemption(
        self, session: Session, view: MerchantView, holder: Signer, amount: int
    ) -> tuple[int, dict[str, Any]]:
        # the balance and permit nonce read next are the shop's, as of its last redemption
        self.outbox.claim_wallet(session, view.wallet_address)
        balance = self.chain.token_balance(view.wallet_address)
        if balance < amount:
            raise ValidationFailed(
                f"Not enough DigitalWon: the shop holds {balance:,} won.",
                f"디지털원 잔액이 부족합니다. 현재 잔액은 {balance:,}원입니다.",
                balance=balance,
            )
        record = repo.add_settlement(
            session,
            SettlementRecord(
                merchant_id=view.id,
                amount=amount,
                redemption_ref="0x" + secrets.token_hex(32),
                state=SettlementState.PENDING,
                business_day=business_day(),
            ),
        )
        token = self.chain.token
        permit = self.outbox.enqueue(
            session,
            signer=self.operator,
            intent="merchants.permit",
            to=token.address,
            data=self._permit_calldata(holder, amount),
            reference=f"settlement:{record.id}",
            on_behalf_of=view.wallet_address,
        )
        burn = self.outbox.enqueue(
            session,
            signer=self.operator,
            intent="merchants.redeem",
            to=token.address,
            data=self.chain.calldata(
                token,
                "redeemFrom",
                [view.wallet_address, amount, bytes.fromhex(record.redemption_ref[2:])],
            ),
            gas=REDEEM_GAS,
            reference=f"settlement:{record.id}",
            on_behalf_of=view.wallet_address,  # burns what the permit allowed
        )
        record.permit_entry_id, record.entry_id = permit.id, burn.id
        return 202, _settlement_answer(record, None)

    def _permit_calldata(self, holder: Signer, amount: int) -> bytes:
        token = self.chain.token
        nonce = int(self.chain.read_one(token, "nonces", [holder.address]))
        deadline = self.chain.chain_time() + PERMIT_TTL_S
        typed = {
            "types": {
                "EIP712Domain": EIP712_DOMAIN_TYPE,
                "Permit": [
                    {"name": "owner", "type": "address"},
                    {"name": "spender", "type": "address"},
                    {"name": "value", "type": "uint256"},
                    {"name": "nonce", "type": "uint256"},
                    {"name": "deadline", "type": "uint256"},
                ],
            },
            "primaryType": "Permit",
            "domain": {
                "name": TOKEN_DOMAIN_NAME,
                "version": "1",
                "chainId": self.outbox.client.chain_id(),
                "verifyingContract": token.address,
            },
            "message": {
                "owner": holder.address,
                "spender": self.operator.address,
                "value": amount,
                "nonce": nonce,
                "deadline": deadline,
            },
        }
        signature = holder.sign_typed_data(typed)
        r, s, v = signature[:32], signature[32:64], signature[64]
        return self.chain.calldata(
            token, "permit", [holder.address, self.operator.address, amount, deadline, v, r, s]
        )

    def _settle(self, settlement_id: int) -> tuple[int, dict[str, Any]]:
        """Broadcast a pending redemption, wait for it and record the result."""
        with self.context.unit_of_work() as session:
            record = repo.settlement(session, settlement_id)
            if record is None:
                raise NotFound("No such settlement.", "해당 정산 기록이 없습니다.")
            permit_id, burn_id, ref = record.permit_entry_id, record.entry_id, record.redemption_ref
        if burn_id is None:
            raise NotFound("No such settlement.", "해당 정산 기록이 없습니다.")
        if permit_id is not None:
            self.outbox.broadcast(permit_id)
        self.outbox.broadcast(burn_id)
        outcome = self.outbox.wait(burn_id, WAIT_FOR_RECEIPT_S)
        burned = outcome.status == OutboxState.CONFIRMED or bool(
            self.chain.read_one(
                self.chain.token, "redemptionReferenceUsed", [bytes.fromhex(ref[2:])]
            )
        )
        with self.context.unit_of_work() as session:
            record = repo.settlement(session, settlement_id)
            assert record is not None
            if record.state == SettlementState.PENDING and burned:
                record.state = SettlementState.BURNED  # the bank transfer is awaited
                record.settled_at = utcnow()
            elif record.state == SettlementState.PENDING and outcome.status not in OutboxState.OPEN:
                record.state = SettlementState.FAILED
                record.revert_reason = (outcome.revert_reason or outcome.status)[:300]
            return _settlement_status(record.state), _settlement_answer(record, outcome)

    def settlements(self, merchant_id: int) -> list[dict[str, Any]]:
        """A merchant's latest settlements (newest first)."""
        with self.context.unit_of_work() as session:
            return [settlement_dict(r) for r in repo.settlements(session, merchant_id)]

    def token_balance(self, merchant_id: int) -> int:
        """The merchant's DigitalWon balance, read live from the chain."""
        return self.chain.token_balance(self.get(merchant_id).wallet_address)

    # -- reports ---------------------------------------------------------------------------------

    def daily_report(self, merchant_id: int, day: date) -> dict[str, Any]:
        """Payments, refunds, net and redemptions of one KST business day.

        Payments count on their business day (state confirmed); refunds on the KST day they
        were confirmed; redemptions on the KST day they were requested. `redemptions` is
        every redemption burned on chain (DigitalWon destroyed), whether or not its KRW
        transfer was made; it splits exactly into `paid` (transfer recorded by an official)
        and `awaiting_transfer` (burned, not paid yet). Pending and failed burns are left out.
        """
        start, end = day_bounds_utc(day)
        with self.context.unit_of_work() as session:
            record = self._record(session, merchant_id)
            count, gross = repo.payment_totals(session, merchant_id, day)
            refund_count, refunded = repo.refund_totals(session, merchant_id, start, end)
            redeemed = repo.redemption_totals(session, merchant_id, day)
            paid, awaiting = redeemed[SettlementState.PAID], redeemed[SettlementState.BURNED]
            return {
                "merchant_code": record.code,
                "day": day.isoformat(),
                "payments": {"count": count, "gross": gross},
                "refunds": {"count": refund_count, "amount": refunded},
                "net": gross - refunded,
                "redemptions": {
                    "count": paid[0] + awaiting[0],
                    "amount": paid[1] + awaiting[1],
                },
                "paid": {"count": paid[0], "amount": paid[1]},
                "awaiting_transfer": {"count": awaiting[0], "amount": awaiting[1]},
            }

    def daily_series(
        self, merchant_id: int, last_day: date, days: int = REPORT_DAYS
    ) -> list[dict[str, Any]]:
        """Daily reports for the `days` business days ending on `last_day`, oldest first."""
        return [
            self.daily_report(merchant_id, last_day - timedelta(days=offset))
            for offset in range(days - 1, -1, -1)
        ]


def _narrow(wanted: list[int] | None, allowed: list[int] | None) -> list[int] | None:
    """Intersect a filter with a program's allow-list (an empty allow-list allows all)."""
    if not allowed:
        return wanted
    if wanted is None:
        return list(allowed)
    return [v for v in wanted if v in allowed]


def merchant_service_for(context: PlatformContext) -> MerchantService:
    """The merchant service of a platform context."""
    return MerchantService(context)


def view_dict(view: MerchantView) -> dict[str, Any]:
    """Every field of a view (JSON-ready)."""
    out = asdict(view)
    out["applied_at"] = view.applied_at.isoformat() if view.applied_at else None
    return out
