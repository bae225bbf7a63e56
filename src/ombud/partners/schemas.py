"""The public shapes of the field partner network: partners, technicians, work orders, slots, updates,
photos, scorecards and feedback. What the customer may see of a work order is ``WorkOrderCustomerView``;
what a partner may see of the customer is ``VisitView``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ombud.partners.models import FeedbackKind, FeedbackState, WorkOrderKind, WorkOrderStatus
from ombud.validation import check_text

# Storable text only (no NUL, no lone surrogates): PostgreSQL refuses them.
Clean = AfterValidator(check_text)

BigId = Annotated[int, Field(ge=1, le=2**63 - 1)]
Name = Annotated[str, Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[
    str, Clean, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=100)
]
# {"mon": [["08:00", "17:00"]], ...}
WorkingHours = dict[str, list[list[str]]]
Outcome = Annotated[str, Field(pattern="^(fixed|not_fixed)$", description="fixed or not_fixed.")]


# -- partners and technicians --------------------------------------------------------------------------------
class PartnerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    email: Annotated[str, Clean, Field(max_length=320)] | None = None
    phone: Annotated[str, Clean, Field(max_length=50)] | None = None
    notes: Annotated[str, Clean, Field(max_length=5000)] = ""
    active: bool = True


class PartnerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    email: Annotated[str, Clean, Field(max_length=320)] | None = None
    phone: Annotated[str, Clean, Field(max_length=50)] | None = None
    notes: Annotated[str, Clean, Field(max_length=5000)] | None = None
    active: bool | None = None


class PartnerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str | None
    phone: str | None
    active: bool
    notes: str
    created_at: dt.datetime


class TechnicianSet(BaseModel):
    """Make a partner-role user a technician of a partner, or change their skills and calendar."""

    model_config = ConfigDict(extra="forbid")

    partner_id: BigId
    skills: Annotated[list[Tag], Field(max_length=50)] = []
    areas: Annotated[list[Tag], Field(max_length=200)] = Field(
        default=[], description='Postcode prefixes ("10", "sw1") or region names, lower case.'
    )
    capacity_per_day: Annotated[int, Field(ge=1, le=50)] = 4
    working_hours: WorkingHours = Field(
        default={}, description='{"mon": [["08:00", "17:00"]], ...}; a day not listed is a day off.'
    )
    timezone: Annotated[str, Clean, Field(min_length=1, max_length=64)] = "UTC"
    active: bool = True


class TechnicianPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: int
    partner_id: int
    name: str = ""
    email: str = ""
    skills: list[str]
    areas: list[str]
    capacity_per_day: int
    working_hours: WorkingHours
    timezone: str
    active: bool


class TimeOffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: Annotated[str, Clean, Field(max_length=200)] = ""


class TimeOffPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str


# -- work orders ---------------------------------------------------------------------------------------------
class WorkOrderCreate(BaseModel):
    """A field job from a ticket's concern; address, postcode, region and phone default to the customer's."""

    model_config = ConfigDict(extra="forbid")

    kind: WorkOrderKind
    skill: Annotated[Tag | None, Field(description="The skill needed; by default the kind.")] = None
    summary: Annotated[str, Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
    concern_id: BigId | None = None
    address: Annotated[str, Clean, Field(max_length=1000)] | None = None
    postcode: Annotated[str, Clean, Field(max_length=20)] | None = None
    region: Annotated[str, Clean, Field(max_length=100)] | None = None
    contact_phone: Annotated[str, Clean, Field(max_length=50)] | None = None
    repeat_of_id: BigId | None = None


class Slot(BaseModel):
    start: dt.datetime
    end: dt.datetime


class WorkOrderPublic(BaseModel):
    """The whole work order, for staff and for the partner it is dispatched to."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ticket_id: int
    customer_id: int
    concern_id: int | None
    kind: WorkOrderKind
    status: WorkOrderStatus
    skill: str
    summary: str
    address: str
    postcode: str
    region: str
    contact_phone: str | None
    partner_id: int | None
    technician_id: int | None
    declined_by: list[int]
    dispatch_reason: str
    offered_slots: list[Slot]
    slot_start: dt.datetime | None
    slot_end: dt.datetime | None
    due_at: dt.datetime | None
    repeat_of_id: int | None
    outcome: str | None
    parts_used: list[PartUsed]
    rating: int | None
    rating_comment: str
    created_at: dt.datetime
    updated_at: dt.datetime
    accepted_at: dt.datetime | None
    arrived_at: dt.datetime | None
    completed_at: dt.datetime | None
    closed_at: dt.datetime | None
    reminded_at: dt.datetime | None


class WorkOrderCustomerView(BaseModel):
    """What the customer sees of a work order on their own ticket."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ticket_id: int
    kind: WorkOrderKind
    status: WorkOrderStatus
    summary: str
    offered_slots: list[Slot]
    slot_start: dt.datetime | None
    slot_end: dt.datetime | None
    outcome: str | None
    rating: int | None
    rating_comment: str
    technician_first_name: str | None = None
    partner_name: str | None = None


class WorkOrderPage(BaseModel):
    items: list[WorkOrderPublic]
    next_cursor: str | None


class VisitView(BaseModel):
    """Exactly what a partner may see for a visit: the work order and the customer details it needs."""

    work_order: WorkOrderPublic
    customer_name: str
    contact_phone: str | None
    address: str
    postcode: str
    region: str
    concern_summary: str
    partner_name: str | None
    technician_name: str | None


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    technician_id: BigId | None = Field(None, description="One of the partner's technicians; default: you.")


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class OptionalReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Clean, Field(max_length=2000)] = ""


class SlotsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slots: Annotated[list[Slot] | None, Field(max_length=20)] = Field(
        None, description="The slots to offer; by default the next free ones from the technician's calendar."
    )


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: dt.datetime


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: WorkOrderStatus
    note: Annotated[str, Clean, Field(max_length=5000)] = ""
    outcome: Outcome | None = None


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=10000)]


class PartUsed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    part: Annotated[str, Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    quantity: Annotated[int, Field(ge=1, le=10000)] = 1


class PartsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parts: Annotated[list[PartUsed], Field(min_length=1, max_length=100)]


class PhotoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: Annotated[str, Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    content_type: Annotated[str, Clean, Field(max_length=100)]
    content_base64: Annotated[
        str, Clean, Field(description="The image, base64-encoded (at most 10 MB decoded).")
    ]


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, Clean, Field(max_length=5000)] = ""


class WorkOrderUpdatePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    work_order_id: int
    author_user_id: int | None
    kind: str
    status_from: str | None
    status_to: str | None
    body: str
    customer_told: bool
    created_at: dt.datetime


class WorkOrderPhotoPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    work_order_id: int
    uploaded_by_id: int | None
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: dt.datetime


# -- scorecards ----------------------------------------------------------------------------------------------
class Scorecard(BaseModel):
    partner_id: int
    partner_name: str
    days: int
    since: dt.datetime
    completed: int = Field(description="Work orders completed in the period.")
    fixed: int
    first_time_fix_rate: float | None = Field(
        description="Completed fixed visits with no repeat visit within 30 days / completed."
    )
    on_time_rate: float | None = Field(description="Visits arrived at by the end of the confirmed slot.")
    on_time: int
    arrivals: int
    visit_satisfaction: float | None = Field(description="Mean visit rating 1..5.")
    ratings: int
    repeat_visits: int
    repeat_rate: float | None
    declined: int
    late: int = Field(description="Completed after due_at, or still open past it.")
    average_hours_to_complete: float | None
    open_work_orders: int


# -- feedback ------------------------------------------------------------------------------------------------
class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: FeedbackKind
    subject: Annotated[str, Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    body: Annotated[str, Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=10000)]
    work_order_id: BigId | None = None
    partner_id: BigId | None = Field(None, description="Staff only: the partner it is from.")


class FeedbackReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=10000)]
    close: bool = Field(False, description="Staff only: close it with this answer.")


class FeedbackPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    partner_id: int
    author_user_id: int | None
    kind: FeedbackKind
    subject: str
    body: str
    work_order_id: int | None
    state: FeedbackState
    created_at: dt.datetime
    updated_at: dt.datetime


class FeedbackReplyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    feedback_id: int
    author_user_id: int | None
    body: str
    created_at: dt.datetime


WorkOrderPublic.model_rebuild()
