"""Erasing a customer: every row about the person removed, every copy of their words elsewhere scrubbed.

The walk follows :mod:`ombud.customers.merge`: the tables are read from the one metadata, not listed by
hand, so a table added later with a ``customer_id`` (or a cascading foreign key to a table that is erased)
is erased too without anyone remembering to. What the foreign keys cannot see is handled by name below
(:data:`SOFT_TICKET_TABLES`, the audit trail, the search index, raw email sources, blobs, advocacy theme
quotes and evidence packs, training scenarios, rate-limit keys, sender blocks by value), and a final sweep
replaces the person's exact identifiers (email addresses, phone numbers, handles) in every text and JSON
column of every other table (another customer's message that quoted the address, a webhook payload).

Everything happens in the caller's transaction: it commits all of it or, on any error, none of it.
A customer merged into another is refused (their rows now live with the target: erase the target, which
takes every customer merged into it along, since they are the same person). See docs/privacy.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Enum,
    Select,
    String,
    Table,
    Text,
    and_,
    cast,
    delete,
    false,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.advocacy import assignment as theme_assignment
from ombud.advocacy.models import Theme
from ombud.audit import service as audit
from ombud.customers.models import Customer
from ombud.errors import Conflict, Forbidden, NotFound
from ombud.search import service as search
from ombud.storage.models import metadata
from ombud.validation import normalise_email

ERASED = "[erased]"
CHUNK = 500

# Rows that point at a ticket by a plain id column (no foreign key, so no cascade): they are about that
# ticket and go with it.
SOFT_TICKET_TABLES = ("events", "webhook_deliveries", "automation_runs", "report_tickets")
# Rows pointing at an erased ticket through a nullable foreign key that are nevertheless copies of the
# conversation (the assistant's chat, an article vote from the ticket, a role-play built from it).
COPY_TICKET_COLUMNS = {
    "assistant_conversations": "ticket_id",
    "kb_feedback": "ticket_id",
    "training_scenarios": "source_ticket_id",
}
# Kept on purpose: the audit trail (scrubbed, not deleted), and staff-side records that only pointed at
# an erased ticket (their foreign key is set to NULL by the database): an agent's recovery break, a block
# of another sender that named the ticket. Their text is swept for identifiers like every other table.
KEPT = frozenset({"audit_events"})
# Never swept for identifiers: staff and partner accounts (a staff member's own address is not the
# customer's data even when it is the same string) and tables erased whole above.
NOT_SWEPT = frozenset({"users", "partners", "alembic_version"})
# Audit entity types whose rows are erased with the person: their audit rows lose their details.
AUDIT_ENTITIES = {
    "identity": "identities",
    "purchase": "purchases",
    "concern": "concerns",
    "resolution": "resolutions",
    "call": "calls",
    "work_order": "work_orders",
    "sender_block": "sender_blocks",
    "quarantine": "quarantine",
    "reminder": "reminders",
    "ticket_link": "ticket_links",
    "advocacy_notice": "advocacy_case_notices",
    "partner_feedback": "partner_feedback",
}
# Tables the erasure scrubs rather than deletes from (see erase_customer).
SCRUBBED = frozenset({"audit_events", "advocacy_themes", "advocacy_cases", "advocacy_spikes"})
# Tables with no row about one customer: staff, configuration, knowledge, aggregates, bookkeeping. Their
# text is still swept for the person's identifiers. Import keys hold only an external system's ids; they
# do not stop a rerun of that import from creating the person again (docs/privacy.md says so).
NOT_ABOUT_A_CUSTOMER = frozenset(
    {
        *("advocacy_departments", "advocacy_schedules", "advocacy_theme_counts", "advocacy_theme_edits"),
        *("agent_skills", "agent_status", "automation_rules", "catalogue_items", "concession_policies"),
        *("glossary_terms", "import_keys", "import_runs", "import_skips", "intent_models"),
        *("kb_article_versions", "kb_articles", "kb_categories", "kb_index_state", "kb_passages"),
        *("kb_vectors", "macros", "mailbox_cursors", "organisations", "partner_technicians"),
        *("partner_time_off", "partners", "people_goals", "people_recovery_breaks", "people_team_policies"),
        *("report_counts", "saved_views", "sla_calendars", "sla_policies", "sla_team_calendars"),
        *("social_endpoints", "survey_setup", "team_members", "team_routing", "teams", "users"),
        *("voice_rules", "webhook_endpoints"),
    }
)


def unclassified_tables() -> list[str]:
    """Return the tables the erasure neither reaches nor knows to hold no customer's rows: a table added
    without deciding what erasing a person does to it (tests/customers/test_privacy.py fails on one)."""
    plan = _Plan([0], ["someone@example.com"], ["v_0"])
    plan.add_identifier_blocks(["someone@example.com"])
    known = SCRUBBED | NOT_ABOUT_A_CUSTOMER | set(CONTENT_STORES)
    return sorted(t.name for t in metadata.sorted_tables if plan.doomed(t) is None and t.name not in known)


# Content-addressed stores: a row goes when nothing references its hash any more.
CONTENT_STORES = {
    "raw_sources": (("inbound_emails", "raw_sha256"), ("quarantine", "raw_sha256")),
    "attachment_blobs": (("attachments", "sha256"), ("work_order_photos", "sha256")),
}


def require_admin(actor: Principal) -> None:
    """Refuse anyone but an admin (403 role_forbidden)."""
    if not actor.is_admin:
        raise Forbidden("only admins may export or erase a customer's data", code="role_forbidden")


def people_of(*, session: Session, customer_id: int, lock: bool = False) -> list[int]:
    """Return the customer's id and the ids of every customer merged into it (the same person, their rows
    moved here), after refusing a customer that was itself merged away."""
    query = select(Customer).where(Customer.id == customer_id)
    customer = session.scalar(query.with_for_update() if lock else query)
    if customer is None:
        raise NotFound(f"no customer with id {customer_id}", code="customer_not_found")
    if customer.merged_into_id is not None:
        raise Conflict(
            f"customer {customer_id} was merged into customer {customer.merged_into_id}, which now holds "
            f"their tickets and identities: use customer {customer.merged_into_id} (it includes this one)",
            code="customer_merged",
        )
    people = [customer_id]
    frontier = [customer_id]
    while frontier:
        found = list(session.scalars(select(Customer.id).where(Customer.merged_into_id.in_(frontier))))
        found = [cid for cid in found if cid not in people]
        people.extend(found)
        frontier = found
    return sorted(people)


def _t(name: str) -> Table:
    return metadata.tables[name]


@dataclass
class ErasureReport:
    """What an erasure did: the customers erased, rows deleted per table, rows scrubbed per table."""

    customer_id: int
    customer_ids: list[int]
    deleted: dict[str, int] = field(default_factory=dict)
    scrubbed: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "customer_ids": self.customer_ids,
            "deleted": dict(sorted(self.deleted.items())),
            "scrubbed": dict(sorted(self.scrubbed.items())),
        }

    def add(self, bucket: dict[str, int], table: str, count: int) -> None:
        if count > 0:
            bucket[table] = bucket.get(table, 0) + count


class _Plan:
    """Which rows of each table are about the person: a predicate per table, built from the metadata."""

    def __init__(self, people: list[int], emails: list[str], visitor_ids: list[str]) -> None:
        self.people = people
        self._cache: dict[str, ColumnElement[bool] | None] = {}
        self._seeds: dict[str, list[ColumnElement[bool]]] = {}
        for table in metadata.sorted_tables:
            if "customer_id" in table.c and table.name not in KEPT:
                self._seed(table.name, table.c.customer_id.in_(people))
        self._seed("customers", _t("customers").c.id.in_(people))
        login_links = _t("login_links")
        if emails:
            self._seed("login_links", func.lower(login_links.c.email).in_(emails))
            quarantine = _t("quarantine")
            self._seed("quarantine", or_(*(func.lower(quarantine.c.sender).contains(e) for e in emails)))
        deliveries = _t("webhook_deliveries")
        self._seed(
            "webhook_deliveries",
            and_(deliveries.c.entity_type == "customer", deliveries.c.entity_id.in_(people)),
        )
        if visitor_ids:
            rate_hits = _t("rate_hits")
            self._seed("rate_hits", or_(*(rate_hits.c.key.endswith(":" + v) for v in visitor_ids)))
        if emails:
            rate_hits = _t("rate_hits")
            self._seed("rate_hits", or_(*(func.lower(rate_hits.c.key).endswith(":" + e) for e in emails)))

    def _seed(self, table: str, predicate: ColumnElement[bool]) -> None:
        self._seeds.setdefault(table, []).append(predicate)

    def add_identifier_blocks(self, values: list[str]) -> None:
        """Add the blocks of one of ``values`` (known only once the identifiers are collected)."""
        assert "sender_blocks" not in self._cache, "sender_blocks was planned before its seeds were known"
        if values:
            self._seed("sender_blocks", func.lower(_t("sender_blocks").c.value).in_(values))

    def ids(self, table: str, column: str = "id") -> Select[Any]:
        """A SELECT of ``column`` of the rows of ``table`` that are about the person."""
        t = _t(table)
        predicate = self.doomed(t)
        return select(t.c[column]).where(predicate if predicate is not None else false())

    def doomed(self, table: Table) -> ColumnElement[bool] | None:
        """The predicate of ``table``'s rows that go: seeded, or cascading from a parent row that goes."""
        if table.name in self._cache:
            return self._cache[table.name]
        self._cache[table.name] = None  # a cycle of cascades ends here
        parts = list(self._seeds.get(table.name, []))
        for column in table.c:
            for key in column.foreign_keys:
                parent = key.column.table
                if key.ondelete != "CASCADE" or parent is table:
                    continue
                assert isinstance(parent, Table)
                predicate = self.doomed(parent)
                if predicate is not None:
                    parts.append(column.in_(select(key.column).where(predicate)))
        if table.name in SOFT_TICKET_TABLES or table.name in COPY_TICKET_COLUMNS:
            column_name = COPY_TICKET_COLUMNS.get(table.name, "ticket_id")
            tickets = self.doomed(_t("tickets"))
            assert tickets is not None
            parts.append(table.c[column_name].in_(select(_t("tickets").c.id).where(tickets)))
        if table.name in {"automation_origins", "webhook_deliveries"}:
            events = self.doomed(_t("events"))
            assert events is not None
            event_ids = select(_t("events").c.id).where(events)
            parts.append(table.c.event_id.in_(event_ids))
            if table.name == "automation_origins":
                parts.append(table.c.root_event_id.in_(event_ids))
        if table.name == "partner_feedback":
            orders = self.doomed(_t("work_orders"))
            assert orders is not None
            parts.append(table.c.work_order_id.in_(select(_t("work_orders").c.id).where(orders)))
        if table.name == "quarantine":
            messages = self.doomed(_t("messages"))
            assert messages is not None
            parts.append(table.c.message_id.in_(select(_t("messages").c.id).where(messages)))
        result = or_(*parts) if parts else None
        self._cache[table.name] = result
        return result


def _deletion_order() -> list[Table]:
    """Children before parents; the tables that point at tickets or events without a foreign key first,
    while the rows their predicates read are still there."""
    first = ["webhook_attempts", "webhook_deliveries", "automation_origins", "events", "automation_runs"]
    first += ["report_tickets"]
    rest = [t for t in reversed(metadata.sorted_tables) if t.name not in first and t.name not in KEPT]
    return [_t(name) for name in first] + rest


def _collect_identifiers(session: Session, plan: _Plan, people: list[int]) -> list[str]:
    """The person's exact identifiers, lower-cased: every identity value and every address or number a
    channel recorded for them (sign-in links, chat, surveys, deliveries, calls, work orders)."""
    found: set[str] = set()
    identities = _t("identities")
    found.update(session.scalars(select(identities.c.value).where(identities.c.customer_id.in_(people))))
    sources: list[tuple[str, str]] = [
        ("login_links", "email"),
        ("chat_visitors", "email"),
        ("surveys", "recipient"),
        ("deliveries", "recipient"),
        ("work_orders", "contact_phone"),
    ]
    for table_name, column_name in sources:
        found.update(v for v in session.scalars(plan.ids(table_name, column_name)) if v)
    # The customer's end of a call: the caller when they rang, the callee when we did (never our number).
    calls = _t("calls")
    for end, direction in ((calls.c.caller, "inbound"), (calls.c.callee, "outbound")):
        rows = session.scalars(
            select(end).where(calls.c.customer_id.in_(people), calls.c.direction == direction)
        )
        found.update(v for v in rows if v)
    # Very short values (a one-letter handle) would match inside ordinary words.
    return sorted({v.strip().lower() for v in found if v and len(v.strip()) >= 5})


def erase_customer(*, session: Session, customer_id: int, actor: Principal) -> ErasureReport:
    """Remove the customer (and every customer merged into them) and everything about them; return what
    was deleted and scrubbed. The caller commits."""
    require_admin(actor)
    people = people_of(session=session, customer_id=customer_id, lock=True)
    report = ErasureReport(customer_id=customer_id, customer_ids=people)
    visitors = _t("chat_visitors")
    visitor_ids = list(
        session.scalars(select(visitors.c.public_id).where(visitors.c.customer_id.in_(people)))
    )
    identities = _t("identities")
    emails = [
        v.lower()
        for v in session.scalars(
            select(identities.c.value).where(
                identities.c.customer_id.in_(people), identities.c.kind == "email"
            )
        )
    ]
    plan = _Plan(people, emails, visitor_ids)
    identifiers = _collect_identifiers(session, plan, people)
    plan.add_identifier_blocks(identifiers)

    ticket_ids = list(session.scalars(plan.ids("tickets")))
    message_ids = list(session.scalars(plan.ids("messages")))
    concern_ids = set(session.scalars(plan.ids("concerns")))
    theme_ids = {
        int(v) for v in session.scalars(plan.ids("advocacy_theme_members", "theme_id")) if v is not None
    }
    hashes = {
        store: {h for table, column in refs for h in session.scalars(plan.ids(table, column))}
        for store, refs in CONTENT_STORES.items()
    }
    entities = {entity: list(session.scalars(plan.ids(table))) for entity, table in AUDIT_ENTITIES.items()}
    entities["ticket"], entities["message"] = ticket_ids, message_ids

    _scrub_audit(session, report, people, entities)
    for message_id in message_ids:
        search.remove_entry(session=session, message_id=message_id)

    # Children first: each table's predicate reads its parents' rows, which are still there.
    for table in _deletion_order():
        predicate = plan.doomed(table)
        if predicate is None:
            continue
        result = session.execute(delete(table).where(predicate))
        report.add(report.deleted, table.name, _rowcount(result))
    for store, refs in CONTENT_STORES.items():
        report.add(report.deleted, store, _drop_orphans(session, store, refs, hashes[store]))

    _scrub_themes(session, report, theme_ids, concern_ids)
    session.flush()
    gone = _Gone(people=set(people), tickets=set(ticket_ids), messages=set(message_ids), concerns=concern_ids)
    for table_name in ("advocacy_cases", "advocacy_spikes"):
        _scrub_json_table(session, report, table_name, gone, identifiers)
    _sweep_identifiers(session, report, identifiers)
    if message_ids or report.scrubbed.get("messages") or report.scrubbed.get("tickets"):
        _compact_search_index(session)
    session.flush()
    session.expire_all()
    audit.record(
        session=session,
        actor=actor,
        action="customer.erased",
        entity_type="customer",
        entity_id=customer_id,
        customer_id=customer_id,
        after={"customer_ids": people, "deleted": report.deleted, "scrubbed": report.scrubbed},
    )
    return report


def _scrub_audit(
    session: Session, report: ErasureReport, people: list[int], entities: dict[str, list[int]]
) -> None:
    """Earlier audit rows about the person keep who did what and when, and lose the details."""
    events = _t("audit_events")
    about = [
        events.c.customer_id.in_(people),
        and_(events.c.actor_type == "customer", events.c.actor_id.in_(people)),
        and_(events.c.entity_type == "customer", events.c.entity_id.in_(people)),
    ]
    for chunk in _chunks(entities["ticket"]):
        about.append(events.c.ticket_id.in_(chunk))
    for entity, ids in entities.items():
        about.extend(
            and_(events.c.entity_type == entity, events.c.entity_id.in_(chunk)) for chunk in _chunks(ids)
        )
    scrubbed = 0
    for start in range(0, len(about), 50):
        result = session.execute(
            update(events)
            .where(
                or_(*about[start : start + 50]),
                or_(events.c.before.is_not(None), events.c.after.is_not(None)),
            )
            .values(before=None, after=None)
        )
        scrubbed += _rowcount(result)
    report.add(report.scrubbed, "audit_events", scrubbed)


@dataclass
class _Gone:
    people: set[int]
    tickets: set[int]
    messages: set[int]
    concerns: set[int]


def _scrub_themes(session: Session, report: ErasureReport, theme_ids: set[int], concerns: set[int]) -> None:
    """Themes the person's concerns belonged to are described again from the members left (label, key
    phrases, quotes); a theme left with no members keeps its figures but loses its words."""
    themes = _t("advocacy_themes")
    quoting = set()
    for theme_id, quotes in session.execute(select(themes.c.id, themes.c.quotes)):
        if any(isinstance(q, dict) and q.get("concern_id") in concerns for q in quotes or []):
            quoting.add(int(theme_id))
    members = _t("advocacy_theme_members")
    for theme_id in sorted(theme_ids | quoting):
        theme = session.get(Theme, theme_id)
        if theme is None:
            continue
        left = session.scalar(select(func.count()).select_from(members).where(members.c.theme_id == theme_id))
        if left:
            theme_assignment.describe_theme(session, theme)
            theme.quotes = [q for q in theme.quotes or [] if q.get("concern_id") not in concerns]
        else:
            theme.label = ERASED
            theme.key_phrases = []
            theme.quotes = []
        report.add(report.scrubbed, "advocacy_themes", 1)


def _scrub_json_table(
    session: Session, report: ErasureReport, table_name: str, gone: _Gone, identifiers: list[str]
) -> None:
    """Drop the person's entries from every JSON column of a small shared table (advocacy evidence
    packs), and their identifiers from its text."""
    table = _t(table_name)
    key = next(iter(table.primary_key.columns))
    json_columns = [c for c in table.c if isinstance(c.type, JSON)]
    for row in session.execute(select(key, *json_columns)):
        changes: dict[str, Any] = {}
        for column, value in zip(json_columns, row[1:], strict=True):
            cleaned = _clean(value, gone, identifiers)
            if cleaned != value:
                changes[column.name] = cleaned
        if changes:
            session.execute(update(table).where(key == row[0]).values(**changes))
            report.add(report.scrubbed, table_name, 1)


_ID_KEYS = {
    "customer_id": "people",
    "ticket_id": "tickets",
    "message_id": "messages",
    "concern_id": "concerns",
}
_ID_LISTS = {"customer_ids": "people", "ticket_ids": "tickets", "message_ids": "messages"}


def _clean(value: Any, gone: _Gone, identifiers: list[str]) -> Any:
    """Return ``value`` without the entries that name an erased row and with identifiers replaced."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k in _ID_LISTS and isinstance(v, list):
                erased = getattr(gone, _ID_LISTS[k])
                out[k] = [x for x in v if x not in erased]
            else:
                out[k] = _clean(v, gone, identifiers)
        return out
    if isinstance(value, list):
        return [_clean(v, gone, identifiers) for v in value if not _names_gone(v, gone)]
    if isinstance(value, str):
        return _replace(value, identifiers)
    return value


def _names_gone(value: Any, gone: _Gone) -> bool:
    if not isinstance(value, dict):
        return False
    return any(value.get(k) in getattr(gone, attr) for k, attr in _ID_KEYS.items() if k in value)


def _replace(value: str, identifiers: list[str]) -> str:
    for identifier in identifiers:
        if identifier in value.lower():
            value = re.sub(re.escape(identifier), ERASED, value, flags=re.IGNORECASE)
    return value


def _drop_orphans(session: Session, store: str, refs: Iterable[tuple[str, str]], hashes: set[str]) -> int:
    """Delete the rows of a content-addressed store among ``hashes`` that nothing references any more."""
    table = _t(store)
    key = next(iter(table.primary_key.columns))
    count = 0
    for chunk in _chunks(sorted(hashes)):
        still: set[str] = set()
        for ref_table, ref_column in refs:
            column = _t(ref_table).c[ref_column]
            still.update(session.scalars(select(column).where(column.in_(chunk))))
        orphans = [h for h in chunk if h not in still]
        if orphans:
            count += _rowcount(session.execute(delete(table).where(key.in_(orphans))))
    return count


def _sweep_identifiers(session: Session, report: ErasureReport, identifiers: list[str]) -> None:
    """Replace the person's identifiers in every text and JSON column of every table left (another
    customer's message that quoted the address, a staff note, a payload) and re-index changed messages."""
    if not identifiers:
        return
    reindex_tickets: set[int] = set()
    reindex_messages: set[int] = set()
    for table in metadata.sorted_tables:
        if table.name in NOT_SWEPT or len(table.primary_key.columns) == 0:
            continue
        columns = [
            c
            for c in table.c
            if isinstance(c.type, String | Text | JSON) and not isinstance(c.type, Enum) and not c.primary_key
        ]
        if not columns:
            continue
        keys = list(table.primary_key.columns)
        haystacks = [
            func.lower(cast(c, Text)) if isinstance(c.type, JSON) else func.lower(c) for c in columns
        ]
        matches = or_(*(h.contains(i, autoescape=True) for h in haystacks for i in identifiers))
        for row in session.execute(select(*keys, *columns).where(matches)).all():
            where = and_(*(k == row[n] for n, k in enumerate(keys)))
            changes = {}
            for n, column in enumerate(columns, start=len(keys)):
                value = row[n]
                if value is None:
                    continue
                cleaned = (
                    _replace(value, identifiers)
                    if isinstance(value, str)
                    else _clean_json(value, identifiers)
                )
                if cleaned != value:
                    changes[column.name] = cleaned
            if changes:
                session.execute(update(table).where(where).values(**changes))
                report.add(report.scrubbed, table.name, 1)
                if table.name == "messages":
                    reindex_messages.add(int(row[0]))
                elif table.name == "tickets":
                    reindex_tickets.add(int(row[0]))
    _reindex(session, reindex_messages, reindex_tickets)


def _clean_json(value: Any, identifiers: list[str]) -> Any:
    return _clean(value, _Gone(set(), set(), set(), set()), identifiers)


def _reindex(session: Session, message_ids: set[int], ticket_ids: set[int]) -> None:
    """Rewrite the search entries of the changed messages (and of every message of a ticket whose subject
    changed) in this transaction, so the old words are gone from the index when it commits."""
    messages, tickets = _t("messages"), _t("tickets")
    wanted = [messages.c.id.in_(chunk) for chunk in _chunks(sorted(message_ids))]
    wanted += [messages.c.ticket_id.in_(chunk) for chunk in _chunks(sorted(ticket_ids))]
    if not wanted:
        return
    inner = messages.alias("first_message")
    earliest = (
        select(func.min(inner.c.id))
        .where(inner.c.ticket_id == messages.c.ticket_id)
        .correlate(messages)
        .scalar_subquery()
    )
    rows = session.execute(
        select(messages.c.id, messages.c.ticket_id, messages.c.internal, messages.c.body_text)
        .add_columns((messages.c.id == earliest).label("first"), tickets.c.subject)
        .join(tickets, tickets.c.id == messages.c.ticket_id)
        .where(or_(*wanted), messages.c.indexed_at.is_not(None))
    ).all()
    for row in rows:
        search.write_entry(
            session=session,
            message_id=row.id,
            ticket_id=row.ticket_id,
            internal=row.internal,
            subject=row.subject if row.first else None,
            body=row.body_text,
        )


def _compact_search_index(session: Session) -> None:
    """SQLite's FTS5 keeps a deleted entry's words in its index segments until they are merged: merge
    them all now, so no trace of the person's words stays in the file. (PostgreSQL drops the rows; their
    dead tuples go at the next VACUUM, which autovacuum runs.)"""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("INSERT INTO message_search(message_search) VALUES ('optimize')"))


def _rowcount(result: Any) -> int:
    """The number of rows a DELETE or UPDATE touched (a CursorResult; the stubs say Result)."""
    return int(getattr(result, "rowcount", 0) or 0)


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def find_customer_id(*, session: Session, ref: str) -> int:
    """Return the id of the customer named by ``ref``: a customer id, or an email address of theirs."""
    ref = ref.strip()
    if ref.isdigit():
        return int(ref)
    email = normalise_email(ref)
    identities = _t("identities")
    found = session.scalar(
        select(identities.c.customer_id).where(identities.c.kind == "email", identities.c.value == email)
    )
    if found is None:
        raise NotFound(f"no customer with the email address {email}", code="customer_not_found")
    return int(found)
