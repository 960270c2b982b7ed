"""Gallery use cases: the order book, buying, offers, auctions, moderation, exhibitions, browse.

Users are custodial: the platform signs with their keys, and they hold no ether (the operator
tops their gas up before a transaction of theirs, like merchants' refunds). Listing costs
nothing: the owner's key signs an EIP-712 `Order` and a one-time `ApprovalForAll` of the
gallery, which the operator relays. Every fill needs the matcher's (operator's) short-lived
`FillAuth`, and the matcher signs only for orders that are open in the book, so an off-chain
cancel is final once the last co-signature expires. Money-moving requests (buy, accept, bid)
carry an Idempotency-Key; their transactions are committed to the outbox in the same unit of
work as the key before anything is broadcast. Every rule the contract would enforce is checked
first with reads, so a refused request costs no gas and spends no nonce.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol, cast

from eth_abi import decode
from eth_utils import keccak
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from busanchain.chain.client import RpcError
from busanchain.chain.signing import Signer
from busanchain.db.base import utcnow
from busanchain.domain.addresses import parse_address
from busanchain.domain.errors import (
    ChainError,
    Conflict,
    PermissionDenied,
    TransactionReverted,
    ValidationFailed,
)
from busanchain.domain.personal import clean_text
from busanchain.explorer.service import explorer_service_for
from busanchain.gallery import repository as repo
from busanchain.gallery.chainview import ChainView, Head
from busanchain.gallery.errors import (
    REVERT_TEXT,
    ExternalWallet,
    InsufficientFunds,
    OrderClosed,
    TokenFrozen,
    friendly_revert,
    not_found,
)
from busanchain.gallery.market import (
    FillAuth,
    Order,
    PermitMessage,
    listing,
    offer,
    sign_fill_auth,
    sign_order,
    sign_permit,
)
from busanchain.gallery.ownership import GalleryChain, OwnershipSync
from busanchain.gallery.tables import (
    AuctionState,
    GalleryAppeal,
    GalleryAuction,
    GalleryBid,
    GalleryExhibition,
    GalleryExhibitionItem,
    GalleryModeration,
    GalleryOrder,
    GalleryReport,
    GallerySale,
    OrderSide,
    OrderState,
)
from busanchain.idempotency.repository import IdempotencyRepository
from busanchain.idempotency.service import IdempotencyService, parse_key, request_fingerprint
from busanchain.keys.service import key_service_for
from busanchain.outbox.nonces import key_lock
from busanchain.outbox.service import OutboxService, TxOutcome
from busanchain.outbox.tables import OutboxState
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.platform.reads import read_session
from busanchain.studio import repository as studio_repo
from busanchain.studio.contracts import PhotoDomain, sign_approval_for_all
from busanchain.studio.tables import PhotographerRecord, PhotoRecord, StudioRecord, StudioStatus

WAIT_S = 10.0
FILL_AUTH_TTL_S = 300  # the matcher's co-signature lives 5 minutes (contract max: 1 hour)
PERMIT_TTL_S = 3_600
APPROVAL_TTL_S = 3_600
MAX_ORDER_TTL_S = 180 * 24 * 3600
MAX_AUCTION_S = 90 * 24 * 3600
MIN_GAS_WEI = 2 * 10**15
TOP_UP_WEI = 2 * 10**16
PAGE_SIZE = 24
_READS = threading.RLock()  # one public read transaction at a time per process
SERVICE_NAME = "gallery"
REPORT_KINDS = ("copy", "theft", "other")
FREEZE_REASONS = ("copy", "theft", "abuse", "privacy", "other")
SALE_KINDS = ("listing", "offer", "auction")
SALE_TOPIC = (
    "0x"
    + keccak(
        text="Sale(bytes32,uint256,address,address,uint256,uint256,address,uint256,uint8)"
    ).hex()
)
AUCTION_CREATED_TOPIC = (
    "0x" + keccak(text="AuctionCreated(uint256,uint256,address,uint256,uint64,uint64,uint16)").hex()
)
CHAIN_AUCTION_STATES = ("none", "live", "settled", "cancelled")


def order_dict(order: GalleryOrder) -> dict[str, Any]:
    """An order as JSON (the signature is public: anyone may verify it)."""
    return {
        "id": order.id,
        "side": "listing" if order.side == OrderSide.LISTING else "offer",
        "maker": order.maker,
        "token_id": order.token_id,
        "price": order.price,
        "expiry": order.expiry,
        "nonce": order.nonce,
        "order_hash": order.order_hash,
        "state": order.state,
        "operation_id": order.fill_entry_id,
        "error": order.fill_error,
    }


def sale_dict(sale: GallerySale) -> dict[str, Any]:
    """A sale and its exact split."""
    return {
        "id": sale.id,
        "kind": sale.kind,
        "token_id": sale.token_id,
        "seller": sale.seller,
        "buyer": sale.buyer,
        "price": sale.price,
        "royalty": sale.royalty,
        "royalty_receiver": sale.royalty_receiver,
        "fee": sale.fee,
        "seller_proceeds": sale.proceeds,
        "tx_hash": sale.tx_hash,
    }


def _order_struct(order: GalleryOrder) -> Order:
    return Order(
        order.maker,
        order.side,
        order.token_id,
        order.price,
        order.expiry,
        order.nonce,
        int(order.salt),
    )


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


class GalleryService:
    """The gallery market, its moderation and its public views."""

    def __init__(self, context: PlatformContext, outbox: OutboxService | None = None) -> None:
        self.context = context
        self.outbox = outbox or OutboxService(context)
        self.chain = GalleryChain(context, self.outbox)
        self.operator: Signer = operator_signer(context.settings)
        self.ownership = OwnershipSync(context, self.chain)

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        """A read-only session for the public reads, one at a time in this process.

        Deferred read transactions (`platform/reads.py`) do not wait for other processes'
        write locks, which several web workers on SQLite otherwise queue on. Running them
        one at a time here keeps what BEGIN IMMEDIATE gave one process: fewer threads
        contending for the GIL at once (measured in docs/benchmarks.md)."""
        with _READS, read_session(self.context) as session:
            yield session

    @cached_property
    def view(self) -> ChainView:
        """Cached per-token chain facts for the public views (see gallery/chainview.py)."""
        return ChainView(self.chain)

    # -- keys, gas and chain helpers ------------------------------------------------------------

    def _signer(self, user_id: int) -> Signer:
        return key_service_for(self.context).signer_for_user(user_id)

    def _owner_of(self, token_id: int) -> str:
        """`ownerOf`, or NotFound for a token that does not exist."""
        try:
            return self.chain.owner(token_id)
        except RpcError as exc:
            raise not_found() from exc

    def _owner_signer(self, user_id: int, token_id: int) -> Signer:
        """The caller's key if the caller's custodial wallet owns the token; else 403."""
        owner = self._owner_of(token_id)
        signer = self._signer(user_id)
        if owner == signer.address:
            return signer
        with self.context.unit_of_work() as session:
            mine = studio_repo.addresses_of_user(session, user_id)
        if owner in mine:
            raise ExternalWallet()
        raise PermissionDenied(
            "Only the owner of this work may do this.", "이 작품의 소유자만 할 수 있습니다."
        )

    def _require_not_frozen(self, token_id: int) -> None:
        if self.chain.is_frozen(token_id):
            raise TokenFrozen(token_id=token_id)

    def _top_up_gas(self, address: str) -> None:
        balance = int(self.outbox.client.request("eth_getBalance", [address, "latest"]), 16)
        if balance >= MIN_GAS_WEI:
            return
        self.outbox.execute(
            signer=self.operator,
            intent="gallery.gas",
            to=address,
            data=b"",
            value=TOP_UP_WEI,
            gas=21_000,
            reference=f"gas:{address}",
        )

    def _send(self, signer: Signer, intent: str, data: bytes, reference: str) -> TxOutcome:
        """Send a Gallery call from `signer` (topped up) and wait; reverts become ko/en errors."""
        if signer.address != self.operator.address:
            self._top_up_gas(signer.address)
        try:
            return self.outbox.execute(
                signer=signer,
                intent=intent,
                to=self.chain.gallery.address,
                data=data,
                reference=reference,
                timeout_s=WAIT_S,
            )
        except TransactionReverted as exc:
            raise friendly_revert(exc) from exc

    def _ensure_approval(self, owner: Signer) -> None:
        """Approve the gallery for all the owner's tokens, once, relayed by the operator."""
        gallery = self.chain.gallery.address
        nft = self.chain.nft
        if self.chain.read_one(nft, "isApprovedForAll", [owner.address, gallery]):
            return

        def calldata() -> bytes:  # signed once the owner's wallet is claimed
            nonce = int(self.chain.read_one(nft, "nonces", [owner.address]))
            deadline = self.chain.chain_time() + APPROVAL_TTL_S
            domain = PhotoDomain(self.chain.chain_id, nft.address)
            sig = sign_approval_for_all(owner, domain, gallery, True, nonce, deadline)
            args = [owner.address, gallery, True, nonce, deadline, sig]
            return self.chain.calldata(nft, "setApprovalForAllWithSig", args)

        self.outbox.execute(
            signer=self.operator,
            intent="gallery.approve_nft",
            to=nft.address,
            data=calldata,
            reference=f"approve:{owner.address}",
            timeout_s=WAIT_S,
            on_behalf_of=owner.address,
        )

    def _permit(self, owner: Signer, value: int, now: int) -> tuple[Any, ...]:
        nonce = int(self.chain.read_one(self.chain.token, "nonces", [owner.address]))
        message = PermitMessage(
            owner.address, self.chain.gallery.address, value, nonce, now + PERMIT_TTL_S
        )
        return sign_permit(owner, message, self.chain.token_separator)

    def _fill_auth(self, order_hash: str, taker: str, now: int) -> tuple[int, bytes]:
        """The matcher's co-signature: given only for orders open in the book."""
        auth = FillAuth(bytes.fromhex(order_hash[2:]), taker, now + FILL_AUTH_TTL_S)
        return auth.as_tuple(sign_fill_auth(self.operator, auth, self.chain.separator))

    def _seen(self, scope: str, key: str) -> bool:
        with self.context.unit_of_work() as session:
            return IdempotencyRepository(session).find(scope, key) is not None

    # -- listings and offers -------------------------------------------------------------------

    def _check_terms(self, price: int, expiry: int, now: int) -> None:
        if not 1 <= price <= 10**12:
            raise ValidationFailed(
                "The price must be 1 to 1,000,000,000,000 won.",
                "가격은 1원부터 1조 원까지입니다.",
                field="price",
            )
        if not now < expiry <= now + MAX_ORDER_TTL_S:
            raise ValidationFailed(
                "The expiry must be in the future and at most 180 days away.",
                "만료 시각은 미래여야 하며 180일 이내여야 합니다.",
                field="expiry",
            )

    def create_listing(
        self, user_id: int, token_id: int, price: int, expiry: int
    ) -> dict[str, Any]:
        """List a token at a fixed price: the owner's key signs the order; no gas for the user.

        Raises:
            NotFound: unknown token. PermissionDenied: not the owner. TokenFrozen: frozen.
            ValidationFailed: price or expiry out of range.
        """
        self._check_terms(price, expiry, self.chain.chain_time())
        signer = self._owner_signer(user_id, token_id)
        self._require_not_frozen(token_id)
        self._ensure_approval(signer)
        nonce = int(self.chain.read_one(self.chain.gallery, "makerNonce", [signer.address]))
        order = listing(signer.address, token_id, price, expiry, nonce)
        return self._store_order(user_id, signer, order)

    def create_offer(self, user_id: int, token_id: int, price: int, expiry: int) -> dict[str, Any]:
        """Offer to buy a token: the buyer's key signs an offer order (the DigitalWon allowance
        is granted by a permit relayed when the owner accepts, so idle offers lock nothing)."""
        self._check_terms(price, expiry, self.chain.chain_time())
        owner = self._owner_of(token_id)
        signer = self._signer(user_id)
        if owner == signer.address:
            ko, en = REVERT_TEXT["SelfTrade"]
            raise ValidationFailed(en, ko)
        self._require_not_frozen(token_id)
        if self.chain.balance(signer.address) < price:
            raise InsufficientFunds(balance=self.chain.balance(signer.address))
        nonce = int(self.chain.read_one(self.chain.gallery, "makerNonce", [signer.address]))
        order = offer(signer.address, token_id, price, expiry, nonce)
        return self._store_order(user_id, signer, order)

    def _store_order(self, user_id: int, signer: Signer, order: Order) -> dict[str, Any]:
        order_hash = order.order_hash(self.chain.separator)
        signature = sign_order(signer, order, self.chain.separator)
        with self.context.unit_of_work() as session:
            row = repo.add(
                session,
                GalleryOrder(
                    side=order.side,
                    maker_user_id=user_id,
                    maker=order.maker,
                    token_id=order.token_id,
                    price=order.price,
                    expiry=order.expiry,
                    nonce=order.nonce,
                    salt=str(order.salt),
                    order_hash=_hex(order_hash),
                    signature=_hex(signature),
                    state=OrderState.OPEN,
                ),
            )
            return order_dict(row)

    def order(self, order_id: int) -> dict[str, Any]:
        """An order (public: its fields and signature are what anyone could verify)."""
        with self.context.unit_of_work() as session:
            row = repo.get(session, GalleryOrder, order_id)
            if row is None:
                raise not_found("order", "주문")
            answer = order_dict(row)
            sales = repo.sales_of_order(session, order_id)
            answer["sale"] = sale_dict(sales[0]) if sales else None
            return answer

    def cancel_listing(self, user_id: int, order_id: int) -> dict[str, Any]:
        """Cancel your listing off chain (see `cancel_order`)."""
        return self.cancel_order(user_id, order_id, OrderSide.LISTING)

    def cancel_offer(self, user_id: int, order_id: int) -> dict[str, Any]:
        """Withdraw your offer off chain (see `cancel_order`)."""
        return self.cancel_order(user_id, order_id, OrderSide.OFFER)

    def cancel_order(self, user_id: int, order_id: int, side: int) -> dict[str, Any]:
        """Cancel an order off chain: the matcher never co-signs it again; costs nothing."""
        with self.context.unit_of_work() as session:
            row = repo.get(session, GalleryOrder, order_id, lock=True)
            if row is None or row.side != side or row.maker_user_id != user_id:
                raise not_found("order", "주문")
            if row.state == OrderState.FILLING:
                raise Conflict("The order is being filled right now.", "지금 체결 중인 주문입니다.")
            if row.state == OrderState.OPEN:
                row.state, row.closed_at = OrderState.CANCELLED, utcnow()
            return order_dict(row)

    def my_orders(self, user_id: int) -> list[dict[str, Any]]:
        """Your listings and offers that are still open (or being filled), newest first."""
        with self.context.unit_of_work() as session:
            return [order_dict(o) for o in repo.open_orders_of_user(session, user_id)]

    def cancel_all(self, user_id: int) -> dict[str, Any]:
        """Cancel every order of the user on chain (`incrementNonce` from their key)."""
        signer = self._signer(user_id)
        data = self.chain.calldata(self.chain.gallery, "incrementNonce", [])
        outcome = self._send(signer, "gallery.increment_nonce", data, f"user:{user_id}")
        nonce = int(self.chain.read_one(self.chain.gallery, "makerNonce", [signer.address]))
        with self.context.unit_of_work() as session:
            rows = repo.live_orders_of(session, signer.address)
            stale = [r for r in rows if r.nonce < nonce]
            for row in stale:
                row.state, row.closed_at = OrderState.CANCELLED, utcnow()
            return {"nonce": nonce, "cancelled": len(stale), "tx_hash": outcome.tx_hash}

    # -- fills (buy a listing, accept an offer) ------------------------------------------------

    def _close(self, order_id: int, state: str) -> None:
        with self.context.unit_of_work() as session:
            row = repo.get(session, GalleryOrder, order_id, lock=True)
            if row is not None and row.state == OrderState.OPEN:
                row.state, row.closed_at = state, utcnow()

    def _check_fill(self, order_id: int, side: int, taker: str) -> GalleryOrder:
        """Check an order against the chain before anything is signed or sent."""
        with self.context.unit_of_work() as session:
            row = repo.get(session, GalleryOrder, order_id)
            if row is None or row.side != side:
                raise not_found("order", "주문")
            session.expunge(row)
        if row.state != OrderState.OPEN:
            raise OrderClosed(state=row.state)
        if row.maker == taker:
            ko, en = REVERT_TEXT["SelfTrade"]
            raise ValidationFailed(en, ko)
        if self.chain.chain_time() >= row.expiry:
            self._close(order_id, OrderState.EXPIRED)
            ko, en = REVERT_TEXT["OrderExpired"]
            raise OrderClosed(en, ko, state=OrderState.EXPIRED)
        if int(self.chain.read_one(self.chain.gallery, "makerNonce", [row.maker])) != row.nonce:
            self._close(order_id, OrderState.CANCELLED)
            ko, en = REVERT_TEXT["StaleNonce"]
            raise OrderClosed(en, ko, state=OrderState.CANCELLED)
        seller = row.maker if side == OrderSide.LISTING else taker
        if self._owner_of(row.token_id) != seller:
            if side == OrderSide.LISTING:
                self._close(order_id, OrderState.STALE)
                ko, en = REVERT_TEXT["StaleOrder"]
                raise OrderClosed(en, ko, state=OrderState.STALE)
            raise PermissionDenied(
                "Only the owner of this work may accept offers.",
                "이 작품의 소유자만 제안을 수락할 수 있습니다.",
            )
        self._require_not_frozen(row.token_id)
        buyer = taker if side == OrderSide.LISTING else row.maker
        if self.chain.balance(buyer) < row.price:
            raise InsufficientFunds(price=row.price)
        return row

    def buy(
        self, user_id: int, order_id: int, idempotency_key: str | None, wait_s: float = WAIT_S
    ) -> tuple[int, dict[str, Any]]:
        """Buy a listing, once per Idempotency-Key: buyWithPermit from the buyer's key.

        Answers 200 filled (with the sale's split), 202 pending (repeat with the same key),
        422 reverted. Refuses, before anything is sent: closed, expired or stale orders (409),
        frozen tokens (409), too little DigitalWon (422).
        """
        key = parse_key(idempotency_key)
        signer = self._signer(user_id)
        scope = f"gallery.buy:user:{user_id}"
        fingerprint = request_fingerprint("POST", f"/api/gallery/listings/{order_id}/buy", {})
        if not self._seen(scope, key):
            self._check_fill(order_id, OrderSide.LISTING, signer.address)
            self._top_up_gas(signer.address)

        def work(session: Session) -> tuple[int, dict[str, Any]]:
            return self._enqueue_fill(session, order_id, signer, user_id, "buyWithPermit")

        return self._run_fill(scope, key, fingerprint, signer, order_id, work, wait_s)

    def accept_offer(
        self, user_id: int, order_id: int, idempotency_key: str | None, wait_s: float = WAIT_S
    ) -> tuple[int, dict[str, Any]]:
        """Accept an offer on your token, once per Idempotency-Key (acceptOffer from your key).

        The offer's maker is a custodial user: the operator first relays their EIP-2612 permit
        for exactly the price, so the gallery can pull it.
        """
        key = parse_key(idempotency_key)
        signer = self._signer(user_id)
        scope = f"gallery.accept:user:{user_id}"
        fingerprint = request_fingerprint("POST", f"/api/gallery/offers/{order_id}/accept", {})
        if not self._seen(scope, key):
            row = self._check_fill(order_id, OrderSide.OFFER, signer.address)
            self._ensure_approval(signer)
            self._relay_permit(row.maker, row.price)
            self._top_up_gas(signer.address)

        def work(session: Session) -> tuple[int, dict[str, Any]]:
            return self._enqueue_fill(session, order_id, signer, user_id, "acceptOffer")

        return self._run_fill(scope, key, fingerprint, signer, order_id, work, wait_s)

    def _relay_permit(self, maker: str, price: int) -> None:
        buyer = key_service_for(self.context).signer_for_address(maker)
        if buyer is None:
            raise ExternalWallet(
                "The offer's maker uses an external wallet; it must approve DigitalWon itself.",
                "제안자가 외부 지갑을 씁니다. 그 지갑에서 직접 디지털원을 승인해야 합니다.",
            )

        def calldata() -> bytes:  # signed once the buyer's wallet is claimed
            value, deadline, v, r, s = self._permit(buyer, price, self.chain.chain_time())
            args = [buyer.address, self.chain.gallery.address, value, deadline, v, r, s]
            return self.chain.calldata(self.chain.token, "permit", args)

        self.outbox.execute(
            signer=self.operator,
            intent="gallery.offer_permit",
            to=self.chain.token.address,
            data=calldata,
            reference=f"permit:{buyer.address}",
            timeout_s=WAIT_S,
            on_behalf_of=buyer.address,
        )

    def _run_fill(
        self,
        scope: str,
        key: str,
        fingerprint: str,
        signer: Signer,
        order_id: int,
        work: Callable[[Session], tuple[int, dict[str, Any]]],
        wait_s: float,
    ) -> tuple[int, dict[str, Any]]:
        idem = IdempotencyService(self.context)
        with key_lock(self.chain.chain_id, signer.address):
            stored = idem.run(scope, key, fingerprint, work)
        if stored.replayed and stored.body.get("order", {}).get("state") != OrderState.FILLING:
            return stored.status_code, stored.body
        status, answer = self._settle_fill(order_id, wait_s)
        idem.update_answer(scope, key, status, answer)
        return status, answer

    def _enqueue_fill(
        self, session: Session, order_id: int, signer: Signer, user_id: int, fn: str
    ) -> tuple[int, dict[str, Any]]:
        row = repo.get(session, GalleryOrder, order_id, lock=True)
        assert row is not None
        if row.state != OrderState.OPEN:
            raise OrderClosed(state=row.state)
        # the buyer's permit, or (accepting an offer) the allowance the maker's permit gave
        payer = signer.address if fn == "buyWithPermit" else row.maker
        self.outbox.claim_wallet(session, payer)
        now = self.chain.chain_time()
        args: list[Any] = [
            _order_struct(row).as_tuple(),
            bytes.fromhex(row.signature[2:]),
            self._fill_auth(row.order_hash, signer.address, now),
        ]
        if fn == "buyWithPermit":
            args.append(self._permit(signer, row.price, now))
        try:
            entry = self.outbox.enqueue(
                session,
                signer=signer,
                intent=f"gallery.{fn}",
                to=self.chain.gallery.address,
                data=self.chain.calldata(self.chain.gallery, fn, args),
                reference=f"order:{order_id}",
                on_behalf_of=payer,
            )
        except TransactionReverted as exc:
            raise friendly_revert(exc) from exc
        row.state, row.fill_entry_id, row.taker_user_id = OrderState.FILLING, entry.id, user_id
        row.fill_error = None
        session.flush()
        return 202, {"order": order_dict(row), "sale": None}

    def _settle_fill(self, order_id: int, wait_s: float) -> tuple[int, dict[str, Any]]:
        """Broadcast a fill, wait, and record the sale (from the receipt's `Sale` event)."""
        with self.context.unit_of_work() as session:
            row = repo.get(session, GalleryOrder, order_id)
            assert row is not None
            entry_id, state, token_id = row.fill_entry_id, row.state, row.token_id
        if state != OrderState.FILLING or entry_id is None:
            return (200 if state == OrderState.FILLED else 409), self.order(order_id)
        self.outbox.broadcast(entry_id)
        outcome = self.outbox.wait(entry_id, wait_s)
        if outcome.status in OutboxState.OPEN:
            return 202, {"order": self.order(order_id), "sale": None}
        if outcome.status == OutboxState.CONFIRMED:
            self._record_fill(order_id, outcome)
            self.ownership.sync(token_id)
            answer = self.order(order_id)
            return 200, {"order": answer, "sale": answer.pop("sale")}
        with self.context.unit_of_work() as session:
            row = repo.get(session, GalleryOrder, order_id, lock=True)
            assert row is not None
            row.state, row.fill_entry_id = OrderState.OPEN, None
            row.fill_error = (outcome.revert_reason or outcome.status)[:300]
        return 422, {"order": self.order(order_id), "sale": None}

    def _record_fill(self, order_id: int, outcome: TxOutcome) -> None:
        sales = self._sales_in(outcome.tx_hash)
        with self.context.unit_of_work() as session:
            row = repo.get(session, GalleryOrder, order_id, lock=True)
            assert row is not None
            for sale in sales:
                if (
                    sale.ref == row.order_hash
                    and repo.sale_by_ref(session, sale.tx_hash, sale.ref) is None
                ):
                    sale.order_id = order_id
                    repo.add(session, sale)
            row.state, row.closed_at = OrderState.FILLED, utcnow()
            seller = (
                row.maker if row.side == OrderSide.LISTING else sales[0].seller if sales else ""
            )
            repo.close_orders_of_token(session, row.token_id, seller, OrderState.STALE)

    def _sales_in(self, tx_hash: str) -> list[GallerySale]:
        """The `Sale` events of a mined transaction, as unsaved rows."""
        receipt = self.outbox.client.receipt(tx_hash) or {}
        found = []
        for log in receipt.get("logs", []):
            topics = [str(t).lower() for t in log.get("topics", [])]
            same = str(log.get("address", "")).lower() == self.chain.gallery.address.lower()
            if not (same and len(topics) == 4 and topics[0] == SALE_TOPIC):
                continue
            data = bytes.fromhex(str(log["data"])[2:])
            buyer, price, royalty, receiver, fee, kind = decode(
                ["address", "uint256", "uint256", "address", "uint256", "uint8"], data
            )
            found.append(
                GallerySale(
                    kind=SALE_KINDS[int(kind)],
                    ref=topics[1],
                    tx_hash=tx_hash.lower(),
                    token_id=int(topics[2], 16),
                    seller=Web3.to_checksum_address("0x" + topics[3][-40:]),
                    buyer=Web3.to_checksum_address(buyer),
                    price=int(price),
                    royalty=int(royalty),
                    royalty_receiver=Web3.to_checksum_address(receiver),
                    fee=int(fee),
                    proceeds=int(price) - int(royalty) - int(fee),
                )
            )
        return found

    # -- auctions ------------------------------------------------------------------------------

    def create_auction(
        self,
        user_id: int,
        token_id: int,
        reserve: int,
        start: int,
        end: int,
        min_increment_bps: int = 500,
    ) -> dict[str, Any]:
        """Auction your token: `createAuction` from your key moves it into the gallery's escrow."""
        now = self.chain.chain_time()
        if not 1 <= reserve <= 10**12:
            raise ValidationFailed(
                "The reserve must be 1 to 1,000,000,000,000 won.",
                "최저가는 1원부터 1조 원까지입니다.",
                field="reserve",
            )
        if not max(start, now) < end <= now + MAX_AUCTION_S:
            ko, en = REVERT_TEXT["InvalidAuction"]
            raise ValidationFailed(en, ko, field="end")
        signer = self._owner_signer(user_id, token_id)
        self._require_not_frozen(token_id)
        self._ensure_approval(signer)
        args = [token_id, reserve, max(start, 0), end, min_increment_bps]
        data = self.chain.calldata(self.chain.gallery, "createAuction", args)
        outcome = self._send(signer, "gallery.create_auction", data, f"token:{token_id}")
        chain_id = self._created_auction_id(outcome.tx_hash)
        record = self.chain.read(self.chain.gallery, "auctionOf", [chain_id])[0]
        with self.context.unit_of_work() as session:
            row = repo.add(
                session,
                GalleryAuction(
                    chain_auction_id=chain_id,
                    token_id=token_id,
                    seller_user_id=user_id,
                    seller=signer.address,
                    reserve=reserve,
                    start_time=int(record[1]),
                    end_time=int(record[5]),
                ),
            )
            repo.close_orders_of_token(session, token_id, signer.address, OrderState.STALE)
            auction_id = row.id
        self.ownership.sync(token_id)
        return self.auction(auction_id)

    def _created_auction_id(self, tx_hash: str) -> int:
        receipt = self.outbox.client.receipt(tx_hash) or {}
        for log in receipt.get("logs", []):
            topics = [str(t).lower() for t in log.get("topics", [])]
            if topics and topics[0] == AUCTION_CREATED_TOPIC:
                return int(topics[1], 16)
        return int(self.chain.read_one(self.chain.gallery, "auctionCount", []))

    def auction(self, auction_id: int) -> dict[str, Any]:
        """An auction: the chain's live record (end after extensions, highest bid) and bids."""
        with self._reading() as session:
            row = repo.get(session, GalleryAuction, auction_id)
            if row is None:
                raise not_found("auction", "경매")
            bids = [_bid_dict(b) for b in repo.bids_of(session, auction_id)]
            sale = repo.sale_of_auction(session, auction_id)
            answer: dict[str, Any] = {
                "id": row.id,
                "chain_auction_id": row.chain_auction_id,
                "token_id": row.token_id,
                "seller": row.seller,
                "reserve": row.reserve,
                "start_time": row.start_time,
                "scheduled_end_time": row.end_time,
                "state": row.state,
                "bids": bids,
                "sale": sale_dict(sale) if sale else None,
            }
            chain_id = row.chain_auction_id
        live = self.chain.read(self.chain.gallery, "auctionOf", [chain_id])[0]
        answer.update(
            chain_state=CHAIN_AUCTION_STATES[int(live[3])],
            highest_bidder=None if int(live[4], 16) == 0 else live[4],
            highest_bid=int(live[9]),
            end_time=int(live[5]),
            extended=int(live[5]) > answer["scheduled_end_time"],
            min_next_bid=int(self.chain.read_one(self.chain.gallery, "minNextBid", [chain_id])),
            min_increment_bps=int(live[2]),
            escrow=int(self.chain.read_one(self.chain.gallery, "totalBidEscrow", [])),
        )
        return answer

    def bid(
        self,
        user_id: int,
        auction_id: int,
        amount: int,
        idempotency_key: str | None,
        wait_s: float = WAIT_S,
    ) -> tuple[int, dict[str, Any]]:
        """Bid on an auction, once per Idempotency-Key (bidWithPermit from your key).

        The outbid bidder is refunded by the contract in the same transaction.
        """
        key = parse_key(idempotency_key)
        signer = self._signer(user_id)
        scope = f"gallery.bid:user:{user_id}"
        path = f"/api/gallery/auctions/{auction_id}/bids"
        fingerprint = request_fingerprint("POST", path, {"amount": amount})
        if not self._seen(scope, key):
            self._check_bid(auction_id, signer.address, amount)
            self._top_up_gas(signer.address)
        idem = IdempotencyService(self.context)

        def work(session: Session) -> tuple[int, dict[str, Any]]:
            return self._enqueue_bid(session, auction_id, signer, user_id, amount)

        with key_lock(self.chain.chain_id, signer.address):
            stored = idem.run(scope, key, fingerprint, work)
        if stored.replayed and stored.body.get("bid", {}).get("state") != "pending":
            return stored.status_code, stored.body
        status, answer = self._settle_bid(int(stored.body["bid"]["id"]), wait_s)
        idem.update_answer(scope, key, status, answer)
        return status, answer

    def _check_bid(self, auction_id: int, bidder: str, amount: int) -> None:
        with self.context.unit_of_work() as session:
            row = repo.get(session, GalleryAuction, auction_id)
            if row is None:
                raise not_found("auction", "경매")
            chain_id, token_id, seller = row.chain_auction_id, row.token_id, row.seller
        live = self.chain.read(self.chain.gallery, "auctionOf", [chain_id])[0]
        now = self.chain.chain_time()
        problems = [
            (int(live[3]) != 1, "AuctionNotLive"),
            (now < int(live[1]), "AuctionNotStarted"),
            (now >= int(live[5]), "AuctionEnded"),
        ]
        for failed, name in problems:
            if failed:
                ko, en = REVERT_TEXT[name]
                raise Conflict(en, ko)
        self._require_not_frozen(token_id)
        if bidder == seller:
            ko, en = REVERT_TEXT["SellerCannotBid"]
            raise ValidationFailed(en, ko)
        minimum = int(self.chain.read_one(self.chain.gallery, "minNextBid", [chain_id]))
        if amount < minimum:
            ko, en = REVERT_TEXT["BidTooLow"]
            raise ValidationFailed(en, ko, minimum=minimum)
        if self.chain.balance(bidder) < amount:
            raise InsufficientFunds(amount=amount)

    def _enqueue_bid(
        self, session: Session, auction_id: int, signer: Signer, user_id: int, amount: int
    ) -> tuple[int, dict[str, Any]]:
        row = repo.get(session, GalleryAuction, auction_id, lock=True)
        assert row is not None
        self.outbox.claim_wallet(session, signer.address)
        permit = self._permit(signer, amount, self.chain.chain_time())
        args = [row.chain_auction_id, amount, permit]
        try:
            entry = self.outbox.enqueue(
                session,
                signer=signer,
                intent="gallery.bid",
                to=self.chain.gallery.address,
                data=self.chain.calldata(self.chain.gallery, "bidWithPermit", args),
                reference=f"auction:{auction_id}",
                on_behalf_of=signer.address,
            )
        except TransactionReverted as exc:
            raise friendly_revert(exc) from exc
        bid = repo.add(
            session,
            GalleryBid(
                auction_id=auction_id,
                bidder_user_id=user_id,
                bidder=signer.address,
                amount=amount,
                entry_id=entry.id,
            ),
        )
        return 202, {"bid": _bid_dict(bid), "auction_id": auction_id}

    def _settle_bid(self, bid_id: int, wait_s: float) -> tuple[int, dict[str, Any]]:
        with self.context.unit_of_work() as session:
            bid = repo.get(session, GalleryBid, bid_id)
            assert bid is not None and bid.entry_id is not None
            entry_id, auction_id = bid.entry_id, bid.auction_id
        self.outbox.broadcast(entry_id)
        outcome = self.outbox.wait(entry_id, wait_s)
        with self.context.unit_of_work() as session:
            bid = repo.get(session, GalleryBid, bid_id, lock=True)
            assert bid is not None
            if outcome.status == OutboxState.CONFIRMED:
                bid.state = "confirmed"
            elif outcome.status not in OutboxState.OPEN:
                bid.state, bid.error = "failed", (outcome.revert_reason or outcome.status)[:300]
            view = _bid_dict(bid)
        status = {"confirmed": 200, "failed": 422}.get(view["state"], 202)
        return status, {"bid": view, "auction": self.auction(auction_id)}

    def settle_auction(self, auction_id: int) -> dict[str, Any]:
        """Settle an ended auction (anyone may ask; the operator sends it and pays the gas)."""
        with self.context.unit_of_work() as session:
            row = repo.get(session, GalleryAuction, auction_id)
            if row is None:
                raise not_found("auction", "경매")
            chain_id, state, token_id = row.chain_auction_id, row.state, row.token_id
        if state != AuctionState.LIVE:
            return self.auction(auction_id)
        live = self.chain.read(self.chain.gallery, "auctionOf", [chain_id])[0]
        if int(live[3]) == 1:
            if self.chain.chain_time() < int(live[5]):
                ko, en = REVERT_TEXT["AuctionNotEnded"]
                raise Conflict(en, ko, end_time=int(live[5]))
            if int(live[4], 16) != 0:
                self._require_not_frozen(token_id)
            data = self.chain.calldata(self.chain.gallery, "settleAuction", [chain_id])
            outcome = self._send(self.operator, "gallery.settle", data, f"auction:{auction_id}")
            sales = self._sales_in(outcome.tx_hash)
        else:
            sales = []
        self._record_settlement(auction_id, sales)
        self.ownership.sync(token_id)
        return self.auction(auction_id)

    def _record_settlement(self, auction_id: int, sales: list[GallerySale]) -> None:
        with self.context.unit_of_work() as session:
            row = repo.get(session, GalleryAuction, auction_id, lock=True)
            assert row is not None
            live = self.chain.read(self.chain.gallery, "auctionOf", [row.chain_auction_id])[0]
            row.state = CHAIN_AUCTION_STATES[int(live[3])]
            for sale in sales:
                if repo.sale_by_ref(session, sale.tx_hash, sale.ref) is None:
                    sale.auction_id = auction_id
                    repo.add(session, sale)

    def sync_tokens(self, token_ids: list[int]) -> int:
        """Bring these tokens' photo rows (owner, publication, content visibility) in line
        with the chain; used by the background photo sync after indexed NFT events."""
        for token_id in token_ids:
            self.ownership.sync(token_id)
        return len(token_ids)

    def settle_ended(self) -> int:
        """Background pass: settle every live auction whose end has passed; how many."""
        with self.context.unit_of_work() as session:
            ids = session.scalars(
                select(GalleryAuction.id).where(GalleryAuction.state == AuctionState.LIVE)
            ).all()
        now, done = self.chain.chain_time(), 0
        for auction_id in ids:
            view = self.auction(int(auction_id))
            if view["chain_state"] == "live" and view["end_time"] <= now:
                done += self.settle_auction(int(auction_id))["state"] != AuctionState.LIVE
        return done

    # -- moderation ----------------------------------------------------------------------------

    def report(self, user_id: int, token_id: int, kind: str, text: str) -> dict[str, Any]:
        """Report a token (copy, theft, other); the text stays in the database."""
        if kind not in REPORT_KINDS:
            raise ValidationFailed(
                "kind must be copy, theft or other.", "종류는 copy, theft, other 중 하나입니다."
            )
        self._owner_of(token_id)
        body = clean_text(text, 1000)
        with self.context.unit_of_work() as session:
            row = repo.add(
                session,
                GalleryReport(token_id=token_id, reporter_user_id=user_id, kind=kind, text=body),
            )
            return {"id": row.id, "token_id": token_id, "kind": kind}

    def freeze(
        self, admin_id: int, token_id: int, reason_code: str, note: str | None
    ) -> dict[str, Any]:
        """Freeze a token from sale on chain (a short reason code; the note stays off chain)."""
        if reason_code not in FREEZE_REASONS:
            raise ValidationFailed(
                f"reason_code must be one of {', '.join(FREEZE_REASONS)}.",
                f"사유 코드는 {', '.join(FREEZE_REASONS)} 중 하나입니다.",
            )
        self._owner_of(token_id)
        code = reason_code.encode().ljust(32, b"\0")
        data = self.chain.calldata(self.chain.gallery, "freeze", [token_id, code])
        outcome = self._send(self.operator, "gallery.freeze", data, f"token:{token_id}")
        return self._moderated(admin_id, token_id, "freeze", reason_code, note, outcome)

    def unfreeze(self, admin_id: int, token_id: int, note: str | None) -> dict[str, Any]:
        """Lift a freeze on chain."""
        self._owner_of(token_id)
        if not self.chain.is_frozen(token_id):
            ko, en = REVERT_TEXT["NotFrozen"]
            raise Conflict(en, ko)
        data = self.chain.calldata(self.chain.gallery, "unfreeze", [token_id])
        outcome = self._send(self.operator, "gallery.unfreeze", data, f"token:{token_id}")
        return self._moderated(admin_id, token_id, "unfreeze", None, note, outcome)

    def _moderated(
        self,
        admin_id: int,
        token_id: int,
        action: str,
        reason_code: str | None,
        note: str | None,
        outcome: TxOutcome,
    ) -> dict[str, Any]:
        text = clean_text(note, 500) if note else None
        with self.context.unit_of_work() as session:
            repo.add(
                session,
                GalleryModeration(
                    token_id=token_id,
                    action=action,
                    reason_code=reason_code,
                    note=text,
                    admin_user_id=admin_id,
                    tx_hash=outcome.tx_hash,
                ),
            )
        return {
            "token_id": token_id,
            "frozen": self.chain.is_frozen(token_id),
            "action": action,
            "tx_hash": outcome.tx_hash,
        }

    def appeal(self, user_id: int, token_id: int, text: str) -> dict[str, Any]:
        """Appeal a freeze: the text is stored; `Gallery.appeal` from the owner's key emits
        `Appealed`, so the appeal is visible on chain without its text."""
        body = clean_text(text, 2000)
        holder = self._holder(token_id)
        signer = self._signer(user_id)
        if holder != signer.address:
            raise PermissionDenied(
                "Only the owner of this work may appeal.",
                "이 작품의 소유자만 이의를 제기할 수 있습니다.",
            )
        if not self.chain.is_frozen(token_id):
            ko, en = REVERT_TEXT["NotFrozen"]
            raise Conflict(en, ko)
        data = self.chain.calldata(self.chain.gallery, "appeal", [token_id])
        outcome = self._send(signer, "gallery.appeal", data, f"token:{token_id}")
        with self.context.unit_of_work() as session:
            row = repo.add(
                session,
                GalleryAppeal(
                    token_id=token_id,
                    owner_user_id=user_id,
                    owner=signer.address,
                    text=body,
                    tx_hash=outcome.tx_hash,
                ),
            )
            return _appeal_dict(row)

    def _holder(self, token_id: int) -> str:
        try:
            return self.chain.holder(token_id)
        except RpcError as exc:
            raise not_found() from exc

    def appeals(self) -> list[dict[str, Any]]:
        """Appeals for moderators, newest first."""
        with self.context.unit_of_work() as session:
            return [_appeal_dict(a) for a in repo.appeals(session)]

    # -- exhibitions ---------------------------------------------------------------------------

    def create_exhibition(
        self,
        user_id: int,
        is_admin: bool,
        title_ko: str,
        title_en: str | None,
        description: str | None,
        token_ids: list[int],
    ) -> dict[str, Any]:
        """An exhibition of published tokens, by an admin or an active studio (its own tokens)."""
        wanted = list(dict.fromkeys(token_ids))
        if not 1 <= len(wanted) <= 100:
            raise ValidationFailed(
                "An exhibition shows 1 to 100 works.", "전시에는 작품 1~100점이 필요합니다."
            )
        with self.context.unit_of_work() as session:
            studio_id = None if is_admin else self._active_studio(session, user_id)
            photos = [repo.photo_of_token(session, t) for t in wanted]
            self._check_exhibited(wanted, photos, studio_id)
            row = repo.add(
                session,
                GalleryExhibition(
                    title_ko=clean_text(title_ko, 120),
                    title_en=clean_text(title_en, 120) if title_en else None,
                    description=clean_text(description, 4000) if description else None,
                    created_by=user_id,
                    studio_id=studio_id,
                ),
            )
            for position, token_id in enumerate(wanted):
                session.add(
                    GalleryExhibitionItem(
                        exhibition_id=row.id, token_id=token_id, position=position
                    )
                )
            exhibition_id = row.id
        return self.exhibition(exhibition_id)

    @staticmethod
    def _active_studio(session: Session, user_id: int) -> int:
        studio = repo.studio_of_owner(session, user_id)
        if studio is None or studio.status != StudioStatus.ACTIVE:
            raise PermissionDenied(
                "Only platform admins and approved studios may open exhibitions.",
                "플랫폼 관리자와 승인된 사진관만 전시를 열 수 있습니다.",
            )
        return studio.id

    @staticmethod
    def _check_exhibited(
        wanted: list[int], photos: list[PhotoRecord | None], studio_id: int | None
    ) -> None:
        hidden = [t for t, p in zip(wanted, photos, strict=True) if p is None or not p.published]
        if hidden:
            raise ValidationFailed(
                "Only published works can be exhibited.",
                "공개된 작품만 전시할 수 있습니다.",
                token_ids=hidden,
            )
        if studio_id is not None and any(p and p.studio_id != studio_id for p in photos):
            raise PermissionDenied(
                "A studio may exhibit only its own works.",
                "사진관은 자기 작품만 전시할 수 있습니다.",
            )

    def exhibitions(self) -> list[dict[str, Any]]:
        """Exhibitions, newest first."""
        with self._reading() as session:
            return [_exhibition_dict(e) for e in repo.exhibitions(session)]

    def exhibition(self, exhibition_id: int) -> dict[str, Any]:
        """An exhibition with the cards of its works that are still published."""
        head = self.view.head()
        with self._reading() as session:
            row = repo.get(session, GalleryExhibition, exhibition_id)
            if row is None:
                raise not_found("exhibition", "전시")
            answer = _exhibition_dict(row)
            shown = self._published_tokens(session, repo.exhibition_tokens(session, exhibition_id))
        answer["works"] = self._cards(self._still_published(shown, head), head)
        return answer

    # -- browse and profiles -------------------------------------------------------------------

    def tokens(
        self, filters: dict[str, Any], page: int | None, limit: int = PAGE_SIZE
    ) -> dict[str, Any]:
        """Published tokens, filtered, by token id; `next` is the cursor for the next page.

        One database transaction reads the page's photos and everything on their cards; the
        chain is asked afterwards (no transaction is held open across a JSON-RPC call)."""
        return self._browse(filters, page, limit, lambda _session: {})

    def browse_page(
        self, filters: dict[str, Any], page: int | None, limit: int, exhibitions: int
    ) -> dict[str, Any]:
        """What the browse page shows, from one database transaction: the `tokens` answer,
        the latest `exhibitions` (none when 0) and the active studios (the studio filter)."""

        def extras(session: Session) -> dict[str, Any]:
            shown = repo.exhibitions(session, exhibitions) if exhibitions else []
            active = studio_repo.studios(session, StudioStatus.ACTIVE)
            return {
                "exhibitions": [_exhibition_dict(e) for e in shown],
                "studios": [
                    {"id": s.id, "name_ko": s.name_ko, "name_en": s.name_en} for s in active
                ],
            }

        return self._browse(filters, page, limit, extras)

    def _browse(
        self,
        filters: dict[str, Any],
        page: int | None,
        limit: int,
        extras: Callable[[Session], dict[str, Any]],
    ) -> dict[str, Any]:
        head = self.view.head()
        with self._reading() as session:
            rows = repo.published_card_rows(session, filters, page, limit)
            tokens = [int(r.token_id) for r in rows]
            best = repo.best_listings(session, tokens, self.view.now(head))
            answer = extras(session)
        cards = {int(r.token_id): _card_of_row(r, best.get(r.token_id)) for r in rows}
        shown = list(cards)
        cursor = shown[-1] if len(rows) == limit and shown else None
        live = self._still_published(shown, head)
        return {"items": [cards[t] for t in live], "next": cursor, **answer}

    def token(self, token_id: int) -> dict[str, Any]:
        """A token's public card: metadata only if published; listing, auction, frozen flag."""
        head = self.view.head()
        card = self._token_card(token_id, self.view.now(head))
        if card["published"] and not self._still_published([token_id], head):
            card = self._token_card(token_id, self.view.now(head))  # synced just now: private
        card["frozen"] = self.frozen_reason(token_id, head) is not None
        return card

    def _token_card(self, token_id: int, now: int) -> dict[str, Any]:
        """A token's card from the database (one transaction); NotFound if never minted."""
        with self._reading() as session:
            photo = repo.photo_of_token(session, token_id)
            if photo is None:
                raise not_found()
            if photo.published:
                card = self._card(session, photo, now)
            else:
                card = {"token_id": token_id, "published": False, "owner": photo.owner_address}
                card.update(self._market(session, token_id, now))
            auction = repo.live_auction_of_token(session, token_id)
            card["auction_id"] = auction.id if auction else None
            card["offers"] = [order_dict(o) for o in repo.orders_of_token(session, token_id, 1)]
        return card

    @staticmethod
    def _market(session: Session, token_id: int, now: int) -> dict[str, Any]:
        return _market_of(repo.best_listing(session, token_id, now))

    def _card(self, session: Session, photo: PhotoRecord, now: int) -> dict[str, Any]:
        studio, who = repo.studio_and_photographer(session, photo)
        assert photo.token_id is not None
        best = repo.best_listing(session, photo.token_id, now)
        return _card_of(photo, studio, who, best)

    def profile(self, address: str) -> dict[str, Any]:
        """A profile: published works an address created (studio or royalty receiver) and owns."""
        who = parse_address(address)
        head = self.view.head()
        with self._reading() as session:
            created = [p.token_id for p in repo.created_by(session, who) if p.published]
            owned = [p.token_id for p in repo.published_photos(session, {"owner": who}, None, 200)]
        shown = [t for t in {*created, *owned} if t is not None]
        live = set(self._still_published(shown, head))
        return {
            "address": who,
            "created": self._cards([t for t in created if t in live], head),
            "owned": self._cards([t for t in owned if t in live], head),
        }

    @staticmethod
    def _published_tokens(session: Session, token_ids: list[int]) -> list[int]:
        """The tokens among `token_ids` whose photo the database has as published."""
        photos = repo.photos_of_tokens(session, token_ids)
        return [t for t in token_ids if t in photos and photos[t].published]

    def _still_published(self, token_ids: list[int], head: Head | None) -> list[int]:
        """The tokens (recorded as published) that the chain still has published, in order.

        A transfer made outside the platform (from a wallet) unpublishes a token on chain
        without the database knowing: such a token's row is brought up to date and it is left
        out, so no answer keeps showing a now-private work's CIDs. The chain's answers come
        from `ChainView` (one head read per page; a token is asked again only after an event
        touched it). If the node cannot be reached, the recorded state stands (the gateway
        still refuses private content).
        """
        if head is None:
            return token_ids
        try:
            live = self.view.published_many(token_ids, head)
        except ChainError:
            return token_ids
        for token_id in token_ids:
            if not live[token_id]:
                self.ownership.sync(token_id)
        return [token_id for token_id in token_ids if live[token_id]]

    def _cards(self, token_ids: list[int], head: Head | None) -> list[dict[str, Any]]:
        """The public cards of published tokens, in the given order."""
        with self._reading() as session:
            photos = repo.photos_of_tokens(session, token_ids)
            ordered = [photos[t] for t in token_ids if t in photos]
            cards = self._cards_in(session, ordered, self.view.now(head))
        return [cards[t] for t in token_ids if t in cards]

    @staticmethod
    def _cards_in(
        session: Session, photos: Sequence[PhotoRecord], now: int
    ) -> dict[int, dict[str, Any]]:
        """The cards of the published photos among `photos`, by token id in their order: one
        query each for the studios, photographers and best listings."""
        shown = [p for p in photos if p.published and p.token_id is not None]
        studios, people = repo.studios_and_photographers(session, shown)
        best = repo.best_listings(session, [p.token_id for p in shown if p.token_id], now)
        return {
            p.token_id: _card_of(
                p,
                studios.get(p.studio_id),
                people.get(p.photographer_id) if p.photographer_id else None,
                best.get(p.token_id),
            )
            for p in shown
            if p.token_id is not None
        }

    # -- page views (read helpers for gallery/pages.py) -------------------------------------------

    def token_view(self, token_id: int, viewer: str | None) -> dict[str, Any]:
        """Everything the token page shows: the card, capture date, best offer, live auction,
        freeze reason and the split of the current listing's price.

        A private (unpublished) token is shown only to its holder `viewer`; to anyone else it
        is NotFound, so the page never confirms that it exists.
        """
        head = self.view.head()
        now = self.view.now(head)
        with self._reading() as session:
            photo = repo.photo_of_token(session, token_id)
            mine = bool(viewer and photo and (photo.owner_address or "").lower() == viewer.lower())
            if photo is None or photo.token_id is None or not (photo.published or mine):
                raise not_found()
            view = self._card(session, photo, now)
            offers = repo.orders_of_token(session, token_id, OrderSide.OFFER)
            auction = repo.live_auction_of_token(session, token_id)
            view.update(
                published=photo.published,
                captured_at=photo.captured_at.date().isoformat() if photo.captured_at else None,
                royalty_bps=photo.royalty_bps,
                best_offer=order_dict(max(offers, key=lambda o: (o.price, -o.id)))
                if offers
                else None,
                auction_id=auction.id if auction else None,
            )
        view["auction"] = self.auction(view["auction_id"]) if view["auction_id"] else None
        view["frozen_reason"] = self.frozen_reason(token_id, head)
        view["frozen"] = view["frozen_reason"] is not None
        view["chain_time"] = now
        listed = view["listing"]
        view["listing_split"] = self.quote(token_id, listed["price"]) if listed else None
        return view

    def frozen_reason(self, token_id: int, head: Head | None = None) -> str | None:
        """The reason code of a frozen token (from the chain); None when not frozen."""
        head = head or self.view.head()
        if head is not None:
            raw = self.view.frozen_reason(token_id, head)
        else:
            raw = bytes(self.chain.read_one(self.chain.gallery, "frozenReason", [token_id]))
        if not any(raw):
            return None
        return raw.rstrip(b"\0").decode("ascii", "replace") or "other"

    def quote(self, token_id: int, price: int) -> dict[str, Any]:
        """How a price would split (the contract's own `quote`): seller, royalty, fee."""
        split = self.chain.read(self.chain.gallery, "quote", [token_id, price])[0]
        return {
            "price": price,
            "seller_proceeds": int(split[0]),
            "royalty": int(split[1]),
            "royalty_receiver": split[2],
            "fee": int(split[3]),
        }

    def curatable(self, user_id: int, is_admin: bool) -> list[dict[str, Any]]:
        """Published works the user may put in an exhibition (a studio: its own; at most 100).

        Raises:
            PermissionDenied: neither an admin nor an approved studio.
        """
        with self.context.unit_of_work() as session:
            studio_id = None if is_admin else self._active_studio(session, user_id)
            photos = repo.published_photos(session, {"studio": studio_id}, None, 100)
            tokens = [p.token_id for p in photos if p.token_id is not None]
        return self._cards(tokens, self.view.head())


def _market_of(best: GalleryOrder | None) -> dict[str, Any]:
    """A card's market part: the best open listing, if any."""
    return {
        "listing": None
        if best is None
        else {"id": best.id, "price": best.price, "expiry": best.expiry}
    }


class CardPhoto(Protocol):
    """What a card shows of a photo: a PhotoRecord, or a row of `repo.CARD_COLUMNS`."""

    id: int
    token_id: int | None
    owner_address: str | None
    width: int
    height: int
    cid: str
    metadata_cid: str
    claimed_at: datetime | None


def _card_of(
    photo: PhotoRecord,
    studio: StudioRecord | None,
    who: PhotographerRecord | None,
    best: GalleryOrder | None,
) -> dict[str, Any]:
    """The public card of a published, minted photo."""
    return _card(
        photo,
        {"id": studio.id, "name_ko": studio.name_ko, "name_en": studio.name_en} if studio else None,
        {"id": who.id, "name": who.name} if who else None,
        best,
    )


def _card_of_row(row: Any, best: GalleryOrder | None) -> dict[str, Any]:
    """The public card of a row of `repo.CARD_COLUMNS` (the same card as `_card_of`)."""
    studio = {"id": row.studio_id, "name_ko": row.studio_name_ko, "name_en": row.studio_name_en}
    who = {"id": row.photographer_id, "name": row.photographer_name}
    return _card(row, studio, who if row.photographer_id else None, best)


def _card(
    photo: CardPhoto,
    studio: dict[str, Any] | None,
    who: dict[str, Any] | None,
    best: GalleryOrder | None,
) -> dict[str, Any]:
    assert photo.token_id is not None
    card = {
        "token_id": photo.token_id,
        "photo_id": photo.id,
        "published": True,
        "owner": photo.owner_address,
        "studio": studio,
        "photographer": who,
        "width": photo.width,
        "height": photo.height,
        "cid": photo.cid,
        "metadata_cid": photo.metadata_cid,
        "image_url": f"/api/studio/photos/{photo.id}/image?size=1280",
        "thumb_url": f"/api/studio/photos/{photo.id}/image?size=320",
        "claimed_at": photo.claimed_at.isoformat() if photo.claimed_at else None,
    }
    card.update(_market_of(best))
    return card


def _bid_dict(bid: GalleryBid) -> dict[str, Any]:
    return {
        "id": bid.id,
        "bidder": bid.bidder,
        "amount": bid.amount,
        "state": bid.state,
        "operation_id": bid.entry_id,
        "error": bid.error,
    }


def _appeal_dict(row: GalleryAppeal) -> dict[str, Any]:
    return {
        "id": row.id,
        "token_id": row.token_id,
        "owner": row.owner,
        "text": row.text,
        "tx_hash": row.tx_hash,
        "created_at": row.created_at.isoformat(),
    }


def _exhibition_dict(row: GalleryExhibition) -> dict[str, Any]:
    return {
        "id": row.id,
        "title_ko": row.title_ko,
        "title_en": row.title_en,
        "description": row.description,
        "studio_id": row.studio_id,
        "created_at": row.created_at.isoformat(),
    }


PHOTO_SYNC_OVERLAP_BLOCKS = 12  # re-read a few blocks: a reorg may have replaced them


class PhotoFollower:
    """Follows indexed NFT events into the photo rows.

    A transfer made from a wallet, or a sale, changes who may see a private photo and makes
    it private again; "my photos", browse and the gateway's records read those rows. The
    first pass re-checks every token that ever moved; later passes re-read the last few
    blocks (a reorg may have replaced them) but sync only tokens with events not seen yet.
    """

    def __init__(self, context: PlatformContext) -> None:
        self.context = context
        self.since = 0
        self.seen: set[tuple[str, int]] = set()

    def pass_once(self) -> int:
        """One pass; returns how many tokens were synced with the chain."""
        events = explorer_service_for(self.context).nft_ownership_events(self.since)
        fresh = sorted({token for h, i, _, token in events if (h, i) not in self.seen})
        if fresh:
            gallery_service_for(self.context).sync_tokens(fresh)
        if events:
            self.since = max(self.since, events[-1][2] + 1 - PHOTO_SYNC_OVERLAP_BLOCKS)
        self.seen = {(h, i) for h, i, number, _ in events if number >= self.since}
        return len(fresh)


def gallery_service_for(context: PlatformContext) -> GalleryService:
    """The gallery service of a platform context: one per process, so that its chain handles,
    HTTP connection pool and `ChainView` cache are shared by every request."""
    service = context.services.get(SERVICE_NAME)
    if service is None:
        service = context.services.setdefault(SERVICE_NAME, GalleryService(context))
    return cast(GalleryService, service)
