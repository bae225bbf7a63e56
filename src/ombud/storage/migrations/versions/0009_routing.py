"""routing: skills, availability, capacity and the assignment queue

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 20:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_skills",
        sa.Column("user_id", ID, nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "intent", "language", "product", "channel", name="skillkind", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_agent_skills_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "kind", "value", name=op.f("pk_agent_skills")),
    )
    op.create_table(
        "agent_status",
        sa.Column("user_id", ID, nullable=False),
        sa.Column(
            "status",
            sa.Enum("online", "away", "break", "offline", name="availability", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("break_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("capacity", JSON, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_agent_status_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_agent_status")),
    )
    with op.batch_alter_table("agent_status", schema=None) as batch_op:
        batch_op.create_index("ix_agent_status_break_until", ["break_until"], unique=False)

    op.create_table(
        "team_routing",
        sa.Column("team_id", ID, nullable=False),
        sa.Column("rules", JSON, nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("auto_assign", sa.Boolean(), nullable=False),
        sa.Column("overflow_team_id", ID, nullable=True),
        sa.Column("overflow_after_minutes", sa.Integer(), nullable=True),
        sa.Column("last_assigned_user_id", ID, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_routing_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["overflow_team_id"],
            ["teams.id"],
            name=op.f("fk_team_routing_overflow_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["last_assigned_user_id"],
            ["users.id"],
            name=op.f("fk_team_routing_last_assigned_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_team_routing")),
    )
    op.create_table(
        "routing_queue",
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("team_id", ID, nullable=True),
        sa.Column(
            "state",
            sa.Enum("triage", "waiting", name="queuestate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("needs", JSON, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("route_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overflow_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overflowed_from", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_routing_queue_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_routing_queue_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_routing_queue")),
    )
    with op.batch_alter_table("routing_queue", schema=None) as batch_op:
        batch_op.create_index(
            "ix_routing_queue_team_id_rank", ["team_id", "priority_rank", "enqueued_at"], unique=False
        )
        batch_op.create_index("ix_routing_queue_route_at", ["route_at"], unique=False)
        batch_op.create_index("ix_routing_queue_overflow_at", ["overflow_at"], unique=False)

    op.create_table(
        "routing_decisions",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("trigger", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("team_id", ID, nullable=True),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("needs", JSON, nullable=False),
        sa.Column("candidates", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_routing_decisions_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_routing_decisions_team_id_teams"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_routing_decisions_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_decisions")),
    )
    with op.batch_alter_table("routing_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_routing_decisions_ticket_id_id", ["ticket_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("routing_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_routing_decisions_ticket_id_id")
    op.drop_table("routing_decisions")
    with op.batch_alter_table("routing_queue", schema=None) as batch_op:
        batch_op.drop_index("ix_routing_queue_overflow_at")
        batch_op.drop_index("ix_routing_queue_route_at")
        batch_op.drop_index("ix_routing_queue_team_id_rank")
    op.drop_table("routing_queue")
    op.drop_table("team_routing")
    with op.batch_alter_table("agent_status", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_status_break_until")
    op.drop_table("agent_status")
    op.drop_table("agent_skills")
