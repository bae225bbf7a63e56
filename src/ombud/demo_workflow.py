"""The service workflow part of the demo workspace: office hours and SLA policies, routing skills and
capacity, two automation rules and a concession policy. Loaded by :func:`ombud.demo.load_demo` before the
demo tickets, so their SLA clocks, routing and reports follow from the events those tickets publish."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ombud.accounts.models import Role, Team, User
from ombud.accounts.schemas import Principal
from ombud.automations import service as automations
from ombud.automations.schemas import RuleIn
from ombud.resolutions import policies
from ombud.routing import service as routing
from ombud.routing.models import Availability, SkillKind
from ombud.routing.schemas import (
    AvailabilityUpdate,
    CapacityUpdate,
    SkillIn,
    SkillsUpdate,
    TeamRoutingUpdate,
    TeamRules,
)
from ombud.sla import service as sla
from ombud.sla.schemas import CalendarCreate, Conditions, Escalation, PolicyCreate
from ombud.tickets.models import Channel

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

# A small policy in euros: agents settle the everyday cases, larger or goodwill ones go to the lead.
DEMO_POLICY = """\
name = "Demo shop policy"
base_currency = "EUR"
came_back_days = 30

[currencies]
EUR = 1
USD = 0.92
GBP = 1.17

[reasons]
late_delivery = { label = "Late delivery" }
damaged = { label = "Arrived damaged or faulty" }
billing_error = { label = "Billing error" }
service_failure = { label = "We let the customer down" }
goodwill = { label = "Goodwill (no fault of ours)", second_person = true }

[[limit]]
role = "agent"
kinds = ["refund", "partial_refund", "billing_correction"]
max = 50

[[limit]]
role = "agent"
kinds = ["credit", "coupon", "goodwill"]
max = 25

[[limit]]
role = "agent"
kinds = ["replacement", "return", "repair"]
max = 150

[[limit]]
role = "lead"
kinds = "*"
max = 300

[[limit]]
role = "advocate"
kinds = "*"
max = 300

[[limit]]
role = "admin"
kinds = "*"
max = 5000

[per_customer]
max = 200
days = 90

[refund_window]
days = 30
"""


def load_workflow(
    *, session: Session, admin: User, lead: User, agents: list[User], support: Team, billing: Team
) -> None:
    """Set up the demo's SLAs, routing, automations and concession policy."""
    boss = Principal(kind="user", id=admin.id, role=Role.admin)
    office = sla.create_calendar(
        session=session,
        actor=boss,
        data=CalendarCreate(
            name="Berlin office",
            time_zone="Europe/Berlin",
            hours={day: [["08:00", "18:00"]] for day in WEEKDAYS},
            is_default=True,
        ),
    )
    sla.set_team_calendar(session=session, team_id=billing.id, calendar_id=office.id, actor=boss)
    for name, conditions, targets, escalation in (
        (
            "Urgent and VIP",
            Conditions(tiers=["vip"]),
            {"first_response": 30, "next_response": 60, "resolution": 480},
            Escalation(notify=True, raise_priority=True),
        ),
        (
            "Live chat",
            Conditions(channels=[Channel.chat]),
            {"first_response": 5, "next_response": 10, "resolution": 240},
            Escalation(notify=True),
        ),
        (
            "Everyone else",
            Conditions(),
            {"first_response": 240, "next_response": 480, "resolution": 2400},
            Escalation(notify=True),
        ),
    ):
        sla.create_policy(
            session=session,
            actor=boss,
            data=PolicyCreate(name=name, conditions=conditions, targets=targets, escalation=escalation),
        )

    chief = Principal(kind="user", id=lead.id, role=Role.lead)
    routing.update_team(
        session=session,
        principal=chief,
        team_id=billing.id,
        data=TeamRoutingUpdate(
            rules=TeamRules(intents=["charge_dispute", "invoice_request", "payment_failed", "refund_status"]),
            position=0,
        ),
    )
    routing.update_team(
        session=session,
        principal=chief,
        team_id=support.id,
        data=TeamRoutingUpdate(
            rules=TeamRules(), position=10, overflow_team_id=billing.id, overflow_after_minutes=60
        ),
    )
    skills = (
        [("technical_problem", 5), ("warranty_repair", 4), ("damaged_or_wrong_item", 3)],
        [("charge_dispute", 5), ("refund_status", 4), ("invoice_request", 4), ("payment_failed", 3)],
    )
    for user, intents in zip(agents, skills, strict=True):
        routing.set_skills(
            session=session,
            principal=chief,
            user_id=user.id,
            data=SkillsUpdate(
                skills=[
                    SkillIn(kind=SkillKind.intent, value=intent, level=level) for intent, level in intents
                ]
                + [SkillIn(kind=SkillKind.language, value="en", level=5)]
            ),
        )
        routing.set_capacity(
            session=session,
            principal=chief,
            user_id=user.id,
            data=CapacityUpdate(
                capacity={Channel.chat: 3, Channel.email: 12, Channel.social: 6, Channel.web: 12}
            ),
        )
    # Jonas (billing) is at work, so new billing tickets are routed to him; Amara is not signed in to
    # routing yet, so new support tickets wait in the Support queue until she is (Routing page).
    routing.set_availability(
        session=session,
        principal=chief,
        user_id=agents[1].id,
        data=AvailabilityUpdate(status=Availability.online),
    )

    for rule in (
        RuleIn(
            name="Abuse goes to the lead",
            trigger="event",
            events=["message.triaged"],
            conditions={"all": [{"field": "abusive", "op": "is", "value": True}]},
            actions=[
                {"type": "add_tags", "tags": ["abuse"]},
                {
                    "type": "notify",
                    "user_id": lead.id,
                    "body": "An abusive message on this ticket: please look.",
                },
            ],
        ),
        RuleIn(
            name="Remind after 3 days waiting on the customer",
            trigger="time",
            since="status_changed",
            hours=72,
            conditions={"all": [{"field": "status", "op": "is", "value": "pending"}]},
            actions=[
                {
                    "type": "reply",
                    "body": "Hello {{customer.first_name}}, we have not heard back from you: is ticket "
                    "#{{ticket.id}} still a problem? Just reply to this message.",
                }
            ],
        ),
    ):
        automations.create_rule(session=session, principal=boss, data=rule)
    # Requests above an agent's limits go to the lead by name.
    source = f'{DEMO_POLICY}\n[approval]\napprover = "{lead.email}"\n'
    policies.upload_policy(session=session, source=source, comment="demo policy", actor=boss)
