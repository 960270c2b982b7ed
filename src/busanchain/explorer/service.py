"""Explorer use cases: what the pages and the JSON API show, and the contract book.

Everything here reads the index; only the DigitalWon balance is read live from the chain,
because a balance in the index could lag the chain by the confirmation depth.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from sqlalchemy.orm import Session

from busanchain.chain.rpc import raw_call
from busanchain.domain.addresses import parse_address, parse_tx_hash
from busanchain.domain.errors import BusanchainError, ChainError, NotFound, ValidationFailed
from busanchain.explorer import repository
from busanchain.explorer.decoder import DIGITAL_WON, ContractBook
from busanchain.explorer.nft import GALLERY, PHOTO_NFT
from busanchain.explorer.schemas import (
    AddressDetail,
    BlockDetail,
    BlockList,
    BlockSummary,
    ChartPoint,
    DecodedArg,
    EventOut,
    NftEventOut,
    NftProvenance,
    NftSummary,
    Overview,
    SearchResult,
    TokenBalance,
    TransferOut,
    TransferPage,
    TxDetail,
    TxPage,
    TxSummary,
)
from busanchain.explorer.tables import (
    IndexedBlock,
    IndexedLog,
    IndexedTransaction,
    NftEvent,
    TokenTransfer,
)
from busanchain.platform.context import PlatformContext

log = logging.getLogger(__name__)

CHART_BLOCKS = 30
MAX_PER_PAGE = 100
MAX_BLOCK_NUMBER = 2**63 - 1
BALANCE_OF = bytes.fromhex("70a08231")
_DIGITS = re.compile(r"^[0-9]{1,20}$")
_TOKEN_ID = re.compile(r"^[0-9]{1,78}$")
MAX_TOKEN_ID = 2**256 - 1
MAX_PROVENANCE = 1000
ADDRESS_NFT_EVENTS = 25

BookProvider = Callable[[], ContractBook]


def contract_book_from_registry(context: PlatformContext) -> ContractBook:
    """The contracts the platform deployed on its chain, with their committed ABIs.

    Reads the deployment registry (`contract_deployments`) and the compiled artifacts.
    Contracts without an artifact are left out; an unreadable registry gives an empty book.
    """
    from busanchain.chain.artifacts import load_artifact
    from busanchain.deployment.service import DeploymentService
    from busanchain.outbox.service import OutboxService

    try:
        service = DeploymentService(context, OutboxService(context))
        addresses = service.addresses(context.settings.chain_id)
    except BusanchainError as exc:
        log.warning("contract registry unavailable: %s", exc)
        return ContractBook({})
    abis, names = {}, {}
    for name, address in addresses.items():
        try:
            abis[address] = load_artifact(name).abi
        except NotFound:
            continue
        names[address] = name
    return ContractBook(abis, names)


class CachedBook:
    """A contract book that is rebuilt at most every `ttl_s` seconds (pages ask often)."""

    def __init__(self, build: BookProvider, ttl_s: float = 5.0) -> None:
        self._build = build
        self._ttl_s = ttl_s
        self._book: ContractBook | None = None
        self._built_at = 0.0

    def __call__(self) -> ContractBook:
        """The current book."""
        now = time.monotonic()
        if self._book is None or now - self._built_at > self._ttl_s:
            self._book, self._built_at = self._build(), now
        return self._book


def _time(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _args(text: str | None) -> list[DecodedArg] | None:
    return [DecodedArg(**item) for item in json.loads(text)] if text else None


def parse_token_id(text: str) -> str:
    """A token id as canonical decimal text (uint256).

    Raises:
        ValidationFailed: Not a decimal number from 0 to 2**256 - 1.
    """
    value = (text or "").strip()
    if not _TOKEN_ID.match(value) or int(value) > MAX_TOKEN_ID:
        raise ValidationFailed(
            "A token id is a whole number from 0 to 2^256 - 1.",
            "토큰 번호는 0부터 2^256 - 1까지의 정수입니다.",
        )
    return str(int(value))


def _nft_contracts(book: ContractBook) -> tuple[str, list[str]]:
    """The PhotoNFT address and the contracts whose events make up provenance.

    Raises:
        NotFound: PhotoNFT is not deployed on this chain.
    """
    nft = book.address_of(PHOTO_NFT)
    if nft is None:
        raise NotFound(
            "PhotoNFT is not deployed on this chain.",
            "이 체인에는 PhotoNFT 컨트랙트가 배포되지 않았습니다.",
        )
    gallery = book.address_of(GALLERY)
    return nft, [nft] if gallery is None else [nft, gallery]


class _LatestOf:
    """The newest event of given kinds for one token (for the summary)."""

    def __init__(self, session: Session, contracts: list[str], token_id: str) -> None:
        self.session, self.contracts, self.token_id = session, contracts, token_id

    def __call__(self, *kinds: str) -> NftEvent | None:
        """The newest event of one of `kinds`, or None."""
        return repository.last_token_event(self.session, self.contracts, self.token_id, kinds)


def _sum(values: list[str | None]) -> str:
    return str(sum(int(v) for v in values if v))


class ExplorerService:
    """Read side of the explorer."""

    def __init__(self, context: PlatformContext, books: BookProvider | None = None) -> None:
        self.context = context
        self._books = books or CachedBook(lambda: contract_book_from_registry(context))

    # ---- lists --------------------------------------------------------------------------

    def overview(self, limit: int = 10) -> Overview:
        """Latest blocks and transactions and the activity of the last 30 blocks."""
        book = self._books()
        with self.context.unit_of_work() as session:
            recent = repository.latest_blocks(session, CHART_BLOCKS)
            txs = repository.latest_transactions(session, limit)
            return Overview(
                indexed_tip=recent[0].number if recent else None,
                latest_blocks=[self._block(b) for b in recent[:limit]],
                latest_transactions=[self._tx(t, book) for t in txs],
                chart=[ChartPoint(number=b.number, tx_count=b.tx_count) for b in reversed(recent)],
            )

    def blocks(self, limit: int = 20, before: int | None = None) -> BlockList:
        """A page of blocks, newest first.

        Args:
            limit: How many blocks (1 to 100).
            before: Only blocks with a lower number (for paging).
        """
        limit = max(1, min(limit, MAX_PER_PAGE))
        with self.context.unit_of_work() as session:
            rows = repository.latest_blocks(session, limit, before)
            items = [self._block(b) for b in rows]
        more = len(items) == limit and items[-1].number > 0
        return BlockList(items=items, next_before=items[-1].number if more else None)

    # ---- objects ------------------------------------------------------------------------

    def block(self, ident: str) -> BlockDetail:
        """A block by number or hash.

        Raises:
            ValidationFailed: `ident` is neither a number nor a 32-byte hash.
            NotFound: No such block is indexed.
        """
        book = self._books()
        with self.context.unit_of_work() as session:
            row = self._find_block(session, ident.strip())
            if row is None:
                raise NotFound("No such block is indexed.", "색인된 블록 중에 없습니다.")
            txs = repository.block_transactions(session, row.number)
            summary = self._block(row)
            return BlockDetail(
                **summary.model_dump(), transactions=[self._tx(t, book) for t in txs]
            )

    def transaction(self, tx_hash: str) -> TxDetail:
        """A transaction with its decoded call, events and revert reason.

        Raises:
            ValidationFailed: Not a 32-byte hash.
            NotFound: No such transaction is indexed.
        """
        wanted = parse_tx_hash(tx_hash.strip())
        book = self._books()
        with self.context.unit_of_work() as session:
            tx = repository.transaction(session, wanted)
            if tx is None:
                raise NotFound("No such transaction is indexed.", "색인된 거래 중에 없습니다.")
            block = repository.block_by_number(session, tx.block_number)
            logs = repository.transaction_logs(session, wanted)
            return TxDetail(
                **self._tx(tx, book).model_dump(),
                block_hash=tx.block_hash,
                time=_time(block.timestamp) if block else None,
                nonce=tx.nonce,
                gas_used=tx.gas_used,
                input=tx.input,
                function_args=_args(tx.function_args),
                revert_reason=tx.revert_reason,
                events=[self._event(entry, book) for entry in logs],
            )

    def address(
        self, address: str, tx_page: int = 1, transfer_page: int = 1, per_page: int = 25
    ) -> AddressDetail:
        """An address: live DigitalWon balance, transactions and transfers (paginated).

        Raises:
            ValidationFailed: Not an address, or a wrong checksum.
        """
        checksummed = parse_address(address.strip())
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        tx_page, transfer_page = max(1, tx_page), max(1, transfer_page)
        book = self._books()
        balance = self._balance(book, checksummed)
        with self.context.unit_of_work() as session:
            txs = repository.address_transactions(
                session, checksummed, per_page, (tx_page - 1) * per_page
            )
            moves = repository.address_transfers(
                session, checksummed, per_page, (transfer_page - 1) * per_page
            )
            return AddressDetail(
                address=checksummed,
                contract_name=book.name_of(checksummed),
                digital_won=balance,
                transactions=TxPage(
                    page=tx_page,
                    per_page=per_page,
                    total=repository.count_address_transactions(session, checksummed),
                    items=[self._tx(t, book) for t in txs],
                ),
                transfers=TransferPage(
                    page=transfer_page,
                    per_page=per_page,
                    total=repository.count_address_transfers(session, checksummed),
                    items=[self._transfer(m) for m in moves],
                ),
                **self._address_nft_events(session, book, checksummed),
            )

    # ---- NFT provenance -----------------------------------------------------------------

    def provenance(self, token_id: str, limit: int = 200, offset: int = 0) -> NftProvenance:
        """A PhotoNFT's indexed history, oldest first: claim, mint, transfers, sales, auctions.

        Args:
            token_id: Decimal token id.
            limit: How many events (1 to 1000).
            offset: Events to skip (for paging).

        Raises:
            ValidationFailed: Not a token id.
            NotFound: PhotoNFT is not deployed, or the token has no indexed event.
        """
        wanted = parse_token_id(token_id)
        limit, offset = max(1, min(limit, MAX_PROVENANCE)), max(0, offset)
        book = self._books()
        nft, contracts = _nft_contracts(book)
        with self.context.unit_of_work() as session:
            total = repository.count_token_events(session, contracts, wanted)
            if total == 0:
                raise self._no_token()
            rows = repository.token_events(session, contracts, wanted, limit, offset)
            events = [self._nft_event(e, book, ts) for e, ts in rows]
        return NftProvenance(
            token_id=wanted, nft_contract=nft, total=total, offset=offset, limit=limit,
            events=events,
        )  # fmt: skip

    def nft_ownership_events(self, since_block: int) -> list[tuple[str, int, int, int]]:
        """(block hash, log index, block, token id) of owner/publication changes at or after
        a block, oldest first (for the photo sync)."""
        with self.context.unit_of_work() as session:
            return repository.nft_ownership_events(session, since_block)

    def nft(self, token_id: str) -> NftSummary:
        """A PhotoNFT from the index: owner, studio, sales, royalties and fees paid.

        Raises:
            ValidationFailed: Not a token id.
            NotFound: PhotoNFT is not deployed, or the token has no indexed event.
        """
        wanted = parse_token_id(token_id)
        nft, contracts = _nft_contracts(book := self._books())
        gallery = book.address_of(GALLERY)
        with self.context.unit_of_work() as session:
            events = repository.count_token_events(session, contracts, wanted)
            if events == 0:
                raise self._no_token()
            last = _LatestOf(session, contracts, wanted)
            owner_row, claim = last("mint", "transfer"), last("claim")
            published, frozen = last("publish", "unpublish"), last("frozen", "unfrozen")
            sales = repository.token_sales(session, gallery, wanted) if gallery else []
            owner = owner_row.to_address if owner_row else None
            return NftSummary(
                token_id=wanted,
                nft_contract=nft,
                minted=last("mint") is not None,
                studio=claim.from_address if claim else None,
                owner=owner,
                in_auction=owner is not None and owner == gallery,
                published=published is not None and published.kind == "publish",
                frozen=frozen is not None and frozen.kind == "frozen",
                sales=len(sales),
                volume=_sum([s.price for s in sales]),
                royalties_paid=_sum([s.royalty for s in sales]),
                fees_paid=_sum([s.fee for s in sales]),
                last_sale_price=sales[-1].price if sales else None,
                events=events,
                provenance_url=f"/api/explorer/nfts/{wanted}/provenance",
            )

    @staticmethod
    def _no_token() -> NotFound:
        return NotFound(
            "No event of this token is indexed.", "이 토큰의 기록이 색인되어 있지 않습니다."
        )

    def search(self, query: str) -> SearchResult:
        """Where a query leads: a block number, a transaction or block hash, or an address.

        Raises:
            ValidationFailed: The query has none of these forms.
            NotFound: A hash that no indexed block or transaction has.
        """
        q = (query or "").strip()
        if _DIGITS.match(q):
            return self._result("block", str(self._block_number(q)))
        if len(q) == 66 and q.lower().startswith("0x"):
            wanted = parse_tx_hash(q)
            with self.context.unit_of_work() as session:
                if repository.transaction(session, wanted) is not None:
                    return self._result("transaction", wanted)
                if repository.block_by_hash(session, wanted) is not None:
                    return self._result("block", wanted)
            raise NotFound(
                "No indexed block or transaction has this hash.",
                "이 해시를 가진 블록이나 거래가 색인되어 있지 않습니다.",
            )
        if len(q) == 42 and q.lower().startswith("0x"):
            return self._result("address", parse_address(q))
        raise ValidationFailed(
            "Enter a block number, a transaction or block hash (0x + 64 hex digits) "
            "or an address (0x + 40 hex digits).",
            "블록 번호, 거래·블록 해시(0x + 16진수 64자리) 또는 주소(0x + 16진수 40자리)를 "
            "입력하세요.",
        )

    # ---- helpers ------------------------------------------------------------------------

    @staticmethod
    def _result(kind: str, ident: str) -> SearchResult:
        page = {"block": "block", "transaction": "tx", "address": "address"}[kind]
        api = {"block": "blocks", "transaction": "txs", "address": "addresses"}[kind]
        return SearchResult(
            kind=kind,  # type: ignore[arg-type]
            id=ident,
            page_url=f"/explorer/{page}/{ident}",
            api_url=f"/api/explorer/{api}/{ident}",
        )

    @staticmethod
    def _block_number(text: str) -> int:
        number = int(text)
        if number > MAX_BLOCK_NUMBER:
            raise ValidationFailed("The block number is too large.", "블록 번호가 너무 큽니다.")
        return number

    def _find_block(self, session: Session, ident: str) -> IndexedBlock | None:
        if _DIGITS.match(ident):
            return repository.block_by_number(session, self._block_number(ident))
        if ident.lower().startswith("0x") and len(ident) == 66:
            return repository.block_by_hash(session, parse_tx_hash(ident))
        raise ValidationFailed(
            "A block is named by its number or its hash (0x + 64 hex digits).",
            "블록은 번호나 해시(0x + 16진수 64자리)로 찾습니다.",
        )

    def _balance(self, book: ContractBook, address: str) -> TokenBalance:
        token = book.address_of(DIGITAL_WON)
        if token is None:
            return TokenBalance(deployed=False, token_address=None, balance=None)
        data = "0x" + (BALANCE_OF + abi_encode(["address"], [address])).hex()
        try:
            answer = raw_call(
                self.context.settings.node_rpc_url,
                "eth_call",
                [{"to": token, "data": data}, "latest"],
                timeout_s=5.0,
            )
            value = int(abi_decode(["uint256"], bytes.fromhex(str(answer)[2:]))[0])
        except (ChainError, ValueError, TypeError) as exc:
            log.warning("balance of %s unavailable: %s", address, exc)
            return TokenBalance(deployed=True, token_address=token, balance=None)
        return TokenBalance(deployed=True, token_address=token, balance=str(value))

    @staticmethod
    def _block(row: IndexedBlock) -> BlockSummary:
        return BlockSummary(
            number=row.number,
            hash=row.hash,
            parent_hash=row.parent_hash,
            timestamp=row.timestamp,
            time=_time(row.timestamp),
            tx_count=row.tx_count,
            gas_used=row.gas_used,
            gas_limit=row.gas_limit,
            miner=row.miner,
        )

    @staticmethod
    def _tx(row: IndexedTransaction, book: ContractBook) -> TxSummary:
        return TxSummary(
            hash=row.hash,
            block_number=row.block_number,
            tx_index=row.tx_index,
            from_address=row.from_address,
            to_address=row.to_address,
            to_name=book.name_of(row.to_address),
            contract_address=row.contract_address,
            value=row.value,
            status=row.status,
            function_name=row.function_name,
        )

    @staticmethod
    def _event(row: IndexedLog, book: ContractBook) -> EventOut:
        return EventOut(
            log_index=row.log_index,
            address=row.address,
            address_name=book.name_of(row.address),
            event_name=row.event_name,
            args=_args(row.event_args),
            topics=json.loads(row.topics),
            data=row.data,
        )

    def _address_nft_events(
        self, session: Session, book: ContractBook, address: str
    ) -> dict[str, Any]:
        """The newest NFT events from or to an address (none when PhotoNFT is not deployed)."""
        try:
            _, contracts = _nft_contracts(book)
        except NotFound:
            return {}
        rows = repository.address_nft_events(session, address, contracts, ADDRESS_NFT_EVENTS)
        return {
            "nft_events": [self._nft_event(e, book) for e in rows],
            "nft_event_total": repository.count_address_nft_events(session, address, contracts),
        }

    @staticmethod
    def _nft_event(row: NftEvent, book: ContractBook, timestamp: int | None = None) -> NftEventOut:
        return NftEventOut(
            token_id=row.token_id,
            kind=row.kind,
            block_number=row.block_number,
            log_index=row.log_index,
            tx_hash=row.tx_hash,
            time=_time(timestamp) if timestamp is not None else None,
            contract=row.contract,
            contract_name=book.name_of(row.contract),
            from_address=row.from_address,
            to_address=row.to_address,
            price=row.price,
            royalty=row.royalty,
            royalty_receiver=row.royalty_receiver,
            fee=row.fee,
            sale_kind=row.sale_kind,
            auction_id=row.auction_id,
            ref=row.ref,
        )

    @staticmethod
    def _transfer(row: TokenTransfer) -> TransferOut:
        return TransferOut(
            block_number=row.block_number,
            tx_hash=row.tx_hash,
            log_index=row.log_index,
            from_address=row.from_address,
            to_address=row.to_address,
            amount=row.amount,
        )


SERVICE_NAME = "explorer"


def explorer_service_for(context: PlatformContext) -> ExplorerService:
    """The explorer service of a platform context: one per process, so that its contract book
    (the registry's ABIs, rebuilt every few seconds) is shared instead of built per request."""
    service = context.services.get(SERVICE_NAME)
    if service is None:
        service = context.services.setdefault(SERVICE_NAME, ExplorerService(context))
    return cast(ExplorerService, service)
