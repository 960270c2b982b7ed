"""gallery: published photos in token order

Revision ID: a11c0a7e0005
Revises: a11c0a7e0004
Create Date: 2026-11-27 22:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a11c0a7e0005"
down_revision: str | None = "a11c0a7e0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("studio_photos", schema=None) as batch_op:
        batch_op.create_index(
            "ix_studio_photos_gallery", ["state", "published", "token_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("studio_photos", schema=None) as batch_op:
        batch_op.drop_index("ix_studio_photos_gallery")
