"""Tables of the field partner network: partner companies, their technicians and calendars, work orders
with their updates, photos and reminders, and partners' feedback to the service organisation."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow


def _enum(kind: type[enum.Enum]) -> Enum:
    return Enum(kind, native_enum=False, length=20)


class Partner(Base):
    """A partner company (installers, repairers, delivery crews)."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(50))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Technician(Base):
    """A partner's technician: a user with the partner role, with skills, service areas, a daily capacity
    and working hours (the calendar; time off is in TechnicianTimeOff)."""

    __tablename__ = "partner_technicians"

    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    partner_id: Mapped[int] = mapped_column(Id, ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    # Work order kinds and products they can do: ["repair", "install", "airbrew"...], lower case.
    skills: Mapped[list[str]] = mapped_column(Json, default=list)
    # Postcode prefixes ("10", "SW1") or region names ("north"), lower case, where they go.
    areas: Mapped[list[str]] = mapped_column(Json, default=list)
    # Visits a day at most.
    capacity_per_day: Mapped[int] = mapped_column(Integer, default=4)
    # {"mon": [["08:00", "17:00"]], ...} in ``timezone``; a day not listed is a day off.
    working_hours: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TechnicianTimeOff(Base):
    __tablename__ = "partner_time_off"
    __table_args__ = (Index("ix_partner_time_off_user_starts", "user_id", "starts_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("partner_technicians.user_id", ondelete="CASCADE"))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")


class WorkOrderKind(enum.StrEnum):
    install = "install"
    repair = "repair"
    inspection = "inspection"
    replacement_delivery = "replacement_delivery"


class WorkOrderStatus(enum.StrEnum):
    new = "new"  # created, not yet dispatched (no partner fits yet)
    offered = "offered"  # dispatched to a partner, waiting for them to accept or decline
    accepted = "accepted"  # a partner took it; slots can be offered to the customer
    scheduled = "scheduled"  # the customer confirmed an appointment
    en_route = "en_route"
    on_site = "on_site"
    completed = "completed"  # the visit is done (outcome says fixed or not)
    closed = "closed"  # the service organisation closed it (after completion or with a reason)
    cancelled = "cancelled"


class WorkOrder(Base):
    """A field job from a customer's concern, dispatched to a partner and visited by a technician.

    ``due_at`` carries the ticket's SLA across the hand-off: it is the ticket's resolution target when the
    work order is made (or a set time for the kind), and a late work order shows as breached everywhere.
    """

    __tablename__ = "work_orders"
    __table_args__ = (
        Index("ix_work_orders_partner_status", "partner_id", "status"),
        Index("ix_work_orders_technician_slot", "technician_id", "slot_start"),
        Index("ix_work_orders_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    concern_id: Mapped[int | None] = mapped_column(Id, ForeignKey("concerns.id", ondelete="SET NULL"))
    kind: Mapped[WorkOrderKind] = mapped_column(_enum(WorkOrderKind))
    status: Mapped[WorkOrderStatus] = mapped_column(_enum(WorkOrderStatus), default=WorkOrderStatus.new)
    # The skill needed (a product or the kind), lower case.
    skill: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text)
    # Only what the visit needs: the address, a postcode or region for dispatch, and a contact phone.
    address: Mapped[str] = mapped_column(Text, default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    partner_id: Mapped[int | None] = mapped_column(Id, ForeignKey("partners.id", ondelete="SET NULL"))
    technician_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    # Partners who declined it (never offered to them again): [partner_id, ...].
    declined_by: Mapped[list[int]] = mapped_column(Json, default=list)
    dispatch_reason: Mapped[str] = mapped_column(Text, default="")
    # Appointment slots offered to the customer: [{"start": iso, "end": iso}].
    offered_slots: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    slot_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    slot_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A visit again for the same concern or ticket after an earlier completed one.
    repeat_of_id: Mapped[int | None] = mapped_column(Id, ForeignKey("work_orders.id", ondelete="SET NULL"))
    # "fixed" or "not_fixed", set when completed.
    outcome: Mapped[str | None] = mapped_column(String(20))
    # [{"part": str, "quantity": int}]
    parts_used: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    # The customer's visit rating 1..5 and comment.
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The appointment reminder went to the customer (NULL: still due, the sweep finds it).
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WorkOrderUpdate(Base):
    """Everything that happened to a work order: status changes, visit notes, parts, photos, schedule."""

    __tablename__ = "work_order_updates"
    __table_args__ = (Index("ix_work_order_updates_order", "work_order_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(Id, ForeignKey("work_orders.id", ondelete="CASCADE"))
    author_user_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    # "status", "note", "parts", "photo", "schedule", "dispatch", "rating"
    kind: Mapped[str] = mapped_column(String(20))
    status_from: Mapped[str | None] = mapped_column(String(20))
    status_to: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text, default="")
    # Whether the customer was told about it (a message on their ticket).
    customer_told: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkOrderPhoto(Base):
    """A photo from the visit; the bytes are stored once, in the attachment blobs, by their SHA-256."""

    __tablename__ = "work_order_photos"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        Id, ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    uploaded_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(
        String(64), ForeignKey("attachment_blobs.sha256", ondelete="RESTRICT")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeedbackKind(enum.StrEnum):
    training = "training"
    information = "information"
    parts = "parts"
    other = "other"


class FeedbackState(enum.StrEnum):
    open = "open"
    answered = "answered"
    closed = "closed"


class PartnerFeedback(Base):
    """What a partner needs (training, information, parts...), seen and answered by the service
    organisation; the conversation is in PartnerFeedbackReply."""

    __tablename__ = "partner_feedback"
    __table_args__ = (Index("ix_partner_feedback_partner_state", "partner_id", "state"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    partner_id: Mapped[int] = mapped_column(Id, ForeignKey("partners.id", ondelete="CASCADE"))
    author_user_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[FeedbackKind] = mapped_column(_enum(FeedbackKind))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    work_order_id: Mapped[int | None] = mapped_column(Id, ForeignKey("work_orders.id", ondelete="SET NULL"))
    state: Mapped[FeedbackState] = mapped_column(_enum(FeedbackState), default=FeedbackState.open)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PartnerFeedbackReply(Base):
    __tablename__ = "partner_feedback_replies"
    __table_args__ = (Index("ix_partner_feedback_replies_feedback", "feedback_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    feedback_id: Mapped[int] = mapped_column(Id, ForeignKey("partner_feedback.id", ondelete="CASCADE"))
    author_user_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
