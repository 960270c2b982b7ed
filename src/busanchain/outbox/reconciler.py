"""The reconciler: finishes whatever the outbox started, after any restart and periodically.

For each open entry it looks every signed hash up on chain. A mined one is recorded. One the
node does not know (never sent, or lost by a node restart) is rebroadcast with the identical
bytes. One that sits in the pool too long is replaced with the same nonce and higher fees,
a bounded number of times. Mined entries whose block is not final yet are checked again:
if their receipt vanished (reorg, or the node restarted from an older snapshot), they are
reopened and rebroadcast.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from busanchain.chain.client import ChainClient
from busanchain.chain.signing import Signer
from busanchain.db.base import utcnow
from busanchain.domain.errors import ChainError
from busanchain.outbox.repository import OutboxRepository
from busanchain.outbox.service import apply_receipt, find_receipt, send_raw
from busanchain.outbox.tables import OutboxEntry, OutboxState
from busanchain.platform.context import PlatformContext

log = logging.getLogger(__name__)

FEE_BUMP_NUM, FEE_BUMP_DEN = 5, 4  # +25%, above the 10% that geth-style pools require


@dataclass
class ReconcileReport:
    """What one reconciliation pass did."""

    confirmed: int = 0
    reverted: int = 0
    rebroadcast: int = 0
    replaced: int = 0
    reopened: int = 0
    failed: int = 0
    still_open: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class ReconcilerPolicy:
    """Tuning for stuck-transaction handling."""

    stuck_after: timedelta = timedelta(seconds=30)
    max_replacements: int = 3


class Reconciler:
    """Brings the outbox and the chain into agreement."""

    def __init__(
        self,
        context: PlatformContext,
        signers: Callable[[str], Signer | None],
        finalized_block: Callable[[ChainClient], int] | None = None,
        client: ChainClient | None = None,
        policy: ReconcilerPolicy | None = None,
    ) -> None:
        self.context = context
        self.client = client or ChainClient(context.settings.node_rpc_url)
        self.signers = signers
        self.finalized_block = finalized_block or self._depth_finality
        self.policy = policy or ReconcilerPolicy()
        self._lock = threading.Lock()

    def _depth_finality(self, client: ChainClient) -> int:
        return client.block_number() - self.context.settings.confirmations

    def run_once(self) -> ReconcileReport:
        """One full pass; safe to call at any time, from any thread."""
        report = ReconcileReport()
        stuck: list[tuple[int, str]] = []
        with self._lock:
            with self.context.unit_of_work() as session:
                chain_id = self.client.chain_id()
                repo = OutboxRepository(session)
                self._recheck_mined(repo, chain_id, report)
                for entry in repo.open_entries(chain_id):
                    if self._reconcile_entry(session, repo, entry, report):
                        stuck.append((entry.id, entry.sender))
            for entry_id, sender in stuck:
                self._replace_stuck(entry_id, sender, report)
        return report

    def _replace_stuck(self, entry_id: int, sender: str, report: ReconcileReport) -> None:
        """Replace one stuck entry, outside the pass's unit of work: finding a custodial
        signer reads the database, which must not wait on the pass's own write lock."""
        signer = self.signers(sender)
        if signer is None:
            return
        with self.context.unit_of_work() as session:
            repo = OutboxRepository(session)
            entry = repo.get(entry_id, lock=True)
            if entry is None or entry.state not in OutboxState.OPEN:
                return
            if find_receipt(self.client, repo.attempt_hashes(entry.id)) is not None:
                return  # mined meanwhile: the next pass records it
            if self.client.nonce(entry.sender) > entry.nonce:
                return  # taken meanwhile: the next pass sorts it out
            self._replace(repo, entry, signer, report)

    def _recheck_mined(
        self, repo: OutboxRepository, chain_id: int, report: ReconcileReport
    ) -> None:
        finalized = self.finalized_block(self.client)
        for entry in repo.unfinalized_mined(chain_id, finalized):
            receipt = self.client.receipt(entry.tx_hash)
            if (
                receipt is not None
                and str(receipt.get("blockHash", "")).lower() == entry.block_hash
            ):
                continue
            log.warning("entry %s (%s) lost its block; reopening", entry.id, entry.tx_hash)
            entry.state = OutboxState.BROADCAST
            entry.block_number = entry.block_hash = entry.gas_used = None
            entry.revert_reason = None
            report.reopened += 1

    def _reconcile_entry(
        self, session: Session, repo: OutboxRepository, entry: OutboxEntry, report: ReconcileReport
    ) -> bool:
        """Record, rebroadcast or classify one open entry; True if it is stuck in the pool."""
        receipt = find_receipt(self.client, repo.attempt_hashes(entry.id))
        if receipt is not None:
            apply_receipt(self.client, entry, receipt)
            if entry.state == OutboxState.CONFIRMED:
                report.confirmed += 1
            else:
                report.reverted += 1
            return False
        if self.client.nonce(entry.sender) > entry.nonce:
            # Mined between the two look-ups, or taken by another transaction.
            receipt = find_receipt(self.client, repo.attempt_hashes(entry.id))
            if receipt is None:
                self._nonce_taken(entry, report)
                return False
            apply_receipt(self.client, entry, receipt)
            report.confirmed += entry.state == OutboxState.CONFIRMED
            report.reverted += entry.state == OutboxState.REVERTED
            return False
        report.still_open += 1
        known = self.client.transaction(entry.tx_hash)
        if known is None:
            send_raw(self.client, entry)
            report.rebroadcast += 1
            return False
        return self._is_stuck(entry) and entry.replacements < self.policy.max_replacements

    def _nonce_taken(self, entry: OutboxEntry, report: ReconcileReport) -> None:
        # The nonce was consumed but none of our hashes is mined: another transaction
        # (not from this outbox) used it. Ours can never be mined now.
        entry.state = OutboxState.FAILED
        entry.revert_reason = "nonce used by another transaction"
        report.failed += 1
        log.error(
            "entry %s failed: nonce %s of %s was used elsewhere",
            entry.id,
            entry.nonce,
            entry.sender,
        )

    def _is_stuck(self, entry: OutboxEntry) -> bool:
        sent = entry.last_broadcast_at or entry.created_at
        if sent.tzinfo is None:
            sent = sent.replace(tzinfo=utcnow().tzinfo)
        return utcnow() - sent > self.policy.stuck_after

    def _replace(
        self, repo: OutboxRepository, entry: OutboxEntry, signer: Signer, report: ReconcileReport
    ) -> None:
        if entry.replacements >= self.policy.max_replacements:
            return
        max_fee = int(entry.max_fee_per_gas) * FEE_BUMP_NUM // FEE_BUMP_DEN + 1
        tip = int(entry.max_priority_fee_per_gas) * FEE_BUMP_NUM // FEE_BUMP_DEN + 1
        signed = signer.sign_transaction(_replacement_tx(entry, max_fee, tip))
        entry.raw_tx, entry.tx_hash = "0x" + signed.raw.hex(), signed.hash
        entry.max_fee_per_gas, entry.max_priority_fee_per_gas = str(max_fee), str(tip)
        entry.replacements += 1
        repo.add_attempt(entry)
        send_raw(self.client, entry)
        report.replaced += 1


def _replacement_tx(entry: OutboxEntry, max_fee: int, tip: int) -> dict[str, Any]:
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": entry.chain_id,
        "nonce": entry.nonce,
        "gas": entry.gas,
        "maxFeePerGas": max_fee,
        "maxPriorityFeePerGas": tip,
        "value": int(entry.value),
        "data": bytes.fromhex(entry.data[2:]),
    }
    if entry.to_address:
        tx["to"] = entry.to_address
    return tx


def settle(reconciler: Reconciler, timeout_s: float = 60.0) -> ReconcileReport:
    """Reconcile until nothing is open (or the timeout passes); returns the last report.

    Used at start, so that transactions a lost chain must replay are mined before anything
    new (a deployment, a request) takes the next nonce.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        report = reconciler.run_once()
        if (report.still_open == 0 and report.reopened == 0) or time.monotonic() >= deadline:
            return report
        time.sleep(0.1)


def run_periodically(reconciler: Reconciler, interval_s: float, stop: threading.Event) -> None:
    """Reconcile every `interval_s` seconds until `stop` is set; errors are logged, not fatal."""
    while not stop.is_set():
        try:
            report = reconciler.run_once()
            if report.rebroadcast or report.replaced or report.reopened or report.failed:
                log.info("reconciler: %s", report)
        except ChainError as exc:
            log.warning("reconciler: chain unavailable: %s", exc)
        except Exception:
            log.exception("reconciler pass failed")
        stop.wait(interval_s)
