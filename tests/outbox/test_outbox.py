"""The outbox against a real anvil node and a real database."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from eth_account import Account
from sqlalchemy import func, select

from busanchain.accounts.service import account_service_for
from busanchain.chain.client import ChainClient
from busanchain.chain.signing import signer_from_key
from busanchain.config import ANVIL_DEFAULT_OPERATOR_KEY
from busanchain.keys.service import key_service_for
from busanchain.outbox.reconciler import Reconciler, ReconcilerPolicy
from busanchain.outbox.service import OutboxService
from busanchain.outbox.tables import OutboxAttempt, OutboxEntry, OutboxState
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import signer_lookup
from tests.conftest import start_anvil

OPERATOR = signer_from_key(ANVIL_DEFAULT_OPERATOR_KEY)


def _fresh_address() -> str:
    return str(Account.create().address)


def _balance(client: ChainClient, address: str) -> int:
    return int(client.request("eth_getBalance", [address, "latest"]), 16)


def test_execute_confirms_and_moves_value(context: PlatformContext) -> None:
    outbox = OutboxService(context)
    to = _fresh_address()
    outcome = outbox.execute(signer=OPERATOR, intent="test", to=to, data=b"", value=7)
    assert outcome.status == OutboxState.CONFIRMED
    assert outcome.block_number is not None
    assert _balance(outbox.client, to) == 7


def test_committed_but_never_broadcast_is_finished_by_reconciler(context: PlatformContext) -> None:
    outbox = OutboxService(context)
    to = _fresh_address()
    with context.unit_of_work() as session:
        entry = outbox.enqueue(session, signer=OPERATOR, intent="test", to=to, data=b"", value=3)
        entry_id = entry.id
    # The process "crashed" here: nothing was broadcast.
    assert outbox.client.transaction(entry.tx_hash) is None
    reconciler = Reconciler(context, signers=lambda _a: OPERATOR)
    first = reconciler.run_once()
    assert first.rebroadcast == 1
    outcome = outbox.wait(entry_id, timeout_s=10)
    assert outcome.status == OutboxState.CONFIRMED
    assert _balance(outbox.client, to) == 3
    # Running again changes nothing and sends nothing twice.
    second = reconciler.run_once()
    assert second.rebroadcast == 0 and second.still_open == 0
    assert _balance(outbox.client, to) == 3


def test_nonces_are_unique_and_contiguous_under_concurrency(context: PlatformContext) -> None:
    outbox = OutboxService(context)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                outbox.execute(
                    signer=OPERATOR, intent="test", to=_fresh_address(), data=b"", value=1
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with context.unit_of_work() as session:
        nonces = sorted(session.scalars(select(OutboxEntry.nonce)))
        states = set(session.scalars(select(OutboxEntry.state)))
    assert len(nonces) == 40
    assert nonces == list(range(nonces[0], nonces[0] + 40))
    assert states == {OutboxState.CONFIRMED}


def test_stuck_transaction_is_replaced_with_same_nonce(
    context: PlatformContext, tmp_path: Path, anvil_binary: Path
) -> None:
    node = start_anvil(tmp_path / "node", anvil_binary)
    try:
        client = ChainClient(node.config.rpc_url)
        client.request("evm_setAutomine", [False])
        ctx = context  # the test's database, with services pointed at the private node
        outbox = OutboxService(ctx, client=client)
        to = _fresh_address()
        with ctx.unit_of_work() as session:
            entry = outbox.enqueue(session, signer=OPERATOR, intent="t", to=to, data=b"", value=5)
        outbox.broadcast(entry.id)
        policy = ReconcilerPolicy(stuck_after=timedelta(seconds=-1), max_replacements=2)
        reconciler = Reconciler(ctx, signers=lambda _a: OPERATOR, client=client, policy=policy)
        assert reconciler.run_once().replaced == 1
        assert reconciler.run_once().replaced == 1
        assert reconciler.run_once().replaced == 0  # bounded
        client.request("evm_mine", [])
        outcome = outbox.wait(entry.id, timeout_s=5)
        assert outcome.status == OutboxState.CONFIRMED
        assert _balance(client, to) == 5  # paid once, not three times
        with ctx.unit_of_work() as session:
            attempts = session.scalar(
                select(func.count())
                .select_from(OutboxAttempt)
                .where(OutboxAttempt.entry_id == entry.id)
            )
        assert attempts == 3
    finally:
        node.stop(snapshot=False)


def test_stuck_custodial_transaction_is_re_signed_with_the_custodial_key(
    context: PlatformContext, tmp_path: Path, anvil_binary: Path
) -> None:
    """A merchant's refund is sent from their custodial key: the reconciler must find that
    key (not only the operator's) to replace the transaction when it is stuck."""
    node = start_anvil(tmp_path / "node", anvil_binary)
    try:
        client = ChainClient(node.config.rpc_url)
        user = account_service_for(context).create_user("refunder", "a long passphrase", [])
        keys = key_service_for(context)
        custodial = keys.signer_for_user(user.id)
        outbox = OutboxService(context, client=client)
        outbox.execute(signer=OPERATOR, intent="gas", to=custodial.address, data=b"", value=10**18)
        client.request("evm_setAutomine", [False])
        to = _fresh_address()
        with context.unit_of_work() as session:
            entry = outbox.enqueue(session, signer=custodial, intent="t", to=to, data=b"", value=7)
        outbox.broadcast(entry.id)
        lookup = signer_lookup(context, OPERATOR)
        assert lookup(OPERATOR.address) is OPERATOR
        assert lookup(_fresh_address()) is None  # a self-custody wallet is never re-signed
        policy = ReconcilerPolicy(stuck_after=timedelta(seconds=-1), max_replacements=1)
        reconciler = Reconciler(context, signers=lookup, client=client, policy=policy)
        report = reconciler.run_once()
        assert (report.replaced, report.failed) == (1, 0)
        client.request("evm_mine", [])
        assert outbox.wait(entry.id, timeout_s=5).status == OutboxState.CONFIRMED
        assert _balance(client, to) == 7
        assert client.nonce(custodial.address) == 1
    finally:
        node.stop(snapshot=False)


def test_transactions_lost_by_node_restart_are_replayed(
    context: PlatformContext, tmp_path: Path, anvil_binary: Path
) -> None:
    node = start_anvil(tmp_path / "node", anvil_binary)
    try:
        client = ChainClient(node.config.rpc_url)
        outbox = OutboxService(context, client=client)
        to = _fresh_address()
        for _ in range(3):
            outbox.execute(signer=OPERATOR, intent="t", to=to, data=b"", value=1)
        node.snapshot()
        snapshot_head = client.block_number()
        for _ in range(4):
            outbox.execute(signer=OPERATOR, intent="t", to=to, data=b"", value=1)
        assert _balance(client, to) == 7
        node._process.kill()  # kill -9
        node._process.wait()
        node.start(watch=False)
        assert _balance(client, to) == 3  # the tail after the snapshot is gone
        reconciler = Reconciler(
            context,
            signers=lambda _a: OPERATOR,
            client=client,
            finalized_block=lambda _c: snapshot_head,
        )
        report = reconciler.run_once()
        assert report.reopened == 4
        reconciler.run_once()
        assert _balance(client, to) == 7
        assert client.nonce(OPERATOR.address) == 7  # each nonce used exactly once
    finally:
        node.stop(snapshot=False)


def test_revert_reasons_are_decoded() -> None:
    from eth_abi import encode

    from busanchain.chain.revert import all_custom_errors, decode_revert

    errors = all_custom_errors()
    message = bytes.fromhex("08c379a0") + encode(["string"], ["잔액 부족"])
    panic = bytes.fromhex("4e487b71") + encode(["uint256"], [0x11])
    used = bytes.fromhex(
        next(s.hex() for s, e in errors.items() if e["name"] == "DepositReferenceUsed")
    ) + encode(["bytes32"], [b"\x01" * 32])
    assert decode_revert(message, errors) == "잔액 부족"
    assert decode_revert(panic, errors) == "Panic(0x11): arithmetic overflow or underflow"
    assert decode_revert(used, errors) == "DepositReferenceUsed(depositRef=0x" + "01" * 32 + ")"
    assert decode_revert(bytes.fromhex("cafebabe"), errors) == "0xcafebabe"
    assert decode_revert(b"", errors) == "reverted without a reason"
