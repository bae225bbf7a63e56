"""The public shapes of resolutions, approvals, the policy and the negotiation helper's suggestions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ombud.resolutions.models import ResolutionStatus

Kind = Annotated[
    str,
    Field(
        pattern="^(refund|partial_refund|replacement|return|repair|billing_correction|credit|coupon|goodwill)$",
        description="refund, partial_refund, replacement, return, repair, billing_correction, credit, coupon "
        "or goodwill.",
    ),
]
Currency = Annotated[str, StringConstraints(pattern="^[A-Z]{3}$"), Field(description="ISO 4217, e.g. EUR.")]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1000000000"), max_digits=16, decimal_places=4)]
BigId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class ResolutionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    amount: Money = Field(description="The cost to the company: money paid back or the value of goods.")
    currency: Currency
    reason: Annotated[str, Field(max_length=50, description="One of the active policy's reasons.")]
    concern_id: BigId | None = None
    purchase_id: BigId | None = Field(None, description="The customer's purchase it relates to.")
    intent: Annotated[str | None, Field(max_length=100)] = Field(
        None, description="The customer's intent it answers; by default the ticket's latest triage."
    )
    note: Annotated[str, Field(max_length=5000)] = ""
    reference: Annotated[str | None, Field(max_length=200)] = Field(
        None, description="A return label, carrier or order-system reference."
    )
    approver_id: BigId | None = Field(
        None, description="Who approves it if it needs approval; by default the policy's approver."
    )
    apply: bool = Field(
        True,
        description="Apply at once when within policy (false: keep it as a proposal to the customer).",
    )


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Annotated[str, Field(max_length=5000)] = ""


class ApproveDecision(Decision):
    apply: bool = Field(True, description="Apply it at once (false: the proposer applies it later).")


class Callout(BaseModel):
    """One delivery of this resolution's events to a subscribed order or billing system."""

    id: int
    endpoint_id: int
    event_kind: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    finished_at: dt.datetime | None


class ResolutionPublic(BaseModel):
    id: int
    ticket_id: int
    concern_id: int | None
    customer_id: int
    purchase_id: int | None
    kind: str
    amount: Decimal
    currency: str
    base_amount: Decimal
    base_currency: str
    reason: str
    intent: str | None
    note: str
    status: ResolutionStatus
    rma_number: str | None
    reference: str | None
    policy_version: int | None
    policy_check: dict[str, Any]
    proposed_by_id: int | None
    approver_id: int | None
    decided_by_id: int | None
    decision_comment: str
    decided_at: dt.datetime | None
    applied_by_id: int | None
    applied_at: dt.datetime | None
    came_back_at: dt.datetime | None
    came_back_ticket_id: int | None
    created_at: dt.datetime
    callouts: list[Callout] = Field(
        default_factory=list,
        description="Deliveries of its events to outbound webhooks (only on GET /resolutions/{id}).",
    )


class ResolutionPage(BaseModel):
    items: list[ResolutionPublic]


class PolicyUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Annotated[str, Field(max_length=200_000, description="The policy, in TOML.")]
    comment: Annotated[str, Field(max_length=500)] = ""


class PolicyVersionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    version: int
    comment: str
    active: bool
    uploaded_by_id: int | None
    created_at: dt.datetime


class PolicyPublic(PolicyVersionPublic):
    source: str
    summary: dict[str, Any]


class Option(BaseModel):
    """One remedy the negotiation helper considered, and whether this agent may grant it now."""

    kind: str
    amount: Decimal
    currency: str
    reason: str
    label: str
    verdict: str = Field(description="now (within your limits), approval (needs an approver) or no.")
    why: list[str]


class Suggestion(BaseModel):
    ticket_id: int
    concern_id: int | None
    intent: str | None
    purchase_id: int | None
    best: Option | None
    options: list[Option]


class LedgerRow(BaseModel):
    id: int
    ticket_id: int
    concern_id: int | None
    customer_id: int
    kind: str
    amount: Decimal
    currency: str
    base_amount: Decimal
    base_currency: str
    reason: str
    intent: str | None
    status: ResolutionStatus
    granted_by_id: int | None
    approved_by_id: int | None
    applied_at: dt.datetime | None
    came_back: bool
    came_back_at: dt.datetime | None
    came_back_ticket_id: int | None


class LedgerPage(BaseModel):
    items: list[LedgerRow]
    total_base: Decimal
    base_currency: str | None
    came_back: int
