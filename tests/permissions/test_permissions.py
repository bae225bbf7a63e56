"""Permissions: every route of the app x every role against tests/permissions/table.py, on one seeded
workspace per engine; and the data checks behind the table: a customer sees only their own tickets, a
partner only their company's work orders, nobody outside the staff ever reads an internal note.

The data checks run first (the matrix acts as every role, admins included, and changes the workspace)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from ombud.runtime import Runtime
from tests.conftest import app_for
from tests.permissions import doc, matrix, table
from tests.permissions.conftest import Seeded
from tests.permissions.harness import ALLOW, ERROR, app_routes
from tests.permissions.seed import INTERNAL_MARK, PUBLIC_MARK, ROLES, Credentials, World

pytestmark = pytest.mark.slow  # seeding and ~3,100 requests: most of a minute or more per engine

CLASS = {"ok": ALLOW, "401": "401", "403": "403", "404": "404", "in": "sign-in", "away": "elsewhere"}


def _api(client: TestClient, who: Credentials, path: str, **params: Any) -> Any:
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {who.token}"} if who.token else {}
    return client.get(path, params=params, headers=headers)


def _page(client: TestClient, who: Credentials, path: str) -> Any:
    client.cookies.clear()
    return client.get(path, headers={"Cookie": f"ombud_session={who.cookie}"}, follow_redirects=False)


# -- the table covers the app -------------------------------------------------------------------------------
def test_every_route_has_exactly_one_row(runtime: Runtime) -> None:
    routes = app_routes(app_for(runtime))
    have = {f"{e.method} {e.path}" for e in routes.http}
    missing = sorted(have - set(table.EXPECTED))
    gone = sorted(set(table.EXPECTED) - have)
    assert not missing, f"routes without a row in tests/permissions/table.py: {missing}"
    assert not gone, f"rows for routes the app no longer has: {gone}"
    assert sorted(routes.websockets) == sorted(table.WEBSOCKETS), (
        "a WebSocket route has no row (or a stale one)"
    )
    assert routes.mounts == ["/static"], "a new mount: add it to the permission table's checks"
    for key, answers in {**table.EXPECTED, **table.WEBSOCKETS}.items():
        cells = answers.split()
        assert len(cells) == len(ROLES) and set(cells) <= set(CLASS), (key, answers)
    for key in table.FRESH:
        assert key in table.EXPECTED, key


def test_docs_permissions_md_matches_the_table() -> None:
    assert doc.DOC.read_text(encoding="utf-8") == doc.render(), (
        "docs/permissions.md is out of date: run .venv/bin/python -m tests.permissions.doc"
    )


# -- data checks -------------------------------------------------------------------------------------------
def test_a_customer_sees_only_their_own_tickets(seeded: Seeded) -> None:
    world = seeded.world
    me, other = world.creds["customer"], world.other_customer
    mine, theirs = world.ids["ticket_id"], world.ids["other_ticket_id"]
    with seeded.client() as client:
        listed = _api(client, me, "/api/v1/tickets", limit=200).json()["items"]
        assert listed and {t["customer_id"] for t in listed} == {me.customer_id}
        assert mine in {t["id"] for t in listed} and theirs not in {t["id"] for t in listed}
        # Search by the other customer's subject finds nothing of theirs.
        subject = _api(client, other, f"/api/v1/tickets/{theirs}").json()["subject"]
        found = _api(client, me, "/api/v1/tickets", q=subject.split()[0]).json()["items"]
        assert theirs not in {t["id"] for t in found}
        for path in (
            f"/api/v1/tickets/{theirs}",
            f"/api/v1/tickets/{theirs}/calls",
            f"/api/v1/tickets/{theirs}/work-orders",
            f"/api/v1/customers/{other.customer_id}",
            f"/api/v1/customers/{other.customer_id}/timeline",
            f"/api/v1/customers/{other.customer_id}/purchases",
        ):
            assert _api(client, me, path).status_code in (403, 404), path
        assert _api(client, me, f"/api/v1/tickets/{theirs}").status_code == 404
        assert _page(client, me, f"/portal/tickets/{theirs}").status_code == 404
        portal = _page(client, me, "/portal").text
        assert f"/portal/tickets/{mine}" in portal and f'/portal/tickets/{theirs}"' not in portal
        # Posting into another customer's ticket is refused as not found, and nothing is added.
        client.cookies.clear()
        posted = client.post(
            f"/api/v1/tickets/{theirs}/messages",
            json={"body": "let me in"},
            headers={"Authorization": f"Bearer {me.token}"},
        )
        assert posted.status_code == 404


def test_a_partner_sees_only_their_companys_work_orders(seeded: Seeded) -> None:
    world = seeded.world
    mine, other = world.creds["partner"], world.other_partner
    with seeded.client() as client:
        ours = _api(client, mine, "/api/v1/work-orders").json()["items"]
        theirs = _api(client, other, "/api/v1/work-orders").json()["items"]
        assert ours, "the seed gives FixRight work orders"
        assert {o["partner_id"] for o in ours} == {world.ids["partner_id"]}
        assert {o["partner_id"] for o in theirs} <= {world.ids["other_partner_id"]}
        assert not {o["id"] for o in ours} & {o["id"] for o in theirs}
        order = world.ids["work_order_id"]
        assert _api(client, other, f"/api/v1/work-orders/{order}").status_code == 404
        assert _api(client, other, f"/api/v1/work-orders/{order}/updates").status_code == 404
        assert _api(client, other, f"/api/v1/work-order-photos/{world.ids['photo_id']}").status_code == 404
        assert _page(client, other, f"/partner/work-orders/{order}").status_code == 404
        assert _page(client, other, f"/partner/photos/{world.ids['photo_id']}").status_code == 404
        # Nor tickets, customers or the workspace.
        assert _api(client, mine, "/api/v1/tickets").status_code == 403
        assert _api(client, mine, f"/api/v1/customers/{world.ids['customer_id']}").status_code == 403
        assert _page(client, mine, "/agent/inbox").status_code == 403


def test_internal_notes_never_reach_a_customer_or_a_partner(seeded: Seeded) -> None:
    world = seeded.world
    me, tid, order = world.creds["customer"], world.ids["ticket_id"], world.ids["work_order_id"]
    partner = world.creds["partner"]
    with seeded.client() as client:
        # Staff see the note (so the marker is really there to leak).
        staff = _api(client, world.creds["agent"], f"/api/v1/tickets/{tid}").text
        assert INTERNAL_MARK in staff and PUBLIC_MARK in staff
        seen_by_customer = [
            _api(client, me, f"/api/v1/tickets/{tid}").text,
            _api(client, me, "/api/v1/tickets").text,
            _api(client, me, f"/api/v1/customers/{me.customer_id}/timeline").text,
            _api(client, me, f"/api/v1/tickets/{tid}/work-orders").text,
            _api(client, me, f"/api/v1/work-orders/{order}").text,
            _api(client, me, f"/api/v1/work-orders/{order}/updates").text,
            _page(client, me, "/portal").text,
            _page(client, me, f"/portal/tickets/{tid}").text,
        ]
        assert PUBLIC_MARK in seen_by_customer[0] and PUBLIC_MARK in seen_by_customer[7]
        for text in seen_by_customer:
            assert INTERNAL_MARK not in text
        assert _api(client, me, f"/api/v1/work-orders/{order}/photos").json()["items"] == []
        seen_by_partner = [
            _api(client, partner, f"/api/v1/work-orders/{order}").text,
            _api(client, partner, f"/api/v1/work-orders/{order}/updates").text,
            _api(client, partner, "/api/v1/work-orders").text,
            _page(client, partner, "/partner").text,
            _page(client, partner, f"/partner/work-orders/{order}").text,
        ]
        for text in seen_by_partner:
            assert INTERNAL_MARK not in text
            assert PUBLIC_MARK not in text  # nor the conversation with the customer


def test_advocates_see_what_the_docs_say(seeded: Seeded) -> None:
    """Advocates read tickets, customers and the advocacy data, add internal notes, never reply to a
    customer or change a ticket (docs/api.md: service roles only)."""
    world = seeded.world
    advocate, tid = world.creds["advocate"], world.ids["ticket_id"]
    with seeded.client() as client:
        assert INTERNAL_MARK in _api(client, advocate, f"/api/v1/tickets/{tid}").text
        assert _api(client, advocate, "/api/v1/advocacy/themes").status_code == 200
        assert _api(client, advocate, f"/api/v1/customers/{world.ids['customer_id']}").status_code == 200
        headers = {"Authorization": f"Bearer {advocate.token}"}
        public = client.post(f"/api/v1/tickets/{tid}/messages", json={"body": "Hello!"}, headers=headers)
        assert public.status_code == 403, public.text
        note = client.post(
            f"/api/v1/tickets/{tid}/messages",
            json={"body": "seen this before", "internal": True},
            headers=headers,
        )
        assert note.status_code == 201, note.text
        assert (
            client.patch(f"/api/v1/tickets/{tid}", json={"status": "open"}, headers=headers).status_code
            == 403
        )


def test_webhooks_for_messages_never_carry_an_internal_note(seeded: Seeded) -> None:
    """An endpoint subscribed to ``message.added`` (what a customer-facing system listens to) gets public
    replies; internal notes are a separate event (``note.added``) that only an endpoint subscribed to it
    receives."""
    world = seeded.world
    admin = {"Authorization": f"Bearer {world.creds['admin'].token}"}
    agent = {"Authorization": f"Bearer {world.creds['agent'].token}"}
    tid = world.ids["ticket_id"]
    with seeded.client() as client:
        client.cookies.clear()
        made = client.post(
            "/api/v1/webhooks",
            json={"name": "portal mirror", "url": "http://127.0.0.1:9/mirror", "events": ["message.added"]},
            headers=admin,
        )
        assert made.status_code == 201, made.text
        endpoint = made.json()["id"]
        sent = {}
        for body, internal in (
            (f"{INTERNAL_MARK} second note", True),
            (f"{PUBLIC_MARK} second reply", False),
        ):
            made = client.post(
                f"/api/v1/tickets/{tid}/messages", json={"body": body, "internal": internal}, headers=agent
            )
            assert made.status_code == 201, made.text
            sent[internal] = made.json()["id"]
        listed = client.get(f"/api/v1/webhooks/{endpoint}/deliveries", headers=admin).json()["items"]
        details = [
            client.get(f"/api/v1/webhooks/deliveries/{item['id']}", headers=admin).json() for item in listed
        ]
        # The payload names the message (no bodies at all): the reply, never the note.
        assert {d["entity_id"] for d in details} == {sent[False]}, details
        assert not any(INTERNAL_MARK in json.dumps(d["payload"]) for d in details)


def test_internal_and_draft_articles_stay_with_the_staff(seeded: Seeded) -> None:
    world = seeded.world
    agent = {"Authorization": f"Bearer {world.creds['agent'].token}"}
    made = {}
    with seeded.client() as client:
        for audience, status in (("internal", "published"), ("public", "draft"), ("partner", "published")):
            client.cookies.clear()
            response = client.post(
                "/api/v1/kb/articles",
                json={
                    "title": f"Zebracorn escalation path {audience} {status}",
                    "body": f"Zebracorn: how we handle this ({audience}, {status}).",
                    "audience": audience,
                    "status": status,
                },
                headers=agent,
            )
            assert response.status_code == 201, response.text
            made[audience, status] = response.json()["id"]
        hidden_from_outside = {made["internal", "published"], made["public", "draft"]}
        for role in ("anonymous", "customer", "partner"):
            who = world.creds[role]
            listed = {a["id"] for a in _api(client, who, "/api/v1/kb/articles", limit=100).json()["items"]}
            found = _api(client, who, "/api/v1/kb/search", q="Zebracorn escalation").json()["hits"]
            assert not hidden_from_outside & listed, role
            assert not hidden_from_outside & {hit["article_id"] for hit in found}, role
            for article in hidden_from_outside:
                assert _api(client, who, f"/api/v1/kb/articles/{article}").status_code == 404, (role, article)
            partner_article = _api(client, who, f"/api/v1/kb/articles/{made['partner', 'published']}")
            assert partner_article.status_code == (200 if role == "partner" else 404), role
        client.cookies.clear()
        page = client.get("/help", params={"q": "Zebracorn escalation"}).text
        assert "path internal published" not in page and "path public draft" not in page
        staff = {
            a["id"]
            for a in _api(client, world.creds["agent"], "/api/v1/kb/articles", limit=100).json()["items"]
        }
        assert made["internal", "published"] in staff


# -- the matrix --------------------------------------------------------------------------------------------
def _verdict(expected: str, got: matrix.Answer) -> str | None:
    """None when ``got`` is the expected class; else what is wrong (a LEAK when a refused role got in)."""
    if got.answer == ERROR:
        return f"server error {got.status}"
    want = CLASS[expected]
    if got.answer == want:
        return None
    if want != ALLOW and got.status == 422:
        return None  # the body was refused before the role check: nothing happened, no data went out
    if want != ALLOW and got.answer == ALLOW:
        return f"LEAK: expected {expected}, got {got.status} {got.code}"
    return f"expected {expected}, got {got.answer} ({got.status} {got.code})"


def test_every_route_answers_every_role_as_the_table_says(seeded: Seeded) -> None:
    with seeded.client() as client:
        routes = app_routes(seeded.app)
        seen = matrix.run(client, seeded.world, routes.http)
    wrong = []
    for endpoint, answers in seen.items():
        expected = table.EXPECTED[f"{endpoint.method} {endpoint.path}"].split()
        for role, want in zip(ROLES, expected, strict=True):
            problem = _verdict(want, answers[role])
            if problem:
                wrong.append(f"{endpoint.method} {endpoint.path} as {role}: {problem}")
    assert len(seen) * len(ROLES) >= 3000
    assert not wrong, f"{len(wrong)} answers differ from tests/permissions/table.py:\n" + "\n".join(wrong)


def _socket_answer(client: TestClient, path: str, token: str | None) -> str:
    with client.websocket_connect(path) as socket:
        socket.send_text(json.dumps({"type": "hello", "token": token or ""}))
        try:
            first = socket.receive_json()
        except WebSocketDisconnect:
            return "401"
    if first.get("type") == "welcome":
        return "ok"
    code = str(first.get("code", ""))
    if code == "role_forbidden":
        return "403"
    assert re.search(r"token|hello", code), first
    return "401"


def test_websockets_answer_every_role_as_the_table_says(seeded: Seeded) -> None:
    world: World = seeded.world
    with seeded.client() as client:
        for path, answers in table.WEBSOCKETS.items():
            got = [_socket_answer(client, path, world.creds[role].token) for role in ROLES]
            assert got == answers.split(), (path, got)
        # The visitor socket opens for its own visitor token.
        client.cookies.clear()
        visitor = client.post("/chat/api/visitors", json={"name": "Vera"}).json()["token"]
        assert _socket_answer(client, "/chat/ws", visitor) == "ok"


def test_a_refused_role_that_gets_in_is_reported_as_a_leak() -> None:
    """The comparison itself: a 2xx or a redirect past a refusal is a leak, 422 before the role check is
    not, a 5xx is always wrong, and an allowed role that is refused is a mismatch."""
    assert _verdict("403", matrix.Answer(ALLOW, 200, "")) == "LEAK: expected 403, got 200 "
    assert _verdict("in", matrix.Answer(ALLOW, 303, "")) == "LEAK: expected in, got 303 "
    assert _verdict("404", matrix.Answer(ALLOW, 422, "invalid_input")) is None
    assert _verdict("403", matrix.Answer("403", 403, "role_forbidden")) is None
    assert (
        _verdict("ok", matrix.Answer("403", 403, "role_forbidden"))
        == "expected ok, got 403 (403 role_forbidden)"
    )
    assert _verdict("ok", matrix.Answer(ERROR, 500, "")) == "server error 500"
