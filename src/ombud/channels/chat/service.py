"""Chat conversations: visitors (a browser's secret token), their lines, the agents' replies pushed back,
and the switch to email when nobody is there to answer.

Each line the customer types is its own message (the timeline shows the conversation as it happened);
triage reads consecutive short lines as one utterance (see triage's ``text_of``). A line carries the
widget's own id for it, so a line re-sent after a dropped connection is stored once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
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
from ombud.customers import blocks
from ombud.customers import service as customers
from ombud.customers.models import IdentityKind
from ombud.customers.schemas import CustomerRef
from ombud.errors import Conflict, Forbidden, InvalidInput, TooManyRequests, Unauthorized
from ombud.knowledge import assistant
from ombud.knowledge import service as knowledge
from ombud.knowledge.models import Conversation
from ombud.knowledge.search import Hit
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
    if email:
        # Before the visitor's customer exists: a blocked address starts no chat at all.
        blocks.refuse_if_blocked(session=session, channel=CHANNEL, email=email)
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
    blocks.refuse_if_blocked(session=session, channel=CHANNEL, customer_id=visitor.customer_id)
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
    blocks.refuse_if_blocked(session=session, channel=CHANNEL, customer_id=visitor.customer_id, email=email)
    _take_address(session=session, visitor=visitor, email=email)
    visitor.by_email = True
    session.flush()
    return visitor


# -- the self-service assistant ---------------------------------------------------------------------------
# While it is on (a published public article exists) and no person has the visitor's conversation yet (no
# chat ticket), the visitor's lines go to the assistant. A handover opens the chat ticket with the
# transcript; from then on every line goes to people, never back to the assistant.
CITE_MARGIN = 0.05  # an article scoring this close to the best one is cited with it
NO_QUESTION_YET = "Of course. Write your question here and a person from our team will answer you."


@dataclass(frozen=True)
class AssistantTurn:
    """What the widget shows for one exchange with the assistant."""

    answer: str
    handover: bool
    reason: str | None
    conversation_id: str | None = None
    hits: Sequence[Hit] = ()
    confidence: float = 0.0
    ticket_id: int | None = None
    line: Line | None = None  # what reached people: the handover's transcript, or a line after it


def assistant_on(*, session: Session) -> bool:
    """Whether the assistant answers visitors first: once a published public article exists."""
    return bool(knowledge.list_articles(session=session, principal=None, limit=1))


def with_assistant(*, session: Session, visitor: ChatVisitor) -> bool:
    """Whether the visitor's next line goes to the assistant (it is on, and no person has the chat)."""
    return visitor.ticket_id is None and assistant_on(session=session)


def assistant_conversation(*, session: Session, visitor: ChatVisitor, start: bool) -> Conversation | None:
    """The visitor's open conversation with the assistant (the newest), or a new one when ``start``."""
    # No column on the visitor holds it: the customer is the visitor's own, so theirs is the visitor's.
    return assistant.open_conversation(
        session, channel=CHANNEL, customer_id=visitor.customer_id, create=start
    )


class AssistantTicketOpener:
    """The chat's ``TicketOpener``: the transcript becomes the first customer message of the visitor's chat
    ticket (the chat inbox), so agents read everything the customer wrote; later lines follow it there."""

    def __init__(self, session: Session, visitor: ChatVisitor) -> None:
        self.session = session
        self.visitor = visitor
        self.line: Line | None = None

    def __call__(self, conversation: Conversation, subject: str, transcript: str) -> int:
        blocks.refuse_if_blocked(session=self.session, channel=CHANNEL, customer_id=self.visitor.customer_id)
        _, ticket, message = channels.take_in(
            session=self.session,
            ticket=current_ticket(session=self.session, visitor=self.visitor),
            incoming=channels.Incoming(
                customer_id=self.visitor.customer_id,
                channel=Channel.chat,
                subject=subject,
                body=transcript,
                channel_meta={
                    "visitor": self.visitor.public_id,
                    "assistant_conversation": conversation.public_id,
                },
            ),
        )
        self.visitor.ticket_id = ticket.id
        self.visitor.last_seen_at = utcnow()
        self.line = Line(message, ticket, created=True)
        return ticket.id


def assistant_ticket_opener(*, session: Session, visitor: ChatVisitor) -> AssistantTicketOpener:
    return AssistantTicketOpener(session, visitor)


def _turn(reply: assistant.Reply, opener: AssistantTicketOpener) -> AssistantTurn:
    hits = reply.hits[:3] if not reply.handover else []
    return AssistantTurn(
        answer=reply.answer,
        handover=reply.handover,
        reason=reply.reason,
        conversation_id=reply.conversation.public_id,
        hits=[hit for hit in hits if hit.score >= hits[0].score - CITE_MARGIN],
        confidence=reply.confidence,
        ticket_id=reply.conversation.ticket_id if reply.handover else None,
        line=opener.line,
    )


def _with_people(line: Line | None = None) -> AssistantTurn:
    return AssistantTurn(
        answer=assistant.STILL_WITH_PEOPLE,
        handover=True,
        reason="already_handed_over",
        ticket_id=line.ticket.id if line is not None else None,
        line=line,
    )


def assistant_gate(
    *,
    session: Session,
    visitor: ChatVisitor,
    text: str,
    client_id: str | None,
    rate_limit: int,
    flood_limit: int,
) -> AssistantTurn | int:
    """The first, short step of a visitor's question: checked and counted. Once a person has the chat
    the line goes to them (an AssistantTurn); otherwise return the id of the visitor's conversation with
    the assistant (started if new), for :func:`assistant.think` and then :func:`answer_visitor`."""
    text = text.strip()
    if not text:
        raise InvalidInput("the message is empty", code="empty_message")
    if len(text) > MAX_LINE_CHARS:
        raise InvalidInput(f"a chat message holds at most {MAX_LINE_CHARS} characters", code="body_too_long")
    if visitor.ticket_id is not None:
        line = post_line(
            session=session,
            visitor=visitor,
            text=text,
            client_id=client_id or "a-" + secrets.token_hex(8),
            flood_limit=flood_limit,
        )
        return _with_people(line)
    # The assistant is no way around a block: a blocked visitor gets no answer and no hand-over.
    blocks.refuse_if_blocked(session=session, channel=CHANNEL, customer_id=visitor.customer_id)
    channels.check_rate(session=session, key=f"chat-assistant:{visitor.public_id}", limit=rate_limit)
    conversation = assistant_conversation(session=session, visitor=visitor, start=True)
    assert conversation is not None  # started when missing
    return conversation.id


def answer_visitor(
    *, session: Session, visitor: ChatVisitor, conversation_id: int, thought: assistant.Thought
) -> AssistantTurn:
    """The last step: the assistant's answer, or the handover that opens the visitor's chat ticket."""
    opener = assistant_ticket_opener(session=session, visitor=visitor)
    conversation = assistant.get_conversation(session, conversation_id)
    reply = assistant.ask(session, conversation=conversation, thought=thought, open_ticket=opener)
    return _turn(reply, opener)


def assistant_outcome(*, session: Session, visitor: ChatVisitor, resolved: bool) -> AssistantTurn:
    """The visitor's verdict on the assistant's last answer (the second "no" hands over)."""
    conversation = assistant_conversation(session=session, visitor=visitor, start=False)
    if conversation is None:
        if visitor.ticket_id is not None:
            return _with_people()
        raise Conflict("ask the assistant a question first", code="no_assistant_conversation")
    opener = assistant_ticket_opener(session=session, visitor=visitor)
    reply = assistant.record_outcome(
        session, conversation=conversation, resolved=resolved, open_ticket=opener
    )
    return _turn(reply, opener)


def assistant_person(*, session: Session, visitor: ChatVisitor) -> AssistantTurn:
    """The visitor chose a person: always possible. Before any question nothing opens yet (a ticket
    without a word in it helps nobody); the visitor's first line opens it."""
    if visitor.ticket_id is not None:
        return _with_people()
    conversation = assistant_conversation(session=session, visitor=visitor, start=False)
    if conversation is None:
        return AssistantTurn(answer=NO_QUESTION_YET, handover=True, reason="customer_choice")
    opener = assistant_ticket_opener(session=session, visitor=visitor)
    reply = assistant.choose_person(session, conversation=conversation, open_ticket=opener)
    return _turn(reply, opener)


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
    """A message as the widget and the agents' connections receive it (``kind`` "transcript": the
    visitor's conversation with the assistant, handed over to people)."""
    meta = message.channel_meta or {}
    return {
        "type": "message",
        "id": message.id,
        "ticket_id": message.ticket_id,
        "author": "customer" if message.author_type is AuthorType.customer else "agent",
        "body": message.body_text,
        "at": message.created_at.isoformat(),
        "client_id": client_id or meta.get("client_id"),
        "kind": "transcript" if meta.get("assistant_conversation") else "line",
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
