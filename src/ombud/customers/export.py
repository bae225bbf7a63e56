"""A customer's data export (an access request): one JSON document with everything held about the person.

What is in it and what is left out, and why, is documented in docs/privacy.md. In short: everything the
person gave us or that was concluded about them (profile, identities, tickets with their public messages,
attachments' metadata, ratings and surveys, what triage read in their messages, concerns, purchases,
resolutions, work orders and what they were told about them, calls, chats with the assistant, article
votes, blocks, portal access, the timeline of events); left out are the staff's internal notes and
working data (internal messages, triage corrections, routing decisions, agents' wellbeing rows), secrets
(token and link hashes) and other people's data.

Tables are read through the shared metadata (as the merge and the erasure do), so the export does not
reach into other domains' models.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.customers.privacy import people_of, require_admin
from ombud.storage.base import utcnow
from ombud.storage.models import metadata

FORMAT = "ombud.customer-export"
VERSION = 1


def _t(name: str) -> Table:
    return metadata.tables[name]


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    if hasattr(value, "value") and not isinstance(value, int | float | str | bool):
        return value.value  # an enum
    return value


def _rows(
    session: Session, table: str, columns: list[str], *where: Any, order: str = "id"
) -> list[dict[str, Any]]:
    t = _t(table)
    query = select(*(t.c[name] for name in columns)).where(*where)
    if order in t.c:
        query = query.order_by(t.c[order])
    return [
        {name: _json(value) for name, value in zip(columns, row, strict=True)}
        for row in session.execute(query)
    ]


def export_customer(*, session: Session, customer_id: int, actor: Principal) -> dict[str, Any]:
    """Return the export document of the customer (and of every customer merged into them); the export
    itself is recorded in the audit trail (who asked, when, how much), so the caller commits."""
    require_admin(actor)
    people = people_of(session=session, customer_id=customer_id)
    customers, identities = _t("customers"), _t("identities")
    profile = _rows(
        session,
        "customers",
        ["id", "name", "tier", "preferences", "notes", "organisation_id", "merged_into_id", "created_at"],
        customers.c.id.in_(people),
    )
    organisations = _t("organisations")
    org_ids = {p["organisation_id"] for p in profile if p["organisation_id"] is not None}
    org_names = dict(
        session.execute(
            select(organisations.c.id, organisations.c.name).where(organisations.c.id.in_(org_ids))
        ).all()
    )
    for p in profile:
        p["organisation"] = org_names.get(p.pop("organisation_id"))
    tickets = _t("tickets")
    ticket_rows = _rows(
        session,
        "tickets",
        ["id", "subject", "status", "priority", "channel", "created_at", "first_response_at", "resolved_at"],
        tickets.c.customer_id.in_(people),
    )
    ticket_ids = [t["id"] for t in ticket_rows]
    messages = _t("messages")
    # Internal notes are the staff's working notes, never shown to the customer: see docs/privacy.md.
    message_rows = _rows(
        session,
        "messages",
        ["id", "ticket_id", "author_type", "channel", "body_text", "created_at"],
        messages.c.ticket_id.in_(ticket_ids),
        messages.c.internal.is_(False),
    )
    message_ids = [m["id"] for m in message_rows]
    attachments = _rows(
        session,
        "attachments",
        ["id", "message_id", "filename", "content_type", "size", "sha256"],
        _t("attachments").c.message_id.in_(message_ids),
    )
    by_message: dict[int, list[dict[str, Any]]] = {}
    for a in attachments:
        by_message.setdefault(a.pop("message_id"), []).append(a)
    triage = {
        row["message_id"]: row
        for row in _rows(
            session,
            "message_triage",
            [
                "message_id",
                "intents",
                "language",
                "urgency",
                "frustration",
                "sentiment",
                "abusive",
                "created_at",
            ],
            _t("message_triage").c.message_id.in_(message_ids),
            order="message_id",
        )
    }
    by_ticket: dict[int, list[dict[str, Any]]] = {}
    for m in message_rows:
        m["attachments"] = by_message.get(m["id"], [])
        read = triage.get(m["id"])
        if read is not None:
            read.pop("message_id")
            m["triage"] = read
        by_ticket.setdefault(m.pop("ticket_id"), []).append(m)
    concerns = _rows(
        session,
        "concerns",
        ["id", "ticket_id", "text", "intent", "status", "created_at", "resolved_at"],
        _t("concerns").c.ticket_id.in_(ticket_ids),
    )
    concerns_by_ticket: dict[int, list[dict[str, Any]]] = {}
    for c in concerns:
        concerns_by_ticket.setdefault(c.pop("ticket_id"), []).append(c)
    for t in ticket_rows:
        t["messages"] = by_ticket.get(t["id"], [])
        t["concerns"] = concerns_by_ticket.get(t["id"], [])

    def of_people(table: str, columns: list[str]) -> list[dict[str, Any]]:
        return _rows(session, table, columns, _t(table).c.customer_id.in_(people))

    work_orders = of_people(
        "work_orders",
        [
            *(
                "id",
                "ticket_id",
                "kind",
                "status",
                "summary",
                "address",
                "postcode",
                "region",
                "contact_phone",
            ),
            *("slot_start", "slot_end", "outcome", "rating", "rating_comment", "created_at", "completed_at"),
        ],
    )
    updates = _rows(
        session,
        "work_order_updates",
        ["work_order_id", "kind", "status_to", "body", "created_at"],
        _t("work_order_updates").c.work_order_id.in_([w["id"] for w in work_orders]),
        # Only what the customer was told: the partner's and agents' working updates are internal.
        _t("work_order_updates").c.customer_told.is_(True),
    )
    for w in work_orders:
        w["updates"] = [u for u in updates if u["work_order_id"] == w["id"]]
    conversations = of_people(
        "assistant_conversations", ["id", "channel", "ticket_id", "state", "outcome", "created_at"]
    )
    turns = _rows(
        session,
        "assistant_turns",
        ["conversation_id", "question", "answer", "created_at"],
        _t("assistant_turns").c.conversation_id.in_([c["id"] for c in conversations]),
    )
    for c in conversations:
        c["turns"] = [
            {k: v for k, v in turn.items() if k != "conversation_id"}
            for turn in turns
            if turn["conversation_id"] == c["id"]
        ]
    events = _t("audit_events")
    timeline = _rows(
        session,
        "audit_events",
        ["created_at", "action", "entity_type", "entity_id", "ticket_id", "actor_type"],
        events.c.customer_id.in_(people),
        events.c.action != "note.added",
        order="id",
    )
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": utcnow().isoformat(),
        "customer_id": customer_id,
        "customers": profile,
        "identities": _rows(
            session, "identities", ["kind", "value", "created_at"], identities.c.customer_id.in_(people)
        ),
        "tickets": ticket_rows,
        "ratings": of_people("ticket_ratings", ["ticket_id", "score", "comment", "created_at"]),
        "surveys": of_people(
            "surveys",
            ["ticket_id", "state", "via", "recipient", "score", "nps", "comment", "sent_at", "answered_at"],
        ),
        "purchases": of_people(
            "purchases", ["product", "kind", "order_number", "amount", "currency", "purchased_at"]
        ),
        "resolutions": of_people(
            "resolutions",
            [
                *("ticket_id", "kind", "amount_minor", "currency", "status", "reason", "rma_number"),
                *("reference", "created_at", "decided_at", "applied_at"),
            ],
        ),
        "work_orders": work_orders,
        "calls": of_people(
            "calls",
            [
                "ticket_id",
                "direction",
                "caller",
                "callee",
                "started_at",
                "duration_seconds",
                "outcome",
                "transcript",
            ],
        ),
        "chat_visitors": of_people("chat_visitors", ["by_email", "email", "created_at", "last_seen_at"]),
        "assistant_conversations": conversations,
        "article_feedback": of_people("kb_feedback", ["article_id", "helpful", "comment", "created_at"]),
        "advocacy_notices": of_people("advocacy_case_notices", ["case_id", "channel", "state", "sent_at"]),
        "sender_blocks": of_people(
            "sender_blocks", ["identity_kind", "value", "created_at", "expires_at", "lifted_at"]
        ),
        "portal_access": {
            "api_tokens": of_people("api_tokens", ["name", "created_at", "revoked_at"]),
            "sessions": of_people("web_sessions", ["created_at", "last_seen_at", "expires_at"]),
            "sign_in_links": of_people("login_links", ["email", "created_at", "expires_at", "used_at"]),
        },
        "timeline": timeline,
    }
    audit.record(
        session=session,
        actor=actor,
        action="customer.exported",
        entity_type="customer",
        entity_id=customer_id,
        customer_id=customer_id,
        after={"customer_ids": people, "tickets": len(ticket_rows), "messages": len(message_rows)},
    )
    return document
