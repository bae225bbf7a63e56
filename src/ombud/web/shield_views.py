"""What the ticket page's shield panel reads: the shielded messages with what the customer needs, the
conduct reply and escalation buttons, and the customer's sender blocks (leads and admins block here)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.customers import blocks
from ombud.customers import service as customers
from ombud.people import shield
from ombud.tickets import service as tickets
from ombud.tickets.models import Ticket

# The expiry choices of the block form, in hours (0: until lifted).
EXPIRY_CHOICES = {"24h": 24, "7d": 24 * 7, "30d": 24 * 30, "permanent": 0}
EXPIRY_WORDS = {"24h": "24 hours", "7d": "7 days", "30d": "30 days", "permanent": "until lifted"}


def panel(*, session: Session, principal: Principal, ticket: Ticket) -> dict[str, Any]:
    """The shield panel's context; the message loop reads ``shields`` from it too."""
    if not principal.is_staff:
        return {"visible": False, "shields": {}, "hidden": set(), "scrub": None, "can_reveal": False}
    messages = tickets.list_messages(session=session, ticket=ticket, principal=principal)
    # Advocates read tickets too: the abuse stays hidden from them, with no way to reveal it.
    shields = shield.shields_for(session=session, messages=messages)
    can_reveal = principal.can_serve
    can_block = blocks.can_block(principal)
    targets: list[tuple[str, str]] = []
    if can_block:
        targets.append(("customer", "This customer (every address and number)"))
        for kind in ("email", "phone", "handle"):
            for value in customers.identity_values(
                session=session, customer_id=ticket.customer_id, kind=kind
            ):
                targets.append((f"{kind}:{value}", f"Only {value}"))
                if kind == "email":
                    domain = "@" + value.rpartition("@")[2]
                    targets.append((f"domain:{domain}", f"Everyone at {domain}"))
    return {
        "visible": (bool(shields) and can_reveal) or can_block,
        "shields": shields,
        "can_reveal": can_reveal,
        # Abusive messages on any of the customer's tickets: the customer 360's timeline hides their text.
        "hidden": shield.abusive_message_ids(session=session, customer_id=ticket.customer_id),
        # Concern texts quoted elsewhere on the page (the concerns panel, suggestions) go through this.
        "scrub": shield.scrub,
        "escalated": shield.ESCALATED_TAG in ticket.tag_names,
        "can_block": can_block,
        "targets": list(dict.fromkeys(targets)),
        "expiry": EXPIRY_WORDS,
        "blocks": [
            blocks.public(b)
            for b in blocks.blocks_of_customer(session=session, customer_id=ticket.customer_id)
        ],
    }
