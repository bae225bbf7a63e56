"""Shapes of customers and identities in the API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from ombud.customers.models import IdentityKind
from ombud.tickets.ratings import SatisfactionHistory
from ombud.validation import CleanText, JsonDocument, Name, check_text


class CustomerRef(BaseModel):
    """How a request names a customer: at least one identity; found by it, or created."""

    model_config = ConfigDict(extra="forbid")

    email: CleanText | None = Field(default=None, max_length=320)
    phone: CleanText | None = Field(default=None, max_length=40)
    handle: CleanText | None = Field(default=None, max_length=200)
    visitor: CleanText | None = Field(default=None, max_length=100)
    name: Name | None = None

    @model_validator(mode="after")
    def _needs_identity(self) -> CustomerRef:
        if not any((self.email, self.phone, self.handle, self.visitor)):
            raise ValueError("give at least one of email, phone, handle or visitor")
        return self

    def identities(self) -> list[tuple[IdentityKind, str]]:
        """Return the identities in the order they are tried: email, phone, handle, visitor."""
        pairs = [
            (IdentityKind.email, self.email),
            (IdentityKind.phone, self.phone),
            (IdentityKind.handle, self.handle),
            (IdentityKind.visitor, self.visitor),
        ]
        return [(kind, value) for kind, value in pairs if value]


class IdentityPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: IdentityKind
    value: str
    created_at: dt.datetime


class OrganisationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    domain: str | None


# A customer's service tier: a short lowercase word the company chooses (standard, premium, vip...).
Tier = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$"),
    Field(description="Service tier, e.g. standard, premium, vip: lowercase letters, digits, - and _."),
]


class CustomerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    tier: str
    organisation: OrganisationPublic | None
    preferences: dict[str, Any]
    notes: str
    identities: list[IdentityPublic]
    merged_into_id: int | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_id: int = Field(ge=1, le=2**62, description="The customer to merge into this one.")


class MergePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    target_id: int
    source_id: int
    moved: dict[str, Any] = Field(
        description="rows: the ids moved, by table; filled: target fields taken over"
    )
    merged_by_id: int | None
    created_at: dt.datetime
    undone_at: dt.datetime | None


class CustomerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    notes: CleanText | None = Field(default=None, max_length=20_000)
    preferences: JsonDocument | None = None
    tier: Tier | None = None
    organisation: Name | None = Field(default=None, description="Organisation name; created if new.")


class TimelineItem(BaseModel):
    """One entry of a customer's timeline: a message or an event."""

    type: str  # "message" | "event"
    id: int
    at: dt.datetime
    ticket_id: int | None
    channel: str | None = None
    author_type: str | None = None
    internal: bool | None = None
    body: str | None = None
    action: str | None = None
    actor_type: str | None = None
    actor_id: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class TimelinePage(BaseModel):
    items: list[TimelineItem]
    next_cursor: str | None


# -- purchases ---------------------------------------------------------------------------------------------
PurchaseKind = Literal["product", "plan", "service"]
# A few minutes of grace: the shop's clock and ours are not the same clock.
CLOCK_SKEW = dt.timedelta(minutes=5)


class PurchaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
        AfterValidator(check_text),
    ]
    kind: PurchaseKind = "product"
    order_number: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
            AfterValidator(check_text),
        ]
        | None
    ) = None
    amount: float | None = Field(default=None, ge=0, allow_inf_nan=False, le=1e12)
    currency: str | None = Field(default=None, description="ISO 4217, e.g. EUR; required with an amount.")
    purchased_at: AwareDatetime

    @model_validator(mode="after")
    def _check(self) -> PurchaseCreate:
        if self.amount is not None and (
            self.currency is None
            or len(self.currency) != 3
            or not (self.currency.isascii() and self.currency.isalpha() and self.currency.isupper())
        ):
            raise ValueError("give the currency of the amount as 3 upper-case letters (ISO 4217), e.g. EUR")
        if self.amount is None and self.currency is not None:
            raise ValueError("a currency needs an amount")
        if self.purchased_at > dt.datetime.now(dt.UTC) + CLOCK_SKEW:
            raise ValueError("purchased_at is in the future")
        return self


class PurchasePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    customer_id: int
    product: str
    kind: str
    order_number: str | None
    amount: float | None
    currency: str | None
    purchased_at: dt.datetime
    created_at: dt.datetime


# -- the customer 360 --------------------------------------------------------------------------------------
class ProfileSummary(BaseModel):
    name: str
    organisation: str | None
    tier: str
    notes: str
    created_at: dt.datetime
    tenure_days: int
    merged_into_id: int | None


class PastTicket(BaseModel):
    id: int
    subject: str
    channel: str
    status: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    outcome: str = Field(description="resolved (solved or closed) or open")
    rating: int | None


class TicketCounts(BaseModel):
    open: int
    last_90_days: int
    total: int
    repeat_intents: dict[str, int] = Field(
        description="Intents the customer raised on 2 or more tickets in the last 90 days, with the count"
    )


class Mood(BaseModel):
    """What triage read in the customer's latest triaged message."""

    frustration: float
    emotion: str | None
    sentiment: float
    abusive: bool
    at: dt.datetime
    ticket_id: int


class Offer(BaseModel):
    product: str
    kind: str
    customers: int = Field(description="How many similar customers bought it after a resolved concern")
    lift: float = Field(description="How much likelier among them than among similar customers overall")
    intents: list[str]
    via_products: list[str]
    evidence: str


class OfferDecision(BaseModel):
    offer: Offer | None
    reason: str = Field(
        description="offered, concerns_open, customer_upset, no_history, no_evidence, or pending (worked "
        "out in the background after the customer's next resolved ticket or purchase)"
    )


class Customer360(BaseModel):
    """Everything the workspace shows beside a ticket about its customer (staff only)."""

    customer_id: int
    profile: ProfileSummary
    identities: dict[str, list[str]]
    preferences: dict[str, Any]
    purchases: list[PurchasePublic]
    products_owned: list[str]
    customer_value: float
    tickets: list[PastTicket]
    counts: TicketCounts
    satisfaction: SatisfactionHistory
    mood: Mood | None
    suggestion: OfferDecision
    timeline: TimelinePage


class ErasurePublic(BaseModel):
    """What erasing a customer did (docs/privacy.md): rows deleted and rows scrubbed, by table."""

    customer_id: int = Field(description="The customer asked for")
    customer_ids: list[int] = Field(description="It and every customer merged into it (the same person)")
    deleted: dict[str, int] = Field(description="Rows deleted, by table")
    scrubbed: dict[str, int] = Field(description="Rows kept but stripped of the person's details, by table")
