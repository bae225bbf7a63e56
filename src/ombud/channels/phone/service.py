"""Calls: find the customer by number, put the call on a ticket, and let triage read what the customer
said. Idempotent by the telephony system's call id."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.channels import service as channels
from ombud.channels.models import Call, CallDirection, CallOutcome
from ombud.channels.phone.schemas import CallIn
from ombud.customers import blocks
from ombud.customers import service as customers
from ombud.customers.models import IdentityKind
from ombud.customers.schemas import CustomerRef
from ombud.errors import Forbidden, NotFound
from ombud.tickets import service as tickets
from ombud.tickets.models import Channel
from ombud.validation import normalise_phone

_NO_WORDS = {
    CallOutcome.answered: "Answered call, no transcript",
    CallOutcome.missed: "Missed call",
    CallOutcome.voicemail: "Voicemail, no transcript",
    CallOutcome.abandoned: "The caller hung up before anyone answered",
    CallOutcome.busy: "Busy: the call did not connect",
    CallOutcome.failed: "The call failed to connect",
}


def record_call(*, session: Session, data: CallIn, actor: Principal) -> tuple[Call, bool]:
    """Store the call; return (call, created). A call id seen before returns the first record."""
    if not actor.can_serve:
        raise Forbidden("your role may not record calls", code="role_forbidden")
    known = _known_call(session, data.external_id)
    if known is not None:
        return known
    caller, callee = normalise_phone(data.caller), normalise_phone(data.callee)
    number = caller if data.direction is CallDirection.inbound else callee
    if data.direction is CallDirection.inbound:
        # A blocked caller's call is not recorded (the integration is told 403 sender_blocked).
        blocks.refuse_if_blocked(session=session, channel="phone", phone=number)
    if data.agent_id is not None:
        accounts.access_user(session=session, user_id=data.agent_id)
    existing = None
    if data.ticket_id is not None:
        existing = tickets.access_ticket(session=session, principal=actor, ticket_id=data.ticket_id)
        # The number may be new (the customer called from another phone): it becomes theirs.
        customers.claim_identity(
            session=session,
            customer_id=existing.customer_id,
            kind=IdentityKind.phone,
            value=number,
            actor=actor,
        )
        customer_id = existing.customer_id
    else:
        customer, _ = customers.resolve_customer(
            session=session, ref=CustomerRef(phone=number, name=data.customer_name), actor=actor
        )
        customer_id = customer.id
    said = [turn.text for turn in data.transcript if turn.speaker == "customer"]
    minutes, seconds = divmod(data.duration_seconds, 60)
    subject = data.subject or (
        f"{'Call from' if data.direction is CallDirection.inbound else 'Call to'} {number}"
        if data.outcome is CallOutcome.answered
        else f"{_NO_WORDS[data.outcome]} ({number})"
    )
    meta = {
        "call": {
            "external_id": data.external_id,
            "direction": data.direction.value,
            "outcome": data.outcome.value,
            "duration": f"{minutes}:{seconds:02d}",
            "number": number,
        }
    }

    def store() -> tuple[Call, bool]:
        _, opened, message = channels.take_in(
            session=session,
            ticket=existing,
            incoming=channels.Incoming(
                customer_id=customer_id,
                channel=Channel.phone,
                subject=subject,
                body="\n".join(said) if said else _NO_WORDS[data.outcome],
                channel_meta=meta,
                # Only what the customer said is read by triage; a missed call has nothing to read.
                triage=bool(said),
                # An agent's call to a blocked customer is the team's own record, not the sender's.
                blockable=data.direction is CallDirection.inbound,
            ),
        )
        call = Call(
            external_id=data.external_id,
            message_id=message.id,
            ticket_id=opened.id,
            customer_id=customer_id,
            direction=data.direction,
            caller=caller,
            callee=callee,
            started_at=data.started_at,
            duration_seconds=data.duration_seconds,
            outcome=data.outcome,
            agent_user_id=data.agent_id,
            recording_ref=data.recording_ref,
            transcript=[turn.model_dump() for turn in data.transcript],
        )
        session.add(call)
        session.flush()
        return call, True

    # The telephony system may retry while its first post is still being stored: one call either way.
    call, created = channels.first_wins(session, store, lambda: _known_call(session, data.external_id))
    if not created:
        return call, False
    audit.record(
        session=session,
        actor=actor,
        action="call.recorded",
        entity_type="call",
        entity_id=call.id,
        customer_id=customer_id,
        ticket_id=call.ticket_id,
        after={
            "direction": call.direction.value,
            "outcome": call.outcome.value,
            "message_id": call.message_id,
        },
    )
    return call, True


def _known_call(session: Session, external_id: str | None) -> tuple[Call, bool] | None:
    if not external_id:
        return None
    call = session.scalar(select(Call).where(Call.external_id == external_id))
    return (call, False) if call is not None else None


def access_call(*, session: Session, principal: Principal, call_id: int) -> Call:
    """Return the call if ``principal`` may read its ticket."""
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call with id {call_id}", code="call_not_found")
    try:
        tickets.access_ticket(session=session, principal=principal, ticket_id=call.ticket_id)
    except NotFound:
        raise NotFound(f"no call with id {call_id}", code="call_not_found") from None
    return call


def ticket_calls(*, session: Session, principal: Principal, ticket_id: int) -> list[Call]:
    """Return the calls logged on the ticket, oldest first."""
    tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    return list(session.scalars(select(Call).where(Call.ticket_id == ticket_id).order_by(Call.id)))
