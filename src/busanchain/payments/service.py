"""Citizen payments: checked, signed, recorded with their Idempotency-Key, then relayed.

`PaymentService.pay` answers quickly with a clear 4xx when a rule is broken (the contract's
own `checkPayment`, plus the payer's payments still on their way, so concurrent requests
cannot promise the same balance twice). An accepted payment is one row, committed with its
Idempotency-Key, signed by the payer's custodial key; the relayer (relayer.py) puts it in a
`payBatch` transaction. The contract's nonce bitmap is the last guard against duplicates.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from eth_account import Account
from eth_utils import keccak
from sqlalchemy.orm import Session

from busanchain.accounts.service import User
from busanchain.chain.signing import Signer
from busanchain.db.runlock import runtime_running
from busanchain.domain.addresses import parse_address
from busanchain.domain.busan import categories, districts
from busanchain.domain.errors import ChainError, Conflict, NotFound, ValidationFailed
from busanchain.domain.roles import Role
from busanchain.idempotency.repository import IdempotencyRepository
from busanchain.idempotency.service import (
    IdempotencyService,
    StoredResponse,
    parse_key,
    request_fingerprint,
)
from busanchain.keys import repository as keys_repository
from busanchain.keys.service import key_service_for
from busanchain.merchants.tables import MerchantRecord
from busanchain.outbox.service import OutboxService, crash_point
from busanchain.payments import relayer
from busanchain.payments.commits import GroupCommitter
from busanchain.payments.repository import PaymentRepository
from busanchain.payments.tables import PaymentRecord, PaymentState, RefundRecord
from busanchain.platform.context import PlatformContext
from busanchain.platform.reads import read_session
from busanchain.programs.tables import ProgramRecord
from busanchain.vouchers.contracts import VoucherChain
from busanchain.vouchers.eip712 import PaymentMessage, domain_separator, sign_payment
from busanchain.vouchers.reasons import Reason, reason_text

DEADLINE_S = 600  # a signed payment may execute for 10 minutes of chain time
MAX_AMOUNT = 10**15
READ_ALL_ROLES = frozenset({Role.OFFICIAL, Role.AUDITOR, Role.ADMIN})
KST = timedelta(hours=9)
CHAIN_TIME_TTL_S = 0.2  # the deadline of a new payment may use a chain time this old
WALLET_TTL_S = 300.0  # a user's custodial address and signer are reused this long
WALLET_CACHE_MAX = 20_000
RUNTIME_PROBE_TTL_S = 1.0  # how long a web worker trusts its "a runtime runs elsewhere" probe
SETTLE_POLL_S = 0.05  # how often a worker without the relayer reads a payment it waits for
FINAL_STATES = (PaymentState.CONFIRMED, PaymentState.FAILED)

VIEW_SELECTORS = {
    name: keccak(text=signature)[:4].hex()
    for name, signature in {
        "checkPayment": "checkPayment(uint256,address,address,uint256)",
        "balanceOf": "balanceOf(address,uint256)",
        "paidToday": "paidToday(uint256,address)",
        "leafStatus": "leafStatus(uint256,uint256,address,uint256)",
    }.items()
}

_PAYER_LOCKS: dict[str, threading.Lock] = {}
_PAYER_LOCKS_GUARD = threading.Lock()
_CLOCKS: dict[str, tuple[float, int]] = {}
_CLOCKS_GUARD = threading.Lock()


def payer_lock(payer: str) -> threading.Lock:
    """The in-process lock that serialises one payer's acceptance checks."""
    with _PAYER_LOCKS_GUARD:
        return _PAYER_LOCKS.setdefault(payer, threading.Lock())


class PaymentRefused(ValidationFailed):
    """A payment breaks one of the program's rules (the contract's reason code is given)."""

    code = "payment_refused"

    def __init__(self, reason: Reason) -> None:
        super().__init__(
            reason_text(reason, "en"),
            reason_text(reason, "ko"),
            reason=int(reason),
            reason_name=reason.name,
        )


def order_reference(payer: str, nonce: int, order_id: str | None) -> bytes:
    """The bytes32 `orderRef` of a payment: unique per (payer, nonce), no personal data."""
    return keccak(text=f"busanchain:order:{payer.lower()}:{nonce}:{order_id or ''}")


def kst_day(day: int) -> date:
    """The calendar date of the contract's Korea-time day number."""
    return date(1970, 1, 1) + timedelta(days=day)


@dataclass(frozen=True)
class PayRequest:
    """A citizen's request to pay a merchant from one program."""

    program_id: int
    merchant_code: str
    amount: int
    order_id: str | None = None

    def body(self) -> dict[str, Any]:
        """The canonical body (for the Idempotency-Key fingerprint)."""
        return {
            "program_id": self.program_id,
            "merchant_code": self.merchant_code,
            "amount": self.amount,
            "order_id": self.order_id,
        }


@dataclass(frozen=True)
class SignedPayRequest:
    """A payment signed outside the platform (a linked self-custody wallet)."""

    program_id: int
    merchant_code: str
    amount: int
    payer: str
    nonce: int
    deadline: int
    signature: str
    order_id: str | None = None

    def body(self) -> dict[str, Any]:
        """The canonical body (for the Idempotency-Key fingerprint)."""
        return {
            "program_id": self.program_id,
            "merchant_code": self.merchant_code,
            "amount": self.amount,
            "payer": self.payer,
            "nonce": self.nonce,
            "deadline": self.deadline,
            "signature": self.signature,
            "order_id": self.order_id,
        }


@dataclass(frozen=True)
class _Snapshot:
    """What one read of the database says about a new payment."""

    merchant: MerchantRecord
    nonce: int
    open_sum: int
    daily_cap: int
    grants: list[tuple[int, int]]  # (amount, round id) of the payer's open Merkle grants


@dataclass(frozen=True)
class _Accepted:
    """A checked and signed payment, ready to be written."""

    message: PaymentMessage
    signature: bytes
    merchant_id: int
    order_id: str | None
    user_id: int
    custodial: bool
    turn: int  # the payer's acceptance cursor when the payment was checked (`_Snapshot.nonce`)


class PaymentService:
    """Accept payments, show receipts, wallets and merchants' incoming payments."""

    def __init__(self, context: PlatformContext, outbox: OutboxService | None = None) -> None:
        self.context = context
        self.outbox = outbox or OutboxService(context)
        self.chain = VoucherChain(context, self.outbox)
        self._separator: bytes | None = None
        self._rpc = httpx.Client(timeout=30.0)
        self._wallets: dict[int, tuple[float, str, Signer | None]] = {}
        self._wallets_guard = threading.Lock()
        self._committer = GroupCommitter(context)
        self._runtime_probe: tuple[float, bool] = (-RUNTIME_PROBE_TTL_S, False)

    @property
    def separator(self) -> bytes:
        """The EIP-712 domain separator of the deployed PolicyVoucher."""
        if self._separator is None:
            self._separator = domain_separator(
                self.outbox.client.chain_id(), self.chain.addresses["PolicyVoucher"]
            )
        return self._separator

    # -- paying -----------------------------------------------------------------------------

    def pay(
        self, user_id: int, request: PayRequest, idempotency_key: str | None, wait_s: float = 5.0
    ) -> tuple[int, dict[str, Any]]:
        """Pay from the user's custodial wallet, once per Idempotency-Key; (status, answer).

        202 with the pending payment, or 200 with the receipt if it was confirmed within
        `wait_s` seconds (only while a relayer loop runs in this process).
        """
        key = parse_key(idempotency_key)
        _check_amount(request.amount)
        payer = self._custodial_address(user_id)
        scope = f"user:{user_id}:payments"
        fingerprint = request_fingerprint("POST", "/api/payments", request.body())
        with payer_lock(payer):
            accepted = None
            snapshot = self._prepare(scope, key, payer, request.program_id, request.merchant_code)
            if snapshot is not None:
                accepted = self._accept_custodial(user_id, payer, request, snapshot)
            stored = self._store(scope, key, fingerprint, accepted)
        return self._finish(scope, key, stored.status_code, stored.body, stored.replayed, wait_s)

    def pay_signed(
        self,
        user_id: int,
        request: SignedPayRequest,
        idempotency_key: str | None,
        wait_s: float = 5.0,
    ) -> tuple[int, dict[str, Any]]:
        """Relay a payment signed by the payer's own wallet, after checking the signature."""
        key = parse_key(idempotency_key)
        _check_amount(request.amount)
        payer = parse_address(request.payer)
        scope = f"user:{user_id}:payments"
        fingerprint = request_fingerprint("POST", "/api/payments/signed", request.body())
        with payer_lock(payer):
            accepted = None
            snapshot = self._prepare(scope, key, payer, request.program_id, request.merchant_code)
            if snapshot is not None:
                accepted = self._accept_signed(user_id, payer, request, snapshot)
            stored = self._store(scope, key, fingerprint, accepted)
        return self._finish(scope, key, stored.status_code, stored.body, stored.replayed, wait_s)

    def _store(
        self, scope: str, key: str, fingerprint: str, accepted: _Accepted | None
    ) -> StoredResponse:
        """Write an accepted payment with its Idempotency-Key (group commit: one transaction
        for many concurrent requests), or replay the key's answer."""
        if accepted is not None:
            answer = self._committer.submit(
                scope, key, fingerprint, lambda s: self._record(s, accepted)
            )
            if answer is not None:
                return StoredResponse(answer[0], answer[1], replayed=False)
        # the key was used before (or meanwhile, by a concurrent request): replay its answer
        return IdempotencyService(self.context).run(
            scope, key, fingerprint, lambda s: self._record(s, None)
        )

    def _custodial_address(self, user_id: int) -> str:
        """The user's custodial address (kept for WALLET_TTL_S: it never changes)."""
        cached = self._wallets.get(user_id)
        if cached is not None and time.monotonic() - cached[0] < WALLET_TTL_S:
            return cached[1]
        with read_session(self.context) as session:
            row = keys_repository.custodial_key_for_user(session, user_id)
            payer = row.address if row is not None else None
        if payer is None:
            raise NotFound("You have no wallet yet.", "아직 지갑이 없습니다.")
        self._remember(user_id, payer, None)
        return payer

    def _signer(self, user_id: int, payer: str) -> Signer:
        """The user's custodial signer, unsealed once per WALLET_TTL_S (not per payment)."""
        cached = self._wallets.get(user_id)
        fresh = cached is not None and time.monotonic() - cached[0] < WALLET_TTL_S
        if cached is not None and fresh and cached[2] is not None and cached[1] == payer:
            return cached[2]
        signer = key_service_for(self.context).signer_for_user(user_id)
        if signer.address.lower() == payer.lower():
            self._remember(user_id, payer, signer)
        return signer

    def _remember(self, user_id: int, payer: str, signer: Signer | None) -> None:
        with self._wallets_guard:
            if len(self._wallets) >= WALLET_CACHE_MAX:
                self._wallets.clear()
            self._wallets[user_id] = (time.monotonic(), payer, signer)

    def chain_time(self) -> int:
        """The latest block's timestamp, shared by the process and at most 200 ms old."""
        url = self.outbox.client.rpc_url
        now = time.monotonic()
        cached = _CLOCKS.get(url)
        if cached is not None and now - cached[0] < CHAIN_TIME_TTL_S:
            return cached[1]
        value = self.chain.chain_time()
        with _CLOCKS_GUARD:
            _CLOCKS[url] = (now, value)
        return value

    def _accept_custodial(
        self, user_id: int, payer: str, request: PayRequest, snapshot: _Snapshot
    ) -> _Accepted:
        merchant, nonce = snapshot.merchant, snapshot.nonce
        self._check_rules(payer, request.program_id, request.amount, snapshot)
        deadline = self.chain_time() + DEADLINE_S
        message = PaymentMessage(
            payer=payer,
            program_id=request.program_id,
            merchant=merchant.wallet_address,
            amount=request.amount,
            order_ref=order_reference(payer, nonce, request.order_id),
            nonce=nonce,
            deadline=deadline,
        )
        signature = sign_payment(self._signer(user_id, payer), message, self.separator)
        return _Accepted(message, signature, merchant.id, request.order_id, user_id, True, nonce)

    def _accept_signed(
        self, user_id: int, payer: str, request: SignedPayRequest, snapshot: _Snapshot
    ) -> _Accepted:
        merchant = snapshot.merchant
        message = PaymentMessage(
            payer=payer,
            program_id=request.program_id,
            merchant=merchant.wallet_address,
            amount=request.amount,
            order_ref=order_reference(payer, request.nonce, request.order_id),
            nonce=request.nonce,
            deadline=request.deadline,
        )
        signature = _signature_bytes(request.signature)
        recovered = Account._recover_hash(message.digest(self.separator), signature=signature)
        if recovered.lower() != payer.lower():
            raise PaymentRefused(Reason.BAD_SIGNATURE)
        if request.deadline <= self.chain.chain_time():
            raise PaymentRefused(Reason.DEADLINE_PASSED)
        if self.chain.read_one(self.chain.voucher, "nonceUsed", [payer, request.nonce]):
            raise PaymentRefused(Reason.NONCE_USED)
        self._check_rules(payer, request.program_id, request.amount, snapshot)
        return _Accepted(
            message, signature, merchant.id, request.order_id, user_id, False, snapshot.nonce
        )

    def _prepare(
        self, scope: str, key: str, payer: str, program_id: int, merchant_code: str
    ) -> _Snapshot | None:
        """One read: None if the Idempotency-Key was used already (its answer is replayed);
        else the merchant, the payer's next nonce, unsettled total, daily cap and grants."""
        with read_session(self.context) as session:
            if IdempotencyRepository(session).find(scope, key) is not None:
                return None
            repo = PaymentRepository(session)
            merchant = _active_merchant(repo, merchant_code)
            program = repo.program(program_id)
            if program is None:
                raise NotFound("No such allowance program.", "없는 지원 사업입니다.")
            session.expunge(merchant)
            return _Snapshot(
                merchant=merchant,
                nonce=repo.next_nonce(payer),
                open_sum=repo.open_sum(payer, program_id),
                daily_cap=program.daily_cap,
                grants=[
                    (g.amount, r.round_id) for g, r in repo.claimable_grants(program_id, payer)
                ],
            )

    def _check_rules(self, payer: str, program_id: int, amount: int, snapshot: _Snapshot) -> None:
        """Refuse with the contract's reason, counting payments still on their way.

        The database was read first and the chain afterwards (all views in one JSON-RPC
        batch, at the latest block): a payment that settles in between is counted twice
        (too strict), never not at all.
        """
        open_sum = snapshot.open_sum
        calls: list[tuple[str, list[int | str]]] = [
            ("checkPayment", [program_id, payer, snapshot.merchant.wallet_address, amount]),
            ("balanceOf", [payer, program_id]),
        ]
        if snapshot.daily_cap and open_sum:
            calls.append(("paidToday", [program_id, payer]))
        calls += [("leafStatus", [program_id, rnd, payer, amt]) for amt, rnd in snapshot.grants]
        results = self._chain_views(calls)
        reason, balance = Reason(results[0]), results[1]
        leaf_statuses = results[3:] if snapshot.daily_cap and open_sum else results[2:]
        claimable = sum(
            amt
            for (amt, _), status in zip(snapshot.grants, leaf_statuses, strict=True)
            if not status
        )
        if reason == Reason.INSUFFICIENT_BALANCE and balance + claimable >= amount:
            reason = Reason.NONE
        if reason != Reason.NONE:
            raise PaymentRefused(reason)
        if balance + claimable - open_sum < amount:
            raise PaymentRefused(Reason.INSUFFICIENT_BALANCE)
        if snapshot.daily_cap and open_sum and results[2] + open_sum + amount > snapshot.daily_cap:
            raise PaymentRefused(Reason.OVER_DAILY_CAP)

    def _chain_views(self, calls: list[tuple[str, list[int | str]]]) -> list[int]:
        """PolicyVoucher views with one uint result each, in one JSON-RPC batch request."""
        to = self.chain.voucher.address
        payload = [
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "eth_call",
                "params": [{"to": to, "data": _view_data(fn, args)}, "latest"],
            }
            for i, (fn, args) in enumerate(calls)
        ]
        try:
            answers = self._rpc.post(self.outbox.client.rpc_url, json=payload).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ChainError(f"RPC eth_call batch failed: {exc}") from exc
        if not isinstance(answers, list) or len(answers) != len(calls):
            raise ChainError(f"RPC eth_call batch failed: {answers}")
        results: dict[int, int] = {}
        for answer in answers:
            if "error" in answer or not answer.get("result"):
                raise ChainError(f"RPC eth_call failed: {answer.get('error', answer)}")
            results[int(answer["id"])] = int(answer["result"][2:66] or "0", 16)
        return [results[i] for i in range(len(calls))]

    def _view_uint(self, fn: str, args: list[int | str], block: int) -> int:
        """A PolicyVoucher view with static arguments and one uint result at `block`."""
        data = _view_data(fn, args)
        out = self.outbox.client.call({"to": self.chain.voucher.address, "data": data}, block)
        return int.from_bytes(out[:32], "big")

    def _claimable(self, program_id: int, payer: str, block: int) -> int:
        """Open Merkle grants of the payer, not yet claimed on chain at `block`."""
        with self.context.unit_of_work() as session:
            grants = [
                (g.amount, r.round_id)
                for g, r in PaymentRepository(session).claimable_grants(program_id, payer)
            ]
        total = 0
        for amount, round_id in grants:
            status = self._view_uint("leafStatus", [program_id, round_id, payer, amount], block)
            total += amount if status == 0 else 0
        return total

    def _record(self, session: Session, accepted: _Accepted | None) -> tuple[int, dict[str, Any]]:
        """Write the payment in the Idempotency-Key's transaction, taking the payer's turn.

        The balance and daily cap were checked against the payments open when the request
        was read (`_prepare`). The payer's cursor row, taken locked here, says whether another
        payment of this payer was accepted since, in this process or another (the in-process
        `payer_lock` does not reach other worker processes): then the check is stale and the
        request gets 409 to retry. For a platform wallet the cursor is also the nonce it signs
        with; a self-custody wallet picks its own nonces, and its cursor only counts turns.
        """
        if accepted is None:
            raise Conflict(
                "This Idempotency-Key is being used by another request; retry.",
                "같은 멱등성 키의 요청이 처리 중입니다. 다시 시도하세요.",
            )
        message = accepted.message
        repo = PaymentRepository(session)
        if not repo.take_nonce(message.payer, accepted.turn):
            raise Conflict(
                "Another payment from this wallet was accepted meanwhile; retry.",
                "이 지갑의 다른 결제가 방금 접수되었습니다. 다시 시도하세요.",
            )
        record = repo.add(
            PaymentRecord(
                program_id=message.program_id,
                payer=message.payer,
                payer_user_id=accepted.user_id,
                merchant_id=accepted.merchant_id,
                merchant=message.merchant,
                amount=message.amount,
                order_ref="0x" + message.order_ref.hex(),
                order_id=accepted.order_id,
                nonce=message.nonce,
                deadline=message.deadline,
                signature="0x" + accepted.signature.hex(),
                state=PaymentState.PENDING,
            )
        )
        return 202, _pending_answer(record)

    def _finish(
        self, scope: str, key: str, status: int, body: dict[str, Any], replayed: bool, wait_s: float
    ) -> tuple[int, dict[str, Any]]:
        payment_id = int(body["payment"]["id"])
        if not replayed:
            crash_point("after_payment_commit")
            relayer.wake()
        if status != 202:
            return status, body
        in_process = relayer.is_running()
        waits = wait_s > 0 and (in_process or self._relayer_elsewhere())
        if not replayed and not waits:
            return status, body  # just committed: still pending, no need to read it back
        if waits and in_process:
            relayer.wait_settled(payment_id, wait_s)
        elif waits:
            self._poll_settled(payment_id, wait_s)
        with self.context.unit_of_work() as session:
            record = PaymentRepository(session).get(payment_id)
            assert record is not None
            if record.state not in FINAL_STATES:
                return status, body
            answer = self._answer(session, record)
        final = 200 if record.state == PaymentState.CONFIRMED else 422
        IdempotencyService(self.context).update_answer(scope, key, final, answer)
        return final, answer

    def _relayer_elsewhere(self) -> bool:
        """Whether a runtime in another process (and so its relayer) works on this database;
        asked at most every RUNTIME_PROBE_TTL_S (a web worker beside `busanchain up`)."""
        now = time.monotonic()
        if now - self._runtime_probe[0] >= RUNTIME_PROBE_TTL_S:
            self._runtime_probe = (now, runtime_running(self.context.engine))
        return self._runtime_probe[1]

    def _poll_settled(self, payment_id: int, wait_s: float) -> None:
        """Wait up to `wait_s` for another process's relayer to settle the payment, reading
        its row every SETTLE_POLL_S (the in-process signal does not cross processes)."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            with read_session(self.context) as session:
                record = PaymentRepository(session).get(payment_id)
                if record is None or record.state in FINAL_STATES:
                    return
            time.sleep(min(SETTLE_POLL_S, max(0.0, deadline - time.monotonic())))

    def _answer(self, session: Session, record: PaymentRecord) -> dict[str, Any]:
        answer: dict[str, Any] = {"payment": self._view(session, record, "ko")}
        if record.state == PaymentState.FAILED and record.reason is not None:
            reason = Reason(record.reason)
            answer["error"] = {
                "code": "payment_failed",
                "message": reason_text(reason, "ko"),
                "details": {"reason": int(reason), "reason_name": reason.name},
            }
        return answer

    # -- reading ----------------------------------------------------------------------------

    def merchant_card(self, code: str, lang: str = "ko") -> dict[str, Any]:
        """What a citizen sees before paying: shop name, category and district."""
        with self.context.unit_of_work() as session:
            merchant = _active_merchant(PaymentRepository(session), code)
            category = categories().get(merchant.mcc)
            district = districts().get(merchant.district)
            en = lang == "en"
            return {
                "code": merchant.code,
                "name": (merchant.shop_name_en or merchant.shop_name_ko)
                if en
                else merchant.shop_name_ko,
                "mcc": merchant.mcc,
                "category": (category.name_en if en else category.name_ko) if category else "",
                "district_code": merchant.district,
                "district": (district.name_en if en else district.name_ko) if district else "",
            }

    def receipt(self, payment_id: int, viewer: User, lang: str = "ko") -> dict[str, Any]:
        """A payment as its payer, its merchant's owner, officials and auditors see it."""
        with self.context.unit_of_work() as session:
            repo = PaymentRepository(session)
            record = repo.get(payment_id)
            if record is None or not _may_read(repo, record, viewer):
                raise NotFound("No such payment.", "해당 결제가 없습니다.")
            return self._view(session, record, lang)

    def mine(
        self, user_id: int, program_id: int | None = None, lang: str = "ko", limit: int = 50
    ) -> list[dict[str, Any]]:
        """A citizen's payments, newest first."""
        with self.context.unit_of_work() as session:
            records = PaymentRepository(session).of_payer_user(user_id, program_id, limit)
            return self._views(session, records, lang)

    def incoming(self, owner_user_id: int, since_id: int = 0, lang: str = "ko") -> dict[str, Any]:
        """Payments to the shops a merchant owns, newest first (for live polling)."""
        with self.context.unit_of_work() as session:
            repo = PaymentRepository(session)
            shops = repo.merchants_of_owner(owner_user_id)
            records = repo.of_merchants([m.id for m in shops], since_id)
            views = self._views(session, records, lang)
            return {
                "shops": [{"id": m.id, "code": m.code, "name": m.shop_name_ko} for m in shops],
                "payments": views,
                "last_id": max([since_id] + [v["id"] for v in views]),
            }

    def _views(
        self, session: Session, records: Sequence[PaymentRecord], lang: str
    ) -> list[dict[str, Any]]:
        refunds = PaymentRepository(session).refunds_of([r.id for r in records])
        return [self._view(session, r, lang, refunds) for r in records]

    def _view(
        self,
        session: Session,
        record: PaymentRecord,
        lang: str,
        refunds: Sequence[RefundRecord] | None = None,
    ) -> dict[str, Any]:
        repo = PaymentRepository(session)
        merchant = repo.merchant(record.merchant_id)
        program = repo.program(record.program_id)
        entry = repo.entry(record.batch_entry_id) if record.batch_entry_id else None
        if refunds is None:
            refunds = repo.refunds_of([record.id])
        return payment_view(record, merchant, program, entry.tx_hash if entry else None, lang) | {
            "refunds": [refund_view(r) for r in refunds if r.payment_id == record.id]
        }

    def wallet(self, user_id: int, lang: str = "ko") -> dict[str, Any]:
        """Per program: balance on chain (plus open claims), expiry countdown, spent, refunded."""
        payer = key_service_for(self.context).custodial_address(user_id)
        if payer is None:
            raise NotFound("You have no wallet yet.", "아직 지갑이 없습니다.")
        now = self.chain.chain_time()
        block = self.outbox.client.block_number()
        with self.context.unit_of_work() as session:
            repo = PaymentRepository(session)
            programs = [(p.id, p.name_ko, p.name_en, p.expires_at) for p in repo.live_programs()]
            totals = {pid: repo.spent(user_id, pid) for pid, *_ in programs}
            pending = {pid: repo.open_sum(payer, pid) for pid, *_ in programs}
        cards = []
        for pid, name_ko, name_en, expires_at in programs:
            balance = self.chain.voucher_balance(payer, pid)
            claimable = self._claimable(pid, payer, block)
            spent, refunded = totals[pid]
            if balance + claimable == 0 and spent == 0:
                continue
            cards.append(
                _card(pid, name_en if lang == "en" else name_ko, expires_at, now)
                | {
                    "balance": balance,
                    "claimable": claimable,
                    "pending": pending[pid],
                    "available": max(balance + claimable - pending[pid], 0),
                    "spent": spent,
                    "refunded": refunded,
                }
            )
        return {"address": payer, "chain_time": now, "programs": cards}


# -- helpers ----------------------------------------------------------------------------------


def _view_data(fn: str, args: list[int | str]) -> str:
    """Calldata of a view with static arguments, encoded by hand (web3's ABI encoder was a
    third of the accept path's time under cProfile)."""
    words = "".join(
        (a[2:].lower() if isinstance(a, str) else format(a, "x")).rjust(64, "0") for a in args
    )
    return "0x" + VIEW_SELECTORS[fn] + words


def _check_amount(amount: int) -> None:
    if not 0 < amount <= MAX_AMOUNT:
        raise (
            PaymentRefused(Reason.ZERO_AMOUNT)
            if amount == 0
            else ValidationFailed(
                "The amount must be a positive whole number of won.",
                "금액은 0보다 큰 원 단위 정수여야 합니다.",
            )
        )


def _signature_bytes(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 65:
        raise PaymentRefused(Reason.BAD_SIGNATURE)
    return raw


def _active_merchant(repo: PaymentRepository, code: str) -> MerchantRecord:
    merchant = repo.merchant_by_code(code.strip().upper())
    if merchant is None:
        raise NotFound("No merchant has this code.", "이 코드의 가맹점이 없습니다.")
    if merchant.status == "suspended":
        raise PaymentRefused(Reason.MERCHANT_SUSPENDED)
    if merchant.status != "active":
        raise PaymentRefused(Reason.MERCHANT_NOT_REGISTERED)
    return merchant


def _may_read(repo: PaymentRepository, record: PaymentRecord, viewer: User) -> bool:
    if record.payer_user_id == viewer.id or READ_ALL_ROLES & set(viewer.roles):
        return True
    merchant = repo.merchant(record.merchant_id)
    return merchant is not None and merchant.owner_user_id == viewer.id


def _pending_answer(record: PaymentRecord) -> dict[str, Any]:
    return {
        "payment": {
            "id": record.id,
            "state": record.state,
            "program_id": record.program_id,
            "payer": record.payer,
            "merchant": record.merchant,
            "amount": record.amount,
            "nonce": record.nonce,
            "deadline": record.deadline,
            "status_url": f"/api/payments/{record.id}",
        }
    }


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def payment_view(
    record: PaymentRecord,
    merchant: MerchantRecord | None,
    program: ProgramRecord | None,
    tx_hash: str | None,
    lang: str = "ko",
) -> dict[str, Any]:
    """The JSON form of a payment (receipts, lists)."""
    reason = Reason(record.reason) if record.reason is not None else None
    return {
        "id": record.id,
        "state": record.state,
        "program_id": record.program_id,
        "program_name": (program.name_en if lang == "en" else program.name_ko) if program else "",
        "payer": record.payer,
        "merchant": record.merchant,
        "merchant_code": merchant.code if merchant else None,
        "merchant_name": (
            (merchant.shop_name_en or merchant.shop_name_ko)
            if lang == "en"
            else merchant.shop_name_ko
        )
        if merchant
        else "",
        "amount": record.amount,
        "refunded": record.refunded,
        "order_id": record.order_id,
        "order_ref": record.order_ref,
        "nonce": record.nonce,
        "deadline": record.deadline,
        "reason": int(reason) if reason is not None else None,
        "reason_name": reason.name if reason is not None else None,
        "reason_text": reason_text(reason, lang) if reason is not None else None,
        "chain_payment_id": record.chain_payment_id,
        "day": record.day,
        "business_day": record.business_day.isoformat() if record.business_day else None,
        "block_number": record.block_number,
        "tx_hash": tx_hash if record.state != PaymentState.PENDING else None,
        "created_at": _iso(record.created_at),
        "confirmed_at": _iso(record.confirmed_at),
        "status_url": f"/api/payments/{record.id}",
    }


def refund_view(record: RefundRecord) -> dict[str, Any]:
    """The JSON form of a refund."""
    return {
        "id": record.id,
        "payment_id": record.payment_id,
        "amount": record.amount,
        "state": record.state,
        "reason": record.reason,
        "created_at": _iso(record.created_at),
        "confirmed_at": _iso(record.confirmed_at),
    }


def _card(program_id: int, name: str, expires_at: datetime, now: int) -> dict[str, Any]:
    expiry = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
    seconds_left = int(expiry.timestamp()) - now
    return {
        "program_id": program_id,
        "name": name,
        "expires_at": expiry.isoformat(),
        "expires_on_kst": (expiry + KST).date().isoformat(),
        "seconds_left": max(seconds_left, 0),
        "days_left": max(seconds_left, 0) // 86_400,
        "expired": seconds_left <= 0,
    }
