"""Abuse shielding: an agent does not have to read abuse to help the person behind it.

A customer message triage marked abusive is shown shielded in the workspace: its text stays out of the
page, and what the customer needs (their concerns, with the abusive words taken out) is shown instead.
Reading it anyway is a deliberate, audited step (:func:`reveal`). Two one-click answers go with it: a
calm public reply that states the conduct policy and still names the concern (:func:`conduct_reply`), and
an internal note that brings in the agent's leads (:func:`escalate`). Staff who serve customers may use
them; partners, advocates and customers never.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.customers import blocks
from ombud.customers import service as customers
from ombud.customers.models import SenderBlock
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound
from ombud.people.access import leads_of
from ombud.tickets import contact
from ombud.tickets import service as tickets
from ombud.tickets.inbox import mention_handle
from ombud.tickets.models import AuthorType, Message, Status, Ticket
from ombud.tickets.schemas import MessageCreate, TicketUpdate
from ombud.triage import cues
from ombud.triage import service as triage
from ombud.triage.models import MessageTriage

ESCALATED_TAG = "abuse-escalated"
LANGUAGES = ("en", "de", "fr", "es")
MAX_NEED_CHARS = 300
_EDGES = " \t\r\n,;:.!?-–—"  # noqa: RUF001 (dashes people type between an insult and the point)
# Insults a cue leaves behind ("You useless" matches; "idiots" follows it).
_INSULTS = re.compile(
    r"\b(?:idiots?|morons?|stupid|incompetent|useless|clowns?|pathetic|imbeciles?|losers?|worthless|scum|"
    r"bitch(?:es)?|bastards?|dumb|brainless|retard\w*|fucking|bloody|shit|crap)\b",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s{2,}")
_LOOSE_PUNCT = re.compile(r"\s+([,;:.!?])")


def _check_server(actor: Principal) -> None:
    if actor.kind != "user" or not actor.can_serve:
        raise Forbidden("only staff who serve customers may use abuse shielding", code="role_forbidden")


# -- what is shielded and what the customer needs ---------------------------------------------------------
def is_shielded(result: Mapping[str, Any] | None) -> bool:
    """True when the stored triage ``result`` marks the message abusive."""
    return bool(result and result.get("abusive"))


def _scrub(text: str, words: Sequence[str]) -> str:
    """``text`` without the abuse cues and the words the abuse model found offensive."""
    for cue in cues.ABUSE_CUES:
        text = cue.pattern.sub(" ", text)
    text = _INSULTS.sub(" ", text)
    for word in words:
        if word.strip():
            text = re.sub(rf"\b{re.escape(word.strip())}\b", " ", text, flags=re.IGNORECASE)
    text = _LOOSE_PUNCT.sub(r"\1", _SPACES.sub(" ", text))
    # What is left of "You useless idiots, my kettle leaks" starts with the comma.
    text = text.strip(_EDGES)
    return text[:1].upper() + text[1:] if text else ""


def scrub(text: str) -> str:
    """``text`` without abuse cues and insult words (a concern's text shown next to a shielded message)."""
    return _scrub(text, [])


def _offensive_words(result: Mapping[str, Any]) -> list[str]:
    """The words the abuse cues matched, from the stored explanation. Not the model's cue words: those
    are its most telling words either way ("a week", "nobody"), and taking them out garbles the concern."""
    explained = (result.get("explanations") or {}).get("abuse") or {}
    words: list[str] = []
    for fired in explained.get("cues") or []:
        if isinstance(fired, dict) and isinstance(fired.get("words"), str):
            words.append(fired["words"])
    return words


def _clean_concerns(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(intent label, concern text without the abusive words) for each concern triage found."""
    words = _offensive_words(result)
    out = []
    for concern in result.get("concerns") or []:
        text = _scrub(str(concern.get("text") or ""), words)
        if len(text) > MAX_NEED_CHARS:
            text = text[: MAX_NEED_CHARS - 1].rstrip() + "…"
        intents = concern.get("intents") or []
        label = str(intents[0].get("label") or "").replace("_", " ") if intents else ""
        out.append((label, text))
    return out


def needs_of(result: Mapping[str, Any] | None) -> list[str]:
    """Return what the customer needs, one line per concern triage found, without the abusive words:
    "product defect: my AirBrew 2 has leaked for a week and nobody answers"."""
    needs: list[str] = []
    for label, text in _clean_concerns(result or {}):
        line = f"{label}: {text}" if label and text else (label or text)
        if line and line not in needs:
            needs.append(line)
    return needs


@dataclass(frozen=True)
class Shield:
    """One shielded message: its id and what the customer needs."""

    message_id: int
    needs: list[str]


def shields_for(*, session: Session, messages: Sequence[Message]) -> dict[int, Shield]:
    """Return the shield of each customer message in ``messages`` that triage marked abusive."""
    ids = [m.id for m in messages if m.author_type == AuthorType.customer and not m.internal]
    results = triage.results_for(session=session, message_ids=ids)
    return {
        message_id: Shield(message_id=message_id, needs=needs_of(result))
        for message_id, result in results.items()
        if is_shielded(result)
    }


def abusive_message_ids(*, session: Session, customer_id: int) -> set[int]:
    """Return the ids of the customer's messages triage marked abusive (the timeline hides their text)."""
    return set(
        session.scalars(
            select(MessageTriage.message_id).where(
                MessageTriage.customer_id == customer_id, MessageTriage.abusive.is_(True)
            )
        )
    )


def _message_of(*, session: Session, ticket: Ticket, message_id: int) -> Message:
    message = session.scalar(
        select(Message).options(selectinload(Message.attachments)).where(Message.id == message_id)
    )
    if message is None or message.ticket_id != ticket.id:
        raise NotFound(f"no message {message_id} on ticket {ticket.id}", code="message_not_found")
    return message


# -- reveal -----------------------------------------------------------------------------------------------
def reveal(*, session: Session, actor: Principal, ticket_id: int, message_id: int) -> Message:
    """Return the message to show in full, after recording that ``actor`` chose to read it."""
    _check_server(actor)
    ticket = tickets.access_ticket(session=session, principal=actor, ticket_id=ticket_id)
    message = _message_of(session=session, ticket=ticket, message_id=message_id)
    shielded = is_shielded(triage.results_for(session=session, message_ids=[message.id]).get(message.id))
    audit.record(
        session=session,
        actor=actor,
        action="message.revealed",
        entity_type="message",
        entity_id=message.id,
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        after={"shielded": shielded},
        publish=False,
    )
    return message


# -- the conduct reply ------------------------------------------------------------------------------------
# {greeting} is "Hello Ana," or "Hello,"; {concern} a sentence naming what they wrote about (or nothing);
# {policy} the link sentence (or nothing); {agent} the agent's name.
CONDUCT_REPLIES: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hello {name},",
        "greeting_anonymous": "Hello,",
        "concern": ' You wrote to us about: "{concern}".',
        "policy": " You can read our conduct policy here: {url}",
        "body": (
            "{greeting}\n\n"
            "I am sorry this has been so frustrating, and I want to help you.{concern} "
            "I am looking into it now and will keep you updated.\n\n"
            "To do that, I ask you to keep our conversation respectful: our conduct policy does not allow "
            "insults or threats towards our team, and messages like that may be set aside.{policy}\n\n"
            "Let's solve this together.\n\n"
            "Kind regards,\n{agent}"
        ),
    },
    "de": {
        "greeting": "Hallo {name},",
        "greeting_anonymous": "Guten Tag,",
        "concern": " Sie haben uns geschrieben: „{concern}“.",
        "policy": " Unsere Verhaltensrichtlinie finden Sie hier: {url}",
        "body": (
            "{greeting}\n\n"
            "es tut mir leid, dass das so ärgerlich für Sie ist, und ich möchte Ihnen helfen.{concern} "
            "Ich kümmere mich jetzt darum und halte Sie auf dem Laufenden.\n\n"
            "Dafür bitte ich Sie um einen respektvollen Umgangston: Unsere Verhaltensrichtlinie erlaubt "
            "keine Beleidigungen oder Drohungen gegenüber unserem Team, und solche Nachrichten können "
            "zurückgestellt werden.{policy}\n\n"
            "Lassen Sie uns das gemeinsam lösen.\n\n"
            "Freundliche Grüße\n{agent}"
        ),
    },
    "fr": {
        "greeting": "Bonjour {name},",
        "greeting_anonymous": "Bonjour,",
        "concern": " Vous nous avez écrit au sujet de : « {concern} ».",
        "policy": " Vous pouvez lire notre charte de conduite ici : {url}",
        "body": (
            "{greeting}\n\n"
            "Je suis désolé(e) que la situation soit si pénible et je veux vous aider.{concern} "
            "Je m'en occupe maintenant et je vous tiens informé(e).\n\n"
            "Pour cela, je vous demande de garder un ton respectueux : notre charte de conduite n'accepte ni "
            "insultes ni menaces envers notre équipe, et de tels messages peuvent être mis de côté."
            "{policy}\n\n"
            "Réglons cela ensemble.\n\n"
            "Cordialement,\n{agent}"
        ),
    },
    "es": {
        "greeting": "Hola {name}:",
        "greeting_anonymous": "Hola:",
        "concern": " Nos escribió sobre: «{concern}».",
        "policy": " Puede leer nuestra política de conducta aquí: {url}",
        "body": (
            "{greeting}\n\n"
            "Siento que esto esté siendo tan frustrante y quiero ayudarle.{concern} "
            "Me estoy ocupando ahora y le mantendré informado.\n\n"
            "Para ello, le pido que mantengamos una conversación respetuosa: nuestra política de conducta no "
            "permite insultos ni amenazas hacia nuestro equipo, y esos mensajes pueden quedar apartados."
            "{policy}\n\n"
            "Resolvámoslo juntos.\n\n"
            "Un saludo,\n{agent}"
        ),
    },
}


def _concern_for(*, session: Session, ticket: Ticket, actor: Principal) -> str:
    """What the customer's latest message with a concern asks about (abusive words out), or ""."""
    messages = [
        m
        for m in tickets.list_messages(session=session, ticket=ticket, principal=actor)
        if m.author_type == AuthorType.customer and not m.internal
    ]
    results = triage.results_for(session=session, message_ids=[m.id for m in messages])
    for message in reversed(messages):
        for _, text in _clean_concerns(results.get(message.id) or {}):
            if text:
                return text
    return ""


def conduct_text(*, language: str, name: str, concern: str, agent: str, policy_url: str | None) -> str:
    """Return the conduct reply in ``language`` (English for one without a template)."""
    words = CONDUCT_REPLIES.get(language, CONDUCT_REPLIES["en"])
    first = name.strip().split()[0] if name.strip() else ""
    greeting = contact.fill(words["greeting"], {"name": first}) if first else words["greeting_anonymous"]
    return contact.fill(
        words["body"],
        {
            "greeting": greeting,
            "concern": contact.fill(words["concern"], {"concern": concern}) if concern else "",
            "policy": contact.fill(words["policy"], {"url": policy_url}) if policy_url else "",
            "agent": agent,
        },
    )


def conduct_reply(
    *,
    session: Session,
    actor: Principal,
    ticket_id: int,
    limits: tickets.Limits,
    policy_url: str | None = None,
) -> Message:
    """Post the conduct reply on ``ticket_id`` as ``actor``: a public reply in the customer's language
    that names their concern, states the conduct policy and offers to go on helping."""
    _check_server(actor)
    ticket = tickets.access_ticket(session=session, principal=actor, ticket_id=ticket_id)
    if ticket.status == Status.closed:
        raise Conflict(f"ticket {ticket.id} is closed; open a new ticket instead", code="ticket_closed")
    language = contact.language_of(session=session, ticket_ids=[ticket.id], known=LANGUAGES, default="en")
    name = customers.names_of(session=session, customer_ids=[ticket.customer_id]).get(ticket.customer_id, "")
    assert actor.id is not None
    agent = accounts.access_user(session=session, user_id=actor.id).name
    body = conduct_text(
        language=language,
        name=name,
        concern=_concern_for(session=session, ticket=ticket, actor=actor),
        agent=agent,
        policy_url=policy_url,
    )
    message = tickets.add_message(
        session=session, ticket=ticket, data=MessageCreate(body=body), actor=actor, limits=limits
    )
    audit.record(
        session=session,
        actor=actor,
        action="abuse.conduct_reply",
        entity_type="message",
        entity_id=message.id,
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        after={"language": language},
        publish=False,
    )
    return message


# -- escalate to a lead -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Escalation:
    ticket_id: int
    note_id: int | None  # None: it was escalated already, nothing new was written
    lead_ids: list[int]
    already: bool


def _leads_for(*, session: Session, actor: Principal) -> list[int]:
    assert actor.id is not None
    mine = list(leads_of(session=session, user_id=actor.id))
    if mine:
        return mine
    # Nobody leads a team of theirs: every active lead (but the actor) hears of it.
    return [
        u.id
        for u in accounts.list_users(session=session)
        if u.role == Role.lead and u.active and u.id != actor.id
    ]


def escalate(*, session: Session, actor: Principal, ticket_id: int, limits: tickets.Limits) -> Escalation:
    """Bring in the agent's leads: an internal note @mentioning them, and the tag ``abuse-escalated``.
    Once per ticket while it is open: a second call changes nothing and says so."""
    _check_server(actor)
    ticket = tickets.access_ticket(session=session, principal=actor, ticket_id=ticket_id)
    if ticket.status == Status.closed:
        raise Conflict(f"ticket {ticket.id} is closed; open a new ticket instead", code="ticket_closed")
    lead_ids = _leads_for(session=session, actor=actor)
    if ESCALATED_TAG in ticket.tag_names and ticket.status != Status.solved:
        return Escalation(ticket_id=ticket.id, note_id=None, lead_ids=lead_ids, already=True)
    users = {u.id: u for u in accounts.list_users(session=session)}
    mentions = " ".join(f"@{mention_handle(users[i].email)}" for i in lead_ids if i in users)
    me = users.get(actor.id or 0)
    shields = shields_for(
        session=session,
        messages=tickets.list_messages(session=session, ticket=ticket, principal=actor),
    )
    needs = [need for shield in shields.values() for need in shield.needs][-3:]
    lines = [
        f"{mentions or 'Leads'}: {me.name if me else 'An agent'} asks for a lead on this conversation: the "
        "customer is abusive towards our team.",
    ]
    if needs:
        lines.append("What they need: " + "; ".join(needs))
    lines.append("Please take it over or advise; the abusive messages stay shielded until revealed.")
    note = tickets.add_message(
        session=session,
        ticket=ticket,
        data=MessageCreate(body="\n".join(lines), internal=True),
        actor=actor,
        limits=limits,
    )
    if ESCALATED_TAG not in ticket.tag_names:
        tickets.update_ticket(
            session=session,
            ticket=ticket,
            changes=TicketUpdate(tags=[*ticket.tag_names, ESCALATED_TAG]),
            actor=actor,
        )
    audit.record(
        session=session,
        actor=actor,
        action="abuse.escalated",
        entity_type="ticket",
        entity_id=ticket.id,
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        after={"lead_ids": lead_ids, "note_id": note.id},
        publish=False,
    )
    return Escalation(ticket_id=ticket.id, note_id=note.id, lead_ids=lead_ids, already=False)


# -- block the sender from the ticket ---------------------------------------------------------------------
def block_sender(
    *,
    session: Session,
    actor: Principal,
    ticket_id: int,
    target: str,
    reason: str,
    expires_at: dt.datetime | None,
) -> SenderBlock:
    """Block the ticket's customer (``target`` "customer") or one of their values ("email:a@b.example",
    "domain:@b.example", "phone:+44...", "handle:..."): the ticket page's "Block this sender"."""
    blocks.check_blocker(actor)  # an agent hears "not your role", not what is wrong with the form
    ticket = tickets.access_ticket(session=session, principal=actor, ticket_id=ticket_id)
    kind, _, value = target.partition(":")
    fields: dict[str, Any] = {"reason": reason, "expires_at": expires_at, "ticket_id": ticket.id}
    if target == "customer":
        fields["customer_id"] = ticket.customer_id
    elif kind in ("email", "domain", "phone", "handle") and value:
        fields.update(kind=kind, value=value)
    else:
        raise InvalidInput("choose whom to block", code="invalid_block")
    try:
        data = blocks.BlockCreate.model_validate(fields)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(
            f"{field}: {first['msg']}", code="invalid_block", details={"field": field}
        ) from None
    return blocks.create_block(session=session, actor=actor, data=data)


def create_block(*, session: Session, actor: Principal, data: blocks.BlockCreate) -> SenderBlock:
    """Create a block through the API: the ticket it names must be one ``actor`` may see (a ticket id
    that does not exist is a 404, not a broken reference)."""
    if data.ticket_id is not None:
        blocks.check_blocker(actor)
        tickets.access_ticket(session=session, principal=actor, ticket_id=data.ticket_id)
    return blocks.create_block(session=session, actor=actor, data=data)
