"""What the fairness lists return (ombud.advocacy.fairness and fairness_policy)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

GroupKind = Literal["theme", "intent"]


class Group(BaseModel):
    """What the concerns have in common: a theme, or for concerns no theme holds, their intent."""

    kind: GroupKind
    theme_id: int | None = None
    intent: str | None = None
    label: str
    url: str | None = Field(default=None, description="The theme's workspace page (themes only).")


class CurrencySpread(BaseModel):
    """The amounts a group's tickets received in one currency (tickets with an amount above zero)."""

    currency: str
    tickets: int
    median_minor: int = Field(description="The lower median, so an amount someone actually received.")
    min_minor: int
    max_minor: int
    spread_minor: int = Field(description="max - min.")
    median: str
    min: str
    max: str
    spread: str


class TicketFinding(BaseModel):
    ticket_id: int
    ticket_url: str
    subject: str
    customer_id: int
    customer_name: str
    customer_url: str = Field(description="The customer's 360 in the workspace, beside this ticket.")
    finding: Literal["nothing", "far_above", "far_below"]
    amount_minor: int = 0
    currency: str | None = None
    amount: str | None = None
    median: str | None = None
    ratio_to_median: float | None = None
    kinds: list[str] = Field(default_factory=list, description="Kinds of concession granted.")


class UnequalGroup(BaseModel):
    group: Group
    tickets_settled: int
    tickets_with_concession: int
    share_with_concession: float
    currencies: list[CurrencySpread]
    outliers_total: int
    outliers: list[TicketFinding]


class ContactTicket(BaseModel):
    ticket_id: int
    ticket_url: str
    subject: str
    status: str
    opened_at: dt.datetime
    contacts: int


class RepeatContact(BaseModel):
    customer_id: int
    customer_name: str
    customer_url: str = Field(description="The customer's 360 in the workspace, beside their latest ticket.")
    group: Group
    contacts: int
    tickets: list[ContactTicket]
    first_contact_at: dt.datetime
    last_contact_at: dt.datetime
    open_concerns: int


class PolicyExample(BaseModel):
    ticket_id: int
    ticket_url: str
    phrases: list[str]
    reply: str = Field(description="The agent's reply around the policy phrase.")
    replied_at: dt.datetime
    customer_next: str | None = Field(description="The customer's next message, if they wrote again.")
    frustration: float | None
    rating: int | None


class PolicyMisfit(BaseModel):
    group: Group
    policy_tickets: int = Field(description="Tickets with at least one agent reply citing policy.")
    policy_dissatisfied: int
    dissatisfied_share: float
    other_tickets: int = Field(description="The group's tickets without such a reply, for comparison.")
    other_dissatisfied: int
    other_share: float | None
    phrases: dict[str, int] = Field(description="How often each phrase was cited (tickets).")
    examples: list[PolicyExample]


T = TypeVar("T")


class FairnessPage(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int
    since: dt.datetime
    until: dt.datetime
    thresholds: dict[str, Any]
