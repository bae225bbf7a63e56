"""people and partners: hard contacts, well-being policies, recovery breaks, help requests, reply-check
records, goals, the role-play trainer, sender blocks, partners, technicians, work orders and feedback

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("name", name=op.f("uq_partners_name")),
    )
    op.create_table(
        "partner_technicians",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("partner_id", ID, nullable=False),
        sa.Column("skills", JSON, nullable=False),
        sa.Column("areas", JSON, nullable=False),
        sa.Column("capacity_per_day", sa.Integer(), nullable=False),
        sa.Column("working_hours", JSON, nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_technicians_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_partner_technicians_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_partner_technicians")),
    )
    op.create_index(
        op.f("ix_partner_technicians_partner_id"), "partner_technicians", ["partner_id"], unique=False
    )
    op.create_table(
        "people_goals",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column(
            "kind",
            sa.Enum("finding", "product", "csat", "training", name="goalkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("target", JSON, nullable=False),
        sa.Column("baseline", JSON, nullable=False),
        sa.Column(
            "state",
            sa.Enum("active", "achieved", "archived", name="goalstate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("due_on", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_people_goals_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_people_goals_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people_goals")),
    )
    op.create_index("ix_people_goals_user_state", "people_goals", ["user_id", "state"], unique=False)
    op.create_table(
        "people_team_policies",
        sa.Column("team_id", ID, nullable=False),
        sa.Column(
            "recovery_mode",
            sa.Enum("off", "offer", "schedule", name="recoverymode", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("recovery_minutes", sa.Integer(), nullable=False),
        sa.Column("max_hostile_in_a_row", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", ID, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_people_team_policies_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_people_team_policies_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_people_team_policies")),
    )
    op.create_table(
        "partner_time_off",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["partner_technicians.user_id"],
            name=op.f("fk_partner_time_off_user_id_partner_technicians"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_time_off")),
    )
    op.create_index(
        "ix_partner_time_off_user_starts", "partner_time_off", ["user_id", "starts_at"], unique=False
    )
    op.create_table(
        "people_help_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("requester_id", ID, nullable=False),
        sa.Column("asked_user_id", ID, nullable=True),
        sa.Column("asked_team_id", ID, nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("open", "resolved", "cancelled", name="helpstate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["asked_team_id"],
            ["teams.id"],
            name=op.f("fk_people_help_requests_asked_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["asked_user_id"],
            ["users.id"],
            name=op.f("fk_people_help_requests_asked_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_id"],
            ["users.id"],
            name=op.f("fk_people_help_requests_closed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["users.id"],
            name=op.f("fk_people_help_requests_requester_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_people_help_requests_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people_help_requests")),
    )
    op.create_index(
        op.f("ix_people_help_requests_requester_id"), "people_help_requests", ["requester_id"], unique=False
    )
    op.create_index(
        "ix_people_help_requests_state", "people_help_requests", ["state", "created_at"], unique=False
    )
    op.create_index(
        op.f("ix_people_help_requests_ticket_id"), "people_help_requests", ["ticket_id"], unique=False
    )
    op.create_table(
        "people_recovery_breaks",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "offered",
                "taken",
                "declined",
                "scheduled",
                "expired",
                name="breakstate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_people_recovery_breaks_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_people_recovery_breaks_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people_recovery_breaks")),
        sa.UniqueConstraint("user_id", "ticket_id", name=op.f("uq_people_recovery_breaks_user_id")),
    )
    op.create_index(
        "ix_people_recovery_breaks_user_state", "people_recovery_breaks", ["user_id", "state"], unique=False
    )
    op.create_table(
        "sender_blocks",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("identity_kind", sa.String(length=20), nullable=True),
        sa.Column("value", sa.String(length=320), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ticket_id", ID, nullable=True),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by_id", ID, nullable=True),
        sa.Column("dropped_count", sa.Integer(), nullable=False),
        sa.Column("last_dropped_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_sender_blocks_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_sender_blocks_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lifted_by_id"],
            ["users.id"],
            name=op.f("fk_sender_blocks_lifted_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_sender_blocks_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sender_blocks")),
    )
    op.create_index("ix_sender_blocks_customer_id", "sender_blocks", ["customer_id"], unique=False)
    op.create_index("ix_sender_blocks_value", "sender_blocks", ["identity_kind", "value"], unique=False)
    op.create_table(
        "people_hard_contacts",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column(
            "kind",
            sa.Enum("hostile", "frustrated", name="hardkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("frustration", sa.Float(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_people_hard_contacts_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_people_hard_contacts_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_people_hard_contacts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people_hard_contacts")),
        sa.UniqueConstraint("user_id", "message_id", name=op.f("uq_people_hard_contacts_user_id")),
    )
    op.create_index(
        op.f("ix_people_hard_contacts_ticket_id"), "people_hard_contacts", ["ticket_id"], unique=False
    )
    op.create_index(
        "ix_people_hard_contacts_user_at", "people_hard_contacts", ["user_id", "at"], unique=False
    )
    op.create_table(
        "people_help_helpers",
        sa.Column("request_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["people_help_requests.id"],
            name=op.f("fk_people_help_helpers_request_id_people_help_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_people_help_helpers_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("request_id", "user_id", name=op.f("pk_people_help_helpers")),
    )
    op.create_table(
        "people_reply_checks",
        sa.Column("message_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("findings", JSON, nullable=False),
        sa.Column("grade", sa.Float(), nullable=True),
        sa.Column("words", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_people_reply_checks_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_people_reply_checks_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_people_reply_checks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_people_reply_checks")),
    )
    op.create_index(
        "ix_people_reply_checks_user_at", "people_reply_checks", ["user_id", "created_at"], unique=False
    )
    op.create_table(
        "training_scenarios",
        sa.Column("id", ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "persona",
            sa.Enum("angry", "confused", "vague", "pushy", name="persona", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("source_ticket_id", ID, nullable=True),
        sa.Column("advocacy_case_id", ID, nullable=True),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("product", sa.String(length=100), nullable=True),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("messages", JSON, nullable=False),
        sa.Column("concerns", JSON, nullable=False),
        sa.Column("expected", JSON, nullable=False),
        sa.Column("replaced", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["advocacy_case_id"],
            ["advocacy_cases.id"],
            name=op.f("fk_training_scenarios_advocacy_case_id_advocacy_cases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_training_scenarios_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_ticket_id"],
            ["tickets.id"],
            name=op.f("fk_training_scenarios_source_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_scenarios")),
    )
    op.create_index(
        "ix_training_scenarios_active", "training_scenarios", ["active", "created_at"], unique=False
    )
    op.create_table(
        "work_orders",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("concern_id", ID, nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "install",
                "repair",
                "inspection",
                "replacement_delivery",
                name="workorderkind",
                native_enum=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "offered",
                "accepted",
                "scheduled",
                "en_route",
                "on_site",
                "completed",
                "closed",
                "cancelled",
                name="workorderstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("skill", sa.String(length=100), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("postcode", sa.String(length=20), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("contact_phone", sa.String(length=50), nullable=True),
        sa.Column("partner_id", ID, nullable=True),
        sa.Column("technician_id", ID, nullable=True),
        sa.Column("declined_by", JSON, nullable=False),
        sa.Column("dispatch_reason", sa.Text(), nullable=False),
        sa.Column("offered_slots", JSON, nullable=False),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("slot_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("repeat_of_id", ID, nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("parts_used", JSON, nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=False),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["concern_id"],
            ["concerns.id"],
            name=op.f("fk_work_orders_concern_id_concerns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_work_orders_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_work_orders_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_work_orders_partner_id_partners"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["repeat_of_id"],
            ["work_orders.id"],
            name=op.f("fk_work_orders_repeat_of_id_work_orders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["users.id"],
            name=op.f("fk_work_orders_technician_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_work_orders_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
    )
    op.create_index(op.f("ix_work_orders_customer_id"), "work_orders", ["customer_id"], unique=False)
    op.create_index("ix_work_orders_partner_status", "work_orders", ["partner_id", "status"], unique=False)
    op.create_index("ix_work_orders_status_due", "work_orders", ["status", "due_at"], unique=False)
    op.create_index(
        "ix_work_orders_technician_slot", "work_orders", ["technician_id", "slot_start"], unique=False
    )
    op.create_index(op.f("ix_work_orders_ticket_id"), "work_orders", ["ticket_id"], unique=False)
    op.create_table(
        "partner_feedback",
        sa.Column("id", ID, nullable=False),
        sa.Column("partner_id", ID, nullable=False),
        sa.Column("author_user_id", ID, nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "training", "information", "parts", "other", name="feedbackkind", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("work_order_id", ID, nullable=True),
        sa.Column(
            "state",
            sa.Enum("open", "answered", "closed", name="feedbackstate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_partner_feedback_author_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_feedback_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_partner_feedback_work_order_id_work_orders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_feedback")),
    )
    op.create_index(
        "ix_partner_feedback_partner_state", "partner_feedback", ["partner_id", "state"], unique=False
    )
    op.create_table(
        "training_sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("scenario_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column(
            "state",
            sa.Enum("active", "finished", "abandoned", name="sessionstate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("frustration", sa.Float(), nullable=False),
        sa.Column("script_position", sa.Integer(), nullable=False),
        sa.Column("score", JSON, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["scenario_id"],
            ["training_scenarios.id"],
            name=op.f("fk_training_sessions_scenario_id_training_scenarios"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_training_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_sessions")),
    )
    op.create_index(
        "ix_training_sessions_user_started", "training_sessions", ["user_id", "started_at"], unique=False
    )
    op.create_table(
        "work_order_photos",
        sa.Column("id", ID, nullable=False),
        sa.Column("work_order_id", ID, nullable=False),
        sa.Column("uploaded_by_id", ID, nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["attachment_blobs.sha256"],
            name=op.f("fk_work_order_photos_sha256_attachment_blobs"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["users.id"],
            name=op.f("fk_work_order_photos_uploaded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_work_order_photos_work_order_id_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_photos")),
    )
    op.create_index(
        op.f("ix_work_order_photos_work_order_id"), "work_order_photos", ["work_order_id"], unique=False
    )
    op.create_table(
        "work_order_updates",
        sa.Column("id", ID, nullable=False),
        sa.Column("work_order_id", ID, nullable=False),
        sa.Column("author_user_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status_from", sa.String(length=20), nullable=True),
        sa.Column("status_to", sa.String(length=20), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("customer_told", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_work_order_updates_author_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
            name=op.f("fk_work_order_updates_work_order_id_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_updates")),
    )
    op.create_index(
        "ix_work_order_updates_order", "work_order_updates", ["work_order_id", "id"], unique=False
    )
    op.create_table(
        "partner_feedback_replies",
        sa.Column("id", ID, nullable=False),
        sa.Column("feedback_id", ID, nullable=False),
        sa.Column("author_user_id", ID, nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_partner_feedback_replies_author_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["partner_feedback.id"],
            name=op.f("fk_partner_feedback_replies_feedback_id_partner_feedback"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_feedback_replies")),
    )
    op.create_index(
        "ix_partner_feedback_replies_feedback",
        "partner_feedback_replies",
        ["feedback_id", "id"],
        unique=False,
    )
    op.create_table(
        "training_turns",
        sa.Column("id", ID, nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("frustration", sa.Float(), nullable=False),
        sa.Column("feedback", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["training_sessions.id"],
            name=op.f("fk_training_turns_session_id_training_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_turns")),
        sa.UniqueConstraint("session_id", "position", name=op.f("uq_training_turns_session_id")),
    )
    op.create_index("ix_routing_decisions_user_id_id", "routing_decisions", ["user_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_routing_decisions_user_id_id", table_name="routing_decisions")
    op.drop_table("training_turns")
    op.drop_index("ix_partner_feedback_replies_feedback", table_name="partner_feedback_replies")
    op.drop_table("partner_feedback_replies")
    op.drop_index("ix_work_order_updates_order", table_name="work_order_updates")
    op.drop_table("work_order_updates")
    op.drop_index(op.f("ix_work_order_photos_work_order_id"), table_name="work_order_photos")
    op.drop_table("work_order_photos")
    op.drop_index("ix_training_sessions_user_started", table_name="training_sessions")
    op.drop_table("training_sessions")
    op.drop_index("ix_partner_feedback_partner_state", table_name="partner_feedback")
    op.drop_table("partner_feedback")
    op.drop_index(op.f("ix_work_orders_ticket_id"), table_name="work_orders")
    op.drop_index("ix_work_orders_technician_slot", table_name="work_orders")
    op.drop_index("ix_work_orders_status_due", table_name="work_orders")
    op.drop_index("ix_work_orders_partner_status", table_name="work_orders")
    op.drop_index(op.f("ix_work_orders_customer_id"), table_name="work_orders")
    op.drop_table("work_orders")
    op.drop_index("ix_training_scenarios_active", table_name="training_scenarios")
    op.drop_table("training_scenarios")
    op.drop_index("ix_people_reply_checks_user_at", table_name="people_reply_checks")
    op.drop_table("people_reply_checks")
    op.drop_table("people_help_helpers")
    op.drop_index("ix_people_hard_contacts_user_at", table_name="people_hard_contacts")
    op.drop_index(op.f("ix_people_hard_contacts_ticket_id"), table_name="people_hard_contacts")
    op.drop_table("people_hard_contacts")
    op.drop_index("ix_sender_blocks_value", table_name="sender_blocks")
    op.drop_index("ix_sender_blocks_customer_id", table_name="sender_blocks")
    op.drop_table("sender_blocks")
    op.drop_index("ix_people_recovery_breaks_user_state", table_name="people_recovery_breaks")
    op.drop_table("people_recovery_breaks")
    op.drop_index(op.f("ix_people_help_requests_ticket_id"), table_name="people_help_requests")
    op.drop_index("ix_people_help_requests_state", table_name="people_help_requests")
    op.drop_index(op.f("ix_people_help_requests_requester_id"), table_name="people_help_requests")
    op.drop_table("people_help_requests")
    op.drop_index("ix_partner_time_off_user_starts", table_name="partner_time_off")
    op.drop_table("partner_time_off")
    op.drop_table("people_team_policies")
    op.drop_index("ix_people_goals_user_state", table_name="people_goals")
    op.drop_table("people_goals")
    op.drop_index(op.f("ix_partner_technicians_partner_id"), table_name="partner_technicians")
    op.drop_table("partner_technicians")
    op.drop_table("partners")
