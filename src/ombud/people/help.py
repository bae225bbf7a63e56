"""Help requests: an agent asks teammates for help on a ticket.

Asking writes an internal note on the ticket as the requester, with an @mention of everyone asked (one
named colleague, everyone in a team, or by default everyone in the requester's teams), so the request shows
in their @Mentions inbox. Teammates join the request and help with ordinary internal notes on the ticket
(the existing note path); the request lists the notes its helpers wrote since it was opened. The requester,
a lead or an admin resolves or cancels it.

Who may help (and sees the request among the open ones): the colleague asked, members of the team asked,
or, asked by default, anyone who shares a team with the requester; leads and admins may join any.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import Role, User, team_members
from ombud.accounts.schemas import Principal
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound
from ombud.people.models import HelpHelper, HelpRequest, HelpState
from ombud.people.schemas import HelpCreate, HelpPublic
from ombud.storage.base import utcnow
from ombud.storage.db import race_savepoint
from ombud.tickets import inbox
from ombud.tickets import service as tickets
from ombud.tickets.models import Message, Ticket
from ombud.tickets.schemas import MessageCreate
from ombud.tickets.service import Limits

LIST_MAX = 200


def _helper_user(principal: Principal) -> int:
    if principal.kind != "user" or principal.id is None or not principal.can_serve:
        raise Forbidden("help requests are for agents, leads and admins", code="role_forbidden")
    return principal.id


def _team_ids(session: Session, user_id: int) -> set[int]:
    return set(session.scalars(select(team_members.c.team_id).where(team_members.c.user_id == user_id)))


def asked_users(*, session: Session, request: HelpRequest) -> list[User]:
    """Everyone the request asks (the requester left out), by name."""
    if request.asked_user_id is not None:
        ids = {request.asked_user_id}
    else:
        teams = (
            {request.asked_team_id}
            if request.asked_team_id is not None
            else _team_ids(session, request.requester_id)
        )
        ids = set(session.scalars(select(team_members.c.user_id).where(team_members.c.team_id.in_(teams))))
    ids.discard(request.requester_id)
    users = [session.get(User, uid) for uid in ids]
    return sorted((u for u in users if u is not None and u.active), key=lambda u: (u.name, u.id))


def can_help(*, session: Session, principal: Principal, request: HelpRequest) -> bool:
    if principal.kind != "user" or principal.id is None or not principal.can_serve:
        return False
    if principal.id == request.requester_id:
        return False
    if principal.role in (Role.lead, Role.admin):
        return True
    return principal.id in {u.id for u in asked_users(session=session, request=request)}


def ask(
    *, session: Session, principal: Principal, ticket_id: int, data: HelpCreate, limits: Limits
) -> HelpRequest:
    """Open a help request on the ticket and note it there with @mentions of everyone asked."""
    user_id = _helper_user(principal)
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    if data.user_id is not None and data.team_id is not None:
        raise InvalidInput("ask one colleague or one team, not both", code="help_target_ambiguous")
    if data.user_id is not None:
        asked = session.get(User, data.user_id)
        if asked is None or not asked.active or asked.role not in (Role.agent, Role.lead, Role.admin):
            raise InvalidInput(f"user {data.user_id} cannot be asked for help", code="help_user_invalid")
        if asked.id == user_id:
            raise InvalidInput("ask someone other than yourself", code="help_user_invalid")
    if data.team_id is not None:
        accounts.access_team(session=session, team_id=data.team_id)
    if not data.question.strip():
        raise InvalidInput("write the question you need help with", code="invalid_help_request")
    row = HelpRequest(
        ticket_id=ticket.id,
        requester_id=user_id,
        asked_user_id=data.user_id,
        asked_team_id=data.team_id,
        question=data.question.strip(),
        state=HelpState.open,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    asked_list = asked_users(session=session, request=row)
    if not asked_list:
        raise InvalidInput(
            "nobody in your teams could be asked; name a colleague or a team", code="help_nobody"
        )
    handles = " ".join(f"@{inbox.mention_handle(u.email)}" for u in asked_list)
    body = f"Help wanted (request #{row.id}): {row.question}\n{handles}"
    tickets.add_message(
        session=session,
        ticket=ticket,
        data=MessageCreate(body=body, internal=True),
        actor=principal,
        limits=limits,
    )
    return row


def access_request(
    *, session: Session, principal: Principal, request_id: int, lock: bool = False
) -> HelpRequest:
    """Return help request ``request_id`` (``lock``: held until commit, so two closings queue up and the
    second sees the first's answer)."""
    _helper_user(principal)
    row = session.get(HelpRequest, request_id, with_for_update=lock or None, populate_existing=lock)
    if row is None:
        raise NotFound(f"no help request {request_id}", code="help_request_not_found")
    return row


def join(*, session: Session, principal: Principal, request_id: int) -> HelpRequest:
    """Join an open request as a helper (again: nothing changes)."""
    row = access_request(session=session, principal=principal, request_id=request_id)
    if row.state != HelpState.open:
        raise Conflict(f"this request is {row.state.value}", code="help_request_closed")
    if not can_help(session=session, principal=principal, request=row):
        raise Forbidden("this request asks someone else", code="help_not_asked")
    assert principal.id is not None
    if session.get(HelpHelper, (row.id, principal.id)) is None:
        try:
            with race_savepoint(session):
                session.add(HelpHelper(request_id=row.id, user_id=principal.id, joined_at=utcnow()))
                session.flush()
        except IntegrityError:
            pass  # the same person's second click won the race: they have joined, which is all they asked
    return row


def close(*, session: Session, principal: Principal, request_id: int, state: HelpState) -> HelpRequest:
    """Resolve or cancel an open request (the requester, a lead or an admin)."""
    row = access_request(session=session, principal=principal, request_id=request_id, lock=True)
    if principal.id != row.requester_id and principal.role not in (Role.lead, Role.admin):
        raise Forbidden("only the requester, a lead or an admin closes a help request", code="role_forbidden")
    if row.state != HelpState.open:
        raise Conflict(f"this request is already {row.state.value}", code="help_request_closed")
    row.state = state
    row.closed_at = utcnow()
    row.closed_by_id = principal.id
    session.flush()
    return row


def for_ticket(*, session: Session, principal: Principal, ticket_id: int) -> Sequence[HelpRequest]:
    """The ticket's help requests, newest first."""
    _helper_user(principal)
    tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    return session.scalars(
        select(HelpRequest).where(HelpRequest.ticket_id == ticket_id).order_by(HelpRequest.id.desc())
    ).all()


def listing(
    *, session: Session, principal: Principal, state: HelpState | None = HelpState.open
) -> Sequence[HelpRequest]:
    """The requests the caller can help with or asked themself, newest first."""
    user_id = _helper_user(principal)
    query = select(HelpRequest).order_by(HelpRequest.id.desc()).limit(LIST_MAX * 5)
    if state is not None:
        query = query.where(HelpRequest.state == state)
    rows = session.scalars(query).all()
    if principal.role in (Role.lead, Role.admin):
        return rows[:LIST_MAX]
    # The same rule as can_help, with the teams read once per person rather than once per request.
    mine = _team_ids(session, user_id)
    teams_of: dict[int, set[int]] = {}

    def asks_me(r: HelpRequest) -> bool:
        if r.asked_user_id is not None:
            return r.asked_user_id == user_id
        if r.asked_team_id is not None:
            return r.asked_team_id in mine
        if r.requester_id not in teams_of:
            teams_of[r.requester_id] = _team_ids(session, r.requester_id)
        return bool(teams_of[r.requester_id] & mine)

    return [r for r in rows if r.requester_id == user_id or asks_me(r)][:LIST_MAX]


def open_count(*, session: Session, user_ids: Sequence[int]) -> dict[int, int]:
    """Open requests each user asked (for the lead's view)."""
    out = dict.fromkeys(user_ids, 0)
    rows = session.execute(
        select(HelpRequest.requester_id, func.count())
        .where(HelpRequest.requester_id.in_(list(user_ids)), HelpRequest.state == HelpState.open)
        .group_by(HelpRequest.requester_id)
    ).all()
    for user_id, count in rows:
        out[int(user_id)] = int(count)
    return out


def to_public(*, session: Session, request: HelpRequest) -> HelpPublic:
    helpers = list(
        session.scalars(
            select(HelpHelper.user_id)
            .where(HelpHelper.request_id == request.id)
            .order_by(HelpHelper.joined_at)
        )
    )
    notes: list[int] = []
    if helpers:
        query = select(Message.id).where(
            Message.ticket_id == request.ticket_id,
            Message.internal.is_(True),
            Message.author_user_id.in_(helpers),
            Message.created_at >= request.created_at,
        )
        if request.closed_at is not None:
            # A helper's later notes on the ticket are ordinary work, not help on this request.
            query = query.where(Message.created_at <= request.closed_at)
        notes = list(session.scalars(query.order_by(Message.id)))
    ticket = session.get(Ticket, request.ticket_id)
    requester = session.get(User, request.requester_id)
    return HelpPublic(
        id=request.id,
        ticket_id=request.ticket_id,
        ticket_subject=ticket.subject if ticket is not None else "",
        requester_id=request.requester_id,
        requester_name=requester.name if requester is not None else "",
        asked_user_id=request.asked_user_id,
        asked_team_id=request.asked_team_id,
        question=request.question,
        state=request.state,
        created_at=request.created_at,
        closed_at=request.closed_at,
        closed_by_id=request.closed_by_id,
        helper_ids=helpers,
        note_ids=notes,
    )
