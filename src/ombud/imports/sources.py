"""Readers of the sources ``ombud import`` takes, each turning its records into :class:`TicketIn` (or a
:class:`Skip` saying why a record could not be read): ombud's own CSV / JSON / JSONL format (docs/import.md),
a Zendesk-style JSON export, and a live django-helpdesk database.

Readers stream: a JSONL file, a CSV file and the helpdesk database are read a record (or a page) at a time,
so a million tickets never sit in memory. A single JSON document is parsed whole (use JSONL for big ones).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from ombud.errors import InvalidInput
from ombud.imports.schemas import CustomerIn, MessageIn, Read, Skip, TicketIn

# CSV fields can be long message bodies.
csv.field_size_limit(64 * 1024 * 1024)


class BadRecord(Exception):
    """A record that cannot be read; ``reason`` is one of the stable skip reasons."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def parse_time(value: Any, field: str) -> dt.datetime:
    """Return an aware UTC datetime from ISO 8601 text (a naive one is taken as UTC) or epoch seconds."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    elif isinstance(value, str) and value.strip():
        raw = value.strip()
        try:
            moment = dt.datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith("Z") else raw)
        except ValueError:
            raise BadRecord("invalid_timestamp", f"{field}: {value!r} is not an ISO 8601 time") from None
    else:
        raise BadRecord("invalid_timestamp", f"{field} is missing")
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _optional_time(value: Any, field: str) -> dt.datetime | None:
    return None if value in (None, "") else parse_time(value, field)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "t")
    return bool(value)


# -- the ombud format ---------------------------------------------------------------------------------------
def read_ombud(path: Path) -> Iterator[Read]:
    """Read ombud's format from a .csv, .json or .jsonl file (docs/import.md)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _read_csv(path)
    elif suffix in (".jsonl", ".ndjson"):
        yield from _read_jsonl(path)
    elif suffix == ".json":
        yield from _read_json(path)
    else:
        raise InvalidInput(
            f"{path.name}: the ombud format is a .csv, .json or .jsonl file", code="unknown_import_format"
        )


def _read_jsonl(path: Path) -> Iterator[Read]:
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Read(None, [Skip("row", f"line {number}", "invalid_json", str(exc))])
                continue
            yield ombud_ticket(record, f"line {number}")


def _read_json(path: Path) -> Iterator[Read]:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path.name} is not valid JSON: {exc}", code="invalid_import_file") from None
    records = document.get("tickets") if isinstance(document, dict) else document
    if not isinstance(records, list):
        raise InvalidInput(
            f'{path.name}: expected a list of tickets or an object with "tickets": [...]',
            code="invalid_import_file",
        )
    for number, record in enumerate(records, 1):
        yield ombud_ticket(record, f"ticket {number}")


def ombud_ticket(record: Any, where: str) -> Read:
    """Return one ticket of the ombud JSON format, or the skip that says what is wrong with it."""
    ref = str(record.get("external_id") or where) if isinstance(record, dict) else where
    try:
        if not isinstance(record, dict):
            raise BadRecord("invalid_record", "a ticket is a JSON object")
        external_id = _required(record, "external_id")
        customer = record.get("customer")
        if not isinstance(customer, dict):
            raise BadRecord("invalid_record", "customer must be an object with an email, phone or handle")
        raw_messages = record.get("messages")
        if not isinstance(raw_messages, list):
            raise BadRecord("invalid_record", "messages must be a list")
        messages = []
        for position, raw in enumerate(raw_messages, 1):
            if not isinstance(raw, dict):
                raise BadRecord("invalid_record", f"message {position} is not an object")
            messages.append(
                MessageIn(
                    body_text=_text(raw.get("body")),
                    body_html=raw.get("body_html") or None,
                    created_at=parse_time(raw.get("created_at"), f"messages[{position}].created_at"),
                    author=_text(raw.get("author") or "customer"),
                    internal=_bool(raw.get("internal", False)),
                    author_email=raw.get("author_email") or None,
                    author_name=raw.get("author_name") or None,
                    ref=_text(raw.get("id")) or None,
                )
            )
        tags = record.get("tags") or []
        if isinstance(tags, str):
            tags = [t for t in tags.replace(";", ",").split(",") if t.strip()]
        created = record.get("created_at") or (raw_messages[0].get("created_at") if raw_messages else None)
        ticket = TicketIn(
            external_id=external_id,
            subject=_text(record.get("subject")),
            status=_text(record.get("status") or "closed"),
            priority=_text(record.get("priority") or "normal"),
            channel=_text(record.get("channel") or "email"),
            created_at=parse_time(created, "created_at"),
            updated_at=_optional_time(record.get("updated_at"), "updated_at"),
            resolved_at=_optional_time(record.get("resolved_at"), "resolved_at"),
            customer=CustomerIn(
                key=_text(customer.get("external_id")) or None,
                name=_text(customer.get("name")),
                email=customer.get("email") or None,
                phone=customer.get("phone") or None,
                handle=customer.get("handle") or None,
                organisation=customer.get("organisation") or None,
            ),
            messages=messages,
            tags=[str(t) for t in tags],
            assignee_email=record.get("assignee_email") or None,
        )
    except BadRecord as bad:
        return Read(None, [Skip("ticket", ref, bad.reason, bad.detail)])
    return Read(ticket)


def _required(record: dict[str, Any], field: str) -> str:
    value = record.get(field)
    if value is None or not str(value).strip():
        raise BadRecord("invalid_record", f"{field} is required")
    return str(value).strip()


CSV_COLUMNS = (
    "external_id",
    "subject",
    "status",
    "priority",
    "channel",
    "created_at",
    "customer_email",
    "customer_name",
    "customer_phone",
    "customer_handle",
    "customer_id",
    "organisation",
    "tags",
    "assignee_email",
    "author",
    "author_email",
    "author_name",
    "internal",
    "message_created_at",
    "body",
    "body_html",
)


def _read_csv(path: Path) -> Iterator[Read]:
    """One row per message; a ticket's rows are consecutive and its first row carries the ticket fields."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"external_id", "body"} - set(reader.fieldnames or ())
        if missing:
            raise InvalidInput(
                f"{path.name}: the CSV header lacks {', '.join(sorted(missing))} (see docs/import.md)",
                code="invalid_import_file",
            )
        current: dict[str, Any] | None = None
        done: set[str] = set()
        for number, row in enumerate(reader, 2):
            key = (row.get("external_id") or "").strip()
            if current is not None and key == current["external_id"]:
                current["messages"].append(_csv_message(row))
                continue
            if current is not None:
                done.add(current["external_id"])
                yield ombud_ticket(current, current["where"])
                current = None
            if not key:
                yield Read(None, [Skip("row", f"line {number}", "invalid_record", "external_id is required")])
                continue
            if key in done:
                yield Read(None, [Skip("row", f"line {number}", "split_ticket_rows", f"ticket {key}")])
                continue
            current = {
                "where": f"line {number}",
                "external_id": key,
                "subject": row.get("subject"),
                "status": row.get("status") or None,
                "priority": row.get("priority") or None,
                "channel": row.get("channel") or None,
                "created_at": row.get("created_at") or row.get("message_created_at"),
                "tags": row.get("tags") or "",
                "assignee_email": row.get("assignee_email") or None,
                "customer": {
                    "email": row.get("customer_email"),
                    "name": row.get("customer_name"),
                    "phone": row.get("customer_phone"),
                    "handle": row.get("customer_handle"),
                    "external_id": row.get("customer_id"),
                    "organisation": row.get("organisation"),
                },
                "messages": [_csv_message(row)],
            }
        if current is not None:
            yield ombud_ticket(current, current["where"])


def _csv_message(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "body": row.get("body"),
        "body_html": row.get("body_html") or None,
        "author": row.get("author") or "customer",
        "author_email": row.get("author_email") or None,
        "author_name": row.get("author_name") or None,
        "internal": row.get("internal") or False,
        "created_at": row.get("message_created_at") or row.get("created_at"),
    }


# -- Zendesk-style JSON export ------------------------------------------------------------------------------
ZENDESK_STATUS = {
    "new": "new",
    "open": "open",
    "pending": "pending",
    "hold": "on_hold",
    "on-hold": "on_hold",
    "solved": "solved",
    "closed": "closed",
}
ZENDESK_CHANNEL = {
    "email": "email",
    "web": "web",
    "web_form": "web",
    "web_widget": "web",
    "api": "api",
    "chat": "chat",
    "native_messaging": "chat",
    "voice": "phone",
    "phone": "phone",
    "twitter": "social",
    "facebook": "social",
    "instagram_dm": "social",
    "whatsapp": "social",
    "any_channel": "social",
}


def _load_records(path: Path, name: str) -> list[dict[str, Any]]:
    """Return the records of ``name`` (users, organizations, tickets...) from a folder's name.json,
    name.jsonl or from a single export document."""
    for candidate in (path / f"{name}.jsonl", path / f"{name}.json"):
        if path.is_dir() and candidate.exists():
            return list(_json_records(candidate, name))
    return []


def _json_records(path: Path, name: str) -> Iterator[dict[str, Any]]:
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8-sig") as lines:
            for line in lines:
                if line.strip():
                    item = json.loads(line)
                    if isinstance(item, dict):
                        yield item
        return
    document = json.loads(path.read_text(encoding="utf-8-sig"))
    items = document.get(name, []) if isinstance(document, dict) else document
    yield from (item for item in items if isinstance(item, dict))


def read_zendesk(path: Path) -> Iterator[Read]:
    """Read a Zendesk-style export: one JSON document with "tickets" (each with its "comments"), "users" and
    "organizations", or a folder of tickets.json(l), users.json(l), organizations.json(l) and, when the
    comments are not inside the tickets, ticket_comments.json(l) (each comment with its ticket_id)."""
    try:
        if path.is_dir():
            users = _load_records(path, "users")
            organizations = _load_records(path, "organizations")
            comments = _load_records(path, "ticket_comments")
            ticket_file = next(
                (p for p in (path / "tickets.jsonl", path / "tickets.json") if p.exists()), None
            )
            if ticket_file is None:
                raise InvalidInput(f"{path} has no tickets.json or tickets.jsonl", code="invalid_import_file")
            tickets: Any = _json_records(ticket_file, "tickets")
        else:
            document = json.loads(path.read_text(encoding="utf-8-sig"))
            if not isinstance(document, dict) or not isinstance(document.get("tickets"), list):
                raise InvalidInput(
                    f'{path.name}: a Zendesk export is an object with "tickets", "users", "organizations"',
                    code="invalid_import_file",
                )
            users = [u for u in document.get("users", []) if isinstance(u, dict)]
            organizations = [o for o in document.get("organizations", []) if isinstance(o, dict)]
            comments = [c for c in document.get("ticket_comments", []) if isinstance(c, dict)]
            tickets = (t for t in document["tickets"] if isinstance(t, dict))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path} holds invalid JSON: {exc}", code="invalid_import_file") from None
    people = {str(u.get("id")): u for u in users}
    org_names = {str(o.get("id")): _text(o.get("name")) for o in organizations}
    by_ticket: dict[str, list[dict[str, Any]]] = {}
    for comment in comments:
        by_ticket.setdefault(str(comment.get("ticket_id")), []).append(comment)
    seen: set[str] = set()
    for record in tickets:
        ticket_key = str(record.get("id"))
        seen.add(ticket_key)
        yield zendesk_ticket(record, by_ticket.get(ticket_key, []), people, org_names)
    for orphan in sorted(set(by_ticket) - seen):
        yield Read(
            None, [Skip("message", f"ticket {orphan}", "unknown_ticket", "comments of a ticket not exported")]
        )


def zendesk_ticket(
    record: dict[str, Any],
    extra_comments: list[dict[str, Any]],
    people: dict[str, dict[str, Any]],
    org_names: dict[str, str],
) -> Read:
    ref = f"zendesk:{record.get('id')}"
    skips: list[Skip] = []
    try:
        if record.get("id") is None:
            raise BadRecord("invalid_record", "a ticket without an id")
        status = ZENDESK_STATUS.get(_text(record.get("status")).lower())
        if status is None:
            raise BadRecord("invalid_status", f"{record.get('status')!r}")
        priority = _text(record.get("priority") or "normal").lower()
        via: dict[str, Any] = record["via"] if isinstance(record.get("via"), dict) else {}
        channel = ZENDESK_CHANNEL.get(_text(via.get("channel")).lower(), "email")
        requester = people.get(str(record.get("requester_id")), {})
        organisation = org_names.get(str(requester.get("organization_id") or record.get("organization_id")))
        created = parse_time(record.get("created_at"), "created_at")
        messages: list[MessageIn] = []
        comments = list(record.get("comments") or []) + extra_comments
        for position, comment in enumerate(comments, 1):
            if not isinstance(comment, dict):
                continue
            body = _text(comment.get("plain_body") or comment.get("body"))
            where = f"{ref} comment {comment.get('id') or position}"
            if not body.strip() and not _text(comment.get("html_body")).strip():
                skips.append(Skip("message", where, "empty_message", ""))
                continue
            author = people.get(str(comment.get("author_id")), {})
            role = _text(author.get("role")).lower()
            is_requester = str(comment.get("author_id")) == str(record.get("requester_id"))
            kind = "customer" if is_requester or role in ("end-user", "") else "agent"
            messages.append(
                MessageIn(
                    body_text=body,
                    body_html=comment.get("html_body") or None,
                    created_at=parse_time(comment.get("created_at") or created, f"{where} created_at"),
                    author=kind,
                    internal=not _bool(comment.get("public", True)),
                    author_email=author.get("email") or None,
                    author_name=author.get("name") or None,
                    ref=str(comment.get("id") or position),
                )
            )
        if not messages and _text(record.get("description")).strip():
            messages.append(
                MessageIn(body_text=_text(record["description"]), created_at=created, ref="description")
            )
        assignee = people.get(str(record.get("assignee_id")), {})
        ticket = TicketIn(
            external_id=ref,
            subject=_text(record.get("subject") or record.get("raw_subject")),
            status=status,
            priority=priority,
            channel=channel,
            created_at=created,
            updated_at=_optional_time(record.get("updated_at"), "updated_at"),
            resolved_at=None,
            customer=CustomerIn(
                key=str(record.get("requester_id")) if record.get("requester_id") is not None else None,
                name=_text(requester.get("name")),
                email=requester.get("email") or None,
                phone=requester.get("phone") or None,
                organisation=organisation or None,
            ),
            messages=messages,
            tags=[str(t) for t in record.get("tags") or []],
            assignee_email=assignee.get("email") or None,
        )
    except BadRecord as bad:
        return Read(None, [*skips, Skip("ticket", ref, bad.reason, bad.detail)])
    return Read(ticket, skips)


# -- a live django-helpdesk database ------------------------------------------------------------------------
# django-helpdesk's Ticket.STATUS_CHOICES and PRIORITY_CHOICES.
HELPDESK_STATUS = {1: "open", 2: "open", 3: "solved", 4: "closed", 5: "closed"}
HELPDESK_PRIORITY = {1: "urgent", 2: "high", 3: "normal", 4: "low", 5: "low"}
HELPDESK_PAGE = 2000


def safe_location(url: str) -> str:
    """Return ``url`` without its password, for the run's record."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def read_helpdesk(url: str) -> Iterator[Read]:
    """Read tickets and follow-ups from a django-helpdesk database (SQLite or PostgreSQL URL), a page of
    tickets at a time, ordered by id."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed)
    except (ArgumentError, SQLAlchemyError, ImportError) as exc:
        raise InvalidInput(f"not a usable database URL: {exc}", code="invalid_source_url") from None
    try:
        with engine.connect() as connection:
            try:
                users = {
                    int(row.id): row
                    for row in connection.execute(
                        text("SELECT id, email, first_name, last_name, is_staff FROM auth_user")
                    )
                }
                queues = {
                    int(row.id): str(row.slug)
                    for row in connection.execute(text("SELECT id, slug FROM helpdesk_queue"))
                }
            except SQLAlchemyError as exc:
                raise InvalidInput(
                    f"{safe_location(url)} does not look like a django-helpdesk database: {exc}",
                    code="invalid_import_source",
                ) from None
            after = 0
            while True:
                page = connection.execute(
                    text(
                        "SELECT id, title, created, modified, submitter_email, assigned_to_id, status, "
                        "on_hold, description, priority, queue_id FROM helpdesk_ticket WHERE id > :after "
                        "ORDER BY id LIMIT :limit"
                    ),
                    {"after": after, "limit": HELPDESK_PAGE},
                ).all()
                if not page:
                    return
                after = int(page[-1].id)
                follow_ups: dict[int, list[Any]] = {}
                for row in connection.execute(
                    text(
                        "SELECT id, ticket_id, date, title, comment, public, user_id FROM helpdesk_followup "
                        "WHERE ticket_id >= :first AND ticket_id <= :last ORDER BY ticket_id, date, id"
                    ),
                    {"first": int(page[0].id), "last": after},
                ):
                    follow_ups.setdefault(int(row.ticket_id), []).append(row)
                for row in page:
                    yield helpdesk_ticket(row, follow_ups.get(int(row.id), []), users, queues)
    finally:
        engine.dispose()


def _db_time(value: Any, field: str) -> dt.datetime:
    if isinstance(value, str):
        return parse_time(value.replace(" ", "T", 1), field)
    return parse_time(value, field)


def helpdesk_ticket(row: Any, follow_ups: list[Any], users: dict[int, Any], queues: dict[int, str]) -> Read:
    ref = f"helpdesk:{row.id}"
    skips: list[Skip] = []
    try:
        created = _db_time(row.created, "created")
        description = _text(row.description)
        messages = []
        if description.strip():
            messages.append(MessageIn(body_text=description, created_at=created, ref="description"))
        for follow_up in follow_ups:
            comment = _text(follow_up.comment)
            where = f"{ref} follow-up {follow_up.id}"
            if comment.strip() == description.strip() and _text(follow_up.title) == "Ticket Opened":
                continue  # the opening follow-up repeats the description
            if not comment.strip():
                skips.append(Skip("message", where, "empty_message", _text(follow_up.title)[:200]))
                continue
            user = users.get(int(follow_up.user_id)) if follow_up.user_id is not None else None
            staff = bool(user is not None and user.is_staff)
            messages.append(
                MessageIn(
                    body_text=comment,
                    created_at=_db_time(follow_up.date, f"{where} date"),
                    author="agent" if staff else "customer",
                    internal=not _bool(follow_up.public),
                    author_email=(user.email or None) if user is not None else None,
                    author_name=f"{user.first_name} {user.last_name}".strip() or None
                    if user is not None
                    else None,
                    ref=str(follow_up.id),
                )
            )
        status = (
            "on_hold"
            if _bool(row.on_hold) and int(row.status) in (1, 2)
            else HELPDESK_STATUS.get(int(row.status))
        )
        if status is None:
            raise BadRecord("invalid_status", f"helpdesk status {row.status}")
        priority = HELPDESK_PRIORITY.get(int(row.priority))
        if priority is None:
            raise BadRecord("invalid_priority", f"helpdesk priority {row.priority}")
        assignee = users.get(int(row.assigned_to_id)) if row.assigned_to_id is not None else None
        queue = queues.get(int(row.queue_id))
        ticket = TicketIn(
            external_id=ref,
            subject=_text(row.title),
            status=status,
            priority=priority,
            channel="email",
            created_at=created,
            updated_at=_db_time(row.modified, "modified") if row.modified else None,
            customer=CustomerIn(email=row.submitter_email or None),
            messages=messages,
            tags=[queue] if queue else [],
            assignee_email=(assignee.email or None) if assignee is not None else None,
        )
    except BadRecord as bad:
        return Read(None, [*skips, Skip("ticket", ref, bad.reason, bad.detail)])
    return Read(ticket, skips)


def count_helpdesk(url: str) -> int | None:
    """Return how many tickets the django-helpdesk database holds (None when it cannot say)."""
    try:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            with engine.connect() as connection:
                return int(connection.execute(text("SELECT COUNT(*) FROM helpdesk_ticket")).scalar_one())
        finally:
            engine.dispose()
    except (ArgumentError, SQLAlchemyError, ImportError):
        return None
