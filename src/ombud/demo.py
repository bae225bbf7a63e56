"""The demo workspace `make run` loads the first time: teams, staff of every role, customers on every
channel, and tickets that read like real ones (angry, multi-concern, polite, vague)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.accounts.schemas import SYSTEM, Principal
from ombud.customers.schemas import CustomerRef
from ombud.tickets import service as tickets
from ombud.tickets.models import Channel, Priority, Status
from ombud.tickets.schemas import MessageCreate, TicketCreate, TicketUpdate
from ombud.triage import service as triage

MARKER_EMAIL = "admin@demo.ombud.test"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: Role
    token: str


# Demo tokens are fixed so `make run` can print them every time. They exist only in the demo workspace.
STAFF = (
    ("admin@demo.ombud.test", "Ada Admin", Role.admin, "demo-admin-token"),
    ("lead@demo.ombud.test", "Lee Lead", Role.lead, "demo-lead-token"),
    ("agent@demo.ombud.test", "Amara Agent", Role.agent, "demo-agent-token"),
    ("agent2@demo.ombud.test", "Jonas Agent", Role.agent, "demo-agent2-token"),
    ("advocate@demo.ombud.test", "Ava Advocate", Role.advocate, "demo-advocate-token"),
    ("partner@demo.ombud.test", "Pat Technician", Role.partner, "demo-partner-token"),
)

# (customer ref, channel, subject, body, follow-ups [(who, text, internal)], final status, priority, tags)
TICKETS: tuple[
    tuple[dict[str, str], Channel, str, str, list[tuple[str, str, bool]], Status, Priority, list[str]], ...
] = (
    (
        {"email": "maria.lopez@example.com", "name": "María López"},
        Channel.email,
        "Charged twice for order #A-10293",
        "Hi, I was charged twice for order #A-10293 (2 x 89.90 EUR) on my Visa. Also the tracking link you "
        "sent doesn't work. Can you refund the duplicate and tell me where the parcel is?",
        [
            (
                "agent",
                "Hi María, I'm sorry about the double charge. I've asked billing to refund the duplicate "
                "89.90 EUR; you'll see it in 3-5 working days. The parcel is with the courier and should "
                "arrive on Thursday.",
                False,
            )
        ],
        Status.pending,
        Priority.high,
        ["billing", "shipping"],
    ),
    (
        {"email": "tom.baker@example.org", "name": "Tom Baker"},
        Channel.email,
        "THIRD time writing - router still dropping connection",
        "This is the third time I'm writing about this. The router you replaced STILL drops the connection "
        "every evening. I work from home and I can't keep losing calls. If this isn't fixed this week I'm "
        "cancelling and I'll post about it everywhere.",
        [("note", "Customer has two earlier tickets on the same router. Escalating to field service.", True)],
        Status.open,
        Priority.urgent,
        ["hardware", "repeat-contact"],
    ),
    (
        {"phone": "+44 20 7946 0958", "name": "Priya Shah"},
        Channel.phone,
        "Call: cannot log in after password reset",
        "Customer called: after resetting her password yesterday the app says 'account locked'. She needs "
        "to pay a bill before Friday.",
        [("agent", "Unlocked the account and confirmed she can sign in.", False)],
        Status.solved,
        Priority.normal,
        ["login"],
    ),
    (
        {"handle": "@kat_in_berlin", "name": "Katrin"},
        Channel.social,
        "Mention: delivery left in the rain",
        "@ombudshop your courier left my parcel outside in the rain again. "
        "Box soaked, manual ruined. Seriously?",
        [],
        Status.new,
        Priority.normal,
        ["shipping"],
    ),
    (
        {"visitor": "v-3f9a1c", "name": ""},
        Channel.chat,
        "Chat: how do I change my plan?",
        "hi\nhow do i change my plan\nto the cheaper one\nthanks",
        [
            (
                "agent",
                "Hi! You can switch plans under Account > Plan. The cheaper plan starts next month.",
                False,
            ),
            ("customer", "ok great thanks", False),
        ],
        Status.solved,
        Priority.low,
        ["plans"],
    ),
    (
        {"email": "j.okafor@example.net", "name": "James Okafor"},
        Channel.web,
        "Warranty repair for washing machine",
        "My washing machine (model WM-700, bought March last year) leaks from the door seal. It's still "
        "under warranty. When can a technician come? I'm home on Tuesdays and Wednesdays.",
        [],
        Status.new,
        Priority.normal,
        ["repair", "warranty"],
    ),
    (
        {"email": "maria.lopez@example.com"},
        Channel.chat,
        "Chat: refund not received yet",
        "Hello again, it's been a week and I still don't see the refund for the double charge.",
        [],
        Status.new,
        Priority.high,
        ["billing", "repeat-contact"],
    ),
    (
        {"email": "li.wei@example.com", "name": "Li Wei"},
        Channel.email,
        "Invoice address wrong",
        "Could you please correct the company address on invoice INV-2291? It should be 14 Harbour Street, "
        "not 41. Thank you very much for your help!",
        [("agent", "Done: the corrected invoice is attached to this reply.", False)],
        Status.closed,
        Priority.low,
        ["billing"],
    ),
)


def load_demo(*, session: Session) -> bool:
    """Load the demo workspace unless it is there already; return whether it was loaded now."""
    if accounts.get_user_by_email(session=session, email=MARKER_EMAIL) is not None:
        return False
    support = accounts.ensure_team(session=session, name="Support")
    billing = accounts.ensure_team(session=session, name="Billing")
    users = {}
    for email, name, role, token in STAFF:
        user = accounts.create_user(session=session, email=email, role=role, name=name)
        accounts.issue_token(session=session, user_id=user.id, name="demo", token=token)
        users[email.split("@")[0]] = user
        if role in (Role.agent, Role.lead):
            accounts.add_to_team(session=session, team=support, user=user)
    accounts.add_to_team(session=session, team=billing, user=users["agent2"])
    # The products triage recognises by name in customers' messages.
    triage.set_catalogue(session=session, names=["router", "HomeHub router", "Kettle Pro", "AirBrew 2"])
    agent = Principal(kind="user", id=users["agent"].id, role=Role.agent)
    for ref, channel, subject, body, follow_ups, status, priority, tags in TICKETS:
        ticket, _ = tickets.create_ticket(
            session=session,
            data=TicketCreate(
                customer=CustomerRef(**ref),
                channel=channel,
                subject=subject,
                body=body,
                priority=priority,
                tags=tags,
            ),
            actor=SYSTEM,
            limits=tickets.Limits(),
        )
        customer = Principal(kind="customer", id=ticket.customer_id)
        for who, text, internal in follow_ups:
            actor = customer if who == "customer" else agent
            tickets.add_message(
                session=session,
                ticket=ticket,
                data=MessageCreate(body=text, internal=internal),
                actor=actor,
                limits=tickets.Limits(),
            )
        team = billing if "billing" in tags else support
        tickets.update_ticket(
            session=session,
            ticket=ticket,
            actor=agent,
            changes=TicketUpdate(
                status=status,
                assignee_id=users["agent"].id if status != Status.new else None,
                team_id=team.id,
            ),
        )
    return True


def demo_logins() -> list[DemoLogin]:
    return [DemoLogin(email=email, role=role, token=token) for email, _, role, token in STAFF]
