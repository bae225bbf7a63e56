"""workspace: web sessions and passwords, portal sign-in links, the inbox order, ratings, mentions,
macros, saved views, presence, purchases, the customer 360's stored offers, and the reply check's
glossary and voice

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 17:38:59.425317
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "glossary_terms",
        sa.Column("id", ID, nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("plain", sa.String(length=500), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_glossary_terms")),
        sa.UniqueConstraint("term", name=op.f("uq_glossary_terms_term")),
    )
    op.create_table(
        "voice_rules",
        sa.Column("id", ID, nullable=False),
        sa.Column("avoid", sa.String(length=200), nullable=False),
        sa.Column("prefer", sa.String(length=500), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_rules")),
        sa.UniqueConstraint("avoid", name=op.f("uq_voice_rules_avoid")),
    )
    op.create_table(
        "macros",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("actions", JSON, nullable=False),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_macros_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_macros")),
        sa.UniqueConstraint("name", name=op.f("uq_macros_name")),
    )
    op.create_table(
        "saved_views",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("filters", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_saved_views_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_saved_views_user_id")),
    )
    op.create_table(
        "login_links",
        sa.Column("id", ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_login_links_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_links_token_hash")),
    )
    with op.batch_alter_table("login_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_links_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "customer_offers",
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("offer", JSON, nullable=True),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_offers_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_offers")),
    )
    op.create_table(
        "purchases",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("order_number", sa.String(length=100), nullable=True),
        sa.Column("amount", sa.Float(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("purchased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_purchases_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchases")),
        sa.UniqueConstraint("customer_id", "order_number", "product", name=op.f("uq_purchases_customer_id")),
    )
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_purchases_customer_id_purchased_at", ["customer_id", "purchased_at"], unique=False
        )
        batch_op.create_index("ix_purchases_product", ["product"], unique=False)

    op.create_table(
        "web_sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_web_sessions_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "ticket_presence",
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("typing", sa.Boolean(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_presence_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ticket_presence_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("ticket_id", "user_id", name=op.f("pk_ticket_presence")),
    )
    op.create_table(
        "ticket_ratings",
        sa.Column("id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name=op.f("ck_ticket_ratings_score_range")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_ticket_ratings_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_ratings_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_ratings")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_ticket_ratings_ticket_id")),
    )
    with op.batch_alter_table("ticket_ratings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ticket_ratings_customer_id_created_at", ["customer_id", "created_at"], unique=False
        )

    op.create_table(
        "mentions",
        sa.Column("id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_mentions_message_id_messages"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_mentions_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_mentions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentions")),
        sa.UniqueConstraint("message_id", "user_id", name=op.f("uq_mentions_message_id")),
    )
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.create_index("ix_mentions_user_id_read_at", ["user_id", "read_at"], unique=False)

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_open", sa.Boolean(), server_default=sa.text("(true)"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("priority_score", sa.Float(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("priority_parts", JSON, server_default=sa.text("'{}'"), nullable=False))
        batch_op.add_column(
            sa.Column("queue_rank", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.create_index(
            "ix_tickets_assignee_open_rank", ["assignee_id", "is_open", "queue_rank", "id"], unique=False
        )
        batch_op.create_index("ix_tickets_open_rank", ["is_open", "queue_rank", "id"], unique=False)
        batch_op.create_index("ix_tickets_status_rank", ["status", "queue_rank", "id"], unique=False)
        batch_op.create_index(
            "ix_tickets_team_open_rank", ["team_id", "is_open", "queue_rank", "id"], unique=False
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
    # Tickets that were already solved or closed leave the open inbox.
    op.execute("UPDATE tickets SET is_open = false WHERE status IN ('solved', 'closed')")
    # Existing tickets get the score a new one of their priority gets before triage (ombud.tickets.priority:
    # the priority's points plus 5 for a normal urgency), so an old urgent ticket does not sink to 0.
    tickets = sa.table(
        "tickets",
        sa.column("priority", sa.String()),
        sa.column("priority_score"),
        sa.column("priority_parts", JSON),
    )
    for priority, points in (("low", 0.0), ("normal", 10.0), ("high", 25.0), ("urgent", 40.0)):
        parts = {"points": {"priority": points, "urgency": 5.0, "frustration": 0.0, "customer_value": 0.0}}
        op.execute(
            tickets.update()
            .where(tickets.c.priority == priority)
            .values(priority_score=points + 5.0, priority_parts=parts)
        )
    # The queue order (ombud.tickets.priority.queue_rank): the score to a tenth, then minutes since 2020
    # counted down, so among equal scores the longest waiting comes first.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE tickets SET queue_rank = CAST(ROUND(priority_score * 10) AS BIGINT) * 100000000 + "
            "(99999999 - LEAST(GREATEST(CAST(EXTRACT(EPOCH FROM (created_at - "
            "TIMESTAMPTZ '2020-01-01 00:00:00+00')) / 60 AS BIGINT), 0), 99999999))"
        )
    else:
        op.execute(
            "UPDATE tickets SET queue_rank = CAST(ROUND(priority_score * 10) AS INTEGER) * 100000000 + "
            "(99999999 - MIN(MAX(CAST((julianday(created_at) - julianday('2020-01-01')) * 1440 AS INTEGER), "
            "0), 99999999))"
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("password_hash")

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_team_open_rank")
        batch_op.drop_index("ix_tickets_status_rank")
        batch_op.drop_index("ix_tickets_open_rank")
        batch_op.drop_index("ix_tickets_assignee_open_rank")
        batch_op.drop_column("queue_rank")
        batch_op.drop_column("priority_parts")
        batch_op.drop_column("priority_score")
        batch_op.drop_column("is_open")

    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_mentions_user_id_read_at")

    op.drop_table("mentions")
    with op.batch_alter_table("ticket_ratings", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_ratings_customer_id_created_at")

    op.drop_table("ticket_ratings")
    op.drop_table("ticket_presence")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_web_sessions_customer_id"))

    op.drop_table("web_sessions")
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_index("ix_purchases_product")
        batch_op.drop_index("ix_purchases_customer_id_purchased_at")

    op.drop_table("purchases")
    op.drop_table("customer_offers")
    with op.batch_alter_table("login_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_links_customer_id"))

    op.drop_table("login_links")
    op.drop_table("saved_views")
    op.drop_table("macros")
    op.drop_table("voice_rules")
    op.drop_table("glossary_terms")
