"""Full-text search over ticket subjects and messages: SQLite FTS5 on the embedded default, PostgreSQL's
own full-text search (tsvector + GIN) on PostgreSQL.

The index holds one entry per message (the first message of a ticket also carries its subject). Entries
are written by the ``search.index_message`` job, never inside the request, so a slow index never slows
a customer's message down; ``messages.indexed_at`` says which entries are still to be written.
"""

from __future__ import annotations

import re

from sqlalchemy import Integer, TextClause, bindparam, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TextualSelect

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 16
# Up to this many matching messages, a search reads the matching ticket ids first (see matching_ticket_ids).
FEW = 2000


def terms(query: str) -> list[str]:
    """Return the words of a search query, lower-cased, at most MAX_TERMS (all must match)."""
    return [word.lower() for word in _WORD.findall(query)][:MAX_TERMS]


def _sqlite_match(words: list[str]) -> str:
    # Each word quoted: FTS5 operators and syntax typed by a user are searched for, never interpreted.
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def matching_ticket_ids(*, session: Session, text: str, include_internal: bool) -> list[int] | TextualSelect:
    """Return the ids of tickets whose subject or messages contain every word of ``text``: the ids
    themselves when at most FEW messages match, else a SELECT of them for ``Ticket.id IN (...)``.

    The probe (the first FEW + 1 matches, straight from the full-text index) costs a few milliseconds
    whatever the word. Without it, a word in a handful of old tickets made PostgreSQL walk the tickets
    newest first and test every message for it (its plan for ``ORDER BY id DESC LIMIT``, 1.9 s at a
    million tickets for a word in none); a frequent word keeps that plan, which stops early.
    """
    words = terms(text)
    if not words:
        return []
    dialect = session.get_bind().dialect.name
    visibility = (
        "" if include_internal else " AND internal = 0" if dialect == "sqlite" else " AND NOT internal"
    )
    if dialect == "sqlite":
        sql = f"SELECT ticket_id FROM message_search WHERE message_search MATCH :fts_query{visibility}"  # noqa: S608
        query = _sqlite_match(words)
    else:
        sql = f"SELECT ticket_id FROM message_search WHERE document @@ plainto_tsquery('simple', :fts_query){visibility}"  # noqa: S608, E501
        query = " ".join(words)
    probe = session.execute(_textual(f"{sql} LIMIT :probe").bindparams(fts_query=query, probe=FEW + 1))
    found = [int(row[0]) for row in probe]
    if len(found) <= FEW:
        return sorted(set(found))
    return _textual(sql).bindparams(bindparam("fts_query", query))


def all_matching_ticket_ids(*, session: Session, text: str, include_internal: bool) -> set[int]:
    """Every ticket matching ``text``, however many (for checks and tools; lists page through
    ``matching_ticket_ids``)."""
    found = matching_ticket_ids(session=session, text=text, include_internal=include_internal)
    return set(found) if isinstance(found, list) else {int(i) for i in session.scalars(found)}


def _textual(sql: str) -> TextualSelect:
    statement: TextClause = text(sql)
    return statement.columns(ticket_id=Integer)


def write_entry(
    *, session: Session, message_id: int, ticket_id: int, internal: bool, subject: str | None, body: str
) -> None:
    """Put (or replace) the index entry of one message."""
    remove_entry(session=session, message_id=message_id)
    params = {
        "id": message_id,
        "ticket_id": ticket_id,
        "internal": internal,
        "subject": subject or "",
        "body": body,
    }
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            text(
                "INSERT INTO message_search (rowid, subject, body, ticket_id, internal) "
                "VALUES (:id, :subject, :body, :ticket_id, :internal)"
            ),
            params,
        )
    else:
        session.execute(
            text(
                "INSERT INTO message_search (message_id, ticket_id, internal, document) VALUES "
                "(:id, :ticket_id, :internal, setweight(to_tsvector('simple', :subject), 'A') || "
                "to_tsvector('simple', :body))"
            ),
            params,
        )


def remove_entry(*, session: Session, message_id: int) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DELETE FROM message_search WHERE rowid = :id"), {"id": message_id})
    else:
        session.execute(text("DELETE FROM message_search WHERE message_id = :id"), {"id": message_id})
