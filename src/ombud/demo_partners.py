"""Demo field partner network: FixRight Field Services (the demo partner user, Pat Technician, repairs and
installs in Berlin) and QuickSwap Logistics (replacement deliveries), three work orders on demo tickets in
different states (offered, scheduled, completed and rated) and one feedback item, so the partner portal
and the staff pages have something to show."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import Role, User
from ombud.accounts.schemas import Principal
from ombud.partners import feedback, work_orders
from ombud.partners import service as partners
from ombud.partners.models import FeedbackKind, WorkOrderKind, WorkOrderStatus
from ombud.partners.schemas import FeedbackCreate, PartnerCreate, PartUsed, TechnicianSet, WorkOrderCreate
from ombud.tickets.models import Status, Ticket

WEEKDAYS = {day: [["08:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
SWAP_EMAIL = "swap@demo.ombud.test"


def _principal(user: User) -> Principal:
    return Principal(kind="user", id=user.id, role=user.role)


def load_partners(*, session: Session, users: dict[str, User]) -> None:
    """Create the partners, technicians, work orders and feedback (idempotent per partner name)."""
    admin = _principal(users["admin"])
    if any(
        p.name == "FixRight Field Services" for p in partners.list_partners(session=session, principal=admin)
    ):
        return
    fixright = partners.create_partner(
        session=session,
        actor=admin,
        data=PartnerCreate(
            name="FixRight Field Services",
            email="dispatch@fixright.example",
            phone="+49 30 5550 100",
            notes="Repairs and installs AirBrew machines across Berlin.",
        ),
    )
    pat = users["partner"]
    partners.set_technician(
        session=session,
        actor=admin,
        user_id=pat.id,
        data=TechnicianSet(
            partner_id=fixright.id,
            skills=["repair", "install", "airbrew"],
            areas=["10", "12", "13", "14", "berlin"],
            capacity_per_day=4,
            working_hours=WEEKDAYS,
            timezone="Europe/Berlin",
        ),
    )
    quickswap = partners.create_partner(
        session=session,
        actor=admin,
        data=PartnerCreate(
            name="QuickSwap Logistics", email="hello@quickswap.example", phone="+49 40 5550 200"
        ),
    )
    swap = accounts.get_user_by_email(session=session, email=SWAP_EMAIL) or accounts.create_user(
        session=session, email=SWAP_EMAIL, role=Role.partner, name="Sam Swap"
    )
    partners.set_technician(
        session=session,
        actor=admin,
        user_id=swap.id,
        data=TechnicianSet(
            partner_id=quickswap.id,
            skills=["replacement_delivery", "airbrew"],
            areas=["1", "2", "berlin", "hamburg"],
            capacity_per_day=8,
            working_hours={**WEEKDAYS, "sat": [["09:00", "13:00"]]},
            timezone="Europe/Berlin",
        ),
    )
    _load_work_orders(session=session, users=users)
    feedback.submit(
        session=session,
        actor=_principal(pat),
        data=FeedbackCreate(
            kind=FeedbackKind.parts,
            subject="We need the AirBrew 2 pump part list",
            body="Two visits this week needed a new pump. Could you share the AirBrew 2 pump part list and "
            "which seals fit, so we bring the right parts the first time?",
        ),
    )
    session.flush()


def _load_work_orders(*, session: Session, users: dict[str, User]) -> None:
    demo_tickets = session.scalars(
        select(Ticket)
        .where(Ticket.status.in_((Status.open, Status.pending, Status.new)))
        .order_by(Ticket.id)
        .limit(3)
    ).all()
    if len(demo_tickets) < 3:
        return
    agent = _principal(users["agent"])
    pat = _principal(users["partner"])
    visits = [
        ("The AirBrew 2 leaks water under the machine", "10115", "Invalidenstr. 12, 10115 Berlin"),
        ("Install the new AirBrew 2 on the kitchen counter", "10437", "Kastanienallee 3, 10437 Berlin"),
        ("The AirBrew 2 pump is loud and brews slowly", "12043", "Weserstr. 40, 12043 Berlin"),
    ]
    made = []
    for ticket, (summary, postcode, address) in zip(demo_tickets, visits, strict=True):
        kind = WorkOrderKind.install if summary.startswith("Install") else WorkOrderKind.repair
        made.append(
            work_orders.create_work_order(
                session=session,
                actor=agent,
                ticket_id=ticket.id,
                data=WorkOrderCreate(
                    kind=kind,
                    skill="airbrew",
                    summary=summary,
                    postcode=postcode,
                    address=address,
                    contact_phone="+49 170 5550 123",
                ),
            )
        )
    offered, scheduled, done = made
    for order in (scheduled, done):
        if order.status != WorkOrderStatus.offered:
            return
        work_orders.accept(session=session, actor=pat, work_order_id=order.id)
        slots = work_orders.free_slots(session=session, work_order_id=order.id, limit=1)
        if not slots:
            return
        work_orders.offer_slots(session=session, actor=pat, work_order_id=order.id, slots=slots)
        work_orders.confirm_slot(session=session, actor=agent, work_order_id=order.id, start=slots[0].start)
    for status in (WorkOrderStatus.en_route, WorkOrderStatus.on_site):
        work_orders.set_status(session=session, actor=pat, work_order_id=done.id, status=status)
    work_orders.add_note(
        session=session,
        actor=pat,
        work_order_id=done.id,
        body="Pump worn; replaced it and descaled the machine.",
    )
    work_orders.add_parts(
        session=session,
        actor=pat,
        work_order_id=done.id,
        parts=[PartUsed(part="AirBrew 2 pump", quantity=1)],
    )
    work_orders.set_status(
        session=session,
        actor=pat,
        work_order_id=done.id,
        status=WorkOrderStatus.completed,
        outcome="fixed",
        note="Brews quietly again.",
    )
    customer = Principal(kind="customer", id=done.customer_id)
    work_orders.rate_visit(
        session=session, actor=customer, work_order_id=done.id, score=5, comment="On time and very tidy."
    )
    del offered
