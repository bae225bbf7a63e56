"""messages.imported: imported history is triaged after live messages, not before them

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 09:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UNTRIAGED = sa.text("triaged_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("imported", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch_op.drop_index("ix_messages_untriaged", sqlite_where=UNTRIAGED, postgresql_where=UNTRIAGED)
        batch_op.create_index(
            "ix_messages_untriaged",
            ["imported", "id"],
            unique=False,
            sqlite_where=UNTRIAGED,
            postgresql_where=UNTRIAGED,
        )
    # Messages an earlier `ombud import` brought in carry the mark in their channel_meta.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE messages SET imported = true WHERE channel_meta ? 'imported'")
    else:
        op.execute(
            "UPDATE messages SET imported = 1 WHERE json_extract(channel_meta, '$.imported') IS NOT NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_untriaged", sqlite_where=UNTRIAGED, postgresql_where=UNTRIAGED)
        batch_op.create_index(
            "ix_messages_untriaged", ["id"], unique=False, sqlite_where=UNTRIAGED, postgresql_where=UNTRIAGED
        )
        batch_op.drop_column("imported")
