"""Chat conversations: visitors (a browser's secret token), their lines, the agents' replies pushed back,
and the switch to email when nobody is there to answer.

Each line the customer types is its own message (the timeline shows the conversation as it happened);
triage reads consecutive short lines as one utterance (see triage's ``text_of``). A line carries the
widget's own id for it, so a line re-sent after a dropped connection is stored once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM, Principal
from ombud.channels import service as channels
from ombud.channels.chat.hub import AGENTS, ChatHub, visitor_topic
from ombud.channels.email.service import EmailAdapter
from ombud.channels.models import ChatVisitor
from ombud.channels.registry import Outbound, Undeliverable
from ombud.customers import service as customers
from ombud.customers.models import IdentityKind
from ombud.customers.schemas import CustomerRef
from ombud.errors import Forbidden, InvalidInput, TooManyRequests, Unauthorized
from ombud.storage.base import utcnow
from ombud.tickets import feeds
from ombud.tickets import service as tickets
from ombud.tickets.models import AuthorType, Channel, Message, Ticket
from ombud.validation import normalise_email

CHANNEL = "chat"
MAX_LINE_CHARS = 5000


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- visitors ---------------------------------------------------------------------------------------------
def start_visitor(*, session: Session, name: str | None, email: str | None) -> tuple[str, ChatVisitor]:
    """Return (secret token, visitor) for a browser opening the widget the first time.

    The visitor is a customer of its own. An email address typed into a widget proves nothing: it
    becomes this customer's only if nobody has it, and a chat never joins another customer's timeline
    by it (an agent merges the two when they are one person).
    """
    token = secrets.token_urlsafe(32)
    public_id = "v_" + secrets.token_hex(8)
    customer, _ = customers.resolve_customer(
        session=session, ref=CustomerRef(visitor=public_id, name=name), actor=SYSTEM
    )
    visitor = ChatVisitor(token_sha256=_digest(token), public_id=public_id, customer_id=customer.id)
    session.add(visitor)
    session.flush()
    if email:
        _take_address(session=session, visitor=visitor, email=email)
    return token, visitor


def _take_address(*, session: Session, visitor: ChatVisitor, email: str) -> None:
    address = normalise_email(email)
    if customers.identity_owner(session=session, kind=IdentityKind.email, value=address) is None:
        customers.claim_identity(
            session=session,
            customer_id=visitor.customer_id,
            kind=IdentityKind.email,
            value=address,
            actor=SYSTEM,
        )
    visitor.email = address


def visitor_for(*, session: Session, token: str) -> ChatVisitor:
    visitor = session.get(ChatVisitor, _digest(token)) if token else None
    if visitor is None:
        raise Unauthorized("unknown chat token: start a new chat", code="chat_token_invalid")
    return visitor


def current_ticket(*, session: Session, visitor: ChatVisitor) -> Ticket | None:
    """The visitor's conversation, if it is still the visitor's customer's (a merge undone can part them)."""
    ticket = session.get(Ticket, visitor.ticket_id) if visitor.ticket_id is not None else None
    return ticket if ticket is not None and ticket.customer_id == visitor.customer_id else None


# -- lines in ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    message: Message
    ticket: Ticket
    created: bool


def post_line(*, session: Session, visitor: ChatVisitor, text: str, client_id: str, flood_limit: int) -> Line:
    """Store one line the visitor typed; the same ``client_id`` again returns the stored line."""
    text = text.strip()
    if not text:
        raise InvalidInput("the message is empty", code="empty_message")
    if len(text) > MAX_LINE_CHARS:
        raise InvalidInput(f"a chat message holds at most {MAX_LINE_CHARS} characters", code="body_too_long")
    if not client_id or len(client_id) > 64:
        raise InvalidInput("client_id must be 1-64 characters", code="invalid_client_id")
    ref = f"{visitor.public_id}:{client_id}"
    known = _stored_line(session, ref)
    if known is not None:
        return known
    since = utcnow() - channels.FLOOD_WINDOW
    if (
        channels.inbound_count_since(session=session, customer_id=visitor.customer_id, since=since)
        >= flood_limit
    ):
        raise TooManyRequests(
            f"more than {flood_limit} messages in 10 minutes; please wait a moment",
            details={"retry_after": 60},
        )
    incoming = channels.Incoming(
        customer_id=visitor.customer_id,
        channel=Channel.chat,
        subject=text.splitlines()[0][:80],
        body=text,
        channel_meta={"visitor": visitor.public_id, "client_id": client_id},
        ref=(CHANNEL, ref),
    )

    def store() -> Line:
        _, ticket, message = channels.take_in(
            session=session, ticket=current_ticket(session=session, visitor=visitor), incoming=incoming
        )
        visitor.ticket_id = ticket.id
        visitor.last_seen_at = utcnow()
        return Line(message, ticket, created=True)

    # The widget resends a line whose ack it missed, maybe while the first send is still being stored.
    return channels.first_wins(session, store, lambda: _stored_line(session, ref))


def _stored_line(session: Session, ref: str) -> Line | None:
    known = channels.find_ref(session=session, channel=CHANNEL, ref=ref)
    if known is None:
        return None
    message = session.get(Message, known.message_id)
    ticket = session.get(Ticket, known.ticket_id)
    if message is None or ticket is None:
        return None
    return Line(message, ticket, created=False)


def history(*, session: Session, visitor: ChatVisitor, after_id: int = 0, limit: int = 200) -> list[Message]:
    """Return the public messages of the visitor's conversation after ``after_id``, oldest first."""
    ticket = current_ticket(session=session, visitor=visitor)
    if ticket is None:
        return []
    principal = Principal(kind="customer", id=visitor.customer_id)
    rows = tickets.list_messages(session=session, ticket=ticket, principal=principal)
    return [row for row in rows if row.id > after_id][-limit:]


def continue_by_email(*, session: Session, visitor: ChatVisitor, email: str) -> ChatVisitor:
    """Nobody could answer now: agents' replies go to ``email`` while the visitor is away. An address
    someone else has stays theirs: the reply still goes there, the timelines stay apart until an agent
    merges them."""
    _take_address(session=session, visitor=visitor, email=email)
    visitor.by_email = True
    session.flush()
    return visitor


# -- agents -----------------------------------------------------------------------------------------------
def mark_read(*, session: Session, ticket_id: int, message_id: int, actor: Principal) -> int | None:
    """Record that an agent read the chat up to ``message_id``; return the visitor's ticket or None."""
    if not actor.is_staff:
        raise Forbidden("only staff mark chats read", code="role_forbidden")
    visitor = session.scalar(select(ChatVisitor).where(ChatVisitor.ticket_id == ticket_id))
    if visitor is None:
        return None
    visitor.read_up_to = max(visitor.read_up_to or 0, message_id)
    session.flush()
    return ticket_id


def message_event(message: Message, *, client_id: str | None = None) -> dict[str, Any]:
    """A message as the widget and the agents' connections receive it."""
    return {
        "type": "message",
        "id": message.id,
        "ticket_id": message.ticket_id,
        "author": "customer" if message.author_type is AuthorType.customer else "agent",
        "body": message.body_text,
        "at": message.created_at.isoformat(),
        "client_id": client_id or (message.channel_meta or {}).get("client_id"),
    }


def announce_line(hub: ChatHub, line: Line) -> None:
    """Tell the visitor's other tabs and every agent about a new line (after it is committed)."""
    event = message_event(line.message)
    visitor = (line.message.channel_meta or {}).get("visitor")
    if visitor:
        hub.publish(visitor_topic(str(visitor)), event)
    hub.publish(AGENTS, {**event, "customer_id": line.ticket.customer_id, "subject": line.ticket.subject})


# -- replies out ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChatPush:
    topic: str
    event: dict[str, Any]
    email: Outbound | None  # the same reply as an email, when the visitor left an address


class ChatAdapter:
    """Pushes agents' replies to the visitor's open widget; by email when the visitor is gone and left
    an address."""

    name = CHANNEL

    def __init__(self, hub: ChatHub, email: EmailAdapter) -> None:
        self.hub = hub
        self.email = email

    def prepare(self, *, session: Session, message_id: int) -> Outbound:
        found = feeds.reply_to_deliver(session=session, message_id=message_id)
        if found is None:
            raise Undeliverable(f"message {message_id} is not a reply waiting to be sent")
        message, ticket = found
        visitor = session.scalar(select(ChatVisitor).where(ChatVisitor.ticket_id == ticket.id))
        if visitor is None:
            raise Undeliverable("no chat widget holds this conversation (a chat ticket made by the API)")
        by_email = None
        if visitor.by_email and visitor.email and self.email.config.relay_host:
            by_email = self.email.compose(
                session=session,
                message=message,
                ticket=ticket,
                recipient=visitor.email,
                subject=ticket.subject,
            )
        return Outbound(
            message_id=message.id,
            recipient=f"visitor:{visitor.public_id}",
            ref=by_email.ref if by_email else None,
            # The visitor's own topic: every tab of the visitor hears it, even one opened before the
            # conversation had a ticket.
            payload=ChatPush(
                topic=visitor_topic(visitor.public_id), event=message_event(message), email=by_email
            ),
            channel=by_email.channel if by_email else None,
        )

    def send(self, outbound: Outbound) -> None:
        push: ChatPush = outbound.payload
        online = self.hub.listening(push.topic)
        self.hub.publish(push.topic, push.event)
        self.hub.publish(AGENTS, push.event)
        if not online and push.email is not None:
            self.email.send(push.email)
