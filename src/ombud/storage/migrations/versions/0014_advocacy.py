"""advocacy: themes, spikes, departments, advocacy cases and their notices

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "advocacy_schedules",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", JSON, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_advocacy_schedules")),
    )
    op.create_index(op.f("ix_advocacy_schedules_due_at"), "advocacy_schedules", ["due_at"], unique=False)
    op.create_table(
        "advocacy_theme_counts",
        sa.Column("theme_id", ID, nullable=False),
        sa.Column("segment", sa.String(length=120), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("frustration_sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("theme_id", "segment", "hour", name=op.f("pk_advocacy_theme_counts")),
    )
    op.create_table(
        "advocacy_themes",
        sa.Column("id", ID, nullable=False),
        sa.Column(
            "state",
            sa.Enum("active", "merged", "retired", name="themestate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("key_phrases", JSON, nullable=False),
        sa.Column("quotes", JSON, nullable=False),
        sa.Column("centroid", sa.LargeBinary(), nullable=False),
        sa.Column("dimensions", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("merged_into_id", ID, nullable=True),
        sa.Column("split_from_id", ID, nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["advocacy_themes.id"],
            name=op.f("fk_advocacy_themes_merged_into_id_advocacy_themes"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["split_from_id"],
            ["advocacy_themes.id"],
            name=op.f("fk_advocacy_themes_split_from_id_advocacy_themes"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advocacy_themes")),
    )
    op.create_index("ix_advocacy_themes_state_size", "advocacy_themes", ["state", "size"], unique=False)
    op.create_index("ix_advocacy_themes_updated_at", "advocacy_themes", ["updated_at"], unique=False)
    op.create_table(
        "advocacy_theme_edits",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("theme_id", ID, nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["advocacy_themes.id"],
            name=op.f("fk_advocacy_theme_edits_theme_id_advocacy_themes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_advocacy_theme_edits_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advocacy_theme_edits")),
    )
    op.create_index(
        op.f("ix_advocacy_theme_edits_theme_id"), "advocacy_theme_edits", ["theme_id"], unique=False
    )
    op.create_table(
        "advocacy_departments",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_ids", JSON, nullable=False),
        sa.Column("notify_email", sa.String(length=320), nullable=True),
        sa.Column("webhook_endpoint_id", ID, nullable=True),
        sa.Column("inbound_secret", sa.String(length=100), nullable=False),
        sa.Column("inbound_seen", JSON, nullable=False),
        sa.Column("intents", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_advocacy_departments_webhook_endpoint_id_webhook_endpoints"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advocacy_departments")),
        sa.UniqueConstraint("name", name=op.f("uq_advocacy_departments_name")),
    )
    op.create_table(
        "advocacy_cases",
        sa.Column("id", ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "acknowledged",
                "in_progress",
                "fixed",
                "customers_told",
                "verified",
                "closed",
                name="casestatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("theme_id", ID, nullable=True),
        sa.Column("department_id", ID, nullable=True),
        sa.Column("owner_id", ID, nullable=True),
        sa.Column("workaround", sa.Text(), nullable=False),
        sa.Column("fix_note", sa.Text(), nullable=False),
        sa.Column("notify_segment", sa.Boolean(), nullable=False),
        sa.Column("segment", JSON, nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("external_url", sa.String(length=2000), nullable=True),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fixed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tell_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verify_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_advocacy_cases_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["advocacy_departments.id"],
            name=op.f("fk_advocacy_cases_department_id_advocacy_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_advocacy_cases_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["advocacy_themes.id"],
            name=op.f("fk_advocacy_cases_theme_id_advocacy_themes"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advocacy_cases")),
    )
    op.create_index(op.f("ix_advocacy_cases_external_ref"), "advocacy_cases", ["external_ref"], unique=False)
    op.create_index("ix_advocacy_cases_status", "advocacy_cases", ["status"], unique=False)
    op.create_index(
        op.f("ix_advocacy_cases_verify_due_at"), "advocacy_cases", ["verify_due_at"], unique=False
    )
    op.create_table(
        "advocacy_case_notices",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column(
            "state",
            sa.Enum("pending", "sent", "failed", "skipped", name="noticestate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("message_id", ID, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["advocacy_cases.id"],
            name=op.f("fk_advocacy_case_notices_case_id_advocacy_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_advocacy_case_notices_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_advocacy_case_notices_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_advocacy_case_notices_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advocacy_case_notices")),
        sa.UniqueConstraint("case_id", "customer_id", name=op.f("uq_advocacy_case_notices_case_id")),
    )
    op.create_index(
        "ix_advocacy_case_notices_retry_at",
        "advocacy_case_notices",
        ["retry_at"],
        unique=False,
        sqlite_where=sa.text("retry_at IS NOT NULL"),
        postgresql_where=sa.text("retry_at IS NOT NULL"),
    )
    op.create_table(
        "advocacy_case_tickets",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["advocacy_cases.id"],
            name=op.f("fk_advocacy_case_tickets_case_id_advocacy_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_advocacy_case_tickets_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_advocacy_case_tickets_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advocacy_case_tickets")),
        sa.UniqueConstraint("case_id", "ticket_id", name=op.f("uq_advocacy_case_tickets_case_id")),
    )
    op.create_index(
        op.f("ix_advocacy_case_tickets_customer_id"), "advocacy_case_tickets", ["customer_id"], unique=False
    )
    op.create_index(
        "ix_advocacy_case_tickets_ticket_id", "advocacy_case_tickets", ["ticket_id"], unique=False
    )
    op.create_table(
        "advocacy_spikes",
        sa.Column("id", ID, nullable=False),
        sa.Column("theme_id", ID, nullable=False),
        sa.Column("segment", sa.String(length=120), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "open", "acknowledged", "dismissed", "ended", name="spikestate", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Float(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("growth", sa.Float(), nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["advocacy_cases.id"],
            name=op.f("fk_advocacy_spikes_case_id_advocacy_cases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["advocacy_themes.id"],
            name=op.f("fk_advocacy_spikes_theme_id_advocacy_themes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advocacy_spikes")),
    )
    op.create_index(
        "ix_advocacy_spikes_theme_id_detected_at",
        "advocacy_spikes",
        ["theme_id", "detected_at"],
        unique=False,
    )
    op.create_table(
        "advocacy_theme_members",
        sa.Column("concern_id", ID, nullable=False),
        sa.Column("theme_id", ID, nullable=True),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=True),
        sa.Column("tier", sa.String(length=40), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("language", sa.String(length=10), nullable=True),
        sa.Column("emotion", sa.String(length=20), nullable=True),
        sa.Column("frustration", sa.Float(), nullable=False),
        sa.Column("concern_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["concern_id"],
            ["concerns.id"],
            name=op.f("fk_advocacy_theme_members_concern_id_concerns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_advocacy_theme_members_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["advocacy_themes.id"],
            name=op.f("fk_advocacy_theme_members_theme_id_advocacy_themes"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_advocacy_theme_members_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("concern_id", name=op.f("pk_advocacy_theme_members")),
    )
    op.create_index(
        "ix_advocacy_theme_members_customer_id", "advocacy_theme_members", ["customer_id"], unique=False
    )
    op.create_index(
        "ix_advocacy_theme_members_theme_id_at",
        "advocacy_theme_members",
        ["theme_id", "concern_at"],
        unique=False,
    )
    op.create_index(
        "ix_advocacy_theme_members_ticket_id", "advocacy_theme_members", ["ticket_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("advocacy_theme_members")
    op.drop_table("advocacy_spikes")
    op.drop_table("advocacy_case_tickets")
    op.drop_table("advocacy_case_notices")
    op.drop_table("advocacy_cases")
    op.drop_table("advocacy_departments")
    op.drop_table("advocacy_theme_edits")
    op.drop_table("advocacy_themes")
    op.drop_table("advocacy_theme_counts")
    op.drop_table("advocacy_schedules")
