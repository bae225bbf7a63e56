"""Concerns: each thing a customer asked for on a ticket, tracked on its own (status, owner, the article or
resolution that answered it) so a ticket is not "done" while one of its questions is still open.

Triage finds them: the ``concerns`` consumer turns every concern of a triaged customer message into a
tracked one (a later message repeating an intent that is still open on the ticket is linked to the open
concern instead of opening a second). Agents add, edit and close them by hand. Concerns are internal:
staff read them, agents, leads and admins change them; customers and partners never see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import STAFF_ROLES, SYSTEM, Principal
from ombud.audit import service as audit
from ombud.errors import Forbidden, InvalidInput, NotFound
from ombud.events.service import EventRecord
from ombud.knowledge import service as knowledge
from ombud.storage.base import utcnow
from ombud.tickets import service as tickets
from ombud.tickets.models import (
    OPEN_CONCERN_STATUSES,
    Concern,
    ConcernMessage,
    ConcernStatus,
    Message,
    Ticket,
)
from ombud.tickets.schemas import ConcernCreate, ConcernPublic, ConcernUpdate
from ombud.triage import service as triage

# Intents that ask for nothing: a thank-you is not work to track.
NOT_TRACKED = frozenset({"praise"})
_FIELDS = ("text", "intent", "status", "owner_id", "article_id", "resolution_ref")


def check_read(principal: Principal) -> None:
    """Concerns are internal working data: staff only."""
    if not principal.is_staff:
        raise Forbidden("concerns are internal; your role may not read them", code="role_forbidden")


def check_write(principal: Principal) -> None:
    if not principal.can_serve:
        raise Forbidden("your role may not change concerns", code="role_forbidden")


def list_concerns(*, session: Session, principal: Principal, ticket: Ticket) -> Sequence[Concern]:
    """Return the ticket's concerns, oldest first."""
    check_read(principal)
    return session.scalars(select(Concern).where(Concern.ticket_id == ticket.id).order_by(Concern.id)).all()


def access_concern(*, session: Session, principal: Principal, concern_id: int) -> Concern:
    """Return the concern if the caller may read it (and its ticket); raise NotFound otherwise."""
    check_read(principal)
    concern = session.get(Concern, concern_id)
    if concern is None:
        raise NotFound(f"no concern with id {concern_id}", code="concern_not_found")
    tickets.access_ticket(session=session, principal=principal, ticket_id=concern.ticket_id)
    return concern


def message_ids(*, session: Session, concern_ids: Sequence[int]) -> dict[int, list[int]]:
    """Return the messages each concern came from, oldest first."""
    found: dict[int, list[int]] = {concern_id: [] for concern_id in concern_ids}
    if not concern_ids:
        return found
    rows = session.execute(
        select(ConcernMessage.concern_id, ConcernMessage.message_id)
        .where(ConcernMessage.concern_id.in_(concern_ids))
        .order_by(ConcernMessage.message_id)
    )
    for concern_id, message_id in rows:
        found[int(concern_id)].append(int(message_id))
    return found


def to_public(*, session: Session, concerns: Sequence[Concern]) -> list[ConcernPublic]:
    linked = message_ids(session=session, concern_ids=[c.id for c in concerns])
    return [
        ConcernPublic.model_validate(c).model_copy(update={"message_ids": linked.get(c.id, [])})
        for c in concerns
    ]


def snapshot(concern: Concern) -> dict[str, Any]:
    return {
        "text": concern.text,
        "intent": concern.intent,
        "status": concern.status.value,
        "owner_id": concern.owner_id,
        "article_id": concern.article_id,
        "resolution_ref": concern.resolution_ref,
    }


def _record(
    *, session: Session, actor: Principal, action: str, concern: Concern, ticket: Ticket, **extra: Any
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        entity_type="concern",
        entity_id=concern.id,
        customer_id=ticket.customer_id,
        ticket_id=ticket.id,
        **extra,
    )


def _check_owner(session: Session, owner_id: int) -> None:
    user = accounts.access_user(session=session, user_id=owner_id)
    if not user.active or user.role not in STAFF_ROLES:
        raise InvalidInput(
            f"user {owner_id} cannot own a concern: choose an active staff member",
            code="invalid_owner",
            details={"field": "owner_id"},
        )


def _check_message(session: Session, ticket: Ticket, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None or message.ticket_id != ticket.id:
        raise InvalidInput(
            f"message {message_id} is not on ticket {ticket.id}",
            code="message_not_on_ticket",
            details={"field": "message_id"},
        )
    return message


def create_concern(*, session: Session, ticket: Ticket, data: ConcernCreate, actor: Principal) -> Concern:
    """Add a concern by hand; emits ``concern.created``."""
    check_write(actor)
    if data.owner_id is not None:
        _check_owner(session, data.owner_id)
    if data.message_id is not None:
        _check_message(session, ticket, data.message_id)
    now = utcnow()
    concern = Concern(
        ticket_id=ticket.id,
        text=data.text,
        intent=data.intent,
        status=ConcernStatus.open,
        source="agent",
        owner_id=data.owner_id,
        created_by_id=actor.id if actor.kind == "user" else None,
        created_at=now,
        updated_at=now,
    )
    session.add(concern)
    session.flush()
    if data.message_id is not None:
        session.add(ConcernMessage(concern_id=concern.id, message_id=data.message_id, created_at=now))
        session.flush()
    _record(
        session=session,
        actor=actor,
        action="concern.created",
        concern=concern,
        ticket=ticket,
        after={**snapshot(concern), "source": "agent", "message_id": data.message_id},
    )
    return concern


def update_concern(
    *, session: Session, concern: Concern, changes: ConcernUpdate, actor: Principal
) -> Concern:
    """Apply the fields given; emits ``concern.updated`` with what changed."""
    check_write(actor)
    fields = changes.model_dump(exclude_unset=True)
    for name in ("text", "status"):
        if name in fields and fields[name] is None:
            raise InvalidInput(f"{name} cannot be null", code="invalid_input", details={"field": name})
    if fields.get("owner_id") is not None:
        _check_owner(session, fields["owner_id"])
    if fields.get("article_id") is not None:
        try:
            knowledge.get_article(session=session, principal=actor, article_id=fields["article_id"])
        except NotFound:
            raise InvalidInput(
                f"no knowledge article with id {fields['article_id']}",
                code="article_not_found",
                details={"field": "article_id"},
            ) from None
    if "resolution_ref" in fields:
        fields["resolution_ref"] = fields["resolution_ref"] or None
    before = snapshot(concern)
    for name in _FIELDS:
        if name in fields:
            setattr(concern, name, fields[name])
    after = snapshot(concern)
    changed = sorted(key for key in after if after[key] != before[key])
    if not changed:
        return concern
    now = utcnow()
    concern.updated_at = now
    if "status" in changed:
        concern.resolved_at = None if concern.status in OPEN_CONCERN_STATUSES else now
    session.flush()
    ticket = session.get(Ticket, concern.ticket_id)
    assert ticket is not None
    _record(
        session=session,
        actor=actor,
        action="concern.updated",
        concern=concern,
        ticket=ticket,
        before={key: before[key] for key in changed},
        after={key: after[key] for key in changed},
    )
    return concern


# -- from triage ------------------------------------------------------------------------------------------
def track_triaged(*, session: Session, event: EventRecord) -> None:
    """The ``concerns`` consumer: on ``message.triaged``, track each concern triage found in the message.

    Idempotent: a concern already taken from (message, position) is skipped, so a re-dispatched event or
    a second triage of the same message adds nothing.
    """
    if event.kind != "message.triaged":
        return
    track_message(session=session, message_id=event.entity_id)


def track_message(*, session: Session, message_id: int, quiet: bool = False) -> None:
    """Track each concern triage found in message ``message_id`` (idempotent).

    ``quiet`` is for imported history (ombud.imports): the concerns are recorded with source "import",
    resolved already when the ticket is over, and their creation is audited but not published, so no
    workflow consumer (automations, webhooks) acts on them.
    """
    message = session.get(Message, message_id)
    if message is None or message.internal:
        return
    result = triage.results_for(session=session, message_ids=[message.id]).get(message.id)
    if not result:
        return
    ticket = session.get(Ticket, message.ticket_id)
    assert ticket is not None
    taken = set(
        session.scalars(
            select(ConcernMessage.concern_index).where(
                ConcernMessage.message_id == message.id, ConcernMessage.concern_index.is_not(None)
            )
        )
    )
    for index, found in enumerate(result.get("concerns", [])):
        intents = found.get("intents") or []
        if index in taken or not intents or intents[0]["label"] in NOT_TRACKED:
            continue
        intent = str(intents[0]["label"])[:100]
        concern = session.scalar(
            select(Concern)
            .where(
                Concern.ticket_id == ticket.id,
                Concern.intent == intent,
                Concern.status.in_(OPEN_CONCERN_STATUSES),
            )
            .order_by(Concern.id)
            .limit(1)
        )
        now = utcnow()
        if concern is None:
            over = quiet and not ticket.is_open
            concern = Concern(
                ticket_id=ticket.id,
                text=str(found.get("text") or message.body_text)[:5000],
                intent=intent,
                status=ConcernStatus.resolved if over else ConcernStatus.open,
                source="import" if quiet else "triage",
                created_at=message.created_at if quiet else now,
                updated_at=now,
                resolved_at=(ticket.resolved_at or now) if over else None,
            )
            session.add(concern)
            session.flush()
            session.add(
                ConcernMessage(
                    concern_id=concern.id, message_id=message.id, concern_index=index, created_at=now
                )
            )
            session.flush()
            _record(
                session=session,
                actor=SYSTEM,
                action="concern.created",
                concern=concern,
                ticket=ticket,
                after={**snapshot(concern), "source": concern.source, "message_id": message.id},
                publish=not quiet,
            )
        elif session.get(ConcernMessage, (concern.id, message.id)) is None:
            # The customer asks again about something still open: the same concern, one more message.
            session.add(
                ConcernMessage(
                    concern_id=concern.id, message_id=message.id, concern_index=index, created_at=now
                )
            )
            concern.updated_at = now
            session.flush()
