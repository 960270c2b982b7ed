"""Refunds: a merchant returns (part of) a confirmed payment to the citizen's vouchers.

The merchant's custodial key sends `DigitalWon.approve` and `PolicyVoucher.refund` (the
contract requires the merchant as sender) through the outbox. Gas: the chain charges for
gas (anvil's base fee is above zero), so a merchant wallet without enough native coin is
first topped up by the platform operator, through the outbox, before the refund is signed.
The refunded amount is reserved on the payment row in the same commit as the outbox entries,
so concurrent refunds can never exceed the payment.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from busanchain.db.base import utcnow
from busanchain.domain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from busanchain.idempotency.repository import IdempotencyRepository
from busanchain.idempotency.service import IdempotencyService, parse_key, request_fingerprint
from busanchain.keys.service import key_service_for
from busanchain.outbox.nonces import key_lock
from busanchain.outbox.service import OutboxService, crash_point
from busanchain.outbox.tables import OutboxState
from busanchain.payments.repository import PaymentRepository
from busanchain.payments.service import refund_view
from busanchain.payments.tables import PaymentRecord, PaymentState, RefundRecord
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.vouchers.contracts import VoucherChain

REFUND_GAS = 250_000
MIN_GAS_WEI = 2 * 10**15  # top up below 0.002 ETH
TOP_UP_WEI = 2 * 10**16  # 0.02 ETH
WAIT_S = 10.0


class RefundService:
    """Merchants' refunds."""

    def __init__(self, context: PlatformContext, outbox: OutboxService | None = None) -> None:
        self.context = context
        self.outbox = outbox or OutboxService(context)
        self.chain = VoucherChain(context, self.outbox)

    def refund(
        self,
        merchant_user_id: int,
        payment_id: int,
        amount: int,
        idempotency_key: str | None,
        wait_s: float = WAIT_S,
    ) -> tuple[int, dict[str, Any]]:
        """Refund `amount` of a payment, once per Idempotency-Key; (status, answer)."""
        key = parse_key(idempotency_key)
        scope = f"user:{merchant_user_id}:refunds"
        path = f"/api/payments/{payment_id}/refunds"
        fingerprint = request_fingerprint("POST", path, {"amount": amount})
        idem = IdempotencyService(self.context)
        _ = self.chain.voucher, self.chain.token  # resolved before any unit of work
        signer = key_service_for(self.context).signer_for_user(merchant_user_id)
        if not self._seen(scope, key):
            self._check(merchant_user_id, payment_id, amount, signer.address)
            self._top_up_gas(signer.address)
        chain_id = self.outbox.client.chain_id()
        with key_lock(chain_id, signer.address):
            stored = idem.run(
                scope, key, fingerprint, lambda s: self._enqueue(s, payment_id, amount, signer)
            )
        if stored.replayed:
            return stored.status_code, stored.body
        crash_point("after_refund_commit")
        refund_id = int(stored.body["refund"]["id"])
        for entry_id in stored.body["entries"]:
            self.outbox.broadcast(int(entry_id))
        self.outbox.wait(int(stored.body["entries"][-1]), wait_s)
        view = self.settle(refund_id)
        status = {"confirmed": 200, "failed": 422}.get(view["state"], 202)
        answer = {"refund": view, "entries": stored.body["entries"]}
        idem.update_answer(scope, key, status, answer)
        return status, answer

    def _seen(self, scope: str, key: str) -> bool:
        with self.context.unit_of_work() as session:
            return IdempotencyRepository(session).find(scope, key) is not None

    def _check(self, user_id: int, payment_id: int, amount: int, sender: str) -> None:
        with self.context.unit_of_work() as session:
            repo = PaymentRepository(session)
            record = repo.get(payment_id)
            merchant = repo.merchant(record.merchant_id) if record else None
            if record is None or merchant is None:
                raise NotFound("No such payment.", "해당 결제가 없습니다.")
            if merchant.owner_user_id != user_id:
                raise PermissionDenied(
                    "Only the merchant paid may refund this payment.",
                    "결제를 받은 가맹점만 환불할 수 있습니다.",
                )
            if sender.lower() != record.merchant.lower():
                raise Conflict(
                    "The shop's wallet is not held by the platform; refund from that wallet.",
                    "가게 지갑이 플랫폼 보관 지갑이 아닙니다. 그 지갑에서 환불하세요.",
                )
            _check_refundable(record, amount)
            program_id = record.program_id
        if self.chain.read_one(self.chain.voucher, "isExpired", [program_id]):
            raise ValidationFailed(
                "The program has expired; refunds are no longer possible.",
                "지원 사업 기간이 끝나 환불할 수 없습니다.",
            )
        if self.chain.token_balance(sender) < amount:
            raise ValidationFailed(
                "The shop's wallet does not hold enough DigitalWon for this refund.",
                "가게 지갑의 디지털원이 환불 금액보다 적습니다.",
            )

    def _top_up_gas(self, address: str) -> None:
        balance = int(self.outbox.client.request("eth_getBalance", [address, "latest"]), 16)
        if balance >= MIN_GAS_WEI:
            return
        self.outbox.execute(
            signer=operator_signer(self.context.settings),
            intent="payments.merchant_gas",
            to=address,
            data=b"",
            value=TOP_UP_WEI,
            gas=21_000,
            reference=f"gas:{address}",
        )

    def _enqueue(
        self, session: Session, payment_id: int, amount: int, signer: Any
    ) -> tuple[int, dict[str, Any]]:
        repo = PaymentRepository(session)
        record = repo.get(payment_id, lock=True)
        assert record is not None
        _check_refundable(record, amount)
        record.refunded += amount
        token, voucher = self.chain.token, self.chain.voucher
        approve = self.outbox.enqueue(
            session,
            signer=signer,
            intent="payments.refund_approve",
            to=token.address,
            data=self.chain.calldata(token, "approve", [voucher.address, amount]),
            gas=80_000,
            reference=f"payment:{payment_id}",
        )
        assert record.day is not None and record.chain_payment_id is not None
        paid = (record.program_id, record.payer, record.merchant, record.amount, record.day)
        entry = self.outbox.enqueue(
            session,
            signer=signer,
            intent="payments.refund",
            to=voucher.address,
            data=self.chain.calldata(voucher, "refund", [record.chain_payment_id, paid, amount]),
            gas=REFUND_GAS,
            reference=f"payment:{payment_id}",
        )
        refund = repo.add_refund(
            RefundRecord(payment_id=payment_id, amount=amount, entry_id=entry.id, state="pending")
        )
        refund.created_by = None
        return 202, {"refund": refund_view(refund), "entries": [approve.id, entry.id]}

    def settle(self, refund_id: int) -> dict[str, Any]:
        """Record a refund's outcome from its transaction (release the reservation if failed)."""
        with self.context.unit_of_work() as session:
            refund = PaymentRepository(session).refund(refund_id)
            if refund is None:
                raise NotFound("No such refund.", "해당 환불이 없습니다.")
            entry_id = refund.entry_id
            state = refund.state
        if state == "pending" and entry_id is not None:
            outcome = self.outbox.refresh(entry_id)
            if outcome.status not in OutboxState.OPEN:
                self._apply(refund_id, outcome.status, outcome.revert_reason)
        with self.context.unit_of_work() as session:
            refund = PaymentRepository(session).refund(refund_id)
            assert refund is not None
            return refund_view(refund)

    def _apply(self, refund_id: int, status: str, reason: str | None) -> None:
        with self.context.unit_of_work() as session:
            repo = PaymentRepository(session)
            refund = repo.refund(refund_id)
            if refund is None or refund.state != "pending":
                return
            if status == OutboxState.CONFIRMED:
                refund.state, refund.confirmed_at = "confirmed", utcnow()
                return
            refund.state, refund.reason = "failed", (reason or status)[:300]
            record = repo.get(refund.payment_id, lock=True)
            if record is not None:
                record.refunded -= refund.amount

    def settle_open(self) -> int:
        """Settle every pending refund whose transaction is mined; how many were settled."""
        with self.context.unit_of_work() as session:
            ids = session.scalars(
                select(RefundRecord.id).where(RefundRecord.state == "pending")
            ).all()
        return sum(self.settle(int(i))["state"] != "pending" for i in ids)


def _check_refundable(record: PaymentRecord, amount: int) -> None:
    if record.state != PaymentState.CONFIRMED:
        raise Conflict(
            "Only confirmed payments can be refunded.", "확정된 결제만 환불할 수 있습니다."
        )
    left = record.amount - record.refunded
    if amount <= 0 or amount > left:
        raise ValidationFailed(
            f"At most {left} won of this payment can still be refunded.",
            f"이 결제에서 환불할 수 있는 금액은 최대 {left}원입니다.",
            refundable=left,
        )
