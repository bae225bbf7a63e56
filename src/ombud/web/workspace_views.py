"""What the workspace pages show, gathered from the domain services: the inbox's context, the ticket page's
(conversation with triage, suggestions, customer 360, macros, people to assign), and the form values the
routes turn into service calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.accounts.schemas import Principal
from ombud.assist import service as assist
from ombud.assist.schemas import GlossaryTermIn, VoiceRuleIn
from ombud.customers import insight
from ombud.customers import service as customers
from ombud.errors import InvalidInput
from ombud.knowledge import service as knowledge
from ombud.runtime import Runtime
from ombud.storage.base import MAX_ID
from ombud.tickets import inbox
from ombud.tickets import service as tickets
from ombud.tickets.models import AuthorType, Channel, Priority, Status, Ticket
from ombud.tickets.schemas import TicketUpdate
from ombud.triage import service as triage
from ombud.triage.schemas import EMOTIONS, CorrectionCreate
from ombud.web import panels

if TYPE_CHECKING:
    from ombud.web.workspace import Agent

M = TypeVar("M", bound=BaseModel)

NOTICES = {
    "sent": "Reply sent. It goes out on the customer's channel in a moment.",
    "note": "Internal note added.",
    "sent_concerns_open": "Reply sent, but the ticket is not solved: concerns are still open. Resolve them "
    "below, or choose Solve anyway.",
    "concerns_open": "Nothing was changed: the ticket still has open concerns. Resolve them below, or choose "
    "Solve anyway.",
    "note_concerns_open": "Note added, but the ticket is not solved: concerns are still open. Resolve them "
    "below, or choose Solve anyway.",
    "updated": "Ticket updated.",
    "corrected": "Thank you: the correction is recorded and trains the next model.",
}
STATUS_WORDS = {
    "new": "New",
    "open": "Open",
    "pending": "Waiting on customer",
    "on_hold": "On hold",
    "solved": "Solved",
    "closed": "Closed",
}
VIEW_NAMES = {
    inbox.View.mine: "Mine",
    inbox.View.unassigned: "Unassigned",
    inbox.View.team: "My teams",
    inbox.View.all: "All open",
    inbox.View.mentions: "@Mentions",
    inbox.View.pending: "Pending",
    inbox.View.on_hold: "On hold",
    inbox.View.solved: "Solved",
    inbox.View.closed: "Closed",
}
URGENCIES = ("low", "normal", "high", "urgent")
MAX_TAGS = 50  # TicketUpdate.tags
# Below this a suggested article is about something else (the help centre's search uses the same bar).
SUGGESTION_MIN_SCORE = 0.5


def me(*, session: Session, agent: Agent) -> dict[str, Any]:
    user = accounts.access_user(session=session, user_id=agent.id)
    return {"id": user.id, "name": user.name, "email": user.email, "role": user.role.value}


def can_edit_macros(principal: Principal) -> bool:
    return principal.role in (Role.admin, Role.lead)


def inbox_context(
    *,
    session: Session,
    agent: Agent,
    view: inbox.View,
    filters: inbox.InboxFilters,
    page: inbox.InboxPage,
    cursor: str | None,
    saved: int | None,
) -> dict[str, Any]:
    query = {"view": view.value, **filters.as_dict()}
    return {
        "agent": agent,
        "me": me(session=session, agent=agent),
        "view": view,
        "views": VIEW_NAMES,
        "filters": filters.as_dict(),
        "query": query,
        "page": page,
        "first_page": cursor is None,
        "saved": saved,
        "saved_views": inbox.saved_views(session=session, principal=agent.principal),
        "status_words": STATUS_WORDS,
        "channels": [c.value for c in Channel],
        "priorities": [p.value for p in Priority],
        "latest": inbox.latest_message_id(session=session),
    }


def ticket_context(
    *, session: Session, runtime: Runtime, agent: Agent, ticket_id: int, view: inbox.View
) -> dict[str, Any]:
    principal = agent.principal
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    messages = tickets.list_messages(session=session, ticket=ticket, principal=principal)
    customer_ids = [m.id for m in messages if m.author_type == AuthorType.customer]
    results = triage.results_for(session=session, message_ids=customer_ids)
    authors = {u.id: u for u in accounts.list_users(session=session)}
    before, after = inbox.neighbours(session=session, principal=principal, view=view, ticket=ticket)
    return {
        "agent": agent,
        "me": me(session=session, agent=agent),
        "ticket": ticket,
        "view": view,
        "views": VIEW_NAMES,
        "status_words": STATUS_WORDS,
        "messages": [
            {"message": m, "triage": results.get(m.id), "author": authors.get(m.author_user_id or 0)}
            for m in messages
        ],
        "suggestions": _suggestions(session=session, ticket_id=ticket.id),
        "customer": insight.customer_360(
            session=session, principal=principal, customer_id=ticket.customer_id
        ),
        "macros": inbox.list_macros(session=session, principal=principal),
        "users": [u for u in authors.values() if u.active and u.role != Role.partner],
        "statuses": [s.value for s in Status],
        "priorities": [p.value for p in Priority],
        "previous_id": before,
        "next_id": after,
        "intents": _intent_labels(runtime),
        "emotions": EMOTIONS,
        "urgencies": URGENCIES,
        "others": inbox.others_present(session=session, ticket_id=ticket.id, user_id=agent.id),
        "panels": panels.render_context(session=session, principal=principal, ticket=ticket),
    }


def _suggestions(*, session: Session, ticket_id: int) -> list[dict[str, Any]]:
    """The suggested articles, best first, each once (with the concerns it answers)."""
    rows = knowledge.suggestions_for_ticket(session=session, ticket_id=ticket_id)
    articles = {
        a.id: a
        for a in knowledge.articles_by_id(session=session, ids={r.article_id for r in rows if r.article_id})
    }
    merged: dict[int, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: -r.score):
        if row.score < SUGGESTION_MIN_SCORE:
            continue
        article = articles.get(row.article_id or 0)
        if article is None:
            continue
        entry = merged.setdefault(
            article.id,
            {
                "id": article.id,
                "title": article.title,
                "slug": article.slug,
                "passage": row.passage,
                "score": row.score,
                "concerns": [],
                "public": article.audience == "public",
            },
        )
        if row.concern_text and row.concern_text not in entry["concerns"]:
            entry["concerns"].append(row.concern_text)
    return list(merged.values())[:6]


def _intent_labels(runtime: Runtime) -> list[str]:
    try:
        return list(runtime.triage.models.intent().labels_)
    except (OSError, ValueError):  # no model to read labels from: corrections take free text
        return []


def placeholder_values(*, session: Session, agent: Agent, ticket: Ticket) -> dict[str, str]:
    """The values a macro's placeholders are filled with for ``ticket``."""
    customer = customers.access_customer(
        session=session, principal=agent.principal, customer_id=ticket.customer_id
    )
    user = accounts.access_user(session=session, user_id=agent.id)
    emails = customers.identity_values(session=session, customer_id=customer.id, kind="email")
    return {
        "customer.name": customer.name,
        "customer.first_name": customer.name.split()[0] if customer.name.strip() else "",
        "customer.email": emails[0] if emails else "",
        "ticket.id": str(ticket.id),
        "ticket.subject": ticket.subject,
        "ticket.order_number": _order_number(session=session, ticket=ticket),
        "agent.name": user.name,
        "agent.first_name": user.name.split()[0] if user.name.strip() else "",
    }


def _order_number(*, session: Session, ticket: Ticket) -> str:
    """The newest order number triage found in the ticket's customer messages ("" when none)."""
    found = triage.latest_entity(session=session, ticket_id=ticket.id, entity_type="order_number")
    return found or ""


# -- form values to service inputs -------------------------------------------------------------------------
def moved(ids: list[int], item_id: int, direction: str) -> list[int]:
    """Return ``ids`` with ``item_id`` one place earlier ("up") or later (anything else), where it can go."""
    order = list(ids)
    if item_id in order:
        at = order.index(item_id)
        other = at - 1 if direction == "up" else at + 1
        if 0 <= other < len(order):
            order[at], order[other] = order[other], order[at]
    return order


def bulk_changes(action: str, me_id: int) -> TicketUpdate:
    if action == "assign_me":
        return TicketUpdate(assignee_id=me_id)
    if action == "unassign":
        return TicketUpdate(assignee_id=None)
    kind, _, value = action.partition(":")
    try:
        if kind == "status" and value == "solved!":
            return TicketUpdate(status=Status.solved, confirm=True)  # their open concerns stay open
        if kind == "status":
            return TicketUpdate(status=Status(value))
        if kind == "priority":
            return TicketUpdate(priority=Priority(value))
    except ValueError:
        pass
    raise InvalidInput(
        f"unknown bulk action {action!r}; use assign_me, unassign, status:<status> or priority:<priority>",
        code="invalid_bulk_action",
    )


def ticket_changes(
    *, status: str | None, priority: str | None, assignee: str | None, me: int
) -> TicketUpdate:
    fields: dict[str, Any] = {}
    try:
        if status:
            fields["status"] = Status(status)
        if priority:
            fields["priority"] = Priority(priority)
    except ValueError as error:
        raise InvalidInput(str(error), code="invalid_input") from None
    if assignee == "me":
        fields["assignee_id"] = me
    elif assignee == "none":
        fields["assignee_id"] = None
    elif assignee:
        if not assignee.isdigit() or not 0 < int(assignee) < 2**63:
            raise InvalidInput("assignee must be a user id, 'me' or 'none'", code="invalid_input")
        fields["assignee_id"] = int(assignee)
    return TicketUpdate(**fields)


def after_reply_changes(
    *, session: Session, principal: Principal, ticket: Ticket, then: str, macro_id: int | None
) -> TicketUpdate | None:
    """What sending also does: the status chosen beside the send button, and the used macro's actions."""
    fields: dict[str, Any] = {}
    if macro_id is not None:
        macro = inbox.get_macro(session=session, principal=principal, macro_id=macro_id)
        if "status" in macro.actions:
            fields["status"] = Status(macro.actions["status"])
        if macro.actions.get("tags"):
            fields["add_tags"] = list(macro.actions["tags"])
    if then:
        try:
            fields["status"] = Status(then)
        except ValueError:
            raise InvalidInput(f"unknown status {then!r}", code="invalid_input") from None
    tags = fields.pop("add_tags", None)
    if not fields and not tags:
        return None
    if tags:
        merged = sorted(set(ticket.tag_names) | set(tags))
        if len(merged) > MAX_TAGS:
            raise InvalidInput(
                f"the macro's tags would give the ticket {len(merged)} tags; a ticket has at most {MAX_TAGS}",
                code="too_many_tags",
            )
        fields["tags"] = merged
    return TicketUpdate(**fields)


def correction(*, field: str, value: str, concern_index: int | None) -> CorrectionCreate:
    """A correction from the ticket page's small forms (every value arrives as text)."""
    parsed: Any = value
    if field == "intents":
        parsed = [] if value == "__none__" else [value]
    elif field == "abusive":
        parsed = value == "true"
    elif field == "sentiment":
        try:
            parsed = float(value)
        except ValueError:
            raise InvalidInput("sentiment must be a number from -1 to 1", code="invalid_correction") from None
    try:
        return CorrectionCreate(field=field, value=parsed, concern_index=concern_index)
    except ValueError as error:
        raise InvalidInput(f"that correction does not fit: {error}", code="invalid_correction") from None


# -- the glossary and the voice ----------------------------------------------------------------------------
ARROW = "=>"


def _lines(entries: list[tuple[str, str]]) -> str:
    return "\n".join(f"{first} {ARROW} {second}" if second else first for first, second in entries)


def voice_context(
    *, session: Session, agent: Agent, glossary: str | None = None, voice: str | None = None
) -> dict[str, Any]:
    principal = agent.principal
    return {
        "agent": agent,
        "me": me(session=session, agent=agent),
        "can_edit": principal.is_admin,
        "glossary": glossary
        if glossary is not None
        else _lines([(t.term, t.plain) for t in assist.list_glossary(session=session, principal=principal)]),
        "voice": voice
        if voice is not None
        else _lines([(r.avoid, r.prefer) for r in assist.list_voice(session=session, principal=principal)]),
        "error": None,
    }


def _parse(text: str, what: str) -> list[tuple[str, str]]:
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        first, arrow, second = line.partition(ARROW)
        if what == "glossary" and not arrow:
            raise InvalidInput(
                f"glossary line {number}: write the term, then {ARROW}, then the plain words",
                code="invalid_glossary",
            )
        entries.append((first.strip(), second.strip()))
    return entries


def save_voice(*, session: Session, principal: Principal, glossary: str, voice: str) -> None:
    try:
        terms = [GlossaryTermIn(term=a, plain=b) for a, b in _parse(glossary, "glossary")]
        rules = [VoiceRuleIn(avoid=a, prefer=b) for a, b in _parse(voice, "voice")]
    except ValidationError as error:
        raise InvalidInput(
            f"a line cannot be stored: {error.errors()[0]['msg']}", code="invalid_voice"
        ) from None
    assist.replace_glossary(session=session, principal=principal, terms=terms)
    assist.replace_voice(session=session, principal=principal, rules=rules)


# -- form values ------------------------------------------------------------------------------------------
def form_ids(text: str, field: str, *, missing: str | None = None) -> list[int]:
    """Return the ids in a comma- or space-separated form field (``#12`` reads as 12), or raise naming the
    field; with ``missing``, an empty field raises with that message too."""
    found: list[int] = []
    for part in text.replace(",", " ").split():
        clean = part.strip().lstrip("#")
        # Length first: int() of thousands of digits is refused by Python (and is no id anyway).
        if not clean.isascii() or not clean.isdigit() or len(clean) > 19 or not 0 < int(clean) <= MAX_ID:
            raise InvalidInput(
                f"{field}: {part!r} is not an id", code="invalid_input", details={"field": field}
            )
        found.append(int(clean))
    if missing is not None and not found:
        raise InvalidInput(f"{field}: {missing}", code="invalid_input")
    return found


def form_id(text: str, field: str) -> int | None:
    """Return the first id in a form field, or None when it is empty."""
    ids = form_ids(text, field)
    return ids[0] if ids else None


def optional_id(value: str, name: str) -> int | None:
    """Return the one id in a form field, or None when it is empty (InvalidInput "<name> must be an id")."""
    value = value.strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) < 2**63:
        raise InvalidInput(f"{name} must be an id", code="invalid_input")
    return int(value)


def checked_form(model: type[M], data: dict[str, Any]) -> M:
    """Return ``data`` as ``model``, or raise InvalidInput naming the first field to fix."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(
            f"{field}: {first['msg']}", code="invalid_input", details={"field": field}
        ) from None


def with_notice(url: str, notice: str) -> RedirectResponse:
    """Return the 303 back to ``url`` that shows ``notice`` there."""
    return RedirectResponse(f"{url}?notice={notice}", status_code=303)
