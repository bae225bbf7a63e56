"""The seeded world the permission matrix runs in: the demo workspace (tickets with internal notes, two
partner companies with their technicians and work orders, an advocacy case, themes, goals, scenarios...)
plus what the demo lacks (two customers who can sign in, a work order for the second partner, webhooks,
resolutions, reminders, links, merges, blocks, calls, quarantine, assistant conversations, surveys), made
through the services and the API. Every path parameter of every route gets a real id from here."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ombud import demo
from ombud.accounts import service as accounts
from ombud.accounts import sessions
from ombud.accounts.models import Role, User
from ombud.accounts.schemas import Principal
from ombud.advocacy.models import SpikeAlert
from ombud.channels import service as channels
from ombud.demo_partners import SWAP_EMAIL
from ombud.partners.models import WorkOrder
from ombud.people.models import BreakState, RecoveryBreak
from ombud.runtime import Runtime
from ombud.tickets import inbox, surveys

SURVEY_TOKEN = "survey-link-token-for-the-permission-matrix"
_EXAMPLE_POLICY = Path(__file__).resolve().parents[2] / "docs" / "concession-policy.example.toml"
ROLES = ("anonymous", "customer", "partner", "advocate", "agent", "lead", "admin")
# A marker in the internal note the seed adds to each customer's ticket: it must never reach a customer
# or a partner, whatever page, API answer or export they read.
INTERNAL_MARK = "INTERNAL-ONLY-7f3a"
PUBLIC_MARK = "PUBLIC-REPLY-2c9d"
# A tiny valid PNG (1x1), for work-order photos.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@dataclass
class Credentials:
    """How one role calls: a bearer token for the API, a browser session (cookie + CSRF) for pages."""

    token: str | None = None
    cookie: str | None = None
    csrf: str | None = None
    user_id: int | None = None
    customer_id: int | None = None


@dataclass
class World:
    creds: dict[str, Credentials]
    ids: dict[str, Any]
    # The second customer and the second partner company's technician: for the data checks.
    other_customer: Credentials = field(default_factory=Credentials)
    other_partner: Credentials = field(default_factory=Credentials)


def _ok(response: Any, *, what: str) -> dict[str, Any]:
    assert response.status_code < 300, f"seeding {what}: {response.status_code} {response.text[:500]}"
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def _browser(
    session: Session, *, user_id: int | None = None, customer_id: int | None = None
) -> tuple[str, str]:
    signed = sessions.start_session(session=session, user_id=user_id, customer_id=customer_id)
    return signed.token, signed.csrf_token


def _first(session: Session, sql: str, **params: Any) -> int:
    found = session.execute(text(sql), params).scalar()
    assert found is not None, f"the seed has no row for: {sql}"
    return int(found)


def seed(runtime: Runtime, client: TestClient) -> World:
    """Load the demo and the extras, and return every role's credentials and an id for every parameter."""
    creds: dict[str, Credentials] = {"anonymous": Credentials()}
    with runtime.database.session() as session:
        demo.load_demo(session=session)
        session.commit()
    with runtime.database.session() as session:
        staff = {u.email.split("@")[0]: u for u in session.scalars(select(User)).all()}
        for role in ("partner", "advocate", "agent", "lead", "admin"):
            user = staff[role]
            cookie, csrf = _browser(session, user_id=user.id)
            creds[role] = Credentials(f"demo-{role}-token", cookie, csrf, user_id=user.id)
        swap = staff[SWAP_EMAIL.split("@")[0]]
        swap_cookie, swap_csrf = _browser(session, user_id=swap.id)
        other_partner = Credentials(
            accounts.issue_token(session=session, user_id=swap.id), swap_cookie, swap_csrf, user_id=swap.id
        )
        # The customer: the one whose ticket has FixRight's first work order (the offered one).
        order = session.scalars(select(WorkOrder).order_by(WorkOrder.id)).first()
        assert order is not None
        customer_id = order.customer_id
        cookie, csrf = _browser(session, customer_id=customer_id)
        creds["customer"] = Credentials(
            accounts.issue_token(session=session, customer_id=customer_id),
            cookie,
            csrf,
            customer_id=customer_id,
        )
        other_id = _first(
            session,
            "SELECT customer_id FROM tickets WHERE customer_id <> :me "
            "AND status IN ('open', 'pending', 'new') ORDER BY id",
            me=customer_id,
        )
        cookie, csrf = _browser(session, customer_id=other_id)
        other_customer = Credentials(
            accounts.issue_token(session=session, customer_id=other_id), cookie, csrf, customer_id=other_id
        )
        session.commit()
    world = World(creds=creds, ids={}, other_customer=other_customer, other_partner=other_partner)
    _extras(runtime, client, world)
    return world


def _api(client: TestClient, world: World, role: str, method: str, path: str, **kw: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {world.creds[role].token}"}
    return _ok(client.request(method, path, headers=headers, **kw), what=f"{method} {path}")


def _made(client: TestClient, world: World, role: str, path: str, body: dict[str, Any]) -> Any:
    """POST ``body`` to ``path`` as ``role`` and return the id of the row it made."""
    return _api(client, world, role, "POST", path, json=body)["id"]


def _extras(runtime: Runtime, client: TestClient, world: World) -> None:
    ids = world.ids
    me = world.creds["customer"].customer_id
    other = world.other_customer.customer_id
    with runtime.database.session() as session:
        ids["ticket_id"] = _first(
            session,
            "SELECT t.id FROM tickets t JOIN work_orders w ON w.ticket_id = t.id WHERE t.customer_id = :c "
            "ORDER BY w.id",
            c=me,
        )
        ids["other_ticket_id"] = _first(
            session, "SELECT id FROM tickets WHERE customer_id = :c ORDER BY id", c=other
        )
        ids["work_order_id"] = _first(
            session, "SELECT id FROM work_orders WHERE ticket_id = :t", t=ids["ticket_id"]
        )
        ids["customer_id"] = me
    admin, agent = "admin", "agent"
    tid = ids["ticket_id"]
    # Notes and replies on both customers' tickets, with markers the data checks look for.
    for ticket in (tid, ids["other_ticket_id"]):
        _api(
            client,
            world,
            agent,
            "POST",
            f"/api/v1/tickets/{ticket}/messages",
            json={"body": f"{INTERNAL_MARK} the customer sounds like a chargeback risk", "internal": True},
        )
        _api(
            client,
            world,
            agent,
            "POST",
            f"/api/v1/tickets/{ticket}/messages",
            json={"body": f"{PUBLIC_MARK} we are on it, sorry for the trouble"},
        )
    # The customer rates the answer, so the rating routes have something to show.
    _api(client, world, "customer", "PUT", f"/api/v1/tickets/{tid}/rating", json={"score": 4})
    # A customer only the erase routes act on (erasing the matrix's customer would empty the world).
    ids["erase_customer_id"] = _api(
        client,
        world,
        admin,
        "POST",
        "/api/v1/tickets",
        json={
            "customer": {"email": "leaving@example.net", "name": "Lee Leaving"},
            "channel": "email",
            "subject": "Please delete my data",
            "body": "I am closing my account; please erase what you hold.",
        },
    )["customer_id"]
    # A second ticket of the customer: for merges, links and splits that must not touch the first.
    second = _api(
        client,
        world,
        "customer",
        "POST",
        "/api/v1/tickets",
        json={
            "customer": {"email": "ignored@example.com"},
            "channel": "web",
            "subject": "My kettle lid is cracked",
            "body": "The lid of my Kettle Pro cracked after a week.",
        },
    )
    ids["second_ticket_id"] = second["id"]
    with runtime.database.session() as session:
        ids["message_id"] = _first(
            session,
            "SELECT id FROM messages WHERE ticket_id = :t AND author_type = 'customer' ORDER BY id",
            t=tid,
        )
        ids["concern_id"] = _first(session, "SELECT id FROM concerns WHERE ticket_id = :t ORDER BY id", t=tid)
        ids["partner_id"] = _first(
            session, "SELECT partner_id FROM work_orders WHERE id = :w", w=ids["work_order_id"]
        )
        ids["other_partner_id"] = _first(
            session, "SELECT id FROM partners WHERE id <> :p", p=ids["partner_id"]
        )
        ids["team_id"] = _first(session, "SELECT id FROM teams ORDER BY id")
        ids["case_id"] = _first(session, "SELECT id FROM advocacy_cases ORDER BY id")
        ids["department_id"] = _first(session, "SELECT id FROM advocacy_departments ORDER BY id")
        ids["theme_id"] = _first(session, "SELECT id FROM advocacy_themes ORDER BY id")
        ids["scenario_id"] = _first(session, "SELECT id FROM training_scenarios ORDER BY id")
        ids["goal_id"] = _first(session, "SELECT id FROM people_goals ORDER BY id")
        ids["rule_id"] = _first(session, "SELECT id FROM automation_rules ORDER BY id")
        ids["policy_id"] = _first(session, "SELECT id FROM sla_policies ORDER BY id")
        ids["macro_id"] = _first(session, "SELECT id FROM macros ORDER BY id")
        ids["article_id"] = _first(
            session, "SELECT id FROM kb_articles WHERE status = 'published' ORDER BY id"
        )
        ids["slug"] = session.execute(
            text("SELECT slug FROM kb_articles WHERE id = :a"), {"a": ids["article_id"]}
        ).scalar()
        ids["feedback_id"] = _first(session, "SELECT id FROM partner_feedback ORDER BY id")
        ids["version"] = 1
    _more(runtime, client, world)


def _more(runtime: Runtime, client: TestClient, world: World) -> None:
    ids = world.ids
    tid, second = ids["ticket_id"], ids["second_ticket_id"]
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    # A file the customer sent, so attachment routes have a real id.
    sent = _api(
        client,
        world,
        "customer",
        "POST",
        f"/api/v1/tickets/{tid}/messages",
        json={
            "body": "Here is the photo of the receipt.",
            "attachments": [
                {
                    "filename": "receipt.png",
                    "content_type": "image/png",
                    "content_base64": base64.b64encode(PNG).decode(),
                }
            ],
        },
    )
    ids["attachment_id"] = sent["attachments"][0]["id"]
    ids["endpoint_id"] = _made(
        client,
        world,
        "admin",
        "/api/v1/webhooks",
        {"name": "crm", "url": "http://127.0.0.1:9/hook", "events": ["ticket.created"]},
    )
    _api(client, world, "admin", "POST", f"/api/v1/webhooks/{ids['endpoint_id']}/test")
    ids["delivery_id"] = _api(
        client, world, "admin", "GET", f"/api/v1/webhooks/{ids['endpoint_id']}/deliveries"
    )["items"][0]["id"]
    with open(_EXAMPLE_POLICY, encoding="utf-8") as handle:
        _api(client, world, "admin", "PUT", "/api/v1/resolutions/policy", json={"source": handle.read()})
    # Rows one POST each makes, in this order: the key of the new row's id, who posts, where, what.
    rows: list[tuple[str, str, str, dict[str, Any]]] = [
        (
            "resolution_id",
            "agent",
            f"/api/v1/tickets/{tid}/resolutions",
            {
                "kind": "credit",
                "amount": "5.00",
                "currency": "EUR",
                "reason": "service_failure",
                "apply": False,
            },
        ),
        ("reminder_id", "agent", f"/api/v1/tickets/{tid}/reminders", {"due_at": soon, "note": "call back"}),
        (
            "request_id",
            "agent",
            f"/api/v1/tickets/{tid}/help-requests",
            {"question": "Is a second refund allowed here?"},
        ),
        ("link_id", "agent", f"/api/v1/tickets/{tid}/links", {"kind": "related_to", "ticket_id": second}),
        (
            "calendar_id",
            "admin",
            "/api/v1/sla/calendars",
            {"name": "Matrix office", "time_zone": "Europe/Berlin", "hours": {"mon": [["09:00", "17:00"]]}},
        ),
        (
            "block_id",
            "lead",
            "/api/v1/blocks",
            {"kind": "email", "value": "spam@spam.example", "reason": "sends spam"},
        ),
    ]
    for key, role, path, body in rows:
        ids[key] = _made(client, world, role, path, body)
    ids["endpoint"] = _api(
        client,
        world,
        "admin",
        "POST",
        "/api/v1/channels/social",
        json={"name": "insta", "platform": "instagram"},
    )["name"]
    ids["conversation_id"] = _ok(
        client.post("/api/v1/assistant/ask", json={"text": "How do I descale?"}), what="assistant"
    )["conversation_id"]
    rows = [  # as above
        ("session_id", "agent", "/api/v1/training/sessions", {"scenario_id": ids["scenario_id"]}),
        (
            "photo_id",
            "partner",
            f"/api/v1/work-orders/{ids['work_order_id']}/photos",
            {
                "filename": "leak.png",
                "content_type": "image/png",
                "content_base64": base64.b64encode(PNG).decode(),
            },
        ),
        (
            "call_id",
            "agent",
            "/api/v1/calls",
            {
                "direction": "inbound",
                "caller": "+4930555012345",
                "callee": "+4930555000000",
                "started_at": dt.datetime.now(dt.UTC).isoformat(),
                "duration_seconds": 60,
                "outcome": "answered",
                "transcript": [{"speaker": "customer", "text": "My router keeps dropping the connection."}],
            },
        ),
    ]
    for key, role, path, body in rows:
        ids[key] = _made(client, world, role, path, body)
    # Two more tickets of the customer's, merged: for the merge-undo routes.
    one = _api(
        client,
        world,
        "customer",
        "POST",
        "/api/v1/tickets",
        json={
            "customer": {"email": "x@example.com"},
            "subject": "Router",
            "body": "My router drops the line.",
        },
    )["id"]
    two = _api(
        client,
        world,
        "customer",
        "POST",
        "/api/v1/tickets",
        json={"customer": {"email": "x@example.com"}, "subject": "Router again", "body": "Still dropping."},
    )["id"]
    ids["ticket_merge_id"] = _api(
        client, world, "agent", "POST", f"/api/v1/tickets/{one}/merge", json={"target_id": two}
    )["id"]
    with runtime.database.session() as session:
        found = list(
            session.execute(
                text(
                    "SELECT id FROM customers WHERE id NOT IN (:a, :b) AND merged_into_id IS NULL "
                    "ORDER BY id DESC"
                ),
                {"a": world.creds["customer"].customer_id, "b": world.other_customer.customer_id},
            ).scalars()
        )
    ids["customer_merge_id"] = _api(
        client, world, "admin", "POST", f"/api/v1/customers/{found[0]}/merge", json={"source_id": found[1]}
    )["id"]
    with runtime.database.session() as session:
        item = channels.quarantine(
            session=session,
            channel="email",
            source="smtp",
            raw_sha256=channels.store_raw(session=session, data=b"Subject: ???\r\n\r\n--broken"),
            reason_code="unreadable",
            reason="the MIME structure is broken",
            sender="odd@example.net",
            subject="???",
        )
        ids["item_id"] = item.id
        view = inbox.save_view(
            session=session,
            principal=Principal(kind="user", id=world.creds["agent"].user_id, role=Role.agent),
            name="Urgent",
            view=inbox.View.all,
            filters=inbox.InboxFilters(priority="urgent"),
        )
        ids["view_id"] = view.id
        survey_id = session.execute(text("SELECT id FROM surveys ORDER BY id")).scalar()
        ids["survey_token"] = SURVEY_TOKEN
        if survey_id is not None:
            session.execute(
                text("UPDATE surveys SET token_digest = :d, state = 'sent' WHERE id = :i"),
                {"d": surveys.digest(SURVEY_TOKEN), "i": survey_id},
            )
        # No service makes these on demand (the detectors and the load watcher do): rows as they would.
        now = dt.datetime.now(dt.UTC)
        spike = SpikeAlert(
            theme_id=ids["theme_id"],
            metric="volume",
            started_at=now,
            detected_at=now,
            count=12.0,
            baseline=2.0,
            growth=5.0,
        )
        rest = RecoveryBreak(
            user_id=world.creds["agent"].user_id,
            ticket_id=tid,
            state=BreakState.offered,
            minutes=10,
            reason=f"after an abusive conversation on ticket #{tid}",
            created_at=now,
        )
        session.add_all([spike, rest])
        session.flush()
        ids["spike_id"], ids["break_id"] = spike.id, rest.id
        session.commit()


# -- throwaway rows for the routes that use up what they act on (a delete): one per request, so every role
# meets the same state and a role's answer never depends on what the role before it did.
class Fresh:
    def __init__(self, client: TestClient, world: World) -> None:
        self.client, self.world, self.count = client, world, 0

    def _name(self, stem: str) -> str:
        self.count += 1
        return f"{stem} {self.count}"

    def _made(self, path: str, body: dict[str, Any]) -> Any:
        """A throwaway row the admin makes: its id."""
        return _made(self.client, self.world, "admin", path, body)

    def calendar(self) -> dict[str, Any]:
        hours = {"mon": [["09:00", "17:00"]]}
        body = {"name": self._name("Spare calendar"), "time_zone": "UTC", "hours": hours}
        return {"calendar_id": self._made("/api/v1/sla/calendars", body)}

    def sla_policy(self) -> dict[str, Any]:
        body = {"name": self._name("Spare policy"), "targets": {"first_response": 60}}
        return {"policy_id": self._made("/api/v1/sla/policies", body)}

    def rule(self) -> dict[str, Any]:
        body = {
            "name": self._name("Spare rule"),
            "trigger": "event",
            "events": ["ticket.created"],
            "actions": [{"type": "add_tags", "tags": ["spare"]}],
        }
        return {"rule_id": self._made("/api/v1/automations", body)}

    def webhook(self) -> dict[str, Any]:
        body = {"name": self._name("spare"), "url": "http://127.0.0.1:9/spare", "events": ["ticket.created"]}
        return {"endpoint_id": self._made("/api/v1/webhooks", body)}

    def department(self) -> dict[str, Any]:
        body = {"name": self._name("Spare department")}
        return {"department_id": self._made("/api/v1/advocacy/departments", body)}

    def link(self) -> dict[str, Any]:
        tid, second = self.world.ids["ticket_id"], self.world.ids["second_ticket_id"]
        path = f"/api/v1/tickets/{tid}/links"
        headers = {"Authorization": f"Bearer {self.world.creds['agent'].token}"}
        made = self.client.post(path, json={"kind": "related_to", "ticket_id": second}, headers=headers)
        if made.status_code == 201:  # else it is there still: the last one made
            self.world.ids["link_id"] = made.json()["id"]
        return {"link_id": self.world.ids["link_id"]}

    def case_ticket(self) -> dict[str, Any]:
        ids = self.world.ids
        _api(
            self.client,
            self.world,
            "admin",
            "POST",
            f"/api/v1/advocacy/cases/{ids['case_id']}/tickets",
            json={"ticket_ids": [ids["ticket_id"]]},
        )
        return {}
