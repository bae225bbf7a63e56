"""reports and satisfaction: aggregates and CSAT surveys

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

STATES = ("scheduled", "held", "sent", "answered", "skipped", "failed")

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_tickets",
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("facts", JSON, nullable=False),
        sa.Column("last_event_id", ID, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_report_tickets")),
    )
    op.create_table(
        "report_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("team_id", ID, nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=False),
        sa.Column("agent_id", ID, nullable=False),
        sa.Column("measure", sa.String(length=120), nullable=False),
        # Integers only (counts, seconds, money in minor units): sums stay exact.
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "channel", "team_id", "intent", "agent_id", "measure", name=op.f("pk_report_counts")
        ),
    )
    op.create_index("ix_report_counts_measure_day", "report_counts", ["measure", "day"], unique=False)
    op.create_table(
        "surveys",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column(
            "state", sa.Enum(*STATES, name="surveystate", native_enum=False, length=20), nullable=False
        ),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=True),
        sa.Column("message_id", ID, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("with_nps", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_surveys_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_surveys_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_surveys_message_id_messages"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_surveys_ticket_id")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_surveys_token_digest")),
    )
    op.create_index("ix_surveys_customer_id", "surveys", ["customer_id"], unique=False)
    op.create_index(
        "ix_surveys_due",
        "surveys",
        ["due_at"],
        unique=False,
        sqlite_where=sa.text("state = 'scheduled'"),
        postgresql_where=sa.text("state = 'scheduled'"),
    )
    op.create_table(
        "survey_setup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_survey_setup_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_setup")),
    )
    # Aggregates start empty: `ombud report rebuild` counts the tickets from before this revision.


def downgrade() -> None:
    op.drop_table("survey_setup")
    op.drop_index("ix_surveys_due", table_name="surveys")
    op.drop_index("ix_surveys_customer_id", table_name="surveys")
    op.drop_table("surveys")
    op.drop_index("ix_report_counts_measure_day", table_name="report_counts")
    op.drop_table("report_counts")
    op.drop_table("report_tickets")
