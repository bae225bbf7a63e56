"""channels: raw sources, channel ids of messages, deliveries, quarantine, follow-up tickets

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:36:56.402821
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "raw_sources",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_raw_sources")),
    )
    op.create_table(
        "channel_refs",
        sa.Column("id", ID, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("ref", sa.String(length=255), nullable=False),
        sa.Column(
            "direction",
            sa.Enum("inbound", "outbound", name="direction", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_channel_refs_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_channel_refs_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_channel_refs_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_refs")),
        sa.UniqueConstraint("channel", "ref", name=op.f("uq_channel_refs_channel")),
    )
    with op.batch_alter_table("channel_refs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_channel_refs_customer_id_created_at", ["customer_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_channel_refs_message_id"), ["message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_channel_refs_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("message_id", ID, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=500), nullable=False),
        sa.Column("ref", sa.String(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_deliveries_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_deliveries")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_due",
            ["next_attempt_at"],
            unique=False,
            sqlite_where=sa.text("state = 'pending'"),
            postgresql_where=sa.text("state = 'pending'"),
        )

    op.create_table(
        "inbound_emails",
        sa.Column("message_id", ID, nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.Column("full_text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_inbound_emails_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["raw_sha256"], ["raw_sources.sha256"], name=op.f("fk_inbound_emails_raw_sha256_raw_sources")
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_inbound_emails")),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", ID, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("reason_code", sa.String(length=50), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "state",
            sa.Enum("held", "released", "discarded", name="quarantinestate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("message_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_quarantine_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["raw_sha256"], ["raw_sources.sha256"], name=op.f("fk_quarantine_raw_sha256_raw_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index("ix_quarantine_state_id", ["state", "id"], unique=False)

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "delivery_state",
                sa.Enum(
                    "pending",
                    "sent",
                    "failed",
                    "bounced",
                    "none",
                    name="deliverystate",
                    native_enum=False,
                    length=20,
                ),
                nullable=True,
            )
        )
        batch_op.create_index(
            "ix_messages_undelivered",
            ["id"],
            unique=False,
            sqlite_where=sa.text("delivery_state = 'pending'"),
            postgresql_where=sa.text("delivery_state = 'pending'"),
        )

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follow_up_of_id", ID, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_tickets_follow_up_of_id_tickets"),
            "tickets",
            ["follow_up_of_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_tickets_follow_up_of_id_tickets"), type_="foreignkey")
        batch_op.drop_column("follow_up_of_id")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_messages_undelivered",
            sqlite_where=sa.text("delivery_state = 'pending'"),
            postgresql_where=sa.text("delivery_state = 'pending'"),
        )
        batch_op.drop_column("delivery_state")

    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantine_state_id")

    op.drop_table("quarantine")
    op.drop_table("inbound_emails")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_deliveries_due",
            sqlite_where=sa.text("state = 'pending'"),
            postgresql_where=sa.text("state = 'pending'"),
        )

    op.drop_table("deliveries")
    with op.batch_alter_table("channel_refs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_refs_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_channel_refs_message_id"))
        batch_op.drop_index("ix_channel_refs_customer_id_created_at")

    op.drop_table("channel_refs")
    op.drop_table("raw_sources")
