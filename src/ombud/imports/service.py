"""Write imported tickets in bulk: customers, identities, organisations, tickets, messages and tags with
SQLAlchemy Core, a batch per transaction.

Why not the per-ticket service path (``tickets.service.create_ticket``): it costs several round trips, an
audit row and an event per ticket, and every event would wake routing, SLA clocks, automations and
webhooks for history that is over. The rows written here are the same rows that path writes (queue rank,
``is_open``, the customer copied on every message, the ticket's channel on its messages, agent replies
already ``sent`` so nothing is emailed), with three differences on purpose:

- no audit rows and no events per ticket (one audit row for the whole run instead);
- every message carries ``channel_meta["imported"]``: triage of it stores its results and tracks its
  concerns, but publishes nothing (see ``ombud.triage.service.store``), so imported history is triaged and
  themed in the background without anything meant for live mail (auto-replies, notifications, SLA
  breaches, routing, webhooks);
- open imported tickets are ranked in the inbox but get no SLA clock and no routing: the other desk's
  promises are not ombud's to break; a lead assigns them, and the customer's next message routes as usual.

Idempotent and resumable: a ticket is identified by its ``external_id`` (``zendesk:123``,
``helpdesk:45``, or the ombud format's own), customers by their identities or by an import key, and each
batch commits on its own. A run killed half-way loses at most its last batch; the next run skips every
ticket that is already there and carries on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, delete, insert, select, tuple_, update
from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM
from ombud.audit import service as audit
from ombud.errors import InvalidInput, NotFound
from ombud.html import sanitise_html
from ombud.imports.models import ImportRun, ImportSkip
from ombud.imports.schemas import CustomerIn, MessageIn, Read, Skip, TicketIn
from ombud.storage.base import utcnow
from ombud.storage.db import Database
from ombud.storage.models import metadata
from ombud.tickets import priority as ranking
from ombud.tickets.models import Priority
from ombud.validation import normalise_email, normalise_handle, normalise_phone, normalise_tag

# The key in a message's channel_meta that says where imported history came from (messages.imported marks
# it for triage).
IMPORTED = "imported"
SOURCES = ("ombud", "zendesk", "helpdesk")
STATUSES = ("new", "open", "pending", "on_hold", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("email", "chat", "phone", "social", "web", "api")
AUTHORS = ("customer", "agent", "system")
CLOSED = ("solved", "closed")
STAFF = ("admin", "lead", "agent", "advocate")
# Keys of other desks are at most this long (import_keys.key, tickets.external_id).
MAX_KEY = 200

_T: dict[str, Table] = {}


def _table(name: str) -> Table:
    if not _T:
        _T.update(metadata.tables)
    return _T[name]


@dataclass(frozen=True)
class ImportOptions:
    """How a run writes: batch size, whether customer messages wait for triage, the body limit."""

    batch_size: int = 1000
    triage: bool = True
    max_body_chars: int = 200_000


@dataclass
class RunContext:
    """What a run reads once and every batch uses: staff by email, the precomputed inbox scores."""

    run_id: int
    source: str
    options: ImportOptions
    staff: dict[str, int]
    scores: dict[str, tuple[float, dict[str, Any]]]


# -- runs ---------------------------------------------------------------------------------------------------
def start_run(*, session: Session, source: str, location: str, options: ImportOptions) -> ImportRun:
    """Record a new run of ``source`` (the caller commits)."""
    if source not in SOURCES:
        raise InvalidInput(
            f"unknown import source {source!r}; use one of {', '.join(SOURCES)}", code="bad_source"
        )
    now = utcnow()
    run = ImportRun(
        source=source,
        location=location,
        status="running",
        options=dataclasses.asdict(options),
        counts=_empty_counts(),
        started_at=now,
        updated_at=now,
    )
    session.add(run)
    session.flush()
    return run


def _empty_counts() -> dict[str, Any]:
    return {
        "read": 0,
        "tickets": 0,
        "messages": 0,
        "customers": 0,
        "organisations": 0,
        "already_imported": 0,
        "skipped": {},
    }


def finish_run(*, session: Session, run_id: int, error: str | None = None) -> ImportRun:
    """Mark the run finished (or failed with ``error``) and record it in the audit trail."""
    run = get_run(session=session, run_id=run_id)
    now = utcnow()
    run.status = "failed" if error else "finished"
    run.error = error
    run.finished_at = now
    run.updated_at = now
    session.flush()
    audit.record(
        session=session,
        actor=SYSTEM,
        action="import.failed" if error else "import.finished",
        entity_type="import_run",
        entity_id=run.id,
        after={"source": run.source, "counts": run.counts, "error": error},
        publish=False,
    )
    return run


def get_run(*, session: Session, run_id: int) -> ImportRun:
    run = session.get(ImportRun, run_id, populate_existing=True)
    if run is None:
        raise NotFound(f"no import run {run_id}; `ombud import runs` lists them", code="import_run_not_found")
    return run


def list_runs(*, session: Session, limit: int = 20) -> Sequence[ImportRun]:
    """Return the latest runs, newest first."""
    return session.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)).all()


def list_skips(*, session: Session, run_id: int, limit: int = 50) -> Sequence[ImportSkip]:
    """Return the first ``limit`` records the run skipped, in the order it met them."""
    return session.scalars(
        select(ImportSkip).where(ImportSkip.run_id == run_id).order_by(ImportSkip.id).limit(limit)
    ).all()


def run_context(*, session: Session, run_id: int, source: str, options: ImportOptions) -> RunContext:
    users = _table("users")
    staff = {
        str(email).lower(): int(user_id)
        for user_id, email in session.execute(
            select(users.c.id, users.c.email).where(users.c.role.in_(STAFF))
        ).all()
    }
    scores = {name: ranking.compute({}, Priority(name), utcnow()) for name in PRIORITIES}
    return RunContext(run_id=run_id, source=source, options=options, staff=staff, scores=scores)


# -- the runner: one transaction per batch ------------------------------------------------------------------
def run_import(
    *,
    database: Database,
    source: str,
    location: str,
    reads: Iterable[Read],
    options: ImportOptions,
    progress: Callable[[int], None] | None = None,
) -> ImportRun:
    """Import everything ``reads`` yields, a batch per committed transaction; return the finished run.

    Like the job runner, this owns its transactions: a batch is written whole or not at all, and the run
    row records the counts of every committed batch.
    """
    with database.session() as session:
        run = start_run(session=session, source=source, location=location, options=options)
        session.commit()
        run_id = run.id
    try:
        with database.session(write=False) as session:
            context = run_context(session=session, run_id=run_id, source=source, options=options)
        for batch in _batches(reads, options.batch_size):
            with database.session() as session:
                write_batch(session=session, context=context, batch=batch)
                session.commit()
            if progress is not None:
                progress(len(batch))
    except BaseException as exc:
        with database.session() as session:
            finish_run(session=session, run_id=run_id, error=f"{type(exc).__name__}: {exc}"[:2000])
            session.commit()
        raise
    with database.session() as session:
        run = finish_run(session=session, run_id=run_id)
        session.commit()
    return run


def _batches(reads: Iterable[Read], size: int) -> Iterator[list[Read]]:
    batch: list[Read] = []
    for item in reads:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- one batch ----------------------------------------------------------------------------------------------
@dataclass
class _Counts:
    tickets: int = 0
    messages: int = 0
    customers: int = 0
    organisations: int = 0
    already: int = 0


def write_batch(*, session: Session, context: RunContext, batch: Sequence[Read]) -> None:
    """Write one batch of read records in the caller's transaction and add its counts to the run."""
    connection = session.connection()
    skips: list[Skip] = []
    counts = _Counts()
    candidates: list[TicketIn] = []
    seen: set[str] = set()
    for item in batch:
        skips.extend(item.skips)
        ticket = item.ticket
        if ticket is None:
            continue
        if ticket.external_id in seen:
            skips.append(Skip("ticket", ticket.external_id, "duplicate_in_source", "twice in one batch"))
            continue
        seen.add(ticket.external_id)
        problem = _check_ticket(ticket, context.options)
        if problem is not None:
            skips.append(problem)
            continue
        candidates.append(ticket)

    tickets = _table("tickets")
    existing = set(
        connection.execute(
            select(tickets.c.external_id).where(
                tickets.c.external_id.in_([t.external_id for t in candidates])
            )
        ).scalars()
    )
    counts.already = sum(1 for t in candidates if t.external_id in existing)
    fresh = [t for t in candidates if t.external_id not in existing]
    customer_ids = _resolve_customers(session, context, fresh, skips, counts)
    ready = [(t, c) for t, c in zip(fresh, customer_ids, strict=True) if c is not None]
    _insert_tickets(session, context, ready, skips, counts)
    _record(session, context, skips, counts, read=len(batch))


def _check_ticket(ticket: TicketIn, options: ImportOptions) -> Skip | None:  # noqa: PLR0911 (one per reason)
    ref = ticket.external_id
    if not ref or len(ref) > MAX_KEY:
        return Skip(
            "ticket", ref[:300] or "?", "invalid_record", f"external_id must be 1-{MAX_KEY} characters"
        )
    if ticket.status not in STATUSES:
        return Skip("ticket", ref, "invalid_status", f"{ticket.status!r}; use one of {', '.join(STATUSES)}")
    if ticket.priority not in PRIORITIES:
        return Skip(
            "ticket", ref, "invalid_priority", f"{ticket.priority!r}; use one of {', '.join(PRIORITIES)}"
        )
    if ticket.channel not in CHANNELS:
        return Skip("ticket", ref, "invalid_channel", f"{ticket.channel!r}; use one of {', '.join(CHANNELS)}")
    for message in ticket.messages:
        if message.author not in AUTHORS:
            return Skip("ticket", ref, "invalid_record", f"message author {message.author!r}; use {AUTHORS}")
    ticket.messages = [m for m in ticket.messages if m.body_text.strip() or (m.body_html or "").strip()]
    if not ticket.messages:
        return Skip("ticket", ref, "no_messages", "")
    return None


# -- customers ----------------------------------------------------------------------------------------------
_SPACES = re.compile(r"\s+")


def _identities(customer: CustomerIn, ref: str, skips: list[Skip]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for kind, value, normalise in (
        ("email", customer.email, normalise_email),
        ("phone", customer.phone, normalise_phone),
        ("handle", customer.handle, normalise_handle),
    ):
        if not value or not value.strip():
            continue
        try:
            found.append((kind, normalise(value)))
        except InvalidInput as exc:
            skips.append(Skip("identity", ref, "invalid_identity", exc.message))
    return found


@dataclass
class _Plan:
    """Who the batch's tickets are from: known customers by identity and by key, and what to create.
    New customers are numbered -1, -2... until they are inserted."""

    owner: dict[tuple[str, str], int]
    by_key: dict[str, int]
    new_rows: list[str] = dataclasses.field(default_factory=list)  # their names
    new_orgs: dict[int, str] = dataclasses.field(default_factory=dict)
    added: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # identities nobody has yet
    new_keys: set[str] = dataclasses.field(default_factory=set)  # source user ids met the first time


def _resolve_customers(
    session: Session, context: RunContext, fresh: list[TicketIn], skips: list[Skip], counts: _Counts
) -> list[int | None]:
    """Return each ticket's customer id (None: skipped), creating the customers, identities and
    organisations the batch needs."""
    wanted = [_identities(t.customer, t.external_id, skips) for t in fresh]
    keys = [t.customer.key[:MAX_KEY] if t.customer.key else None for t in fresh]
    plan = _known(session, context, wanted, keys)
    chosen: list[int | None] = []
    for ticket, found, key in zip(fresh, wanted, keys, strict=True):
        customer_id = plan.by_key.get(key) if key else None
        if customer_id is None:
            customer_id = next((plan.owner[pair] for pair in found if pair in plan.owner), None)
        if customer_id is None and not found and not key:
            skips.append(
                Skip("ticket", ticket.external_id, "no_customer", "no valid email, phone, handle or user id")
            )
            chosen.append(None)
            continue
        if customer_id is None:
            customer_id = -(len(plan.new_rows) + 1)
            plan.new_rows.append(ticket.customer.name[:200])
            if ticket.customer.organisation:
                plan.new_orgs[customer_id] = ticket.customer.organisation.strip()[:200]
        if key and key not in plan.by_key:
            plan.by_key[key] = customer_id
            plan.new_keys.add(key)
        for pair in found:
            if pair not in plan.owner:
                plan.added.append(pair)
            if plan.owner.setdefault(pair, customer_id) != customer_id:
                detail = f"{pair[0]} belongs to another customer"
                skips.append(Skip("identity", ticket.external_id, "identity_taken", detail))
        chosen.append(customer_id)
    real = _write_customers(session, context, plan, counts)
    return [real[c] if c is not None and c < 0 else c for c in chosen]


def _known(
    session: Session, context: RunContext, wanted: list[list[tuple[str, str]]], keys: list[str | None]
) -> _Plan:
    """Return the plan with the customers the database already knows by the batch's identities and keys."""
    connection = session.connection()
    identities, keys_table = _table("identities"), _table("import_keys")
    owner: dict[tuple[str, str], int] = {}
    pairs = sorted({pair for found in wanted for pair in found})
    for begin in range(0, len(pairs), 500):
        chunk = pairs[begin : begin + 500]
        for kind, value, customer_id in connection.execute(
            select(identities.c.kind, identities.c.value, identities.c.customer_id).where(
                tuple_(identities.c.kind, identities.c.value).in_(chunk)
            )
        ):
            owner[(str(kind), str(value))] = int(customer_id)
    by_key: dict[str, int] = {}
    key_list = sorted({k for k in keys if k})
    if key_list:
        for key, target in connection.execute(
            select(keys_table.c.key, keys_table.c.target_id).where(
                keys_table.c.source == context.source,
                keys_table.c.kind == "customer",
                keys_table.c.key.in_(key_list),
            )
        ):
            by_key[str(key)] = int(target)
    if by_key:
        # A customer merged into another since: follow the merge. One deleted since (an erasure): the
        # stale key is dropped and the record is read as a new customer (docs/import.md, Limits).
        customers = _table("customers")
        alive = {
            int(i): int(into) if into is not None else int(i)
            for i, into in connection.execute(
                select(customers.c.id, customers.c.merged_into_id).where(
                    customers.c.id.in_(set(by_key.values()))
                )
            )
        }
        gone = sorted(key for key, target in by_key.items() if target not in alive)
        if gone:
            connection.execute(
                delete(keys_table).where(
                    keys_table.c.source == context.source,
                    keys_table.c.kind == "customer",
                    keys_table.c.key.in_(gone),
                )
            )
        by_key = {key: alive[target] for key, target in by_key.items() if target in alive}
    return _Plan(owner=owner, by_key=by_key)


def _write_customers(session: Session, context: RunContext, plan: _Plan, counts: _Counts) -> dict[int, int]:
    """Insert the plan's new customers, identities and keys; return the real id of each new customer."""
    connection = session.connection()
    now = utcnow()
    real: dict[int, int] = {}
    if plan.new_rows:
        org_ids = _organisations(session, sorted(set(plan.new_orgs.values())), counts)
        customers = _table("customers")
        inserted = connection.execute(
            insert(customers).returning(customers.c.id, sort_by_parameter_order=True),
            [
                {
                    "name": name,
                    "organisation_id": org_ids.get(plan.new_orgs.get(-(i + 1), "")),
                    "preferences": {},
                    "notes": "",
                    "tier": "standard",
                    "created_at": now,
                    "updated_at": now,
                }
                for i, name in enumerate(plan.new_rows)
            ],
        ).scalars()
        real = {-(i + 1): int(customer_id) for i, customer_id in enumerate(inserted)}
        counts.customers += len(real)
    # New identities, of new customers and of customers found by another identity or their key.
    if plan.added:
        connection.execute(
            insert(_table("identities")),
            [
                {
                    "customer_id": real.get(plan.owner[p], plan.owner[p]),
                    "kind": p[0],
                    "value": p[1],
                    "created_at": now,
                }
                for p in plan.added
            ],
        )
    if plan.new_keys:
        connection.execute(
            insert(_table("import_keys")),
            [
                {
                    "source": context.source,
                    "kind": "customer",
                    "key": key,
                    "target_id": real.get(plan.by_key[key], plan.by_key[key]),
                    "run_id": context.run_id,
                    "created_at": now,
                }
                for key in sorted(plan.new_keys)
            ],
        )
    return real


def _organisations(session: Session, names: list[str], counts: _Counts) -> dict[str, int]:
    if not names:
        return {}
    connection = session.connection()
    organisations = _table("organisations")
    found = {
        str(name).casefold(): int(org_id)
        for org_id, name in connection.execute(
            select(organisations.c.id, organisations.c.name).where(organisations.c.name.in_(names))
        )
    }
    missing: list[str] = []
    for name in names:
        if name.casefold() not in found and name.casefold() not in {m.casefold() for m in missing}:
            missing.append(name)
    if missing:
        now = utcnow()
        ids = connection.execute(
            insert(organisations).returning(organisations.c.id, sort_by_parameter_order=True),
            [{"name": name, "domain": None, "created_at": now} for name in missing],
        ).scalars()
        for name, org_id in zip(missing, ids, strict=True):
            found[name.casefold()] = int(org_id)
        counts.organisations += len(missing)
    return {name: found[name.casefold()] for name in names}


# -- tickets, messages, tags --------------------------------------------------------------------------------
def _insert_tickets(
    session: Session,
    context: RunContext,
    ready: list[tuple[TicketIn, int]],
    skips: list[Skip],
    counts: _Counts,
) -> None:
    if not ready:
        return
    connection = session.connection()
    tickets, messages, tags = _table("tickets"), _table("messages"), _table("ticket_tags")
    rows = []
    for ticket, customer_id in ready:
        ticket.messages.sort(key=lambda m: m.created_at)
        last = ticket.messages[-1].created_at
        updated = max(ticket.updated_at or last, last)
        closed = ticket.status in CLOSED
        first_response = _first_response(ticket.messages)
        score, parts = context.scores[ticket.priority]
        rows.append(
            {
                "subject": ticket.subject.strip()[:500] or "(no subject)",
                "status": ticket.status,
                "priority": ticket.priority,
                "channel": ticket.channel,
                "customer_id": customer_id,
                "assignee_id": context.staff.get((ticket.assignee_email or "").strip().lower()),
                "team_id": None,
                "external_id": ticket.external_id,
                "created_at": ticket.created_at,
                "updated_at": updated,
                "first_response_at": first_response,
                "resolved_at": (ticket.resolved_at or updated) if closed else None,
                "follow_up_of_id": None,
                "is_open": not closed,
                "priority_score": score,
                "priority_parts": parts,
                "queue_rank": ranking.queue_rank(score, ticket.created_at),
            }
        )
    ids = list(
        connection.execute(
            insert(tickets).returning(tickets.c.id, sort_by_parameter_order=True), rows
        ).scalars()
    )
    counts.tickets += len(ids)
    message_rows: list[dict[str, Any]] = []
    tag_rows: list[dict[str, Any]] = []
    for (ticket, customer_id), ticket_id in zip(ready, ids, strict=True):
        for position, message in enumerate(ticket.messages):
            message_rows.append(
                _message_row(
                    context=context,
                    ticket=ticket,
                    message=message,
                    position=position,
                    ticket_id=int(ticket_id),
                    customer_id=customer_id,
                    skips=skips,
                )
            )
        for tag in _tags(ticket, skips):
            tag_rows.append({"ticket_id": ticket_id, "tag": tag})
    connection.execute(insert(messages), message_rows)
    counts.messages += len(message_rows)
    if tag_rows:
        connection.execute(insert(tags), tag_rows)


def _first_response(items: list[MessageIn]) -> dt.datetime | None:
    asked = False
    for message in items:
        if message.author == "customer" and not message.internal:
            asked = True
        elif asked and message.author == "agent" and not message.internal:
            return message.created_at
    return None


def _message_row(
    *,
    context: RunContext,
    ticket: TicketIn,
    message: MessageIn,
    position: int,
    ticket_id: int,
    customer_id: int,
    skips: list[Skip],
) -> dict[str, Any]:
    limit = context.options.max_body_chars
    body = message.body_text
    if len(body) > limit:
        skips.append(
            Skip(
                "message",
                f"{ticket.external_id} #{position + 1}",
                "body_too_large",
                f"{len(body)} characters",
            )
        )
        body = body[:limit]
    customer_public = message.author == "customer" and not message.internal
    agent_public = message.author == "agent" and not message.internal
    author_user_id = (
        context.staff.get((message.author_email or "").strip().lower()) if message.author == "agent" else None
    )
    meta: dict[str, Any] = {IMPORTED: {"source": context.source, "run": context.run_id}}
    if message.ref:
        meta[IMPORTED]["ref"] = message.ref[:MAX_KEY]
    if (
        message.author != "customer"
        and author_user_id is None
        and (message.author_name or message.author_email)
    ):
        # Who wrote it in the other desk, when no ombud user has that address.
        meta[IMPORTED]["author"] = {"name": message.author_name, "email": message.author_email}
    return {
        "ticket_id": ticket_id,
        "customer_id": customer_id,
        "author_type": message.author,
        "author_user_id": author_user_id,
        "channel": ticket.channel,
        "internal": message.internal,
        "body_text": body,
        "body_html": sanitise_html(message.body_html[: limit * 2]) if message.body_html else None,
        "channel_meta": meta,
        "created_at": message.created_at,
        "indexed_at": None,
        "triaged_at": None if customer_public and context.options.triage else message.created_at,
        "delivery_state": "sent" if agent_public else None,
        "imported": True,
    }


def _tags(ticket: TicketIn, skips: list[Skip]) -> list[str]:
    clean: set[str] = set()
    for raw in ticket.tags:
        try:
            clean.add(normalise_tag(_SPACES.sub("-", raw.strip())))
        except InvalidInput as exc:
            skips.append(Skip("tag", ticket.external_id, "invalid_record", exc.message))
    return sorted(clean)


# -- the run's record ---------------------------------------------------------------------------------------
def _record(session: Session, context: RunContext, skips: list[Skip], counts: _Counts, *, read: int) -> None:
    connection = session.connection()
    now = utcnow()
    if skips:
        connection.execute(
            insert(_table("import_skips")),
            [
                {
                    "run_id": context.run_id,
                    "kind": s.kind[:20],
                    "ref": s.ref[:300],
                    "reason": s.reason[:50],
                    "detail": s.detail[:2000],
                    "created_at": now,
                }
                for s in skips
            ],
        )
    runs = _table("import_runs")
    current = connection.execute(select(runs.c.counts).where(runs.c.id == context.run_id)).scalar_one()
    total = {**_empty_counts(), **dict(current or {})}
    total["read"] += read
    total["tickets"] += counts.tickets
    total["messages"] += counts.messages
    total["customers"] += counts.customers
    total["organisations"] += counts.organisations
    total["already_imported"] += counts.already
    skipped = Counter(dict(total["skipped"]))
    skipped.update(s.reason for s in skips)
    total["skipped"] = dict(sorted(skipped.items()))
    connection.execute(
        update(runs).where(and_(runs.c.id == context.run_id)).values(counts=total, updated_at=now)
    )
