"""resolutions: resolutions, the concession policy, approvals and the ledger

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 20:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _user_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete="SET NULL"
    )


def upgrade() -> None:
    op.create_table(
        "concession_policies",
        sa.Column("id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("uploaded_by_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _user_fk("concession_policies", "uploaded_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concession_policies")),
        sa.UniqueConstraint("version", name=op.f("uq_concession_policies_version")),
    )
    op.create_index(op.f("ix_concession_policies_active"), "concession_policies", ["active"], unique=False)
    op.create_table(
        "resolutions",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("concern_id", ID, nullable=True),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("purchase_id", ID, nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("base_minor", sa.BigInteger(), nullable=False),
        sa.Column("base_currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=50), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "proposed",
                "pending_approval",
                "approved",
                "applied",
                "rejected",
                "cancelled",
                name="resolutionstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("rma_number", sa.String(length=40), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.Column("policy_check", JSON, nullable=False),
        sa.Column("proposed_by_id", ID, nullable=True),
        sa.Column("approver_id", ID, nullable=True),
        sa.Column("decided_by_id", ID, nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_by_id", ID, nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("came_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("came_back_ticket_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_resolutions_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_resolutions_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["concern_id"],
            ["concerns.id"],
            name=op.f("fk_resolutions_concern_id_concerns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["purchase_id"],
            ["purchases.id"],
            name=op.f("fk_resolutions_purchase_id_purchases"),
            ondelete="SET NULL",
        ),
        _user_fk("resolutions", "proposed_by_id"),
        _user_fk("resolutions", "approver_id"),
        _user_fk("resolutions", "decided_by_id"),
        _user_fk("resolutions", "applied_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resolutions")),
        sa.UniqueConstraint("rma_number", name=op.f("uq_resolutions_rma_number")),
    )
    op.create_index(
        "ix_resolutions_customer_id_created_at", "resolutions", ["customer_id", "created_at"], unique=False
    )
    op.create_index("ix_resolutions_ticket_id_id", "resolutions", ["ticket_id", "id"], unique=False)
    op.create_index(
        "ix_resolutions_approver_id_status", "resolutions", ["approver_id", "status"], unique=False
    )
    op.create_index("ix_resolutions_status_created_at", "resolutions", ["status", "created_at"], unique=False)
    op.create_index(
        "ix_resolutions_customer_id_intent_applied_at",
        "resolutions",
        ["customer_id", "intent", "applied_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_resolutions_customer_id_intent_applied_at", table_name="resolutions")
    op.drop_index("ix_resolutions_status_created_at", table_name="resolutions")
    op.drop_index("ix_resolutions_approver_id_status", table_name="resolutions")
    op.drop_index("ix_resolutions_ticket_id_id", table_name="resolutions")
    op.drop_index("ix_resolutions_customer_id_created_at", table_name="resolutions")
    op.drop_table("resolutions")
    op.drop_index(op.f("ix_concession_policies_active"), table_name="concession_policies")
    op.drop_table("concession_policies")
