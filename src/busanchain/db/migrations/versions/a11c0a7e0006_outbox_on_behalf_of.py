"""outbox: the wallet an entry acts for (one relayed signature in flight per wallet)

Revision ID: a11c0a7e0006
Revises: a11c0a7e0005
Create Date: 2026-11-29 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a11c0a7e0006"
down_revision: str | None = "a11c0a7e0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("outbox_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("on_behalf_of", sa.String(length=42), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_outbox_entries_on_behalf_of"), ["on_behalf_of"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("outbox_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_entries_on_behalf_of"))
        batch_op.drop_column("on_behalf_of")
