"""The demo workspace `make run` loads the first time: teams, staff of every role, customers on every
channel, tickets that read like real ones (angry, multi-concern, polite, vague), and a small help centre."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ombud import demo_advocacy, demo_load, demo_partners, demo_people, demo_training, demo_workflow
from ombud.accounts import service as accounts
from ombud.accounts import sessions
from ombud.accounts.models import Role
from ombud.accounts.schemas import SYSTEM, Principal
from ombud.audit.models import AuditEvent
from ombud.customers import purchases
from ombud.customers import service as customers
from ombud.customers.models import Customer, Purchase
from ombud.customers.schemas import CustomerRef, PurchaseCreate
from ombud.knowledge import service as knowledge
from ombud.knowledge.schemas import ArticleCreate, ArticleStatus, Audience
from ombud.storage.base import utcnow
from ombud.tickets import inbox
from ombud.tickets import service as tickets
from ombud.tickets.models import Channel, Message, Priority, Status, Ticket
from ombud.tickets.schemas import MessageCreate, TicketCreate, TicketUpdate
from ombud.triage import service as triage

MARKER_EMAIL = "admin@demo.ombud.test"


# (category, title, body, example questions, audience) for the knowledge base and the assistant.
ARTICLES: tuple[tuple[str, str, str, tuple[str, ...], Audience], ...] = (
    (
        "Billing",
        "I was charged twice",
        "## Why it happens\nA payment that fails and is retried can leave two holds on your card. A "
        "hold that "
        "is not collected disappears by itself within 5 working days.\n\n## Getting the duplicate back\n"
        "If both charges are still there after 5 working days, reply to your order email or use the contact "
        "form with the order number. We refund a confirmed duplicate straight away; your bank shows "
        "it within "
        "3-5 working days.",
        ("I was charged twice for my order", "There are two payments for one order", "double charge"),
        Audience.public,
    ),
    (
        "Billing",
        "When will I get my refund?",
        "Refunds go back to the card or account you paid with. Once we confirm a refund by email, it takes "
        "**3-5 working days** to show on a card and up to 10 for a bank transfer.\n\nIf it has been longer, "
        "send us the refund confirmation and we will trace it with the bank.",
        ("Where is my refund?", "My refund hasn't arrived", "How long does a refund take?"),
        Audience.public,
    ),
    (
        "Billing",
        "Correcting the address on an invoice",
        "Send us the invoice number and the correct company name and address. We issue a corrected invoice "
        "within 2 working days; the original is cancelled, so there is nothing to pay twice.",
        ("The address on my invoice is wrong", "Can you change the company name on my invoice?"),
        Audience.public,
    ),
    (
        "Orders and delivery",
        "Tracking your parcel",
        "Every order email has a tracking link. If the link says *label created* for more than 2 days, the "
        "courier has not scanned the parcel yet; it usually moves within a day.\n\n## The link does "
        "not work\n"
        "Copy the tracking number from the email into the courier's own site. If it is unknown there too, "
        "contact us and we will check with the warehouse.",
        ("Where is my parcel?", "The tracking link doesn't work", "My order hasn't arrived"),
        Audience.public,
    ),
    (
        "Orders and delivery",
        "My delivery arrived damaged",
        "We are sorry! Take a photo of the parcel and the damage, and send it to us with your order number "
        "within 14 days. We send a replacement or refund you, whichever you prefer; you do not need "
        "to return "
        "the damaged item unless we ask.",
        ("The box arrived soaked and the item is ruined", "My order was damaged in delivery"),
        Audience.public,
    ),
    (
        "Account",
        "Changing your plan",
        "Go to **Account > Plan** and choose the new plan. An upgrade starts at once (you pay the difference "
        "for the rest of the month); a cheaper plan starts on your next billing date.",
        ("How do I change my plan?", "Can I switch to a cheaper plan?", "upgrade my subscription"),
        Audience.public,
    ),
    (
        "Account",
        "Account locked after a password reset",
        "After five wrong sign-in attempts the account locks for 30 minutes, also right after a password "
        "reset while an old password is saved in the app. Remove the saved password, wait 30 minutes "
        "and sign "
        "in with the new one. Still locked? Call us and an agent unlocks it after checking it is you.",
        ("I can't log in after resetting my password", "The app says account locked"),
        Audience.public,
    ),
    (
        "Devices",
        "HomeHub router keeps dropping the connection",
        "## Quick checks\n1. Restart the router: unplug it for 30 seconds.\n2. Put it in the open, away from "
        "the microwave and thick walls.\n3. In the app, run **Check line**.\n\n## Still dropping?\n"
        "If the line check passes and it still drops several times a day, the router may be faulty: contact "
        "us and we arrange a replacement or a technician visit.",
        (
            "My router keeps disconnecting",
            "The wifi drops every evening",
            "internet connection keeps dropping",
        ),
        Audience.public,
    ),
    (
        "Devices",
        "Warranty repairs",
        "Appliances have a 2-year warranty from the purchase date. For a repair, send the model, the "
        "purchase "
        "date and a short description of the fault; we book a technician visit or send a prepaid label.",
        ("Is my washing machine still under warranty?", "How do I get a repair under warranty?"),
        Audience.public,
    ),
    (
        "Devices",
        "Field service: router replacement checklist",
        "Before replacing a HomeHub router: check the line at the socket, note the serial numbers of both "
        "units, and run **Check line** with the customer before leaving.",
        (),
        Audience.partner,
    ),
)


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

# Every demo staff member signs in to the workspace with this password (demo workspace only).
DEMO_PASSWORD = "ombud-demo-password"  # noqa: S105 - printed by `ombud serve --demo`, demo data only

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
    (
        {"email": "d.fischer@example.de", "name": "Dieter Fischer"},
        Channel.email,
        "Useless as always",
        "You are useless idiots and liars, all of you. Third email and still no refund for the broken "
        "Kettle Pro. Refund my 49.99 now, you morons, or I'll come down there and make you regret it.",
        [],
        Status.new,
        Priority.normal,
        ["billing"],
    ),
    (
        {"email": "sam.green@example.com", "name": "Sam Green"},
        Channel.email,
        "Wifi drops in the bedroom",
        "Hello, the HomeHub router works fine downstairs but the wifi keeps dropping in the bedroom "
        "upstairs. Any ideas? Thanks!",
        [
            (
                "agent",
                "Hi Sam, thanks for the details. Thick floors weaken the signal; moving the HomeHub router "
                "higher up usually helps. Let us know if it doesn't.",
                False,
            ),
            ("customer", "Moved it onto the bookshelf and it's much better now, thank you!", False),
        ],
        Status.solved,
        Priority.low,
        ["wifi"],
    ),
)

# A systemic issue in the making: the same fault, from different customers on different channels, in a
# few days (the advocacy module will find it as a theme; today it shows in the inbox and the triage).
SYSTEMIC: tuple[tuple[dict[str, str], Channel, str, str], ...] = (
    (
        {"email": "nora.berg@example.no", "name": "Nora Berg"},
        Channel.email,
        "AirBrew 2 app logs me out",
        "Since yesterday's app update the AirBrew 2 app logs me out every time I open it, and the "
        "morning schedule I set is gone. Is this a known problem?",
    ),
    (
        {"handle": "@coffee_carlos", "name": "Carlos"},
        Channel.social,
        "Mention: AirBrew 2 app update",
        "@ombudshop new AirBrew 2 app update broke my schedules and keeps signing me out. Please fix!",
    ),
    (
        {"visitor": "v-77b0e2", "name": "Hannah"},
        Channel.chat,
        "Chat: AirBrew 2 schedule gone",
        "hi, my AirBrew 2 lost all its schedules after the update\nand the app keeps asking me to log in",
    ),
    (
        {"email": "o.mensah@example.com", "name": "Ofelia Mensah"},
        Channel.web,
        "AirBrew 2 not brewing on schedule",
        "My AirBrew 2 didn't brew this morning. The app had logged me out and the schedule is empty. I "
        "paid 199 for this machine mainly for the schedule feature.",
    ),
)

# Purchases: what demo customers own, and neighbours of Sam Green (same router, same wifi concern, solved)
# who then bought the mesh extender, so the customer 360 has evidence for a suggestion.
PURCHASES: tuple[tuple[str, str, str, str, float, int], ...] = (
    ("maria.lopez@example.com", "AirBrew 2", "product", "A-10293", 179.80, 20),
    ("tom.baker@example.org", "HomeHub router", "product", "R-55102", 129.00, 400),
    ("tom.baker@example.org", "Fibre 500 plan", "plan", "P-77810", 45.00, 400),
    ("sam.green@example.com", "HomeHub router", "product", "R-61220", 129.00, 200),
    ("o.mensah@example.com", "AirBrew 2", "product", "A-20931", 199.00, 60),
    ("nora.berg@example.no", "AirBrew 2", "product", "A-20877", 199.00, 90),
    ("d.fischer@example.de", "Kettle Pro", "product", "K-10442", 49.99, 30),
    ("j.okafor@example.net", "WM-700 washing machine", "product", "W-88011", 549.00, 600),
)
MESH_NEIGHBOURS = ("ana.silva@example.com", "ben.cole@example.com", "chloe.ng@example.com")
MACROS: tuple[tuple[str, str, dict[str, object]], ...] = (
    (
        "Duplicate charge refunded",
        "Hi {{customer.first_name}},\n\nI've refunded the duplicate charge on order {{ticket.order_number}}. "
        "It shows on your statement within 3-5 working days.\n\nBest wishes,\n{{agent.first_name}}",
        {"status": "pending", "tags": ["refund"]},
    ),
    (
        "Ask for the order number",
        "Hi {{customer.first_name}},\n\nThank you for getting in touch. So I can look into this straight "
        "away, could you send me the order number? It starts with a letter and is in your order email.\n\n"
        "Best wishes,\n{{agent.first_name}}",
        {"status": "pending"},
    ),
    (
        "Conduct policy",
        "Hi {{customer.first_name}},\n\nI want to help you with this. To do that, I need our conversation "
        "to stay respectful: our team does not continue conversations that include insults or threats. "
        "Here is what I can do for you now:\n\n\n{{agent.first_name}}",
        {},
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
        sessions.set_password(session=session, user=user, password=DEMO_PASSWORD)
        users[email.split("@")[0]] = user
        if role in (Role.agent, Role.lead):
            accounts.add_to_team(session=session, team=support, user=user)
    accounts.add_to_team(session=session, team=billing, user=users["agent2"])
    demo_workflow.load_workflow(
        session=session,
        admin=users["admin"],
        lead=users["lead"],
        agents=[users["agent"], users["agent2"]],
        support=support,
        billing=billing,
    )
    # The products triage recognises by name in customers' messages.
    triage.set_catalogue(session=session, names=["router", "HomeHub router", "Kettle Pro", "AirBrew 2"])
    agent = Principal(kind="user", id=users["agent"].id, role=Role.agent)
    for category, title, body, questions, audience in ARTICLES:
        knowledge.create_article(
            session=session,
            principal=agent,
            data=ArticleCreate(
                title=title,
                body=body,
                category=category,
                audience=audience,
                status=ArticleStatus.published,
                example_questions=list(questions),
            ),
        )
    for position, (ref, channel, subject, body, follow_ups, status, priority, tags) in enumerate(TICKETS):
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
        _backdate(session=session, ticket=ticket, hours=AGES_HOURS[position % len(AGES_HOURS)])
    systemic = _load_systemic(session=session, team_id=support.id)
    _load_purchases_and_neighbours(session=session, agent=agent)
    lead = Principal(kind="user", id=users["lead"].id, role=Role.lead)
    for name, body, actions in MACROS:
        inbox.save_macro(session=session, principal=lead, name=name, body=body, actions=dict(actions))
    _customers_since_their_first_contact(session=session)
    demo_advocacy.load_advocacy(
        session=session, advocate=users["advocate"], lead=users["lead"], systemic_ticket_ids=systemic
    )
    # The people who do the work: well-being policy and a help request, goals, role-play scenarios from the
    # demo's own tickets, and the field partners with their work orders.
    demo_load.load_load(session=session, users=users)
    demo_people.load_people(session=session, users=users)
    demo_training.load_training(session=session, users=users)
    demo_partners.load_partners(session=session, users=users)
    return True


# How long ago each of TICKETS came in, so the demo reads like a working day, not one instant.
AGES_HOURS = (30.0, 52.0, 75.0, 3.5, 26.0, 20.0, 1.2, 98.0, 0.6, 140.0)


def _backdate(*, session: Session, ticket: Ticket, hours: float) -> None:
    """Move a demo ticket and its messages back in time (its messages ten minutes apart)."""
    start = utcnow() - dt.timedelta(hours=hours)
    rows = session.scalars(select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id)).all()
    for number, message in enumerate(rows):
        message.created_at = start + dt.timedelta(minutes=10 * number)
    ticket.created_at = start
    ticket.updated_at = start + dt.timedelta(minutes=10 * max(0, len(rows) - 1))
    # The ticket's history moves with it, so the customer's timeline reads in order.
    session.execute(
        update(AuditEvent).where(AuditEvent.ticket_id == ticket.id).values(created_at=ticket.updated_at)
    )
    session.flush()


def _customers_since_their_first_contact(*, session: Session) -> None:
    """Date each demo customer from their first ticket or purchase (a day before), with the events of
    their record, so "customer for" and the timeline make sense."""
    for customer in session.scalars(select(Customer)):
        firsts = [
            session.scalar(select(func.min(Ticket.created_at)).where(Ticket.customer_id == customer.id)),
            session.scalar(
                select(func.min(Purchase.purchased_at)).where(Purchase.customer_id == customer.id)
            ),
        ]
        known = [when for when in firsts if when is not None]
        if not known:
            continue
        since = min(known) - dt.timedelta(days=1)
        customer.created_at = since
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.customer_id == customer.id, AuditEvent.ticket_id.is_(None))
            .values(created_at=since)
        )
    session.flush()


def _load_systemic(*, session: Session, team_id: int) -> list[int]:
    """Load the tickets of one problem many customers share; return their ids."""
    ids = []
    for hours, (ref, channel, subject, body) in zip((20.0, 9.0, 4.0, 0.8), SYSTEMIC, strict=True):
        ticket, _ = tickets.create_ticket(
            session=session,
            data=TicketCreate(customer=CustomerRef(**ref), channel=channel, subject=subject, body=body),
            actor=SYSTEM,
            limits=tickets.Limits(),
        )
        tickets.update_ticket(
            session=session, ticket=ticket, actor=SYSTEM, changes=TicketUpdate(team_id=team_id)
        )
        _backdate(session=session, ticket=ticket, hours=hours)
        ids.append(ticket.id)
    return ids


def _customer_id(session: Session, email: str) -> int:
    found, _ = customers.resolve_customer(session=session, ref=CustomerRef(email=email), actor=SYSTEM)
    return found.id


def _load_purchases_and_neighbours(*, session: Session, agent: Principal) -> None:
    now = utcnow()
    for email, product, kind, order, amount, days_ago in PURCHASES:
        purchases.add_purchase(
            session=session,
            customer_id=_customer_id(session, email),
            data=PurchaseCreate(
                product=product,
                kind=kind,
                order_number=order,
                amount=amount,
                currency="EUR",
                purchased_at=now - dt.timedelta(days=days_ago),
            ),
            actor=SYSTEM,
        )
    for number, email in enumerate(MESH_NEIGHBOURS):
        name = email.split("@")[0].replace(".", " ").title()
        customer_id = _customer_id(session, email)
        purchases.add_purchase(
            session=session,
            customer_id=customer_id,
            data=PurchaseCreate(
                product="HomeHub router",
                order_number=f"R-6{number}001",
                amount=129.0,
                currency="EUR",
                purchased_at=now - dt.timedelta(days=300),
            ),
            actor=SYSTEM,
        )
        ticket, _ = tickets.create_ticket(
            session=session,
            data=TicketCreate(
                customer=CustomerRef(email=email, name=name),
                channel=Channel.email,
                subject="Wifi keeps dropping upstairs",
                body="The HomeHub router wifi keeps dropping in the rooms upstairs. Can you help?",
            ),
            actor=SYSTEM,
            limits=tickets.Limits(),
        )
        tickets.add_message(
            session=session,
            ticket=ticket,
            data=MessageCreate(body="A mesh extender upstairs fixes weak signal through floors."),
            actor=agent,
            limits=tickets.Limits(),
        )
        tickets.update_ticket(
            session=session, ticket=ticket, actor=agent, changes=TicketUpdate(status=Status.solved)
        )
        # They bought the extender after the advice (a minute later, in the demo's compressed time).
        purchases.add_purchase(
            session=session,
            customer_id=customer_id,
            data=PurchaseCreate(
                product="Mesh Extender",
                order_number=f"M-7{number}001",
                amount=59.0,
                currency="EUR",
                purchased_at=now + dt.timedelta(minutes=1),
            ),
            actor=SYSTEM,
        )


def demo_logins() -> list[DemoLogin]:
    """The demo's staff: each signs in to the workspace with DEMO_PASSWORD, or uses the API token."""
    return [DemoLogin(email=email, role=role, token=token) for email, _, role, token in STAFF]
