"""/api/v1 ticket tracking: concerns, links between tickets, merge and undo, split, follow-up reminders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ombud.errors import InvalidInput, NotFound
from ombud.tickets import concerns, links, merge, reminders
from ombud.tickets import service as tickets
from ombud.tickets.models import LinkKind, ReminderState
from ombud.tickets.schemas import (
    ConcernCreate,
    ConcernPublic,
    ConcernUpdate,
    LinkCreate,
    LinkPublic,
    MergeCreate,
    MergePublic,
    ReminderCreate,
    ReminderPublic,
    ReminderSnooze,
    SplitCreate,
    TicketPublic,
)
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, WriteSession

router = APIRouter(tags=["tracking"])


# -- concerns ---------------------------------------------------------------------------------------------
@router.get("/tickets/{ticket_id}/concerns", response_model=list[ConcernPublic])
def list_concerns(
    ticket_id: IdPath, session: ReadSession, principal: CurrentPrincipal
) -> list[ConcernPublic]:
    """The ticket's concerns, oldest first (staff only: concerns are internal)."""
    concerns.check_read(principal)
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    found = concerns.list_concerns(session=session, principal=principal, ticket=ticket)
    return concerns.to_public(session=session, concerns=found)


@router.post("/tickets/{ticket_id}/concerns", status_code=201, response_model=ConcernPublic)
def add_concern(
    ticket_id: IdPath, data: ConcernCreate, session: WriteSession, principal: CurrentPrincipal
) -> ConcernPublic:
    """Add a concern by hand (agents, leads, admins)."""
    concerns.check_write(principal)
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    concern = concerns.create_concern(session=session, ticket=ticket, data=data, actor=principal)
    session.commit()
    return concerns.to_public(session=session, concerns=[concern])[0]


@router.get("/concerns/{concern_id}", response_model=ConcernPublic)
def get_concern(concern_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> ConcernPublic:
    concern = concerns.access_concern(session=session, principal=principal, concern_id=concern_id)
    return concerns.to_public(session=session, concerns=[concern])[0]


@router.patch("/concerns/{concern_id}", response_model=ConcernPublic)
def update_concern(
    concern_id: IdPath, changes: ConcernUpdate, session: WriteSession, principal: CurrentPrincipal
) -> ConcernPublic:
    """Change a concern's status, owner, article, resolution reference, text or intent."""
    concern = concerns.access_concern(session=session, principal=principal, concern_id=concern_id)
    concerns.update_concern(session=session, concern=concern, changes=changes, actor=principal)
    session.commit()
    return concerns.to_public(session=session, concerns=[concern])[0]


# -- links ------------------------------------------------------------------------------------------------
@router.get("/tickets/{ticket_id}/links", response_model=list[LinkPublic])
def list_links(ticket_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> list[LinkPublic]:
    """Every link of the ticket, either way, as it reads from this ticket (staff only)."""
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    return links.list_links(session=session, principal=principal, ticket=ticket)


@router.post("/tickets/{ticket_id}/links", status_code=201, response_model=LinkPublic)
def add_link(
    ticket_id: IdPath, data: LinkCreate, session: WriteSession, principal: CurrentPrincipal
) -> LinkPublic:
    """Link this ticket to another: duplicate_of, related_to or caused_by."""
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    link = links.link_tickets(
        session=session, principal=principal, ticket=ticket, other_id=data.ticket_id, kind=LinkKind(data.kind)
    )
    link_id = link.id
    session.commit()
    return next(
        x for x in links.list_links(session=session, principal=principal, ticket=ticket) if x.id == link_id
    )


@router.delete("/tickets/{ticket_id}/links/{link_id}", status_code=204)
def remove_link(
    ticket_id: IdPath, link_id: IdPath, session: WriteSession, principal: CurrentPrincipal
) -> Response:
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    links.unlink(session=session, principal=principal, ticket=ticket, link_id=link_id)
    session.commit()
    return Response(status_code=204)


# -- merge and split --------------------------------------------------------------------------------------
@router.post("/tickets/{ticket_id}/merge", status_code=201, response_model=MergePublic)
def merge_ticket(
    ticket_id: IdPath, data: MergeCreate, session: WriteSession, principal: CurrentPrincipal
) -> MergePublic:
    """Merge this ticket into ``target_id``: it is closed with a merged_into link (undo with the merge id)."""
    source = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    try:
        target = tickets.access_ticket(session=session, principal=principal, ticket_id=data.target_id)
    except NotFound:
        raise InvalidInput(
            f"no ticket with id {data.target_id} to merge into", code="merge_target_not_found"
        ) from None
    done = merge.merge_tickets(session=session, source=source, target=target, actor=principal)
    session.commit()
    return merge.merge_public(done)


@router.get("/tickets/{ticket_id}/merges", response_model=list[MergePublic])
def list_merges(ticket_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> list[MergePublic]:
    """Merges into or out of the ticket, newest first (staff only)."""
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    return [
        merge.merge_public(m) for m in merge.list_merges(session=session, principal=principal, ticket=ticket)
    ]


@router.post("/ticket-merges/{merge_id}/undo", response_model=MergePublic)
def undo_merge(merge_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> MergePublic:
    """Undo a merge: what moved goes back and the source ticket reopens as it was."""
    found = merge.access_merge(session=session, principal=principal, merge_id=merge_id)
    merge.undo_merge(session=session, merge=found, actor=principal)
    session.commit()
    return merge.merge_public(found)


@router.post("/tickets/{ticket_id}/split", status_code=201, response_model=TicketPublic)
def split_ticket(
    ticket_id: IdPath, data: SplitCreate, session: WriteSession, principal: CurrentPrincipal
) -> TicketPublic:
    """Split a customer message or a concern off into a new ticket for the same customer."""
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    new = merge.split_ticket(
        session=session,
        ticket=ticket,
        actor=principal,
        message_id=data.message_id,
        concern_id=data.concern_id,
        subject=data.subject,
    )
    session.commit()
    return TicketPublic.model_validate(new)


# -- reminders --------------------------------------------------------------------------------------------
@router.get("/tickets/{ticket_id}/reminders", response_model=list[ReminderPublic])
def ticket_reminders(
    ticket_id: IdPath, session: ReadSession, principal: CurrentPrincipal
) -> list[ReminderPublic]:
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    found = reminders.list_for_ticket(session=session, principal=principal, ticket=ticket)
    return [ReminderPublic.model_validate(r) for r in found]


@router.post("/tickets/{ticket_id}/reminders", status_code=201, response_model=ReminderPublic)
def add_reminder(
    ticket_id: IdPath, data: ReminderCreate, session: WriteSession, principal: CurrentPrincipal
) -> ReminderPublic:
    """Set a follow-up reminder on the ticket for the caller (or ``user_id``)."""
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    reminder = reminders.create_reminder(session=session, ticket=ticket, data=data, actor=principal)
    session.commit()
    return ReminderPublic.model_validate(reminder)


@router.get("/reminders", response_model=list[ReminderPublic])
def my_reminders(
    session: ReadSession,
    principal: CurrentPrincipal,
    state: Annotated[list[ReminderState], Query(description="Default: scheduled and due.")] = [],  # noqa: B006
) -> list[ReminderPublic]:
    """The caller's reminders, soonest first."""
    found = reminders.list_mine(session=session, principal=principal, states=state or reminders.ACTIVE_STATES)
    return [ReminderPublic.model_validate(r) for r in found]


def _finish(
    action: str, reminder_id: int, session: WriteSession, principal: CurrentPrincipal
) -> ReminderPublic:
    reminder = reminders.access_reminder(session=session, principal=principal, reminder_id=reminder_id)
    if action == "done":
        reminders.mark_done(session=session, principal=principal, reminder=reminder)
    else:
        reminders.cancel(session=session, principal=principal, reminder=reminder)
    session.commit()
    return ReminderPublic.model_validate(reminder)


@router.post("/reminders/{reminder_id}/done", response_model=ReminderPublic)
def reminder_done(reminder_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> ReminderPublic:
    return _finish("done", reminder_id, session, principal)


@router.post("/reminders/{reminder_id}/cancel", response_model=ReminderPublic)
def reminder_cancel(
    reminder_id: IdPath, session: WriteSession, principal: CurrentPrincipal
) -> ReminderPublic:
    return _finish("cancel", reminder_id, session, principal)


@router.post("/reminders/{reminder_id}/snooze", response_model=ReminderPublic)
def reminder_snooze(
    reminder_id: IdPath, data: ReminderSnooze, session: WriteSession, principal: CurrentPrincipal
) -> ReminderPublic:
    """Move the reminder to ``due_at`` or ``minutes`` from now; it is scheduled again."""
    reminder = reminders.access_reminder(session=session, principal=principal, reminder_id=reminder_id)
    reminders.snooze(session=session, principal=principal, reminder=reminder, data=data)
    session.commit()
    return ReminderPublic.model_validate(reminder)
