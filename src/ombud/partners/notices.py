"""What the customer is told about their visit, in their language (en, de, fr, es): a public reply on their
ticket from ombud itself, so it goes out on the ticket's channel through the normal delivery jobs (as the
advocacy loop's notices do). Internal things (declines, visit notes, parts, photos) are never told.

Links point at the customer portal's ticket page, where the customer confirms a slot and rates the visit;
they are absolute once :func:`configure` got the public address (the job registration does it)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM
from ombud.errors import OmbudError
from ombud.tickets import contact
from ombud.tickets import service as tickets
from ombud.tickets.models import Status, Ticket
from ombud.tickets.schemas import MessageCreate

_BASE = {"url": ""}

WORDING: dict[str, dict[str, str]] = {
    "en": {
        "slots_offered": "We have arranged a visit for \u201c{summary}\u201d. Please choose one of these "
        "times:\n{slots}\nConfirm the time that suits you here: {link}",
        "scheduled": "Your visit is booked for {slot}. Our technician will come to {address}.",
        "rescheduled": "Your visit has a new time: {slot}.",
        "reminder": "A reminder: {technician} visits you tomorrow, {slot}.",
        "en_route": "{technician} is on the way to you now.",
        "completed_fixed": "The visit is done and the problem is fixed. How was it? Rate the visit here: "
        "{link}",
        "completed_not_fixed": "The visit is done, but the problem is not fixed yet. {note}We will arrange "
        "the next step and tell you. Rate the visit here: {link}",
        "cancelled": "The visit for \u201c{summary}\u201d is cancelled. {note}",
    },
    "de": {
        "slots_offered": "Wir haben einen Besuch f\u00fcr \u201e{summary}\u201c geplant. Bitte w\u00e4hlen "
        "Sie einen dieser Termine:\n{slots}\nBest\u00e4tigen Sie den passenden Termin hier: {link}",
        "scheduled": "Ihr Termin ist gebucht: {slot}. Unser Techniker kommt zu {address}.",
        "rescheduled": "Ihr Termin hat eine neue Zeit: {slot}.",
        "reminder": "Zur Erinnerung: {technician} besucht Sie morgen, {slot}.",
        "en_route": "{technician} ist jetzt auf dem Weg zu Ihnen.",
        "completed_fixed": "Der Besuch ist abgeschlossen und das Problem behoben. Wie war es? Bewerten Sie "
        "den Besuch hier: {link}",
        "completed_not_fixed": "Der Besuch ist abgeschlossen, aber das Problem ist noch nicht behoben. "
        "{note}Wir planen den n\u00e4chsten Schritt und melden uns. Bewerten Sie den Besuch hier: {link}",
        "cancelled": "Der Besuch f\u00fcr \u201e{summary}\u201c ist abgesagt. {note}",
    },
    "fr": {
        "slots_offered": "Nous avons pr\u00e9vu une visite pour \u00ab {summary} \u00bb. "
        "Choisissez l\u2019un de ces cr\u00e9neaux :\n{slots}\n"
        "Confirmez celui qui vous convient ici : {link}",
        "scheduled": "Votre visite est r\u00e9serv\u00e9e : {slot}. Notre technicien viendra \u00e0 "
        "{address}.",
        "rescheduled": "Votre visite a un nouvel horaire : {slot}.",
        "reminder": "Rappel : {technician} vient chez vous demain, {slot}.",
        "en_route": "{technician} est en route vers chez vous.",
        "completed_fixed": "La visite est termin\u00e9e et le probl\u00e8me est r\u00e9solu. Notez la visite "
        "ici : {link}",
        "completed_not_fixed": "La visite est termin\u00e9e, mais le probl\u00e8me n\u2019est pas encore "
        "r\u00e9solu. {note}Nous organisons la suite et vous tenons inform\u00e9. "
        "Notez la visite ici : {link}",
        "cancelled": "La visite pour \u00ab {summary} \u00bb est annul\u00e9e. {note}",
    },
    "es": {
        "slots_offered": "Hemos organizado una visita por \u00ab{summary}\u00bb. Elija uno de estos "
        "horarios:\n{slots}\nConfirme el que le convenga aqu\u00ed: {link}",
        "scheduled": "Su visita est\u00e1 reservada: {slot}. Nuestro t\u00e9cnico ir\u00e1 a {address}.",
        "rescheduled": "Su visita tiene un nuevo horario: {slot}.",
        "reminder": "Recordatorio: {technician} le visita ma\u00f1ana, {slot}.",
        "en_route": "{technician} est\u00e1 de camino.",
        "completed_fixed": "La visita ha terminado y el problema est\u00e1 resuelto. Valore la visita "
        "aqu\u00ed: {link}",
        "completed_not_fixed": "La visita ha terminado, pero el problema a\u00fan no est\u00e1 resuelto. "
        "{note}Organizaremos el siguiente paso y le avisaremos. Valore la visita aqu\u00ed: {link}",
        "cancelled": "La visita por \u00ab{summary}\u00bb est\u00e1 cancelada. {note}",
    },
}
THE_TECHNICIAN = {
    "en": "Our technician",
    "de": "Unser Techniker",
    "fr": "Notre technicien",
    "es": "Nuestro t\u00e9cnico",
}


def configure(*, base_url: str) -> None:
    """Make portal links absolute (``base_url`` is the public address of ombud)."""
    _BASE["url"] = base_url.rstrip("/")


def portal_link(ticket_id: int) -> str:
    return f"{_BASE['url']}/portal/tickets/{ticket_id}"


def format_slot(start: dt.datetime, end: dt.datetime, timezone: str) -> str:
    """A window in the technician's time zone, e.g. ``2026-12-07 10:00\u201312:00 (Europe/Berlin)``."""
    zone = ZoneInfo(timezone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    return f"{local_start:%Y-%m-%d %H:%M}\u2013{local_end:%H:%M} ({timezone})"


def language(*, session: Session, ticket_id: int) -> str:
    return contact.language_of(session=session, ticket_ids=[ticket_id], known=WORDING, default="en")


def tell(*, session: Session, ticket_id: int, key: str, values: dict[str, str]) -> bool:
    """Post the notice ``key`` on the ticket as a public reply; False when it cannot be told (the ticket
    is closed, or the channel refused the message); the work order change stands either way."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or ticket.status == Status.closed:
        return False
    lang = language(session=session, ticket_id=ticket_id)
    words = WORDING[lang]
    filled = {"link": portal_link(ticket_id), "note": "", "technician": THE_TECHNICIAN[lang], **values}
    if filled["note"] and not filled["note"].endswith(" "):
        filled["note"] += " "
    body = words[key].format(**filled).strip()
    try:
        with session.begin_nested():
            tickets.add_message(
                session=session,
                ticket=ticket,
                data=MessageCreate(body=body, internal=False),
                actor=SYSTEM,
                limits=tickets.Limits(),
            )
    except OmbudError:
        return False
    return True
