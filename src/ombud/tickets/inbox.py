"""The workspace inbox: views (mine, unassigned, my teams, all, a status, @mentions, saved filters),
highest priority first, paged by keyset so the thousandth page costs what the first does; saved views;
macros; presence on a ticket; @mentions in notes."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import User
from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.customers import service as customers
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound
from ombud.pagination import cursor_id, decode_cursor, encode_cursor
from ombud.search import service as search
from ombud.storage.base import utcnow
from ombud.tickets.models import (
    Channel,
    Macro,
    Mention,
    Message,
    SavedView,
    Status,
    Ticket,
    TicketPresence,
    TicketTag,
)
from ombud.validation import normalise_tag

PAGE = 50
PRESENCE_TTL = dt.timedelta(seconds=20)  # a page pings every 8 s; three missed pings mean it closed
MAX_SAVED_VIEWS = 50
MAX_MACROS = 500


class View(enum.StrEnum):
    mine = "mine"
    unassigned = "unassigned"
    team = "team"
    all = "all"
    mentions = "mentions"
    pending = "pending"
    on_hold = "on_hold"
    solved = "solved"
    closed = "closed"


OPEN_VIEWS = (View.mine, View.unassigned, View.team, View.all)


@dataclass(frozen=True)
class InboxFilters:
    """Narrowing within a view (a saved view stores these)."""

    channel: Channel | None = None
    tag: str | None = None
    q: str | None = None
    priority: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {
            key: (value.value if isinstance(value, enum.Enum) else value)
            for key, value in (
                ("channel", self.channel),
                ("tag", self.tag),
                ("q", self.q),
                ("priority", self.priority),
            )
            if value
        }


@dataclass(frozen=True)
class InboxRow:
    id: int
    subject: str
    status: str
    priority: str
    channel: str
    customer_id: int
    customer_name: str
    assignee_name: str | None
    updated_at: dt.datetime
    score: float
    rank: int
    parts: dict[str, Any]
    unread_mention: bool = False


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    next_cursor: str | None
    counts: dict[str, int]


def require_staff(principal: Principal) -> int:
    """Return the signed-in user's id; raise Forbidden for customers, partners and the system."""
    if principal.kind != "user" or not principal.is_staff or principal.id is None:
        raise Forbidden("the workspace is for staff", code="role_forbidden")
    return principal.id


def parse_view(value: str) -> View:
    try:
        return View(value)
    except ValueError:
        raise InvalidInput(
            f"unknown view {value!r}; use one of {', '.join(v.value for v in View)}", code="invalid_view"
        ) from None


def _team_ids(session: Session, user_id: int) -> list[int]:
    user = accounts.access_user(session=session, user_id=user_id)
    return [team.id for team in user.teams]


def _view_query(view: View, user_id: int, teams: list[int]) -> Select[Ticket, str]:
    query = select(Ticket, User.name).outerjoin(User, User.id == Ticket.assignee_id)
    if view == View.mine:
        return query.where(Ticket.assignee_id == user_id, Ticket.is_open.is_(True))
    if view == View.unassigned:
        return query.where(Ticket.assignee_id.is_(None), Ticket.is_open.is_(True))
    if view == View.team:
        return query.where(Ticket.team_id.in_(teams), Ticket.is_open.is_(True))
    if view == View.all:
        return query.where(Ticket.is_open.is_(True))
    if view == View.mentions:
        unread = select(Mention.ticket_id).where(Mention.user_id == user_id, Mention.read_at.is_(None))
        return query.where(Ticket.id.in_(unread))
    return query.where(Ticket.status == Status(view.value))


def _narrow(session: Session, query: Select[Ticket, str], filters: InboxFilters) -> Select[Ticket, str]:
    if filters.channel is not None:
        query = query.where(Ticket.channel == filters.channel)
    if filters.priority:
        query = query.where(Ticket.priority == filters.priority)
    if filters.tag:
        tag = normalise_tag(filters.tag)
        query = query.where(Ticket.id.in_(select(TicketTag.ticket_id).where(TicketTag.tag == tag)))
    if filters.q and filters.q.strip():
        ids = search.matching_ticket_ids(session=session, text=filters.q, include_internal=True)
        query = query.where(Ticket.id.in_(ids))
    return query


def inbox(
    *,
    session: Session,
    principal: Principal,
    view: View,
    filters: InboxFilters | None = None,
    cursor: str | None = None,
    limit: int = PAGE,
) -> InboxPage:
    """One page of a view, highest priority first (then the longest waiting), with the open counts of the
    four queue views for the tabs."""
    user_id = require_staff(principal)
    filters = filters or InboxFilters()
    # The user's teams, read once for the team view and the tab counts.
    teams = _team_ids(session, user_id)
    query = _narrow(session, _view_query(view, user_id, teams), filters)
    if cursor is not None:
        position = decode_cursor(cursor, required=("rank", "id"))
        # A row value: both databases seek straight to it in the (…, queue_rank, id) index.
        query = query.where(
            tuple_(Ticket.queue_rank, Ticket.id) < (cursor_id(position, "rank"), cursor_id(position))
        )
    rows = session.execute(query.order_by(Ticket.queue_rank.desc(), Ticket.id.desc()).limit(limit + 1)).all()
    unread = _unread_mentions(session, user_id, [row[0].id for row in rows[:limit]])
    names = customers.names_of(session=session, customer_ids=[row[0].customer_id for row in rows[:limit]])
    items = [
        InboxRow(
            id=ticket.id,
            subject=ticket.subject,
            status=ticket.status.value,
            priority=ticket.priority.value,
            channel=ticket.channel.value,
            customer_id=ticket.customer_id,
            customer_name=names.get(ticket.customer_id) or f"Customer {ticket.customer_id}",
            assignee_name=assignee_name,
            updated_at=ticket.updated_at,
            score=ticket.priority_score,
            rank=ticket.queue_rank,
            parts=ticket.priority_parts or {},
            unread_mention=ticket.id in unread,
        )
        for ticket, assignee_name in rows[:limit]
    ]
    next_cursor = (
        encode_cursor({"rank": items[-1].rank, "id": items[-1].id}) if len(rows) > limit and items else None
    )
    return InboxPage(
        rows=items, next_cursor=next_cursor, counts=view_counts(session=session, user_id=user_id, teams=teams)
    )


def view_counts(*, session: Session, user_id: int, teams: list[int] | None = None) -> dict[str, int]:
    """Open tickets in each queue view, and unread @mentions (each an index range count)."""
    open_ = Ticket.is_open.is_(True)
    count = func.count(Ticket.id)
    teams = _team_ids(session, user_id) if teams is None else teams
    mine, unassigned, all_open = session.execute(
        select(
            select(count).where(Ticket.assignee_id == user_id, open_).scalar_subquery(),
            select(count).where(Ticket.assignee_id.is_(None), open_).scalar_subquery(),
            select(count).where(open_).scalar_subquery(),
        )
    ).one()
    team = session.scalar(select(count).where(Ticket.team_id.in_(teams), open_)) if teams else 0
    mentions = session.scalar(
        select(func.count(func.distinct(Mention.ticket_id))).where(
            Mention.user_id == user_id, Mention.read_at.is_(None)
        )
    )
    return {
        "mine": int(mine or 0),
        "unassigned": int(unassigned or 0),
        "team": int(team or 0),
        "all": int(all_open or 0),
        "mentions": int(mentions or 0),
    }


def _unread_mentions(session: Session, user_id: int, ticket_ids: Sequence[int]) -> set[int]:
    if not ticket_ids:
        return set()
    return set(
        session.scalars(
            select(Mention.ticket_id).where(
                Mention.user_id == user_id, Mention.read_at.is_(None), Mention.ticket_id.in_(ticket_ids)
            )
        )
    )


def latest_message_id(*, session: Session) -> int:
    """The newest message's id: the inbox page asks for it to learn, cheaply, that something arrived."""
    return int(session.scalar(select(func.max(Message.id))) or 0)


def neighbours(
    *, session: Session, principal: Principal, view: View, ticket: Ticket
) -> tuple[int | None, int | None]:
    """The tickets before and after ``ticket`` in ``view``'s order (for next/previous on the ticket page)."""
    user_id = require_staff(principal)
    teams = _team_ids(session, user_id) if view == View.team else []
    base = _view_query(view, user_id, teams).with_only_columns(Ticket.id)
    here = (ticket.queue_rank, ticket.id)
    key = tuple_(Ticket.queue_rank, Ticket.id)
    after = session.scalar(
        base.where(key < here).order_by(Ticket.queue_rank.desc(), Ticket.id.desc()).limit(1)
    )
    before = session.scalar(base.where(key > here).order_by(Ticket.queue_rank, Ticket.id).limit(1))
    return before, after


# -- saved views -------------------------------------------------------------------------------------------


def saved_views(*, session: Session, principal: Principal) -> Sequence[SavedView]:
    user_id = require_staff(principal)
    return session.scalars(
        select(SavedView).where(SavedView.user_id == user_id).order_by(SavedView.name)
    ).all()


def save_view(
    *, session: Session, principal: Principal, name: str, view: View, filters: InboxFilters
) -> SavedView:
    """Keep the current view and its filters under ``name`` for this user (the same name replaces it)."""
    user_id = require_staff(principal)
    clean = " ".join(name.split())[:100]
    if not clean:
        raise InvalidInput("give the saved view a name", code="invalid_view_name")
    stored = {"view": view.value, **filters.as_dict()}
    found = session.scalar(select(SavedView).where(SavedView.user_id == user_id, SavedView.name == clean))
    if found is not None:
        found.filters = stored
        session.flush()
        return found
    if len(saved_views(session=session, principal=principal)) >= MAX_SAVED_VIEWS:
        raise InvalidInput(f"at most {MAX_SAVED_VIEWS} saved views; delete one first", code="too_many_views")
    saved = SavedView(user_id=user_id, name=clean, filters=stored)
    session.add(saved)
    session.flush()
    return saved


def delete_view(*, session: Session, principal: Principal, view_id: int) -> None:
    user_id = require_staff(principal)
    gone = session.execute(
        delete(SavedView).where(SavedView.id == view_id, SavedView.user_id == user_id).returning(SavedView.id)
    ).scalar_one_or_none()
    if gone is None:
        raise NotFound(f"no saved view with id {view_id}", code="view_not_found")


def get_saved_view(*, session: Session, principal: Principal, view_id: int) -> tuple[View, InboxFilters]:
    user_id = require_staff(principal)
    saved = session.get(SavedView, view_id)
    if saved is None or saved.user_id != user_id:
        raise NotFound(f"no saved view with id {view_id}", code="view_not_found")
    data = saved.filters or {}
    channel = data.get("channel")
    return parse_view(str(data.get("view", "all"))), InboxFilters(
        channel=Channel(str(channel)) if channel in Channel.__members__ else None,
        tag=data.get("tag"),
        q=data.get("q"),
        priority=data.get("priority"),
    )


# -- macros ------------------------------------------------------------------------------------------------
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+(?:\.[a-z_]+)?)\s*\}\}")
PLACEHOLDERS = (
    "customer.name",
    "customer.first_name",
    "customer.email",
    "ticket.id",
    "ticket.subject",
    "ticket.order_number",
    "agent.name",
    "agent.first_name",
)
MACRO_STATUSES = ("open", "pending", "on_hold", "solved")


def list_macros(*, session: Session, principal: Principal) -> Sequence[Macro]:
    require_staff(principal)
    return session.scalars(select(Macro).order_by(Macro.name)).all()


def _check_macro(name: str, body: str, actions: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    clean = " ".join(name.split())
    if not 0 < len(clean) <= 200:
        raise InvalidInput("a macro needs a name of 1 to 200 characters", code="invalid_macro")
    if not body.strip() or len(body) > 20_000:
        raise InvalidInput("a macro needs a body of 1 to 20,000 characters", code="invalid_macro")
    unknown = sorted({m.group(1) for m in PLACEHOLDER.finditer(body)} - set(PLACEHOLDERS))
    if unknown:
        raise InvalidInput(
            f"unknown placeholder {{{{{unknown[0]}}}}}; use one of "
            + ", ".join("{{" + p + "}}" for p in PLACEHOLDERS),
            code="invalid_macro",
        )
    extra = set(actions) - {"status", "tags"}
    if extra:
        raise InvalidInput(f"a macro can set status and tags, not {sorted(extra)[0]}", code="invalid_macro")
    status = actions.get("status")
    if status is not None and status not in MACRO_STATUSES:
        raise InvalidInput(
            f"a macro's status must be one of {', '.join(MACRO_STATUSES)}", code="invalid_macro"
        )
    tags = actions.get("tags", [])
    if (
        not isinstance(tags, list)
        or not all(isinstance(t, str) and t.strip() for t in tags)
        or len(tags) > 20
    ):
        raise InvalidInput("a macro's tags must be a list of up to 20 words", code="invalid_macro")
    cleaned: dict[str, Any] = {}
    if status:
        cleaned["status"] = status
    if tags:
        cleaned["tags"] = [normalise_tag(t) for t in tags]
    return clean, body, cleaned


def save_macro(
    *,
    session: Session,
    principal: Principal,
    name: str,
    body: str,
    actions: dict[str, Any] | None = None,
    macro_id: int | None = None,
) -> Macro:
    """Create a macro, or change ``macro_id``; leads and admins only (macros speak for the company)."""
    user_id = require_staff(principal)
    if not (principal.is_admin or (principal.role is not None and principal.role.value == "lead")):
        raise Forbidden("only leads and admins write macros", code="role_forbidden")
    clean, body, cleaned = _check_macro(name, body, actions or {})
    if macro_id is None:
        if (session.scalar(select(func.count(Macro.id))) or 0) >= MAX_MACROS:
            raise InvalidInput(f"at most {MAX_MACROS} macros; delete one first", code="too_many_macros")
        macro = Macro(name=clean, body=body, actions=cleaned, created_by_id=user_id)
        session.add(macro)
    else:
        found = session.get(Macro, macro_id)
        if found is None:
            raise NotFound(f"no macro with id {macro_id}", code="macro_not_found")
        macro = found
        macro.name, macro.body, macro.actions, macro.updated_at = clean, body, cleaned, utcnow()
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"a macro named {clean!r} already exists", code="macro_exists") from None
    audit.record(
        session=session,
        actor=principal,
        action="macro.saved",
        entity_type="macro",
        entity_id=macro.id,
        after={"name": clean, "actions": cleaned},
    )
    return macro


def get_macro(*, session: Session, principal: Principal, macro_id: int) -> Macro:
    require_staff(principal)
    macro = session.get(Macro, macro_id)
    if macro is None:
        raise NotFound(f"no macro with id {macro_id}", code="macro_not_found")
    return macro


def fill_macro(body: str, values: dict[str, str]) -> str:
    """Return ``body`` with its placeholders filled; a value we do not know leaves a visible gap for the
    agent ("[order number]") rather than a wrong guess."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        found = values.get(key, "").strip()
        return found or "[" + key.split(".")[-1].replace("_", " ") + "]"

    return PLACEHOLDER.sub(value, body)


# -- presence ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Present:
    user_id: int
    name: str
    typing: bool


def mark_present(*, session: Session, principal: Principal, ticket_id: int, typing: bool) -> list[Present]:
    """Record that this agent has the ticket open (and whether they are typing); return the others who do."""
    user_id = require_staff(principal)
    now = utcnow()
    if session.get(Ticket, ticket_id) is None:
        raise NotFound(f"no ticket with id {ticket_id}", code="ticket_not_found")
    changed = session.execute(
        update(TicketPresence)
        .where(TicketPresence.ticket_id == ticket_id, TicketPresence.user_id == user_id)
        .values(typing=typing, seen_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if not changed:
        try:
            with session.begin_nested():
                session.add(TicketPresence(ticket_id=ticket_id, user_id=user_id, typing=typing, seen_at=now))
        except IntegrityError:
            pass  # the same agent's other tab got there first; its row says the same
    return others_present(session=session, ticket_id=ticket_id, user_id=user_id)


def others_present(*, session: Session, ticket_id: int, user_id: int) -> list[Present]:
    since = utcnow() - PRESENCE_TTL
    rows = session.execute(
        select(TicketPresence.user_id, User.name, TicketPresence.typing)
        .join(User, User.id == TicketPresence.user_id)
        .where(
            TicketPresence.ticket_id == ticket_id,
            TicketPresence.user_id != user_id,
            TicketPresence.seen_at >= since,
        )
        .order_by(TicketPresence.user_id)
    ).all()
    return [Present(user_id=row[0], name=row[1], typing=bool(row[2])) for row in rows]


def leave(*, session: Session, principal: Principal, ticket_id: int) -> None:
    user_id = require_staff(principal)
    session.execute(
        delete(TicketPresence).where(TicketPresence.ticket_id == ticket_id, TicketPresence.user_id == user_id)
    )


# -- @mentions ---------------------------------------------------------------------------------------------
MENTION = re.compile(r"(?<![\w.@])@([A-Za-z0-9][A-Za-z0-9._-]{0,63})")


def mention_handle(email: str) -> str:
    """A user's @handle: the part of their email before the @ (ana.lopez@example.com -> ana.lopez)."""
    return email.split("@", 1)[0].lower()


def record_mentions(*, session: Session, message: Message) -> list[int]:
    """Find @handles in an internal note and record a mention for each staff member named; return their
    ids. Unknown handles are left as text."""
    handles = {m.group(1).lower().rstrip("._-") for m in MENTION.finditer(message.body_text)}
    if not handles:
        return []
    users = [
        u for u in accounts.list_users(session=session) if u.active and mention_handle(u.email) in handles
    ]
    for user in users:
        session.add(Mention(message_id=message.id, ticket_id=message.ticket_id, user_id=user.id))
    session.flush()
    return [u.id for u in users]


def read_mentions(*, session: Session, principal: Principal, ticket_id: int) -> None:
    """Mark this user's @mentions on the ticket read (they opened it)."""
    user_id = require_staff(principal)
    session.execute(
        update(Mention)
        .where(Mention.user_id == user_id, Mention.ticket_id == ticket_id, Mention.read_at.is_(None))
        .values(read_at=utcnow())
    )
