"""Queries over contract deployments. Repositories never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from busanchain.deployment.tables import ContractDeployment


class DeploymentRepository:
    """Reads and writes deployment records within the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, chain_id: int, name: str) -> ContractDeployment | None:
        """The record of contract `name` on `chain_id`, if any."""
        stmt = select(ContractDeployment).where(
            ContractDeployment.chain_id == chain_id, ContractDeployment.name == name
        )
        return self.session.scalars(stmt).first()

    def on_chain(self, chain_id: int) -> Sequence[ContractDeployment]:
        """All records of one chain, by name."""
        stmt = (
            select(ContractDeployment)
            .where(ContractDeployment.chain_id == chain_id)
            .order_by(ContractDeployment.name)
        )
        return self.session.scalars(stmt).all()

    def add(self, record: ContractDeployment) -> ContractDeployment:
        """Insert a new record (flushes, so a duplicate fails here)."""
        self.session.add(record)
        self.session.flush()
        return record
