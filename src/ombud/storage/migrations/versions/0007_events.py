"""events: the outbox of ticket events the workflow consumers (SLA, routing, automations, reports,
webhooks) see after each commit, and customers' service tier

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 20:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("ticket_id", ID, nullable=True),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("entity_type", sa.String(length=50), nullable=False),
        sa.Column("entity_id", ID, nullable=False),
        sa.Column("actor_type", sa.String(length=20), nullable=False),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("errors", JSON, nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_ticket_id_id", "events", ["ticket_id", "id"], unique=False)
    op.create_index(
        "ix_events_undispatched",
        "events",
        ["id"],
        unique=False,
        sqlite_where=sa.text("dispatched_at IS NULL"),
        postgresql_where=sa.text("dispatched_at IS NULL"),
    )
    op.create_index(
        "ix_events_retry_at",
        "events",
        ["retry_at"],
        unique=False,
        sqlite_where=sa.text("retry_at IS NOT NULL"),
        postgresql_where=sa.text("retry_at IS NOT NULL"),
    )
    # Events from before this revision were never published: the outbox starts empty.
    op.add_column(
        "customers",
        sa.Column("tier", sa.String(length=40), server_default=sa.text("'standard'"), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("tier")
    op.drop_index("ix_events_retry_at", table_name="events")
    op.drop_index("ix_events_undispatched", table_name="events")
    op.drop_index("ix_events_ticket_id_id", table_name="events")
    op.drop_table("events")
