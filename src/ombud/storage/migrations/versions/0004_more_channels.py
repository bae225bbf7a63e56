"""more channels: imap cursors, calls, social endpoints, chat visitors, rate hits, customer merges

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 15:01:24.864783
"""

from __future__ import annotations

import re

import phonenumbers
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailbox_cursors",
        sa.Column("mailbox", sa.String(length=200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mailbox", name=op.f("pk_mailbox_cursors")),
    )
    op.create_table(
        "rate_hits",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_hits")),
    )
    with op.batch_alter_table("rate_hits", schema=None) as batch_op:
        batch_op.create_index("ix_rate_hits_key_at", ["key", "at"], unique=False)

    op.create_table(
        "social_endpoints",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("platform", sa.String(length=50), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("callback_url", sa.String(length=2000), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_endpoints")),
        sa.UniqueConstraint("name", name=op.f("uq_social_endpoints_name")),
    )
    op.create_table(
        "customer_merges",
        sa.Column("id", ID, nullable=False),
        sa.Column("target_id", ID, nullable=False),
        sa.Column("source_id", ID, nullable=False),
        sa.Column("moved", JSON, nullable=False),
        sa.Column("merged_by_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merged_by_id"],
            ["users.id"],
            name=op.f("fk_customer_merges_merged_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["customers.id"],
            name=op.f("fk_customer_merges_source_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["customers.id"],
            name=op.f("fk_customer_merges_target_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_merges")),
    )
    with op.batch_alter_table("customer_merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_merges_source_id"), ["source_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_merges_target_id"), ["target_id"], unique=False)

    op.create_table(
        "chat_visitors",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=True),
        sa.Column("by_email", sa.Boolean(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("read_up_to", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_chat_visitors_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_chat_visitors_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_chat_visitors")),
        sa.UniqueConstraint("public_id", name=op.f("uq_chat_visitors_public_id")),
    )
    with op.batch_alter_table("chat_visitors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_visitors_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "calls",
        sa.Column("id", ID, nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column(
            "direction",
            sa.Enum("inbound", "outbound", name="calldirection", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("caller", sa.String(length=32), nullable=False),
        sa.Column("callee", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "answered",
                "missed",
                "voicemail",
                "abandoned",
                "busy",
                "failed",
                name="calloutcome",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("agent_user_id", ID, nullable=True),
        sa.Column("recording_ref", sa.String(length=2000), nullable=True),
        sa.Column("transcript", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_user_id"], ["users.id"], name=op.f("fk_calls_agent_user_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_calls_customer_id_customers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_calls_message_id_messages"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_calls_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("external_id", name=op.f("uq_calls_external_id")),
        sa.UniqueConstraint("message_id", name=op.f("uq_calls_message_id")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_ticket_id"), ["ticket_id"], unique=False)

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", ID, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_customers_merged_into_id_customers"),
            "customers",
            ["merged_into_id"],
            ["id"],
            ondelete="SET NULL",
        )

    _phones_to_e164()


def _phones_to_e164() -> None:
    """Rewrite stored phone identities in E.164, the form ombud now compares ("+44 (0)20..." and "0044..."
    were stored as written). A number that cannot be read, or whose E.164 form another customer already
    has (an admin merges those two), is left as it is."""
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, value FROM identities WHERE kind = 'phone'")).fetchall()
    taken = {value for _, value in rows}
    for row_id, value in rows:
        compact = re.sub(r"[\s().\-/]", "", value)
        if compact.startswith("00"):
            compact = "+" + compact[2:]
        try:
            number = phonenumbers.parse(compact, None)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_possible_number(number):
            continue
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if e164 != value and e164 not in taken:
            conn.execute(sa.text("UPDATE identities SET value = :v WHERE id = :i"), {"v": e164, "i": row_id})
            taken.add(e164)


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_customers_merged_into_id_customers"), type_="foreignkey")
        batch_op.drop_column("merged_into_id")

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_calls_customer_id"))

    op.drop_table("calls")
    with op.batch_alter_table("chat_visitors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_visitors_customer_id"))

    op.drop_table("chat_visitors")
    with op.batch_alter_table("customer_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_merges_target_id"))
        batch_op.drop_index(batch_op.f("ix_customer_merges_source_id"))

    op.drop_table("customer_merges")
    op.drop_table("social_endpoints")
    with op.batch_alter_table("rate_hits", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_hits_key_at")

    op.drop_table("rate_hits")
    op.drop_table("mailbox_cursors")
