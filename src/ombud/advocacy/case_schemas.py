"""Pydantic shapes of departments, advocacy cases, the tickets they cover and their notices."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ombud.advocacy.models import CaseStatus, NoticeState
from ombud.errors import InvalidInput
from ombud.storage.base import MAX_ID
from ombud.webhooks.service import check_url

# A database id: positive and within a signed 64-bit integer.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
MAX_URL = 2000


def _link(value: str) -> str:
    """An absolute http(s) URL (the tracker's link is shown to staff as a link: nothing else may pass)."""
    try:
        return check_url(value)
    except InvalidInput as error:
        raise ValueError(error.message.replace("url must", "must")) from None


TrackerUrl = Annotated[str, Field(max_length=MAX_URL), AfterValidator(_link)]


class DepartmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(default="product", min_length=1, max_length=40)
    description: str = Field(default="", max_length=5000)
    owner_ids: list[Id] = Field(default_factory=list, max_length=50)
    notify_email: str | None = Field(default=None, max_length=320)
    webhook_endpoint_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    intents: list[str] = Field(default_factory=list, max_length=100)


class DepartmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    kind: str | None = Field(default=None, min_length=1, max_length=40)
    description: str | None = Field(default=None, max_length=5000)
    owner_ids: list[Id] | None = Field(default=None, max_length=50)
    notify_email: str | None = Field(default=None, max_length=320)
    webhook_endpoint_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    intents: list[str] | None = Field(default=None, max_length=100)


class DepartmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    description: str
    owner_ids: list[int]
    notify_email: str | None
    webhook_endpoint_id: int | None
    intents: list[str]
    secret_hint: str = Field(description="The last four characters of the inbound secret.")
    created_at: dt.datetime
    updated_at: dt.datetime


class DepartmentWithSecret(DepartmentPublic):
    inbound_secret: str = Field(description="Signs the tracker's status callbacks. Shown only this once.")


class CaseIn(BaseModel):
    """Open a case from a theme (title and summary default from it) or by hand (title and tickets)."""

    model_config = ConfigDict(extra="forbid")

    theme_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    summary: str | None = Field(default=None, max_length=20000)
    department_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    owner_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    workaround: str = Field(default="", max_length=5000)
    notify_segment: bool = False
    segment: dict[str, str] = Field(default_factory=dict, description="tier, product and/or region.")
    ticket_ids: list[Id] = Field(default_factory=list, max_length=1000)
    external_ref: str | None = Field(default=None, max_length=200)


class CaseUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    summary: str | None = Field(default=None, max_length=20000)
    department_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    owner_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    workaround: str | None = Field(default=None, max_length=5000)
    fix_note: str | None = Field(default=None, max_length=5000)
    notify_segment: bool | None = None
    segment: dict[str, str] | None = None
    external_ref: str | None = Field(default=None, max_length=200)
    external_url: TrackerUrl | None = None


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: CaseStatus
    fix_note: str | None = Field(default=None, max_length=5000)
    comment: str = Field(default="", max_length=5000)


class TellIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fix_note: str | None = Field(
        default=None, max_length=5000, description="The note customers receive; the case's when left out."
    )


class TicketsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_ids: list[Id] = Field(min_length=1, max_length=1000)


class TrackerCallback(BaseModel):
    """What an outside tracker posts to /advocacy/departments/{id}/tracker."""

    model_config = ConfigDict(extra="ignore")

    case_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    external_ref: str | None = Field(default=None, max_length=200)
    state: Literal["acknowledged", "in_progress", "fixed", "closed"]
    url: TrackerUrl | None = None
    fix_note: str | None = Field(default=None, max_length=5000)
    comment: str = Field(default="", max_length=5000)


class CaseTicketPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ticket_id: int
    customer_id: int
    via: str
    joined_at: dt.datetime
    subject: str = ""
    status: str = ""


class NoticePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    ticket_id: int | None
    channel: str
    state: NoticeState
    reason: str
    message_id: int | None
    attempts: int
    retry_at: dt.datetime | None
    sent_at: dt.datetime | None
    created_at: dt.datetime


class CasePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    summary: str
    status: CaseStatus
    theme_id: int | None
    department_id: int | None
    owner_id: int | None
    workaround: str
    fix_note: str
    notify_segment: bool
    segment: dict[str, Any]
    external_ref: str | None
    external_url: str | None
    created_by_id: int | None
    opened_at: dt.datetime
    fixed_at: dt.datetime | None
    tell_started_at: dt.datetime | None = Field(
        default=None, description="When customers started to be told; None while a tracker's fix awaits it."
    )
    told_at: dt.datetime | None
    verified_at: dt.datetime | None
    verify_due_at: dt.datetime | None
    updated_at: dt.datetime
    ticket_count: int = 0
    customer_count: int = 0


class CaseDetail(CasePublic):
    evidence: dict[str, Any]
    tickets: list[CaseTicketPublic] = Field(description="One page; ticket_count says how many in all.")
    tickets_next_offset: int | None = None
    notices: list[NoticePublic] = Field(description="One page; notice_counts says how many in each state.")
    notices_next_offset: int | None = None
    notice_counts: dict[str, int]


class CasePage(BaseModel):
    items: list[CasePublic]
    next_cursor: str | None


class TicketCaseInfo(BaseModel):
    """An open advocacy case a ticket belongs to, as an agent sees it on the ticket."""

    id: int
    title: str
    status: CaseStatus
    department: str | None
    workaround: str
    fix_note: str
