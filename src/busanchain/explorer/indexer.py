"""The reorg-safe indexer: follows the chain into the database, block by block.

Each step first checks that the stored tip is still on the chain; if not, it walks back to
the common ancestor and deletes everything above it in one transaction. It then fetches the
next batch of blocks (with receipts), checks that each block's parent hash links to the block
before it, and stores the batch with the cursor in one transaction. A crash at any point
leaves the index at a block boundary; the next step continues from there.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session

from busanchain.domain.errors import ConfigurationError
from busanchain.explorer import repository
from busanchain.explorer.decoder import DIGITAL_WON, ContractBook, parse_transfer
from busanchain.explorer.nft import GALLERY, PHOTO_NFT, nft_event, resolve_auctions
from busanchain.explorer.repository import BlockRows
from busanchain.explorer.source import BlockSource, RpcBlock, RpcReceipt, hex_int
from busanchain.explorer.tables import (
    IndexedBlock,
    IndexedLog,
    IndexedTransaction,
    NftEvent,
    TokenTransfer,
)
from busanchain.platform.context import PlatformContext

log = logging.getLogger(__name__)

ANCESTOR_WINDOW = 32


@dataclass
class SyncReport:
    """What one or more indexing steps did."""

    indexed: int = 0
    reorgs: int = 0
    deleted: int = 0
    tip: int | None = None
    target: int | None = None

    def add(self, other: SyncReport) -> None:
        """Accumulate another step's report."""
        self.indexed += other.indexed
        self.reorgs += other.reorgs
        self.deleted += other.deleted
        self.tip = other.tip
        self.target = other.target


def _address(value: str | None) -> str | None:
    return str(to_checksum_address(value)) if value else None


class ChainIndexer:
    """Indexes one chain into the database of a platform context."""

    def __init__(
        self,
        context: PlatformContext,
        book: ContractBook | None = None,
        *,
        source: BlockSource | None = None,
        batch_size: int = 20,
        confirmations: int | None = None,
    ) -> None:
        self.context = context
        self.book = book or ContractBook({})
        self.source = source or BlockSource(context.settings.node_rpc_url)
        self.batch_size = batch_size
        self.confirmations = (
            context.settings.confirmations if confirmations is None else confirmations
        )
        self._chain_id: int | None = None

    # ---- public -------------------------------------------------------------------------

    def sync(self, max_steps: int = 1_000_000) -> SyncReport:
        """Index until the stored tip reaches the target height (head minus confirmations).

        Returns what was done; raises ChainError when the node cannot be reached.
        """
        total = SyncReport()
        for _ in range(max_steps):
            report = self.step()
            total.add(report)
            if report.indexed == 0 and report.reorgs == 0:
                break
        return total

    def step(self) -> SyncReport:
        """One unit of progress: undo a reorg, or store the next batch of blocks."""
        chain_id = self._check_chain_id()
        target = self.source.head() - self.confirmations
        with self.context.unit_of_work() as session:
            tip = repository.tip(session)
            tip_ref = (tip.number, tip.hash) if tip else None
        report = SyncReport(tip=tip_ref[0] if tip_ref else None, target=target)
        if tip_ref and self.source.block_hashes([tip_ref[0]])[tip_ref[0]] != tip_ref[1]:
            return self._roll_back(report, chain_id)
        start = tip_ref[0] + 1 if tip_ref else 0
        end = min(target, start + self.batch_size - 1)
        if end < start:
            return report
        prepared = self._prepare(range(start, end + 1), tip_ref[1] if tip_ref else None)
        if prepared:
            self._store(prepared, tip_ref, chain_id, report)
        return report

    def index_range(self, start: int, end: int) -> int:
        """Index blocks `start`..`end` again (upserting), as long as they link to the index.

        Used to repair or re-decode a range; indexing an unchanged range changes nothing.
        Only blocks up to the stored tip are touched (new blocks are for `sync`, which
        checks parent links), so the index never gets a gap. Returns the blocks stored.
        """
        with self.context.unit_of_work() as session:
            tip = repository.tip(session)
            end = min(end, tip.number if tip else -1)
            parent = repository.hashes_at(session, [start - 1]).get(start - 1)
        if start < 0 or end < start:
            return 0
        prepared = self._prepare(range(start, end + 1), parent if start > 0 else None)
        done = 0
        with self.context.unit_of_work() as session:
            stored = repository.hashes_at(session, [r.block.number for r in prepared])
            for rows in prepared:
                if stored.get(rows.block.number) != rows.block.hash:
                    break  # the chain moved on: step() rolls back first
                _store_block(session, rows)
                done += 1
        return done

    def apply_book(self, book: ContractBook) -> int:
        """Switch to a new contract book and decode what was stored before it knew a contract.

        Returns the number of rows decoded again.
        """
        added = {a: n for a, n in book.addresses.items() if self.book.name_of(a) != n}
        self.book = book
        if not added:
            return 0
        with self.context.unit_of_work() as session:
            return sum(self._redecode(session, address, name) for address, name in added.items())

    # ---- steps --------------------------------------------------------------------------

    def _check_chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self.source.chain_id()
        with self.context.unit_of_work() as session:
            cursor = repository.get_cursor(session)
            if cursor is not None and cursor.chain_id != self._chain_id:
                raise ConfigurationError(
                    f"The index holds chain {cursor.chain_id}, the node is chain "
                    f"{self._chain_id}. Use a fresh database for another chain.",
                    f"색인은 체인 {cursor.chain_id}의 것이고 노드는 체인 {self._chain_id}입니다. "
                    "다른 체인에는 새 데이터베이스를 쓰세요.",
                )
        return self._chain_id

    def _roll_back(self, report: SyncReport, chain_id: int) -> SyncReport:
        with self.context.unit_of_work() as session:
            tip = repository.tip(session)
            if tip is None:
                return report
            ancestor = self._common_ancestor(session, tip.number)
            keep = ancestor[0] if ancestor else -1
            report.deleted = repository.delete_above(session, keep)
            if ancestor is None:
                repository.delete_cursor(session)
            else:
                repository.save_cursor(session, chain_id, ancestor[0], ancestor[1], reorgs=1)
        log.warning("reorg: rolled back %d blocks to %s", report.deleted, keep)
        report.reorgs = 1
        report.tip = keep if keep >= 0 else None
        return report

    def _common_ancestor(self, session: Session, top: int) -> tuple[int, str] | None:
        """The highest stored block that is still on the chain."""
        high = top
        while high >= 0:
            window = list(range(max(high - ANCESTOR_WINDOW + 1, 0), high + 1))
            on_chain = self.source.block_hashes(window)
            stored = repository.hashes_at(session, window)
            for number in reversed(window):
                if number in stored and on_chain[number] == stored[number]:
                    return number, stored[number]
            high = window[0] - 1
        return None

    def _prepare(self, numbers: Sequence[int], parent_hash: str | None) -> list[BlockRows]:
        """Fetch blocks and receipts; stop at the first block that does not link."""
        linked: list[RpcBlock] = []
        for block in self.source.blocks(numbers):
            if block is None:
                break
            if parent_hash is not None and block["parentHash"].lower() != parent_hash:
                break
            linked.append(block)
            parent_hash = block["hash"].lower()
        receipts = self.source.receipts(linked)
        return [self._rows(b, r) for b, r in zip(linked, receipts, strict=True)]

    def _store(
        self,
        prepared: list[BlockRows],
        tip_ref: tuple[int, str] | None,
        chain_id: int,
        report: SyncReport,
    ) -> None:
        with self.context.unit_of_work() as session:
            current = repository.tip(session)
            current_ref = (current.number, current.hash) if current else None
            if current_ref != tip_ref:
                return  # another indexer moved the tip meanwhile; the next step re-checks
            for rows in prepared:
                _store_block(session, rows)
            last = prepared[-1].block
            repository.save_cursor(session, chain_id, last.number, last.hash)
        report.indexed = len(prepared)
        report.tip = last.number

    # ---- rows ---------------------------------------------------------------------------

    def _rows(self, block: RpcBlock, receipts: list[RpcReceipt]) -> BlockRows:
        number = hex_int(block["number"])
        txs = block["transactions"]
        failed = [tx for tx, r in zip(txs, receipts, strict=True) if _status(r) == 0]
        reverts = dict(
            zip(
                [tx["hash"] for tx in failed],
                self.source.revert_data(failed, number) if failed else [],
                strict=True,
            )
        )
        rows = BlockRows(self._block_row(block), [], [], [])
        for tx, receipt in zip(txs, receipts, strict=True):
            rows.transactions.append(self._tx_row(block, tx, receipt, reverts.get(tx["hash"])))
            for entry in receipt.get("logs") or []:
                log_row = self._log_row(block, receipt, entry)
                rows.logs.append(log_row)
                transfer = self._transfer_row(log_row)
                if transfer is not None:
                    rows.transfers.append(transfer)
                event = nft_event(log_row, self._nft_role(log_row.address))
                if event is not None:
                    rows.nft_events.append(event)
        return rows

    @staticmethod
    def _block_row(block: RpcBlock) -> IndexedBlock:
        return IndexedBlock(
            number=hex_int(block["number"]),
            hash=block["hash"].lower(),
            parent_hash=block["parentHash"].lower(),
            timestamp=hex_int(block["timestamp"]),
            tx_count=len(block["transactions"]),
            gas_used=hex_int(block["gasUsed"]),
            gas_limit=hex_int(block["gasLimit"]),
            miner=_address(block.get("miner")) or "0x" + "0" * 40,
        )

    def _tx_row(
        self, block: RpcBlock, tx: dict[str, Any], receipt: RpcReceipt, revert: str | None
    ) -> IndexedTransaction:
        to = _address(tx.get("to"))
        data = str(tx.get("input") or tx.get("data") or "0x").lower()
        call = self.book.decode_call(to, data)
        status = _status(receipt)
        return IndexedTransaction(
            hash=tx["hash"].lower(),
            block_number=hex_int(block["number"]),
            block_hash=block["hash"].lower(),
            tx_index=hex_int(tx["transactionIndex"]),
            from_address=_address(tx["from"]),
            to_address=to,
            value=str(hex_int(tx.get("value"))),
            input=data,
            nonce=hex_int(tx["nonce"]),
            status=status,
            gas_used=hex_int(receipt.get("gasUsed")),
            contract_address=_address(receipt.get("contractAddress")),
            function_name=call.name if call else None,
            function_args=call.args_json() if call else None,
            revert_reason=self.book.decode_revert(revert) if status == 0 else None,
        )

    def _log_row(self, block: RpcBlock, receipt: RpcReceipt, entry: dict[str, Any]) -> IndexedLog:
        topics = [str(t).lower() for t in entry.get("topics") or []]
        data = str(entry.get("data") or "0x").lower()
        address = str(to_checksum_address(entry["address"]))
        event = self.book.decode_log(address, topics, data)
        return IndexedLog(
            block_hash=block["hash"].lower(),
            log_index=hex_int(entry["logIndex"]),
            block_number=hex_int(block["number"]),
            tx_hash=str(receipt["transactionHash"]).lower(),
            tx_index=hex_int(receipt["transactionIndex"]),
            address=address,
            topics=json.dumps(topics),
            data=data,
            event_name=event.name if event else None,
            event_args=event.args_json() if event else None,
        )

    def _transfer_row(self, row: IndexedLog) -> TokenTransfer | None:
        if row.address != self.book.address_of(DIGITAL_WON):
            return None
        transfer = parse_transfer(json.loads(row.topics), row.data)
        if transfer is None:
            return None
        return TokenTransfer(
            block_hash=row.block_hash,
            log_index=row.log_index,
            block_number=row.block_number,
            tx_hash=row.tx_hash,
            token=row.address,
            from_address=transfer.from_address,
            to_address=transfer.to_address,
            amount=str(transfer.amount),
        )

    def _nft_role(self, address: str) -> str | None:
        """PHOTO_NFT or GALLERY when `address` is the platform's contract of that name."""
        name = self.book.name_of(address)
        if name not in (PHOTO_NFT, GALLERY) or self.book.address_of(name) != address:
            return None
        return name

    # ---- re-decoding --------------------------------------------------------------------

    def _redecode(self, session: Session, address: str, name: str) -> int:
        changed = 0
        stmt = select(IndexedTransaction).where(IndexedTransaction.to_address == address)
        for tx in session.scalars(stmt):
            call = self.book.decode_call(address, tx.input)
            tx.function_name = call.name if call else None
            tx.function_args = call.args_json() if call else None
            changed += 1
        stmt_logs = (
            select(IndexedLog)
            .where(IndexedLog.address == address)
            .order_by(IndexedLog.block_number, IndexedLog.log_index)
        )
        nft_events: list[NftEvent] = []
        for row in session.scalars(stmt_logs).all():
            event = self.book.decode_log(address, json.loads(row.topics), row.data)
            row.event_name = event.name if event else None
            row.event_args = event.args_json() if event else None
            if name == DIGITAL_WON:
                transfer = self._transfer_row(row)
                if transfer is not None:
                    session.merge(transfer)
            nft = nft_event(row, self._nft_role(address))
            if nft is not None:
                nft_events.append(nft)
            changed += 1
        for nft in resolve_auctions(nft_events, _auction_lookup(session)):
            session.merge(nft)
        session.flush()
        return changed


def _auction_lookup(session: Session) -> Callable[[str, Sequence[str]], dict[str, str]]:
    """Token ids of auctions already in the index, for `resolve_auctions`."""

    def lookup(contract: str, auction_ids: Sequence[str]) -> dict[str, str]:
        return repository.auction_tokens(session, contract, auction_ids)

    return lookup


def _store_block(session: Session, rows: BlockRows) -> None:
    """Store one block, first giving auction bids and settlements their token ids."""
    rows.nft_events = resolve_auctions(rows.nft_events, _auction_lookup(session))
    repository.store_block(session, rows)


def _status(receipt: RpcReceipt) -> int:
    status = receipt.get("status")
    return 1 if status is None else hex_int(status)
