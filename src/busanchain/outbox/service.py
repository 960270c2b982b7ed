"""The reliable transaction pipeline.

A transaction is signed and committed to the outbox *before* it is broadcast. A crash at
any point leaves either nothing (not committed) or an entry that the reconciler finishes by
broadcasting the identical bytes. Nonces come from one allocator per signing key.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy.orm import Session

from busanchain.chain.client import ChainClient, RpcError
from busanchain.chain.revert import all_custom_errors, decode_revert
from busanchain.chain.signing import Signer
from busanchain.db.base import utcnow
from busanchain.domain.errors import ChainError, Conflict, NotFound, TransactionReverted
from busanchain.outbox.nonces import allocate_nonce, key_lock
from busanchain.outbox.repository import OutboxRepository
from busanchain.outbox.tables import OutboxEntry, OutboxState
from busanchain.platform.context import PlatformContext

log = logging.getLogger(__name__)

GAS_MARGIN_NUM, GAS_MARGIN_DEN = 6, 5  # estimate x 1.2
CRASH_POINT_ENV = "BUSANCHAIN_CRASH_POINT"
CRASH_SKIP_ENV = "BUSANCHAIN_CRASH_SKIP"
_crash_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    """Fault injection for crash tests: kill -9 this process at a named point.

    Only active when BUSANCHAIN_CRASH_POINT names this point (after skipping the first
    BUSANCHAIN_CRASH_SKIP hits); a production deployment never sets it.
    """
    if os.environ.get(CRASH_POINT_ENV) != name:
        return
    hits = _crash_hits.get(name, 0)
    _crash_hits[name] = hits + 1
    if hits >= int(os.environ.get(CRASH_SKIP_ENV, "0")):
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class TxOutcome:
    """What happened to an outbox entry."""

    entry_id: int
    tx_hash: str
    status: str
    block_number: int | None = None
    gas_used: int | None = None
    contract_address: str | None = None
    revert_reason: str | None = None

    @classmethod
    def of(cls, entry: OutboxEntry) -> TxOutcome:
        """The outcome as recorded on an entry."""
        return cls(
            entry_id=entry.id,
            tx_hash=entry.tx_hash,
            status=entry.state,
            block_number=entry.block_number,
            gas_used=entry.gas_used,
            contract_address=entry.contract_address,
            revert_reason=entry.revert_reason,
        )


class OutboxService:
    """Enqueue, broadcast and follow transactions."""

    def __init__(self, context: PlatformContext, client: ChainClient | None = None) -> None:
        self.context = context
        self.client = client or ChainClient(context.settings.node_rpc_url)

    # -- enqueue -----------------------------------------------------------------------------

    def _tx_fields(self, signer: Signer, to: str | None, data: bytes, value: int) -> dict[str, Any]:
        fields: dict[str, Any] = {"from": signer.address, "data": "0x" + data.hex()}
        if to is not None:
            fields["to"] = to
        if value:
            fields["value"] = hex(value)
        return fields

    def estimate(self, signer: Signer, to: str | None, data: bytes, value: int = 0) -> int:
        """Gas for a call with a safety margin; raises TransactionReverted when it would revert."""
        try:
            estimate = self.client.estimate_gas(self._tx_fields(signer, to, data, value))
        except RpcError as exc:
            if exc.revert_data is not None or "revert" in exc.text:
                reason = decode_revert(exc.revert_data or b"", all_custom_errors())
                raise TransactionReverted(
                    f"The transaction would be reverted: {reason}",
                    f"거래가 거부될 것입니다: {reason}",
                    reason=reason,
                ) from exc
            raise
        return estimate * GAS_MARGIN_NUM // GAS_MARGIN_DEN + 10_000

    def enqueue(
        self,
        session: Session,
        *,
        signer: Signer,
        intent: str,
        to: str | None,
        data: bytes,
        value: int = 0,
        gas: int | None = None,
        reference: str | None = None,
        on_behalf_of: str | None = None,
    ) -> OutboxEntry:
        """Sign a transaction and add it to the outbox in the caller's transaction.

        The caller commits; only then may `broadcast` send it. Gas is estimated first, so a
        call that would revert is refused before a nonce is spent.

        `on_behalf_of` records the wallet the transaction acts for (see `claim_wallet`, which
        the caller must have called first in the same transaction).
        """
        chain_id = self.client.chain_id()
        repo = OutboxRepository(session)
        gas = gas or self.estimate(signer, to, data, value)
        fees = self.client.fee_params()
        nonce = allocate_nonce(
            repo, chain_id, signer.address, lambda: self.client.nonce(signer.address)
        )
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": chain_id,
            "nonce": nonce,
            "gas": gas,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            "value": value,
            "data": data,
        }
        if to is not None:
            tx["to"] = to
        signed = signer.sign_transaction(tx)
        entry = OutboxEntry(
            chain_id=chain_id,
            intent=intent,
            reference=reference,
            sender=signer.address,
            nonce=nonce,
            to_address=to,
            value=str(value),
            data="0x" + data.hex(),
            gas=gas,
            max_fee_per_gas=str(fees.max_fee_per_gas),
            max_priority_fee_per_gas=str(fees.max_priority_fee_per_gas),
            raw_tx="0x" + signed.raw.hex(),
            tx_hash=signed.hash,
            state=OutboxState.SIGNED,
            on_behalf_of=to_checksum_address(on_behalf_of) if on_behalf_of else None,
        )
        return repo.add(entry)

    def claim_wallet(self, session: Session, wallet: str) -> None:
        """Take the wallet's turn for an operation that relays its off-chain signature over
        one of its contract nonces (permit, publish consent, approval), or the allowance such
        a signature gave; call it before reading the state the signature is made from.

        Such a signature is made from the wallet's state as read from the chain. If another
        operation for the wallet is still on its way, that state is about to change and the
        transaction would revert: WalletBusy (409, retry when the other one is done). The
        check runs under a per-wallet lock held to the end of the caller's transaction, in
        which the caller enqueues its entries with `on_behalf_of=wallet`; so it holds across
        worker processes, where the in-process `key_lock` does not reach. An entry recorded
        as open whose receipt is already on chain (nobody has followed it yet; the reconciler
        would, later) is recorded as mined here and does not count.
        """
        wallet = to_checksum_address(wallet)
        repo = OutboxRepository(session)
        repo.lock_wallet(wallet)
        for entry in repo.open_for_wallet(self.client.chain_id(), wallet):
            receipt = find_receipt(self.client, repo.attempt_hashes(entry.id))
            if receipt is None:
                raise WalletBusy()
            apply_receipt(self.client, entry, receipt)

    # -- broadcast and follow ------------------------------------------------------------------

    def broadcast(self, entry_id: int) -> None:
        """Send an entry's signed bytes to the node; errors leave it for the reconciler."""
        crash_point("before_broadcast")
        with self.context.unit_of_work() as session:
            entry = OutboxRepository(session).get(entry_id)
            if entry is None or entry.state not in OutboxState.OPEN:
                return
            send_raw(self.client, entry)

    def wait(self, entry_id: int, timeout_s: float = 30.0) -> TxOutcome:
        """Wait until an entry is mined (or the timeout passes) and return its outcome."""
        deadline = time.monotonic() + timeout_s
        while True:
            outcome = self.refresh(entry_id)
            if outcome.status not in OutboxState.OPEN or time.monotonic() >= deadline:
                return outcome
            time.sleep(0.05)

    def refresh(self, entry_id: int) -> TxOutcome:
        """Look the entry's hashes up on chain and record a receipt if there is one."""
        with self.context.unit_of_work() as session:
            repo = OutboxRepository(session)
            entry = repo.get(entry_id)
            if entry is None:
                raise NotFound(
                    f"No outbox entry {entry_id}.", f"거래 기록 {entry_id}이(가) 없습니다."
                )
            if entry.state in OutboxState.OPEN:
                receipt = find_receipt(self.client, repo.attempt_hashes(entry.id))
                if receipt is not None:
                    apply_receipt(self.client, entry, receipt)
            return TxOutcome.of(entry)

    def execute(
        self,
        *,
        signer: Signer,
        intent: str,
        to: str | None,
        data: bytes | Callable[[], bytes],
        value: int = 0,
        gas: int | None = None,
        reference: str | None = None,
        timeout_s: float = 30.0,
        on_behalf_of: str | None = None,
    ) -> TxOutcome:
        """Enqueue, commit, broadcast and wait; raise TransactionReverted on a revert.

        With `on_behalf_of`, the wallet is claimed first (`claim_wallet`) and `data`, a
        callable, reads the wallet's state and signs only then.
        """
        lock = key_lock(self.client.chain_id(), signer.address)
        with lock, self.context.unit_of_work() as session:
            if on_behalf_of is not None:
                self.claim_wallet(session, on_behalf_of)
            entry = self.enqueue(
                session,
                signer=signer,
                intent=intent,
                to=to,
                data=data() if callable(data) else data,
                value=value,
                gas=gas,
                reference=reference,
                on_behalf_of=on_behalf_of,
            )
            entry_id = entry.id
        self.broadcast(entry_id)
        outcome = self.wait(entry_id, timeout_s)
        raise_for_outcome(outcome)
        return outcome


class WalletBusy(Conflict):
    """Another operation acting for the same wallet is still on its way to the chain."""

    code = "wallet_busy"

    def __init__(self) -> None:
        super().__init__(
            "Another transaction for this wallet is still being processed; try again in a moment.",
            "이 지갑의 다른 거래가 아직 처리 중입니다. 잠시 뒤에 다시 시도하세요.",
        )


def raise_for_outcome(outcome: TxOutcome) -> None:
    """Raise TransactionReverted for a reverted outcome, ChainError if still pending."""
    if outcome.status == OutboxState.REVERTED:
        reason = outcome.revert_reason or "unknown"
        raise TransactionReverted(
            f"The transaction was reverted: {reason}",
            f"거래가 거부되었습니다: {reason}",
            reason=reason,
            tx_hash=outcome.tx_hash,
        )
    if outcome.status in OutboxState.OPEN:
        raise ChainError(
            f"The transaction {outcome.tx_hash} is not mined yet; it will be retried.",
            f"거래 {outcome.tx_hash}가 아직 처리되지 않았습니다. 자동으로 재시도합니다.",
        )


def send_raw(client: ChainClient, entry: OutboxEntry) -> None:
    """Broadcast an entry's current bytes and record it; tolerate 'already known'."""
    try:
        client.send_raw(bytes.fromhex(entry.raw_tx[2:]))
    except RpcError as exc:
        if not any(
            s in exc.text for s in ("already known", "already imported", "known transaction")
        ):
            log.warning("broadcast of entry %s (%s) failed: %s", entry.id, entry.tx_hash, exc.text)
            if "nonce too low" not in exc.text:
                return
    except ChainError as exc:
        log.warning("node unreachable while broadcasting entry %s: %s", entry.id, exc)
        return
    entry.state = OutboxState.BROADCAST if entry.state == OutboxState.SIGNED else entry.state
    entry.broadcasts += 1
    entry.last_broadcast_at = utcnow()


def find_receipt(client: ChainClient, hashes: list[str]) -> dict[str, Any] | None:
    """The receipt of whichever attempt was mined, if any."""
    for tx_hash in hashes:
        receipt = client.receipt(tx_hash)
        if receipt is not None and receipt.get("blockHash"):
            return receipt
    return None


def apply_receipt(
    client: ChainClient,
    entry: OutboxEntry,
    receipt: dict[str, Any],
    errors: Callable[[], dict[bytes, dict[str, Any]]] = all_custom_errors,
) -> None:
    """Record a mined receipt on an entry, decoding the revert reason on failure."""
    entry.tx_hash = str(receipt["transactionHash"]).lower()
    entry.block_number = int(receipt["blockNumber"], 16)
    entry.block_hash = str(receipt["blockHash"]).lower()
    entry.gas_used = int(receipt["gasUsed"], 16)
    entry.contract_address = receipt.get("contractAddress")
    if int(receipt["status"], 16) == 1:
        entry.state = OutboxState.CONFIRMED
        return
    entry.state = OutboxState.REVERTED
    entry.revert_reason = replay_revert_reason(client, entry, errors())


def replay_revert_reason(
    client: ChainClient, entry: OutboxEntry, errors: dict[bytes, dict[str, Any]]
) -> str:
    """Re-run a reverted transaction as a call on its parent block to get the reason."""
    call: dict[str, Any] = {"from": entry.sender, "data": entry.data, "gas": hex(entry.gas)}
    if entry.to_address:
        call["to"] = entry.to_address
    if int(entry.value):
        call["value"] = hex(int(entry.value))
    block = max((entry.block_number or 1) - 1, 0)
    try:
        client.call(call, block)
    except RpcError as exc:
        return decode_revert(exc.revert_data or b"", errors)
    except ChainError:
        return "reverted (reason unavailable)"
    return "reverted (out of gas or state changed within the block)"
