"""The seam every channel plugs into: an adapter per channel that sends a public agent reply out.

Inbound needs no registry: each channel's own entry point (the SMTP receiver, IMAP polling, a webhook
route) finds the customer and the ticket through the channels service. Outbound is generic: the delivery
job asks the adapter registered for the ticket's channel to ``prepare`` the outgoing message (reading the
database, no network) and then to ``send`` it (network, no database). Built-in adapters register through
the same :meth:`Channels.register` a plugin would use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session


class Undeliverable(Exception):
    """The reply can never go out as it is (no address, the relay refused the recipient): stop retrying."""


class TryLater(Exception):
    """The reply could not go out now (relay down, time-out): retry with backoff."""


@dataclass(frozen=True)
class Outbound:
    """A reply ready to send: to whom, the id the channel will know it by, and the adapter's payload."""

    message_id: int
    recipient: str
    ref: str | None
    payload: Any
    # The channel ``ref`` belongs to, when not the adapter's own (a chat reply that went out by email).
    channel: str | None = None


class Adapter(Protocol):
    name: str

    def prepare(self, *, session: Session, message_id: int) -> Outbound:
        """Return the reply ``message_id`` as this channel sends it; raise Undeliverable if it cannot."""
        ...

    def send(self, outbound: Outbound) -> None:
        """Send it; raise TryLater for a passing failure, Undeliverable for a final one."""
        ...


class Channels:
    """Which adapter delivers replies on tickets of which channel (a web form's replies go by email)."""

    def __init__(self) -> None:
        self._adapters: dict[str, Adapter] = {}

    def register(self, ticket_channel: str, adapter: Adapter) -> None:
        if ticket_channel in self._adapters:
            raise ValueError(f"an adapter for {ticket_channel!r} tickets is already registered")
        self._adapters[ticket_channel] = adapter

    def for_ticket_channel(self, ticket_channel: str) -> Adapter | None:
        return self._adapters.get(ticket_channel)

    @property
    def names(self) -> list[str]:
        return sorted(self._adapters)
