"""The partner network's pages through the real app: the partner portal (sign-in, lists, the visit and its
actions, photos, feedback, scorecard), who may see what (another company's partner, staff, customers,
anonymous callers), the staff pages (ticket panel, work orders, partners, feedback inbox) and the customer
portal's appointment and visit rating."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from ombud.accounts import service as accounts
from ombud.accounts import sessions
from ombud.accounts.models import Role
from ombud.accounts.schemas import Principal
from ombud.knowledge import service as knowledge
from ombud.knowledge.models import ArticleStatus, Audience
from ombud.knowledge.schemas import ArticleCreate
from ombud.partners import service as partners
from ombud.partners import work_orders
from ombud.partners.models import WorkOrderKind, WorkOrderStatus
from ombud.partners.schemas import PartnerCreate, TechnicianSet, WorkOrderCreate
from ombud.runtime import Runtime
from tests.conftest import Personas, app_for, new_ticket
from tests.web.workspace import form_csrf, set_password
from tests.web.workspace import sign_in as staff_sign_in

# The smallest PNG there is: a 1x1 transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002"
    "000154a24f5d0000000049454e44ae426082"
)
EVERY_DAY = {day: [["06:00", "22:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
OTHER_TECH = "other@partner.test"
SECOND_TECH = "second@fixit.test"


@dataclass
class Network:
    fixit: int  # the `partner` persona's company
    elsewhere: int  # another company, with its own technician
    other_tech: int
    second_tech: int


def admin_of(people: Personas) -> Principal:
    return Principal(kind="user", id=people.admin.id, role=Role.admin)


def make_network(runtime: Runtime, people: Personas) -> Network:
    """Two partner companies in postcode 10: Fixit (the partner persona and a second technician) repairs,
    Elsewhere installs and repairs (a repair goes to Fixit first: the lower id when the load is even)."""
    admin = admin_of(people)
    with runtime.database.session() as session:
        fixit = partners.create_partner(session=session, actor=admin, data=PartnerCreate(name="Fixit Ltd"))
        elsewhere = partners.create_partner(
            session=session, actor=admin, data=PartnerCreate(name="Elsewhere Co")
        )
        other = accounts.create_user(session=session, email=OTHER_TECH, role=Role.partner, name="Olga Other")
        second = accounts.create_user(
            session=session, email=SECOND_TECH, role=Role.partner, name="Sam Second"
        )
        for user_id, partner_id, skills in (
            (people.partner.id, fixit.id, ["repair"]),
            (second.id, fixit.id, ["repair"]),
            (other.id, elsewhere.id, ["install", "repair"]),
        ):
            partners.set_technician(
                session=session,
                actor=admin,
                user_id=user_id,
                data=TechnicianSet(
                    partner_id=partner_id,
                    skills=skills,
                    areas=["10"],
                    working_hours=EVERY_DAY,
                    timezone="UTC",
                ),
            )
        made = Network(fixit=fixit.id, elsewhere=elsewhere.id, other_tech=other.id, second_tech=second.id)
        session.commit()
        return made


def make_work_order(
    runtime: Runtime, people: Personas, ticket_id: int, kind: WorkOrderKind = WorkOrderKind.repair
) -> int:
    with runtime.database.session() as session:
        made = work_orders.create_work_order(
            session=session,
            actor=admin_of(people),
            ticket_id=ticket_id,
            data=WorkOrderCreate(
                kind=kind,
                summary="The boiler leaks under the valve",
                address="Hauptstrasse 5, Berlin",
                postcode="10115",
                contact_phone="+49 30 1234567",
            ),
        )
        found = made.id
        session.commit()
        return found


@contextmanager
def browser(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(app_for(runtime), raise_server_exceptions=False) as client:
        yield client


def partner_sign_in(client: TestClient, runtime: Runtime, email: str) -> str:
    """Sign a partner user in through /login; they land on /partner. Return the forms' CSRF token."""
    set_password(runtime, email)
    form = client.get("/login")
    response = client.post(
        "/login",
        data={
            "email": email,
            "password": "correct horse battery",
            "csrf_token": form_csrf(form.text),
            "next": "/agent",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/partner"
    home = client.get("/partner")
    assert home.status_code == 200, home.text
    return form_csrf(home.text)


def customer_sign_in(client: TestClient, runtime: Runtime, email: str) -> str:
    with runtime.database.session() as session:
        issued = sessions.issue_login_link(session=session, email=email)
        assert issued is not None
        session.commit()
    path = f"/portal/login/{issued[0]}"
    page = client.get(path)
    done = client.post(path, data={"csrf_token": form_csrf(page.text)}, follow_redirects=False)
    assert done.status_code == 303, done.text
    return form_csrf(client.get("/portal").text)


def status_of(runtime: Runtime, work_order_id: int) -> WorkOrderStatus:
    with runtime.database.session() as session:
        return work_orders.access_work_order(
            session=session, principal=Principal(kind="system", id=None), work_order_id=work_order_id
        ).status


def ticket_id(client: TestClient, people: Personas) -> int:
    created = new_ticket(
        client, people.agent, subject="Boiler leaking", body="My boiler leaks water under the valve."
    )
    found = created["id"]
    assert isinstance(found, int)
    return found


# -- the partner portal --------------------------------------------------------------------------------------
def test_a_partner_works_a_visit_from_offer_to_completion(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    net = make_network(runtime, people)
    ticket = ticket_id(client, people)
    order = make_work_order(runtime, people, ticket)
    assert status_of(runtime, order) is WorkOrderStatus.offered

    with browser(runtime) as tech:
        csrf = partner_sign_in(tech, runtime, "partner@desk.test")
        home = tech.get("/partner")
        assert f'data-work-order="{order}"' in home.text
        assert "Offered to you" in home.text
        # Two technicians at Fixit: accepting chooses one.
        assert f'<option value="{net.second_tech}">Sam Second</option>' in home.text

        page = tech.get(f"/partner/work-orders/{order}")
        assert page.status_code == 200
        assert 'href="tel:+49301234567"' in page.text
        assert "Hauptstrasse 5, Berlin" in page.text and "10115" in page.text
        # Never the ticket's messages or the customer's other details.
        assert "My boiler leaks water" not in page.text and "maria@example.com" not in page.text
        assert f"/agent/tickets/{ticket}" not in page.text

        accepted = tech.post(
            f"/partner/work-orders/{order}/accept",
            data={"csrf_token": csrf, "technician_id": str(people.partner.id)},
            follow_redirects=False,
        )
        assert accepted.status_code == 303, accepted.text
        page = tech.get(accepted.headers["location"])
        assert "You accepted the work order." in page.text
        slots = re.findall(r'name="slot" value="([^"]+)"', page.text)
        assert len(slots) >= 2
        offered = tech.post(
            f"/partner/work-orders/{order}/slots",
            data={"csrf_token": csrf, "slot": slots[:2]},
            follow_redirects=False,
        )
        assert offered.status_code == 303, offered.text
        assert status_of(runtime, order) is WorkOrderStatus.accepted

        # Agreed by phone: the technician books one of the free times.
        page = tech.get(f"/partner/work-orders/{order}")
        start = re.search(
            r'<select id="confirm-start" name="start" required>\s*<option value="([^"]+)"', page.text
        )
        assert start is not None, page.text
        booked = tech.post(
            f"/partner/work-orders/{order}/confirm",
            data={"csrf_token": csrf, "start": start.group(1)},
            follow_redirects=False,
        )
        assert booked.status_code == 303, booked.text
        assert status_of(runtime, order) is WorkOrderStatus.scheduled

        for status in ("en_route", "on_site"):
            moved = tech.post(
                f"/partner/work-orders/{order}/status",
                data={"csrf_token": csrf, "status": status},
                follow_redirects=False,
            )
            assert moved.status_code == 303, moved.text
        assert status_of(runtime, order) is WorkOrderStatus.on_site

        noted = tech.post(
            f"/partner/work-orders/{order}/notes",
            data={"csrf_token": csrf, "body": "Valve seal worn out"},
            follow_redirects=False,
        )
        assert noted.status_code == 303
        parts = tech.post(
            f"/partner/work-orders/{order}/parts",
            data={"csrf_token": csrf, "part": ["Valve seal 22 mm", "", ""], "quantity": ["2", "1", "1"]},
            follow_redirects=False,
        )
        assert parts.status_code == 303, parts.text
        uploaded = tech.post(
            f"/partner/work-orders/{order}/photos",
            data={"csrf_token": csrf},
            files={"photos": ("valve.png", PNG, "image/png")},
            follow_redirects=False,
        )
        assert uploaded.status_code == 303, uploaded.text

        done = tech.post(
            f"/partner/work-orders/{order}/status",
            data={"csrf_token": csrf, "status": "completed", "outcome": "fixed", "note": "Seal replaced"},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        page = tech.get(f"/partner/work-orders/{order}")
        assert "Valve seal worn out" in page.text
        assert "2 \u00d7 Valve seal 22 mm" in page.text
        assert "Seal replaced" in page.text
        photo = re.search(r'<img src="(/partner/photos/(\d+))"', page.text)
        assert photo is not None, page.text
        served = tech.get(photo.group(1))
        assert served.status_code == 200 and served.content == PNG
        assert served.headers["content-type"] == "image/png"
        assert served.headers["x-content-type-options"] == "nosniff"
        photo_id = photo.group(2)
        assert "Recently completed" in tech.get("/partner").text
    assert status_of(runtime, order) is WorkOrderStatus.completed

    # Staff see the photo; the other company's technician and an anonymous caller do not.
    staff_sign_in(client, runtime, "agent@desk.test")
    assert client.get(f"/agent/work-order-photos/{photo_id}").content == PNG
    staff_page = client.get(f"/agent/work-orders/{order}")
    assert staff_page.status_code == 200 and "Seal replaced" in staff_page.text
    with browser(runtime) as other:
        partner_sign_in(other, runtime, OTHER_TECH)
        assert other.get(f"/partner/photos/{photo_id}").status_code == 404
        assert other.get(f"/partner/work-orders/{order}").status_code == 404
    with browser(runtime) as anonymous:
        refused = anonymous.get(f"/partner/photos/{photo_id}", follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
        refused = anonymous.get(f"/agent/work-order-photos/{photo_id}", follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login")


def test_a_partner_sees_only_their_company_and_never_the_workspace(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    make_network(runtime, people)
    ticket = ticket_id(client, people)
    mine = make_work_order(runtime, people, ticket)
    theirs = make_work_order(runtime, people, ticket, WorkOrderKind.install)  # only Elsewhere installs

    with browser(runtime) as tech:
        partner_sign_in(tech, runtime, "partner@desk.test")
        home = tech.get("/partner").text
        assert f'data-work-order="{mine}"' in home
        assert f'data-work-order="{theirs}"' not in home
        missing = tech.get(f"/partner/work-orders{'/'}{theirs}")
        assert missing.status_code == 404
        assert "work_order_not_found" in missing.text
        # The workspace and the visit's own ticket are not theirs to open.
        assert tech.get("/agent/inbox").status_code == 403
        assert tech.get(f"/agent/tickets/{ticket}").status_code == 403
        assert tech.get(f"/agent/work-orders/{mine}").status_code == 403
        assert tech.get(f"/portal/tickets/{ticket}", follow_redirects=False).status_code == 303

    with browser(runtime) as other:
        partner_sign_in(other, runtime, OTHER_TECH)
        home = other.get("/partner").text
        assert f'data-work-order="{theirs}"' in home and f'data-work-order="{mine}"' not in home
        assert other.get(f"/partner/work-orders/{mine}").status_code == 404

    # Staff opening the portal go to their workspace; nobody signed in goes to sign in.
    staff_sign_in(client, runtime, "agent@desk.test")
    staff = client.get("/partner", follow_redirects=False)
    assert staff.status_code == 303 and staff.headers["location"] == "/agent"
    with browser(runtime) as anonymous:
        refused = anonymous.get(f"/partner/work-orders/{mine}", follow_redirects=False)
        assert refused.status_code == 303
        assert refused.headers["location"] == f"/login?next=%2Fpartner%2Fwork-orders%2F{mine}"


def test_forms_without_the_csrf_token_are_refused_and_errors_keep_their_code(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    make_network(runtime, people)
    order = make_work_order(runtime, people, ticket_id(client, people))
    with browser(runtime) as tech:
        csrf = partner_sign_in(tech, runtime, "partner@desk.test")
        forged = tech.post(f"/partner/work-orders/{order}/accept", data={})
        assert forged.status_code == 403 and "csrf_failed" in forged.text
        assert status_of(runtime, order) is WorkOrderStatus.offered
        # Not yet accepted: "On my way" is not a move from offered; the page says why, with the code.
        wrong = tech.post(
            f"/partner/work-orders/{order}/status", data={"csrf_token": csrf, "status": "en_route"}
        )
        assert wrong.status_code == 409
        assert "invalid_transition" in wrong.text and 'role="alert"' in wrong.text
        empty = tech.post(f"/partner/work-orders/{order}/decline", data={"csrf_token": csrf, "reason": " "})
        assert empty.status_code == 422 and "reason_required" in empty.text
        declined = tech.post(
            f"/partner/work-orders/{order}/decline",
            data={"csrf_token": csrf, "reason": "No van this week"},
            follow_redirects=False,
        )
        assert declined.status_code == 303 and declined.headers["location"] == "/partner?notice=declined"
        # Declined, it went to the other partner: no longer theirs.
        assert tech.get(f"/partner/work-orders/{order}").status_code == 404
    with browser(runtime) as other:
        partner_sign_in(other, runtime, OTHER_TECH)
        page = other.get(f"/partner/work-orders/{order}")
        assert page.status_code == 200 and "Offered" in page.text
        # Fixit's decline and its reason are not Elsewhere's to read.
        assert "No van this week" not in page.text


def test_partner_feedback_knowledge_and_scorecard(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    make_network(runtime, people)
    with browser(runtime) as tech:
        csrf = partner_sign_in(tech, runtime, "partner@desk.test")
        sent = tech.post(
            "/partner/feedback",
            data={"csrf_token": csrf, "kind": "training", "subject": "AirBrew 2 training", "body": "Please."},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        item_path = sent.headers["location"].split("?")[0]
        feedback_id = item_path.rsplit("/", 1)[1]
        bad = tech.post("/partner/feedback", data={"csrf_token": csrf, "kind": "training", "subject": "x"})
        assert bad.status_code == 422 and "invalid_input" in bad.text

        staff_sign_in(client, runtime, "lead@desk.test")
        inbox = client.get("/agent/partner-feedback")
        assert "1 open" in inbox.text and "AirBrew 2 training" in inbox.text
        csrf_staff = form_csrf(client.get(f"/agent/partner-feedback/{feedback_id}").text)
        answered = client.post(
            f"/agent/partner-feedback/{feedback_id}/reply",
            data={"csrf_token": csrf_staff, "body": "A session on Friday at 10."},
            follow_redirects=False,
        )
        assert answered.status_code == 303, answered.text

        item = tech.get(item_path)
        assert "A session on Friday at 10." in item.text
        replied = tech.post(
            f"{item_path}/reply", data={"csrf_token": csrf, "body": "Thanks!"}, follow_redirects=False
        )
        assert replied.status_code == 303
        assert "Thanks!" in client.get(f"/agent/partner-feedback/{feedback_id}").text

        with browser(runtime) as other:
            partner_sign_in(other, runtime, OTHER_TECH)
            assert other.get(item_path).status_code == 404

        card = tech.get("/partner/scorecard")
        assert card.status_code == 200
        assert "Scorecard: Fixit Ltd" in card.text and "First-time fix rate" in card.text

        # Knowledge: partner and public articles, never internal ones or drafts.
        ids = {}
        with runtime.database.session() as session:
            for title, audience, status in (
                ("Fitting the AirBrew 2 valve", Audience.partner, ArticleStatus.published),
                ("Resetting your AirBrew", Audience.public, ArticleStatus.published),
                ("Escalation matrix for agents", Audience.internal, ArticleStatus.published),
                ("Unfinished partner guide", Audience.partner, ArticleStatus.draft),
            ):
                made = knowledge.create_article(
                    session=session,
                    principal=admin_of(people),
                    data=ArticleCreate(
                        title=title, body=f"{title}: the steps.", audience=audience, status=status
                    ),
                )
                ids[title] = made.id
            session.commit()
        listed = tech.get("/partner/knowledge").text
        assert "Fitting the AirBrew 2 valve" in listed and "Resetting your AirBrew" in listed
        assert "Escalation matrix" not in listed and "Unfinished partner guide" not in listed
        article = tech.get(f"/partner/knowledge/{ids['Fitting the AirBrew 2 valve']}")
        assert article.status_code == 200 and "the steps." in article.text
        assert tech.get(f"/partner/knowledge/{ids['Escalation matrix for agents']}").status_code == 404


# -- staff pages ---------------------------------------------------------------------------------------------
def test_staff_create_a_work_order_from_the_ticket_panel_and_manage_partners(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    net = make_network(runtime, people)
    ticket = ticket_id(client, people)
    csrf = staff_sign_in(client, runtime, "agent@desk.test")
    page = client.get(f"/agent/tickets/{ticket}")
    assert "Create a work order" in page.text
    made = client.post(
        f"/agent/tickets/{ticket}/work-orders",
        data={"csrf_token": csrf, "kind": "repair", "summary": "Fix the leak", "postcode": "10115"},
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    order_page = client.get(made.headers["location"])
    assert "Work order created and dispatched." in order_page.text
    assert "offered to Fixit Ltd" in order_page.text
    added = client.post(
        f"/agent/tickets/{ticket}/concerns",
        data={"csrf_token": csrf, "text": "The boiler leaks water under the valve"},
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    panel = client.get(f"/agent/tickets/{ticket}").text
    assert re.search(r"#\d+ Repair", panel)
    # Summary left empty: the chosen concern's words.
    concern = re.search(
        r'<select name="concern_id"><option value="">none</option><option value="(\d+)"', panel
    )
    assert concern is not None, panel
    from_concern = client.post(
        f"/agent/tickets/{ticket}/work-orders",
        data={"csrf_token": csrf, "kind": "repair", "summary": "", "concern_id": concern.group(1)},
        follow_redirects=False,
    )
    assert from_concern.status_code == 303, from_concern.text
    assert "The boiler leaks water under the valve" in client.get(from_concern.headers["location"]).text
    listed = client.get("/agent/work-orders", params={"status": "offered", "partner": str(net.fixit)})
    assert "Fix the leak" in listed.text
    assert "Fix the leak" not in client.get("/agent/work-orders", params={"partner": str(net.elsewhere)}).text
    assert client.get("/agent/work-orders", params={"status": "bogus"}).status_code == 422
    late = client.get("/agent/work-orders", params={"late": "true"})
    assert late.status_code == 200 and "Fix the leak" not in late.text  # due in days, not late
    forged = client.post(f"/agent/tickets/{ticket}/work-orders", data={"kind": "repair", "summary": "x"})
    assert forged.status_code == 403

    # An agent sees partners but may not add one; a lead may.
    assert "Fixit Ltd" in client.get("/agent/partners").text
    refused = client.post("/agent/partners", data={"csrf_token": csrf, "name": "Nope Inc"})
    assert refused.status_code == 403
    with browser(runtime) as lead:
        lead_csrf = staff_sign_in(lead, runtime, "lead@desk.test")
        added = lead.post(
            "/agent/partners", data={"csrf_token": lead_csrf, "name": "New Partner"}, follow_redirects=False
        )
        assert added.status_code == 303, added.text
        changed = lead.post(
            f"/agent/partners/{net.fixit}/technicians",
            data={
                "csrf_token": lead_csrf,
                "user_id": str(net.second_tech),
                "skills": "repair, AirBrew",
                "areas": "10, north",
                "day": ["mon", "tue"],
                "starts": "09:00",
                "ends": "15:00",
                "timezone": "Europe/Berlin",
                "active": "1",
            },
            follow_redirects=False,
        )
        assert changed.status_code == 303, changed.text
        off = lead.post(
            f"/agent/partners/{net.fixit}/technicians/{net.second_tech}/time-off",
            data={
                "csrf_token": lead_csrf,
                "starts_at": "2031-07-01T00:00",
                "ends_at": "2031-07-15T00:00",
                "timezone": "Europe/Berlin",
                "reason": "Holiday",
            },
            follow_redirects=False,
        )
        assert off.status_code == 303, off.text
        detail = lead.get(f"/agent/partners/{net.fixit}")
        assert detail.status_code == 200
        assert "Skills: airbrew, repair · Areas: 10, north" in detail.text
        assert "mon 09:00\u201315:00" in detail.text and "Europe/Berlin" in detail.text
        assert "(Holiday)" in detail.text
        assert "Sam Second" in detail.text and "Fixit Ltd: rates over the last 90 days" in detail.text


# -- the customer portal -------------------------------------------------------------------------------------
def test_the_customer_chooses_an_appointment_and_rates_the_visit(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    make_network(runtime, people)
    ticket = ticket_id(client, people)
    order = make_work_order(runtime, people, ticket)
    partner = Principal(kind="user", id=people.partner.id, role=Role.partner)
    with runtime.database.session() as session:
        work_orders.accept(session=session, actor=partner, work_order_id=order)
        work_orders.offer_slots(session=session, actor=partner, work_order_id=order)
        session.commit()

    with browser(runtime) as customer:
        csrf = customer_sign_in(customer, runtime, "maria@example.com")
        page = customer.get(f"/portal/tickets/{ticket}")
        assert "Choose an appointment" in page.text
        starts = re.findall(r'name="start" value="([^"]+)"', page.text)
        assert starts
        forged = customer.post(
            f"/portal/tickets/{ticket}/work-orders/{order}/appointment", data={"start": starts[0]}
        )
        assert forged.status_code == 403
        booked = customer.post(
            f"/portal/tickets/{ticket}/work-orders/{order}/appointment",
            data={"csrf_token": csrf, "start": starts[0]},
            follow_redirects=False,
        )
        assert booked.status_code == 303, booked.text
        assert status_of(runtime, order) is WorkOrderStatus.scheduled
        page = customer.get(f"/portal/tickets/{ticket}?done=appointment")
        assert "Your appointment is booked." in page.text and "Your technician: Partner" in page.text

        with runtime.database.session() as session:
            for status in (WorkOrderStatus.en_route, WorkOrderStatus.on_site):
                work_orders.set_status(session=session, actor=partner, work_order_id=order, status=status)
            work_orders.set_status(
                session=session,
                actor=partner,
                work_order_id=order,
                status=WorkOrderStatus.completed,
                outcome="fixed",
            )
            session.commit()
        assert "How was the visit?" in customer.get(f"/portal/tickets/{ticket}").text
        rated = customer.post(
            f"/portal/tickets/{ticket}/work-orders/{order}/rating",
            data={"csrf_token": csrf, "score": "5", "comment": "Quick and tidy"},
            follow_redirects=False,
        )
        assert rated.status_code == 303, rated.text
        page = customer.get(f"/portal/tickets/{ticket}")
        assert "You rated the visit 5 out of 5" in page.text and "How was the visit?" not in page.text
        again = customer.post(
            f"/portal/tickets/{ticket}/work-orders/{order}/rating", data={"csrf_token": csrf, "score": "1"}
        )
        assert again.status_code == 409 and "the visit is rated already" in again.text

    # Another customer cannot see or rate it.
    with browser(runtime) as other:
        other_csrf = customer_sign_in(other, runtime, "tom@example.org")
        refused = other.post(
            f"/portal/tickets/{ticket}/work-orders/{order}/rating",
            data={"csrf_token": other_csrf, "score": "1"},
        )
        assert refused.status_code == 404


@pytest.mark.parametrize(
    "path", ["/partner", "/partner/knowledge", "/partner/feedback", "/partner/scorecard"]
)
def test_a_partner_user_not_linked_to_a_company_is_told_so(
    client: TestClient, runtime: Runtime, people: Personas, path: str
) -> None:
    set_password(runtime, "partner@desk.test")
    form = client.get("/login")
    client.post(
        "/login",
        data={
            "email": "partner@desk.test",
            "password": "correct horse battery",
            "csrf_token": form_csrf(form.text),
        },
    )
    refused = client.get(path)
    assert refused.status_code == 403 and "not_a_technician" in refused.text


def test_an_advocate_reads_work_orders_but_does_not_make_them(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    make_network(runtime, people)
    ticket = ticket_id(client, people)
    order = make_work_order(runtime, people, ticket)
    csrf = staff_sign_in(client, runtime, "advocate@desk.test")
    assert client.get(f"/agent/work-orders/{order}").status_code == 200
    page = client.get(f"/agent/tickets/{ticket}")
    assert page.status_code == 200 and 'id="work-orders"' in page.text
    assert "Create a work order" not in page.text
    refused = client.post(
        f"/agent/tickets/{ticket}/work-orders", data={"csrf_token": csrf, "kind": "repair", "summary": "x"}
    )
    assert refused.status_code == 403 and "role_forbidden" in refused.text
    cancel = client.post(f"/agent/work-orders/{order}/cancel", data={"csrf_token": csrf, "reason": "no"})
    assert cancel.status_code == 403
    assert status_of(runtime, order) is WorkOrderStatus.offered


def test_staff_pages_show_the_times_a_partner_offered(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    # The offered times are kept as ISO strings in the row; the staff pages once called date methods on them
    # and answered 500 as soon as a partner had offered times.
    make_network(runtime, people)
    ticket = ticket_id(client, people)
    order = make_work_order(runtime, people, ticket)
    partner = people.partner.headers
    accepted = client.post(f"/api/v1/work-orders/{order}/accept", json={}, headers=partner)
    assert accepted.status_code == 200, accepted.text
    offered = client.post(f"/api/v1/work-orders/{order}/slots", json={}, headers=partner)
    assert offered.status_code == 200, offered.text
    first = offered.json()["offered_slots"][0]["start"]

    with browser(runtime) as staff:
        staff_sign_in(staff, runtime, "agent@desk.test")
        for page in (f"/agent/work-orders/{order}", f"/agent/tickets/{ticket}"):
            shown = staff.get(page)
            assert shown.status_code == 200, f"{page}: {shown.status_code}"
            assert f'name="start" value="{first.replace("Z", "+00:00")}"' in shown.text, page
