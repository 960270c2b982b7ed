"""Read-only units of work: they never hold up a writer, and they never save a change."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from busanchain.deployment.tables import ContractDeployment
from busanchain.platform.context import PlatformContext


def _record(n: int) -> ContractDeployment:
    return ContractDeployment(
        chain_id=31337,
        name=f"Contract{n}",
        address="0x" + f"{n:040x}",
        code_hash="0x" + "00" * 32,
        tx_hash="0x" + "11" * 32,
        block_number=n,
        source_hash="22" * 32,
    )


def _count(context: PlatformContext) -> int:
    with context.read_only() as session:
        return int(session.scalar(select(func.count()).select_from(ContractDeployment)) or 0)


def test_a_reader_in_its_transaction_does_not_hold_up_a_writer(context: PlatformContext) -> None:
    with context.unit_of_work() as session:
        session.add(_record(1))
    written = threading.Event()

    def write() -> None:
        with context.unit_of_work() as session:
            session.add(_record(2))
        written.set()

    with context.read_only() as reader:
        before = reader.scalar(select(func.count()).select_from(ContractDeployment))
        started = time.monotonic()
        writer = threading.Thread(target=write)
        writer.start()
        assert written.wait(5), "the writer waited for the reader's transaction"
        assert time.monotonic() - started < 2
        again = reader.scalar(select(func.count()).select_from(ContractDeployment))
        if context.engine.dialect.name == "sqlite":
            assert before == again == 1  # the reader keeps its snapshot (WAL)
    writer.join(5)
    assert _count(context) == 2


def test_a_change_in_a_read_only_unit_is_refused_and_not_saved(context: PlatformContext) -> None:
    with pytest.raises(RuntimeError, match="read-only"), context.read_only() as session:
        session.add(_record(3))
    assert _count(context) == 0
