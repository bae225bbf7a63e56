"""triage: results per customer message, agents' corrections, intent models, the product catalogue

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:32:20.357845
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "catalogue_items",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_items")),
        sa.UniqueConstraint("name", name=op.f("uq_catalogue_items_name")),
    )
    op.create_table(
        "intent_models",
        sa.Column("id", ID, nullable=False),
        sa.Column("version", sa.String(length=80), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("labels", sa.Integer(), nullable=False),
        sa.Column("meta", JSON, nullable=False),
        sa.Column("archive", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intent_models")),
        sa.UniqueConstraint("version", name=op.f("uq_intent_models_version")),
    )
    op.create_table(
        "message_triage",
        sa.Column("message_id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("result", JSON, nullable=False),
        sa.Column("intents", JSON, nullable=False),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("frustration", sa.Float(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=False),
        sa.Column("abusive", sa.Boolean(), nullable=False),
        sa.Column("out_of_scope", sa.Boolean(), nullable=False),
        sa.Column("intent_model", sa.String(length=80), nullable=False),
        sa.Column("message_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_message_triage_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_triage_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_message_triage_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_triage")),
    )
    with op.batch_alter_table("message_triage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_triage_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index("ix_message_triage_ticket_id", ["ticket_id"], unique=False)

    op.create_table(
        "triage_corrections",
        sa.Column("id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("concern_index", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_triage_corrections_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_triage_corrections_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_corrections")),
    )
    with op.batch_alter_table("triage_corrections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_triage_corrections_message_id"), ["message_id"], unique=False)

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("triaged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_messages_untriaged",
            ["id"],
            unique=False,
            sqlite_where=sa.text("triaged_at IS NULL"),
            postgresql_where=sa.text("triaged_at IS NULL"),
        )
    # Agents' replies and notes are never triaged; existing customer messages stay NULL, so the sweep
    # triages the history that was there before this upgrade.
    op.execute("UPDATE messages SET triaged_at = created_at WHERE author_type <> 'customer' OR internal")


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_messages_untriaged",
            sqlite_where=sa.text("triaged_at IS NULL"),
            postgresql_where=sa.text("triaged_at IS NULL"),
        )
        batch_op.drop_column("triaged_at")
    op.drop_table("triage_corrections")
    op.drop_table("message_triage")
    op.drop_table("intent_models")
    op.drop_table("catalogue_items")
