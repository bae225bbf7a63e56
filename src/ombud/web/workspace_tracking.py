"""Workspace forms of ticket tracking: concerns (add, status, owner, "solve anyway"), links, merge and
undo, split, follow-up reminders, and the agent's follow-ups page. Each parses a form, makes one service
call and redirects back to the ticket page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError

from ombud.errors import InvalidInput
from ombud.tickets import concerns, links, merge, reminders
from ombud.tickets import service as tickets
from ombud.tickets.models import LinkKind, Status
from ombud.tickets.schemas import ConcernCreate, ConcernUpdate, ReminderCreate, ReminderSnooze, TicketUpdate
from ombud.web import tracking_views as views
from ombud.web import workspace_views
from ombud.web.api.common import IdPath
from ombud.web.deps import ReadSession, WriteSession
from ombud.web.pages import TEMPLATES
from ombud.web.workspace import CurrentAgent

router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form(max_length=100)]
M = TypeVar("M", bound=BaseModel)
MAX_ID = 2**63 - 1


def _parse(model: type[M], what: str, **fields: Any) -> M:
    """Build a schema from form fields; a ValidationError becomes a 422 that names the field."""
    try:
        return model(**fields)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(
            f"the {what} cannot be saved: {field}: {first['msg']}",
            code="invalid_input",
            details={"field": field},
        ) from None


def _back(ticket_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/agent/tickets/{ticket_id}{anchor}", status_code=303)


def _optional_id(value: str) -> int | None:
    value = value.strip()
    if not value or value == "none":
        return None
    # ASCII digits only ('²'.isdigit() is True but int('²') fails) and within the ids' BIGINT range.
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_ID:
        raise InvalidInput(
            f"{value[:30]!r} is not an id: give a whole number from 1 to {MAX_ID}", code="invalid_input"
        )
    return int(value)


# -- concerns ---------------------------------------------------------------------------------------------
@router.post("/agent/tickets/{ticket_id}/concerns")
def add_concern(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    text: Annotated[str, Form(max_length=5000)] = "",
    intent: Annotated[str, Form(max_length=100)] = "",
    owner: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    ticket = tickets.access_ticket(session=session, principal=agent.principal, ticket_id=ticket_id)
    data = _parse(
        ConcernCreate, "concern", text=text, intent=intent.strip() or None, owner_id=_optional_id(owner)
    )
    concerns.create_concern(session=session, ticket=ticket, data=data, actor=agent.principal)
    session.commit()
    return _back(ticket_id, "#concerns")


@router.post("/agent/concerns/{concern_id}")
def update_concern(
    concern_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    status: Annotated[str | None, Form(max_length=20)] = None,
    owner: Annotated[str | None, Form(max_length=20)] = None,
    resolution_ref: Annotated[str | None, Form(max_length=200)] = None,
    article_id: Annotated[str | None, Form(max_length=20)] = None,
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Change a concern's status, owner, resolution reference or article from the concerns panel."""
    agent.check_form(request, csrf_token)
    concern = concerns.access_concern(session=session, principal=agent.principal, concern_id=concern_id)
    fields: dict[str, Any] = {}
    if status is not None:
        fields["status"] = status
    if owner is not None:
        fields["owner_id"] = _optional_id(owner)
    if resolution_ref is not None:
        fields["resolution_ref"] = resolution_ref
    if article_id is not None:
        fields["article_id"] = _optional_id(article_id)
    changes = _parse(ConcernUpdate, "concern", **fields)
    concerns.update_concern(session=session, concern=concern, changes=changes, actor=agent.principal)
    ticket_id = concern.ticket_id
    session.commit()
    return _back(ticket_id, "#concerns")


@router.post("/agent/tickets/{ticket_id}/solve")
def solve_anyway(
    ticket_id: IdPath, request: Request, session: WriteSession, agent: CurrentAgent, csrf_token: Csrf = ""
) -> RedirectResponse:
    """Solve the ticket although concerns are open (they stay open and are reported)."""
    agent.check_form(request, csrf_token)
    ticket = tickets.access_ticket(session=session, principal=agent.principal, ticket_id=ticket_id)
    changes = TicketUpdate(status=Status.solved, confirm=True)
    tickets.update_ticket(session=session, ticket=ticket, changes=changes, actor=agent.principal)
    session.commit()
    return RedirectResponse(f"/agent/tickets/{ticket_id}?notice=updated", status_code=303)


# -- links, merge, split ----------------------------------------------------------------------------------
@router.post("/agent/tickets/{ticket_id}/links")
def add_link(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    kind: Annotated[str, Form(max_length=20)],
    other: Annotated[str, Form(max_length=20)],
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    ticket = tickets.access_ticket(session=session, principal=agent.principal, ticket_id=ticket_id)
    if kind not in views.LINK_KINDS:
        raise InvalidInput(f"unknown link kind {kind!r}", code="invalid_link_kind")
    other_id = _optional_id(other.lstrip("#"))
    if other_id is None:
        raise InvalidInput("give the other ticket's number", code="invalid_input", details={"field": "other"})
    links.link_tickets(
        session=session, principal=agent.principal, ticket=ticket, other_id=other_id, kind=LinkKind(kind)
    )
    session.commit()
    return _back(ticket_id, "#links")


@router.post("/agent/tickets/{ticket_id}/links/{link_id}/delete")
def remove_link(
    ticket_id: IdPath,
    link_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    ticket = tickets.access_ticket(session=session, principal=agent.principal, ticket_id=ticket_id)
    links.unlink(session=session, principal=agent.principal, ticket=ticket, link_id=link_id)
    session.commit()
    return _back(ticket_id, "#links")


@router.post("/agent/tickets/{ticket_id}/merge")
def merge_ticket(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    target: Annotated[str, Form(max_length=20)],
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Merge this ticket into another; the page of the target opens."""
    agent.check_form(request, csrf_token)
    source = tickets.access_ticket(session=session, principal=agent.principal, ticket_id=ticket_id)
    target_id = _optional_id(target.lstrip("#"))
    if target_id is None:
        raise InvalidInput("give the number of the ticket to merge into", code="invalid_input")
    into = tickets.access_ticket(session=session, principal=agent.principal, ticket_id=target_id)
    merge.merge_tickets(session=session, source=source, target=into, actor=agent.principal)
    session.commit()
    return _back(target_id, "#links")


@router.post("/agent/merges/{merge_id}/undo")
def undo_merge(
    merge_id: IdPath, request: Request, session: WriteSession, agent: CurrentAgent, csrf_token: Csrf = ""
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    found = merge.access_merge(session=session, principal=agent.principal, merge_id=merge_id)
    merge.undo_merge(session=session, merge=found, actor=agent.principal)
    source_id = found.source_id
    session.commit()
    return _back(source_id, "#links")


@router.post("/agent/tickets/{ticket_id}/split")
def split_ticket(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    what: Annotated[str, Form(max_length=40)],
    subject: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    """Split a message ("message:12") or a concern ("concern:7") into a new ticket, which then opens."""
    agent.check_form(request, csrf_token)
    ticket = tickets.access_ticket(session=session, principal=agent.principal, ticket_id=ticket_id)
    kind, _, raw = what.partition(":")
    item = _optional_id(raw)
    if kind not in ("message", "concern") or item is None:
        raise InvalidInput("choose a message or a concern to split off", code="split_what")
    new = merge.split_ticket(
        session=session,
        ticket=ticket,
        actor=agent.principal,
        message_id=item if kind == "message" else None,
        concern_id=item if kind == "concern" else None,
        subject=subject.strip() or None,
    )
    new_id = new.id
    session.commit()
    return _back(new_id)


# -- reminders --------------------------------------------------------------------------------------------
@router.post("/agent/tickets/{ticket_id}/reminders")
def add_reminder(
    ticket_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    due_at: Annotated[str, Form(max_length=40)],
    tz: Annotated[str, Form(max_length=60)] = "UTC",
    note: Annotated[str, Form(max_length=2000)] = "",
    user: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    ticket = tickets.access_ticket(session=session, principal=agent.principal, ticket_id=ticket_id)
    data = _parse(
        ReminderCreate,
        "reminder",
        due_at=views.parse_local_time(due_at, tz),
        note=note,
        user_id=_optional_id(user),
    )
    reminders.create_reminder(session=session, ticket=ticket, data=data, actor=agent.principal)
    session.commit()
    return _back(ticket_id, "#reminders")


def _reminder_action(
    reminder_id: int,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    csrf_token: str,
    act: Callable[[Any], object],
    back: str,
) -> RedirectResponse:
    agent.check_form(request, csrf_token)
    reminder = reminders.access_reminder(session=session, principal=agent.principal, reminder_id=reminder_id)
    act(reminder)
    ticket_id = reminder.ticket_id
    session.commit()
    return (
        RedirectResponse("/agent/followups", status_code=303)
        if back == "followups"
        else _back(ticket_id, "#reminders")
    )


@router.post("/agent/reminders/{reminder_id}/done")
def reminder_done(
    reminder_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    back: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    def act(r: Any) -> object:
        return reminders.mark_done(session=session, principal=agent.principal, reminder=r)

    return _reminder_action(reminder_id, request, session, agent, csrf_token, act, back)


@router.post("/agent/reminders/{reminder_id}/cancel")
def reminder_cancel(
    reminder_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    back: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    def act(r: Any) -> object:
        return reminders.cancel(session=session, principal=agent.principal, reminder=r)

    return _reminder_action(reminder_id, request, session, agent, csrf_token, act, back)


@router.post("/agent/reminders/{reminder_id}/snooze")
def reminder_snooze(
    reminder_id: IdPath,
    request: Request,
    session: WriteSession,
    agent: CurrentAgent,
    minutes: Annotated[int, Form(ge=1, le=60 * 24 * 365)] = 60,
    back: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> RedirectResponse:
    def act(r: Any) -> object:
        data = ReminderSnooze(minutes=minutes)
        return reminders.snooze(session=session, principal=agent.principal, reminder=r, data=data)

    return _reminder_action(reminder_id, request, session, agent, csrf_token, act, back)


@router.get("/agent/followups", response_class=HTMLResponse)
def followups(session: ReadSession, agent: CurrentAgent) -> HTMLResponse:
    """The agent's follow-up reminders: those due now, then those still to come."""
    context = views.followups_context(session=session, principal=agent.principal)
    page = TEMPLATES.get_template("workspace/followups.html").render(
        agent=agent, me=workspace_views.me(session=session, agent=agent), **context
    )
    return HTMLResponse(page)
