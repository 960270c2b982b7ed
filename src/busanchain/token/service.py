"""DigitalWon use cases: issue against deposits, gasless transfers, balances, operation status.

Every operation that moves money goes through the outbox and, over HTTP, through an
Idempotency-Key. Transfers from a custodial wallet are EIP-3009 authorizations signed by the
user's key and relayed by the platform's operator, so users never need gas.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak
from sqlalchemy.orm import Session
from web3 import Web3
from web3.contract import Contract

from busanchain.chain.artifacts import load_artifact
from busanchain.chain.signing import EIP712_DOMAIN_TYPE, Signer
from busanchain.deployment.service import DeploymentService
from busanchain.domain.errors import ConfigurationError, NotFound
from busanchain.idempotency.service import IdempotencyService, parse_key
from busanchain.outbox.nonces import key_lock
from busanchain.outbox.repository import OutboxRepository
from busanchain.outbox.service import OutboxService, TxOutcome, crash_point
from busanchain.outbox.tables import OutboxEntry
from busanchain.platform.context import PlatformContext

WAIT_FOR_RECEIPT_S = 10.0
TOKEN_NAME = "DigitalWon"  # noqa: S105 (a contract name, not a secret)
AUTHORIZATION_TTL_S = 3600


@dataclass(frozen=True)
class Operation:
    """A money-moving operation as the caller sees it."""

    operation_id: int
    tx_hash: str
    status: str
    block_number: int | None
    revert_reason: str | None
    owner: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "operation_id": self.operation_id,
            "tx_hash": self.tx_hash,
            "status": self.status,
            "block_number": self.block_number,
            "revert_reason": self.revert_reason,
            "status_url": f"/api/token/operations/{self.operation_id}",
        }

    @classmethod
    def of(cls, outcome: TxOutcome, owner: str | None) -> Operation:
        """From an outbox outcome."""
        return cls(
            outcome.entry_id,
            outcome.tx_hash,
            outcome.status,
            outcome.block_number,
            outcome.revert_reason,
            owner,
        )


Enqueue = Callable[["TokenService", Session], OutboxEntry]
"""Adds one transaction to the outbox inside the caller's unit of work."""


@dataclass(frozen=True)
class SubmitRequest:
    """One money-moving request: who asks, under which Idempotency-Key, with which body."""

    scope: str
    key: str | None
    fingerprint: str
    owner: str
    relayer: Signer


def _answer(operation: Operation) -> tuple[int, dict[str, Any]]:
    status = {"confirmed": 200, "reverted": 422, "failed": 422}.get(operation.status, 202)
    return status, operation.as_dict()


def deposit_reference(text: str) -> bytes:
    """The bytes32 reference stored on chain for an off-chain deposit record (a hash only)."""
    return keccak(text=f"busanchain:deposit:{text}")


class TokenService:
    """DigitalWon operations for the platform's operator and custodial users."""

    def __init__(self, context: PlatformContext, outbox: OutboxService | None = None) -> None:
        self.context = context
        self.outbox = outbox or OutboxService(context)
        self._contract: Contract | None = None

    def contract(self) -> Contract:
        """The deployed DigitalWon contract on this chain."""
        if self._contract is None:
            addresses = DeploymentService(self.context, self.outbox).addresses(
                self.outbox.client.chain_id()
            )
            if TOKEN_NAME not in addresses:
                raise ConfigurationError(
                    "DigitalWon is not deployed on this chain; run `busanchain deploy`.",
                    "이 체인에 DigitalWon이 배포되지 않았습니다. `busanchain deploy`를 실행하세요.",
                )
            abi = load_artifact(TOKEN_NAME).abi
            address = Web3.to_checksum_address(addresses[TOKEN_NAME])
            self._contract = Web3().eth.contract(address=address, abi=abi)
        return self._contract

    def balance_of(self, address: str) -> int:
        """The DigitalWon balance of an address, read live from the chain."""
        data = self.contract().encode_abi("balanceOf", [address])
        out = self.outbox.client.call({"to": self.contract().address, "data": data})
        return int.from_bytes(out[-32:], "big") if out else 0

    def enqueue_issue(
        self,
        session: Session,
        *,
        issuer: Signer,
        to: str,
        amount: int,
        deposit_ref: str,
        owner: str | None,
    ) -> OutboxEntry:
        """Add a mint against a deposit to the outbox (the caller commits)."""
        data = self.contract().encode_abi("mint", [to, amount, deposit_reference(deposit_ref)])
        return self.outbox.enqueue(
            session,
            signer=issuer,
            intent="token.issue",
            to=self.contract().address,
            data=bytes.fromhex(data[2:]),
            reference=owner,
        )

    def chain_time(self) -> int:
        """The timestamp of the latest block, which contracts compare against."""
        block = self.outbox.client.request("eth_getBlockByNumber", ["latest", False])
        return int(block["timestamp"], 16)

    def authorization(self, payer: Signer, to: str, amount: int) -> bytes:
        """Calldata for an EIP-3009 transferWithAuthorization signed by the payer."""
        contract = self.contract()
        nonce = secrets.token_bytes(32)
        # The window is measured in chain time: the server's clock may differ from the chain's.
        valid_before = self.chain_time() + AUTHORIZATION_TTL_S
        message = {
            "from": payer.address,
            "to": to,
            "value": amount,
            "validAfter": 0,
            "validBefore": valid_before,
            "nonce": nonce,
        }
        signature = payer.sign_typed_data(self._typed_data(message))
        data = contract.encode_abi(
            "transferWithAuthorization",
            [payer.address, to, amount, 0, valid_before, nonce, signature],
        )
        return bytes.fromhex(data[2:])

    def _typed_data(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "types": {
                "EIP712Domain": EIP712_DOMAIN_TYPE,
                "TransferWithAuthorization": [
                    {"name": "from", "type": "address"},
                    {"name": "to", "type": "address"},
                    {"name": "value", "type": "uint256"},
                    {"name": "validAfter", "type": "uint256"},
                    {"name": "validBefore", "type": "uint256"},
                    {"name": "nonce", "type": "bytes32"},
                ],
            },
            "primaryType": "TransferWithAuthorization",
            "domain": {
                "name": TOKEN_NAME,
                "version": "1",
                "chainId": self.outbox.client.chain_id(),
                "verifyingContract": self.contract().address,
            },
            "message": message,
        }

    def enqueue_transfer(
        self,
        session: Session,
        *,
        relayer: Signer,
        payer: Signer,
        to: str,
        amount: int,
        owner: str | None,
    ) -> OutboxEntry:
        """Add a relayed, gasless transfer from `payer` to the outbox (the caller commits)."""
        return self.outbox.enqueue(
            session,
            signer=relayer,
            intent="token.transfer",
            to=self.contract().address,
            data=self.authorization(payer, to, amount),
            reference=owner,
        )

    def submit_once(self, request: SubmitRequest, enqueue: Enqueue) -> tuple[int, dict[str, Any]]:
        """Run a money-moving request once per Idempotency-Key; return (status, answer).

        The key is claimed in the same transaction as the outbox entry, so a crash leaves
        both or neither. Only then is the transaction broadcast; its outcome (200 confirmed,
        422 reverted with the reason, 202 still pending) becomes the stored answer.
        """
        key = parse_key(request.key)
        self.contract()  # resolve the address before the unit of work that claims the key
        idem = IdempotencyService(self.context)

        def work(session: Session) -> tuple[int, dict[str, Any]]:
            entry = enqueue(self, session)
            pending = Operation(entry.id, entry.tx_hash, entry.state, None, None, request.owner)
            return 202, pending.as_dict()

        with key_lock(self.outbox.client.chain_id(), request.relayer.address):
            stored = idem.run(request.scope, key, request.fingerprint, work)
        if stored.replayed:
            return stored.status_code, stored.body
        crash_point("after_outbox_commit")
        operation_id = int(stored.body["operation_id"])
        self.outbox.broadcast(operation_id)
        outcome = self.outbox.wait(operation_id, WAIT_FOR_RECEIPT_S)
        status, answer = _answer(Operation.of(outcome, request.owner))
        idem.update_answer(request.scope, key, status, answer)
        return status, answer

    def operation(self, operation_id: int) -> Operation:
        """The current status of an operation (refreshed from the chain)."""
        outcome = self.outbox.refresh(operation_id)
        with self.context.unit_of_work() as session:
            entry = OutboxRepository(session).get(operation_id)
            if entry is None or not entry.intent.startswith("token."):
                raise NotFound("No such operation.", "해당 거래가 없습니다.")
            return Operation.of(outcome, entry.reference)
