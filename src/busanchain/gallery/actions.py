"""Gallery actions that end things on chain: cancel an auction (seller, or a moderator for a
frozen token), cancel one signed order for good, and withdraw credited DigitalWon.

Built on `GalleryService`: its keys (`_signer`, `_owner_signer`), gas top-up and outbox send
(`_send`) are reused, so every transaction here goes through the outbox like the rest of the
gallery. The two actions that move money (a moderator's cancel refunds the top bidder; a
withdrawal pays out a credit) need an Idempotency-Key: the transaction is committed to the
outbox in the same unit of work as the key, then broadcast, and a repeat of the key replays
the answer (or follows a still-pending transaction to its end). Every rule the contract
enforces is checked first with reads, so a refused request costs no gas and spends no nonce.

Credits: when the contract cannot pay someone (a failed DigitalWon transfer, e.g. while the
token is paused or the payee is blocked), it keeps the amount as `credits[payee]`; only the
payee can `withdraw` it, so for a custodial user the platform signs that with their key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak
from sqlalchemy.orm import Session

from busanchain.chain.signing import Signer
from busanchain.domain.errors import Conflict, PermissionDenied, TransactionReverted
from busanchain.gallery import repository as repo
from busanchain.gallery.errors import REVERT_TEXT, friendly_revert, not_found
from busanchain.gallery.service import WAIT_S, GalleryService
from busanchain.gallery.tables import (
    GalleryAuction,
    GalleryOrder,
    OrderState,
)
from busanchain.idempotency.service import IdempotencyService, parse_key, request_fingerprint
from busanchain.outbox.nonces import key_lock
from busanchain.outbox.service import TxOutcome
from busanchain.outbox.tables import OutboxState

AUCTION_LIVE = 1
ORDER_STATUSES = ("open", "filled", "cancelled")
WITHDRAWN_TOPIC = "0x" + keccak(text="Withdrawn(address,address,uint256)").hex()

# Refusals of these actions, as (Korean, English).
ACTION_TEXT: dict[str, tuple[str, str]] = {
    "AuctionHasBids": (
        "입찰이 들어온 경매는 취소할 수 없습니다",
        "An auction with a bid cannot be cancelled",
    ),
    "NotSeller": (
        "경매를 연 판매자만 취소할 수 있습니다",
        "Only the seller may cancel the auction",
    ),
    "OrderDead": (
        "이미 체결될 수 없는 주문이라 블록체인에서 취소할 필요가 없습니다",
        "This order can no longer be filled; there is nothing to cancel on chain",
    ),
    "NothingToWithdraw": ("출금할 적립금이 없습니다", "You have no credit to withdraw"),
    "TokenPaused": (
        "디지털원 이체가 일시 정지되어 있습니다. 잠시 뒤 다시 시도하세요",
        "DigitalWon transfers are paused; try again later",
    ),
}


def _refuse(name: str, **details: Any) -> Conflict:
    ko, en = ACTION_TEXT.get(name) or REVERT_TEXT[name]
    return Conflict(en, ko, **details)


class GalleryActions:
    """Cancel auctions and orders on chain; withdraw credits."""

    def __init__(self, gallery: GalleryService) -> None:
        self.gallery = gallery
        self.chain = gallery.chain
        self.outbox = gallery.outbox

    # -- auctions ------------------------------------------------------------------------------

    def _auction_row(self, auction_id: int) -> GalleryAuction:
        with self.gallery.context.unit_of_work() as session:
            row = repo.get(session, GalleryAuction, auction_id)
            if row is None:
                raise not_found("auction", "경매")
            session.expunge(row)
            return row

    def _live_record(self, row: GalleryAuction) -> tuple[Any, ...]:
        """The chain's record of a live auction; 409 when it is settled or cancelled."""
        live: tuple[Any, ...] = self.chain.read(
            self.chain.gallery, "auctionOf", [row.chain_auction_id]
        )[0]
        if int(live[3]) != AUCTION_LIVE:
            raise _refuse("AuctionNotLive")
        return live

    def cancel_auction(self, user_id: int, auction_id: int) -> dict[str, Any]:
        """The seller cancels their auction before its first bid; the work comes back.

        Raises:
            NotFound: unknown auction. PermissionDenied: not the seller.
            Conflict: it has a bid, has ended, or is already settled or cancelled.
        """
        row = self._auction_row(auction_id)
        signer = self.gallery._signer(user_id)
        if row.seller_user_id != user_id or row.seller != signer.address:
            ko, en = ACTION_TEXT["NotSeller"]
            raise PermissionDenied(en, ko)
        live = self._live_record(row)
        if int(live[4], 16) != 0 or self._bid_in_flight(auction_id):
            raise _refuse("AuctionHasBids", highest_bid=int(live[9]))
        if self.chain.chain_time() >= int(live[5]):
            raise _refuse("AuctionEnded", end_time=int(live[5]))
        data = self.chain.calldata(self.chain.gallery, "cancelAuction", [row.chain_auction_id])
        self._send(signer, "gallery.cancel_auction", data, f"auction:{auction_id}")
        return self._closed(auction_id, row.token_id)

    def _bid_in_flight(self, auction_id: int) -> bool:
        """A bid of this auction is in the outbox and not mined yet (it would win the race)."""
        with self.gallery.context.unit_of_work() as session:
            bids = repo.bids_of(session, auction_id)
            pending = [b.entry_id for b in bids if b.state == "pending" and b.entry_id]
        return any(self.outbox.refresh(e).status in OutboxState.OPEN for e in pending)

    def _send(self, signer: Signer, intent: str, data: bytes, reference: str) -> TxOutcome:
        """`GalleryService._send`, with this module's reverts (a bid that got in first) as 409."""
        try:
            return self.gallery._send(signer, intent, data, reference)
        except TransactionReverted as exc:
            name = str(exc.details.get("reason", "")).split("(")[0].strip()
            if name in ACTION_TEXT:
                raise _refuse(name) from exc
            raise

    def _closed(self, auction_id: int, token_id: int) -> dict[str, Any]:
        """Record the chain's end state of an auction and the work's owner; the auction view."""
        self.gallery._record_settlement(auction_id, [])
        self.gallery.ownership.sync(token_id)
        return self.gallery.auction(auction_id)

    def cancel_frozen_auction(
        self, admin_id: int, auction_id: int, idempotency_key: str | None, wait_s: float = WAIT_S
    ) -> tuple[int, dict[str, Any]]:
        """A moderator cancels the auction of a frozen work, once per Idempotency-Key: the top
        bidder is refunded (or credited) and the work goes back to the seller. The admin is
        on record as the outbox entry's key scope (a moderation row would read as the token's
        latest freeze decision in the moderation queue, so none is added).

        Answers 200 cancelled, 202 pending (repeat with the same key), 422 reverted.

        Raises:
            NotFound: unknown auction. Conflict: not live, or the work is not frozen.
        """
        key = parse_key(idempotency_key)
        scope = f"gallery.cancel_frozen:user:{admin_id}"
        path = f"/api/gallery/auctions/{auction_id}/cancel-frozen"
        row = self._auction_row(auction_id)
        if not self.gallery._seen(scope, key):
            self._live_record(row)
            if not self.chain.is_frozen(row.token_id):
                raise _refuse("NotFrozen")
        data = self.chain.calldata(
            self.chain.gallery, "cancelFrozenAuction", [row.chain_auction_id]
        )

        def confirmed(outcome: TxOutcome) -> dict[str, Any]:
            return {"auction": self._closed(auction_id, row.token_id)}

        call = _OnceCall(scope, key, request_fingerprint("POST", path, {}), f"auction:{auction_id}")
        return self._once(
            call, self.gallery.operator, "gallery.cancel_frozen", data, confirmed, wait_s
        )

    # -- one order, on chain -------------------------------------------------------------------

    def cancel_order_onchain(self, user_id: int, order_id: int, side: int) -> dict[str, Any]:
        """Cancel one of your orders for good: off chain first (the matcher stops co-signing),
        then `cancelOrder` from your key, so even a leaked signature can never fill.

        Raises:
            NotFound: not your order of that side. Conflict: being filled, filled, or already
            unable to fill (expired, or all your orders were cancelled by a nonce bump).
        """
        answer = self.gallery.cancel_order(user_id, order_id, side)
        row = self._order_row(order_id)
        status = ORDER_STATUSES[
            int(self.chain.read_one(self.chain.gallery, "orderStatus", [row.order_hash]))
        ]
        if status == "cancelled":
            return {**answer, "onchain": status, "tx_hash": None}
        if status == "filled" or row.state == OrderState.FILLED:
            raise _refuse("OrderNotOpen", state=row.state)
        if not self._may_still_fill(row):
            raise _refuse("OrderDead")
        signer = self.gallery._signer(user_id)
        if signer.address != row.maker:
            raise not_found("order", "주문")
        order = self._order_tuple(row)
        data = self.chain.calldata(self.chain.gallery, "cancelOrder", [order])
        outcome = self._send(signer, "gallery.cancel_order", data, f"order:{order_id}")
        return {**self.gallery.order(order_id), "onchain": "cancelled", "tx_hash": outcome.tx_hash}

    def _order_row(self, order_id: int) -> GalleryOrder:
        with self.gallery.context.unit_of_work() as session:
            row = repo.get(session, GalleryOrder, order_id)
            assert row is not None
            session.expunge(row)
            return row

    def _may_still_fill(self, row: GalleryOrder) -> bool:
        """Not expired and carrying the maker's current nonce."""
        nonce = int(self.chain.read_one(self.chain.gallery, "makerNonce", [row.maker]))
        return self.chain.chain_time() < row.expiry and nonce == row.nonce

    @staticmethod
    def _order_tuple(row: GalleryOrder) -> tuple[Any, ...]:
        return (row.maker, row.side, row.token_id, row.price, row.expiry, row.nonce, int(row.salt))

    # -- credits -------------------------------------------------------------------------------

    def credit_of(self, address: str) -> int:
        """DigitalWon the gallery holds for `address` after a failed payout."""
        return int(self.chain.read_one(self.chain.gallery, "credits", [address]))

    def credit(self, user_id: int) -> dict[str, Any]:
        """The caller's custodial address and its credit."""
        address = self.gallery._signer(user_id).address
        return {"address": address, "credit": self.credit_of(address)}

    def withdraw(
        self, user_id: int, idempotency_key: str | None, wait_s: float = WAIT_S
    ) -> tuple[int, dict[str, Any]]:
        """Send your whole credit to your own (custodial) wallet, once per Idempotency-Key.

        Answers 200 withdrawn (with the amount), 202 pending, 422 reverted.

        Raises:
            Conflict: no credit, or DigitalWon transfers are paused.
        """
        key = parse_key(idempotency_key)
        signer = self.gallery._signer(user_id)
        scope = f"gallery.withdraw:user:{user_id}"
        if not self.gallery._seen(scope, key):
            credit = self.credit_of(signer.address)
            if credit == 0:
                raise _refuse("NothingToWithdraw")
            if self.chain.read_one(self.chain.token, "paused", []):
                raise _refuse("TokenPaused", credit=credit)
            self.gallery._top_up_gas(signer.address)
        data = self.chain.calldata(self.chain.gallery, "withdraw", [signer.address])

        def confirmed(outcome: TxOutcome) -> dict[str, Any]:
            return {
                "amount": self._withdrawn_in(outcome.tx_hash),
                "to": signer.address,
                "credit": self.credit_of(signer.address),
            }

        fingerprint = request_fingerprint("POST", "/api/gallery/me/withdraw", {})
        call = _OnceCall(scope, key, fingerprint, f"user:{user_id}")
        return self._once(call, signer, "gallery.withdraw", data, confirmed, wait_s)

    def _withdrawn_in(self, tx_hash: str) -> int:
        """The amount of the gallery's `Withdrawn` event in a mined transaction."""
        receipt = self.outbox.client.receipt(tx_hash) or {}
        for log in receipt.get("logs", []):
            topics = [str(t).lower() for t in log.get("topics", [])]
            same = str(log.get("address", "")).lower() == self.chain.gallery.address.lower()
            if same and topics and topics[0] == WITHDRAWN_TOPIC:
                return int(str(log["data"]), 16)
        return 0

    # -- one transaction per Idempotency-Key ---------------------------------------------------

    def _once(
        self,
        call: _OnceCall,
        signer: Signer,
        intent: str,
        data: bytes,
        confirmed: Callable[[TxOutcome], dict[str, Any]],
        wait_s: float,
    ) -> tuple[int, dict[str, Any]]:
        """Enqueue `data` from `signer` with the key claimed in the same unit of work, then
        broadcast and wait; a replay of a finished answer is returned as it was."""
        idem = IdempotencyService(self.gallery.context)

        def work(session: Session) -> tuple[int, dict[str, Any]]:
            try:
                entry = self.outbox.enqueue(
                    session,
                    signer=signer,
                    intent=intent,
                    to=self.chain.gallery.address,
                    data=data,
                    reference=call.reference,
                )
            except TransactionReverted as exc:
                raise friendly_revert(exc) from exc
            return 202, {"state": "pending", "operation_id": entry.id, "tx_hash": entry.tx_hash}

        with key_lock(self.chain.chain_id, signer.address):
            stored = idem.run(call.scope, call.key, call.fingerprint, work)
        if stored.replayed and stored.body.get("state") != "pending":
            return stored.status_code, stored.body
        status, answer = self._follow(int(stored.body["operation_id"]), confirmed, wait_s)
        idem.update_answer(call.scope, call.key, status, answer)
        return status, answer

    def _follow(
        self, entry_id: int, confirmed: Callable[[TxOutcome], dict[str, Any]], wait_s: float
    ) -> tuple[int, dict[str, Any]]:
        self.outbox.broadcast(entry_id)
        outcome = self.outbox.wait(entry_id, wait_s)
        base = {"operation_id": entry_id, "tx_hash": outcome.tx_hash}
        if outcome.status in OutboxState.OPEN:
            return 202, {**base, "state": "pending"}
        if outcome.status == OutboxState.CONFIRMED:
            return 200, {**base, "state": "confirmed", **confirmed(outcome)}
        error = (outcome.revert_reason or outcome.status)[:300]
        return 422, {**base, "state": "failed", "error": error}


@dataclass(frozen=True)
class _OnceCall:
    """Who asked what, under which key, and the outbox reference of its transaction."""

    scope: str
    key: str
    fingerprint: str
    reference: str
