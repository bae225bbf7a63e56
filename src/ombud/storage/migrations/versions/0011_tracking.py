"""ticket tracking: concerns, ticket links, merges, follow-up reminders

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 20:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "concerns",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "in_progress",
                "resolved",
                "wont_fix",
                name="concernstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("owner_id", ID, nullable=True),
        sa.Column("article_id", ID, nullable=True),
        sa.Column("resolution_ref", sa.String(length=200), nullable=True),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["kb_articles.id"],
            name=op.f("fk_concerns_article_id_kb_articles"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_concerns_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_concerns_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_concerns_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concerns")),
    )
    with op.batch_alter_table("concerns", schema=None) as batch_op:
        batch_op.create_index("ix_concerns_intent_created_at", ["intent", "created_at"], unique=False)
        batch_op.create_index("ix_concerns_owner_id_status", ["owner_id", "status"], unique=False)
        batch_op.create_index("ix_concerns_ticket_id_status", ["ticket_id", "status"], unique=False)

    op.create_table(
        "ticket_links",
        sa.Column("id", ID, nullable=False),
        sa.Column("from_ticket_id", ID, nullable=False),
        sa.Column("to_ticket_id", ID, nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "duplicate_of",
                "related_to",
                "caused_by",
                "merged_into",
                "split_from",
                name="linkkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("from_ticket_id <> to_ticket_id", name=op.f("ck_ticket_links_not_self")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_ticket_links_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["from_ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_links_from_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_links_to_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_links")),
        sa.UniqueConstraint(
            "from_ticket_id", "to_ticket_id", "kind", name=op.f("uq_ticket_links_from_ticket_id")
        ),
    )
    with op.batch_alter_table("ticket_links", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_links_to_ticket_id", ["to_ticket_id"], unique=False)

    op.create_table(
        "ticket_merges",
        sa.Column("id", ID, nullable=False),
        sa.Column("source_id", ID, nullable=False),
        sa.Column("target_id", ID, nullable=False),
        sa.Column("moved", JSON, nullable=False),
        sa.Column("merged_by_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["merged_by_id"],
            ["users.id"],
            name=op.f("fk_ticket_merges_merged_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["tickets.id"], name=op.f("fk_ticket_merges_source_id_tickets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["tickets.id"], name=op.f("fk_ticket_merges_target_id_tickets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["undone_by_id"],
            ["users.id"],
            name=op.f("fk_ticket_merges_undone_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_merges")),
    )
    with op.batch_alter_table("ticket_merges", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_merges_source_id", ["source_id"], unique=False)
        batch_op.create_index("ix_ticket_merges_target_id", ["target_id"], unique=False)

    op.create_table(
        "concern_messages",
        sa.Column("concern_id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("concern_index", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["concern_id"],
            ["concerns.id"],
            name=op.f("fk_concern_messages_concern_id_concerns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_concern_messages_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("concern_id", "message_id", name=op.f("pk_concern_messages")),
    )
    with op.batch_alter_table("concern_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_concern_messages_message_id_concern_index", ["message_id", "concern_index"], unique=True
        )

    op.create_table(
        "reminders",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "scheduled", "due", "done", "cancelled", name="reminderstate", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("message_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_reminders_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_reminders_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_reminders_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_reminders_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
    )
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reminders_scheduled_due_at",
            ["due_at"],
            unique=False,
            sqlite_where=sa.text("state = 'scheduled'"),
            postgresql_where=sa.text("state = 'scheduled'"),
        )
        batch_op.create_index("ix_reminders_ticket_id", ["ticket_id"], unique=False)
        batch_op.create_index(
            "ix_reminders_user_id_state_due_at", ["user_id", "state", "due_at"], unique=False
        )


def downgrade() -> None:
    for table in ("reminders", "concern_messages", "ticket_merges", "ticket_links", "concerns"):
        op.drop_table(table)
