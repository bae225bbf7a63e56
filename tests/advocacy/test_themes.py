"""Themes, online: customers write in through the API, triage finds their concerns, and every concern joins a
theme (the real MiniLM embedder: which concerns belong together depends on meaning). The themes' figures,
the ``advocacy.concern_themed`` event, who may read and edit, and the errors of bad edits."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from ombud.advocacy.assignment import THEMES_LOCK, from_bytes
from ombud.advocacy.jobs import THEME_JOB
from ombud.advocacy.models import Theme, ThemeMember, ThemeState
from ombud.events.models import Event
from ombud.pagination import encode_cursor
from ombud.runtime import Runtime
from tests.advocacy.conftest import write_in
from tests.conftest import Personas
from tests.resolutions.helpers import propose, purchase, upload

ANGRY = (
    "I was charged twice for my order A-1001 and I want a refund now!!! "
    "Also the app keeps crashing when I log in."
)
DOUBLE_CHARGES = (
    "I was charged twice for the same order, refund the second charge.",
    "My card was charged twice for one order!",
    "You took the money twice for my order, I was double charged.",
)
CRASHES = ("The app keeps crashing when I log in, fix it.",)


def themes(client: TestClient, who: Any, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/advocacy/themes", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def members(client: TestClient, who: Any, theme_id: int) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/advocacy/themes/{theme_id}/members", headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def theme_of(client: TestClient, who: Any, words: str) -> dict[str, Any]:
    """The active theme holding a member whose text contains ``words``."""
    for theme in themes(client, who, limit=200):
        if any(words in m["text"] for m in members(client, who, theme["id"])):
            return theme
    raise AssertionError(f"no theme holds {words!r}")


def write_history(client: TestClient, people: Personas) -> None:
    write_in(client, people.agent, ANGRY, email="maria@example.com", channel="chat")
    for i, body in enumerate(DOUBLE_CHARGES):
        write_in(client, people.agent, body, email=f"payer{i}@example.net")
    for body in CRASHES:
        write_in(client, people.agent, body, email="crash@example.net", channel="web")


def test_concerns_of_angry_messages_join_themes_by_meaning(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    write_history(client, people)
    charged = theme_of(client, people.advocate, "charged twice for my order A-1001")
    texts = [m["text"] for m in members(client, people.advocate, charged["id"])]
    # Four customers, four wordings, one problem; the crash in the same angry message is another theme.
    assert all(any(words in t for t in texts) for words in ("A-1001", "same order", "one order", "double")), (
        texts
    )
    assert not any("crash" in t for t in texts)
    crash = theme_of(client, people.advocate, "The app keeps crashing")
    assert crash["id"] != charged["id"]
    assert any("the app keeps crashing" in m["text"] for m in members(client, people.advocate, crash["id"]))
    assert charged["size"] == len(texts)
    assert charged["label"] and charged["quotes"]

    detail = client.get(f"/api/v1/advocacy/themes/{charged['id']}", headers=people.agent.headers)
    assert detail.status_code == 200, detail.text
    figures = detail.json()["figures"]
    assert figures["concerns"] == 4
    assert figures["customers_affected"] == 4
    assert figures["tickets"] == 4
    channels = {s["value"]: s["count"] for s in figures["segments"]["channel"]}
    assert channels == {"email": 3, "chat": 1}
    assert {s["value"] for s in figures["segments"]["tier"]} == {"standard"}
    assert sum(figures["emotions"].values()) == 4
    assert sum(d["count"] for d in figures["daily"]) == 4
    assert figures["last_7_days"] == 4 and figures["previous_7_days"] == 0

    # H3 (cases) learns of each themed concern through the event, with its ticket and customer.
    with runtime.database.session(write=False) as session:
        themed = session.scalars(select(Event).where(Event.kind == "advocacy.concern_themed")).all()
    payloads = [e.payload for e in themed]
    assert len(payloads) == len({p["concern_id"] for p in payloads}) >= 6
    assert all(p["ticket_id"] and p["customer_id"] and p["theme_id"] for p in payloads)
    assert sum(1 for p in payloads if p["theme_id"] == charged["id"]) == 4


def test_figures_count_concession_cost_and_value_at_risk_exactly(
    client: TestClient, people: Personas
) -> None:
    upload(client, people)
    bought = purchase(client, people, days_ago=20, amount=19.99)
    purchase(client, people, days_ago=40, amount=0.01)
    purchase(client, people, days_ago=400, amount=500.0)  # more than a year ago: not at risk
    ticket = write_in(client, people.agent, DOUBLE_CHARGES[0], email="maria@example.com")
    write_in(client, people.agent, DOUBLE_CHARGES[1], email="payer@example.net")
    propose(
        client,
        people.agent,
        ticket["id"],
        kind="refund",
        amount="12.35",
        reason="late_delivery",
        purchase_id=bought,
    )
    theme = theme_of(client, people.advocate, "charged twice for the same order")
    figures = client.get(f"/api/v1/advocacy/themes/{theme['id']}", headers=people.advocate.headers).json()[
        "figures"
    ]
    assert figures["concession_cost"] == [{"currency": "EUR", "amount_minor": 1235, "amount": "12.35"}]
    assert figures["value_at_risk"] == [{"currency": "EUR", "amount_minor": 2000, "amount": "20.00"}]
    listed = {t["id"]: t for t in themes(client, people.advocate, sort="cost")}
    assert listed[theme["id"]]["cost"][0]["amount_minor"] == 1235
    assert themes(client, people.advocate, sort="cost")[0]["id"] == theme["id"]


def test_theme_list_filters_sorts_and_pages(client: TestClient, people: Personas) -> None:
    write_history(client, people)
    everything = themes(client, people.agent)
    assert [t["size"] for t in everything] == sorted((t["size"] for t in everything), reverse=True)
    found = themes(client, people.agent, q="charged")
    assert found and all("charged" in (t["title"]).lower() for t in found)
    first = client.get("/api/v1/advocacy/themes", params={"limit": 1}, headers=people.agent.headers).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = client.get(
        "/api/v1/advocacy/themes",
        params={"limit": 1, "cursor": first["next_cursor"]},
        headers=people.agent.headers,
    ).json()
    assert second["items"][0]["id"] != first["items"][0]["id"]
    for sort in ("growth", "frustration", "recent"):
        assert {t["id"] for t in themes(client, people.agent, sort=sort)} == {t["id"] for t in everything}
    # Members page newest first, every member once.
    charged = theme_of(client, people.agent, "charged twice for my order A-1001")
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get(
            f"/api/v1/advocacy/themes/{charged['id']}/members", params=params, headers=people.agent.headers
        ).json()
        seen += [m["concern_id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(m["concern_id"] for m in members(client, people.agent, charged["id"]))
    assert len(seen) == len(set(seen)) == charged["size"]
    bad = client.get("/api/v1/advocacy/themes", params={"cursor": "nonsense"}, headers=people.agent.headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_cursor"
    # A members cursor holding a time no database can store (or no zone) is refused, not a 500.
    for at in ("9999-12-31T23:59:59.999999-01:00", "2026-01-01T00:00:00", "0001-01-01T00:00:00+00:00"):
        forged = encode_cursor({"at": at, "id": 1})
        bad = client.get(
            f"/api/v1/advocacy/themes/{charged['id']}/members",
            params={"cursor": forged},
            headers=people.agent.headers,
        )
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_cursor", at
    bad = client.get("/api/v1/advocacy/themes", params={"sort": "colour"}, headers=people.agent.headers)
    assert bad.status_code == 422


def test_who_may_read_and_edit_themes(client: TestClient, people: Personas) -> None:
    write_in(client, people.agent, DOUBLE_CHARGES[0], email="maria@example.com")
    theme = themes(client, people.agent)[0]
    assert (
        client.get(f"/api/v1/advocacy/themes/{theme['id']}", headers=people.agent.headers).status_code == 200
    )
    for who in (people.customer, people.partner):
        response = client.get("/api/v1/advocacy/themes", headers=who.headers)
        assert response.status_code == 403, response.text
        response = client.get(f"/api/v1/advocacy/themes/{theme['id']}", headers=who.headers)
        assert response.status_code in (403, 404)
    renamed = client.patch(
        f"/api/v1/advocacy/themes/{theme['id']}",
        json={"name": "Double charges"},
        headers=people.agent.headers,
    )
    assert renamed.status_code == 403 and renamed.json()["error"]["code"] == "role_forbidden"
    assert client.post("/api/v1/advocacy/recluster", headers=people.agent.headers).status_code == 403
    for who in (people.advocate, people.lead, people.admin):
        renamed = client.patch(
            f"/api/v1/advocacy/themes/{theme['id']}",
            json={"name": f"Double charges ({who.id})"},
            headers=who.headers,
        )
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["title"] == f"Double charges ({who.id})"


def test_bad_edits_are_refused_with_stable_codes(client: TestClient, people: Personas) -> None:
    write_history(client, people)
    charged = theme_of(client, people.advocate, "charged twice for my order A-1001")
    crash = theme_of(client, people.advocate, "The app keeps crashing")
    headers = people.advocate.headers

    def refused(method: str, path: str, body: Any, status: int, code: str) -> None:
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code

    base = "/api/v1/advocacy"
    refused(
        "POST",
        f"{base}/themes/{charged['id']}/merge",
        {"source_ids": [charged["id"]]},
        422,
        "merge_into_itself",
    )
    refused("POST", f"{base}/themes/{charged['id']}/merge", {"source_ids": [999999]}, 404, "theme_not_found")
    refused("POST", f"{base}/themes/{charged['id']}/merge", {"source_ids": []}, 422, "invalid_input")
    refused("POST", f"{base}/themes/999999/merge", {"source_ids": [crash["id"]]}, 404, "theme_not_found")
    refused("PATCH", f"{base}/themes/{charged['id']}", {"name": "   "}, 422, "invalid_input")
    refused("PATCH", f"{base}/themes/{charged['id']}", {"name": "x", "colour": "red"}, 422, "invalid_input")
    everyone = [m["concern_id"] for m in members(client, people.advocate, charged["id"])]
    refused(
        "POST", f"{base}/themes/{charged['id']}/split", {"concern_ids": everyone}, 422, "split_everything"
    )
    stranger = members(client, people.advocate, crash["id"])[0]["concern_id"]
    refused("POST", f"{base}/themes/{charged['id']}/split", {"concern_ids": [stranger]}, 422, "not_a_member")
    refused("POST", f"{base}/members/999999/move", {"theme_id": crash["id"]}, 404, "member_not_found")
    refused("POST", f"{base}/members/{stranger}/move", {"theme_id": 999999}, 404, "theme_not_found")
    refused("GET", f"{base}/themes/{charged['id']}?since=2026-01-01T00:00:00", None, 422, "invalid_window")
    # Times at datetime's edges are refused before any arithmetic on them (no 500).
    refused("GET", f"{base}/themes/{charged['id']}?until=0001-01-05T00:00:00Z", None, 422, "invalid_window")
    refused(
        "GET",
        f"{base}/themes/{charged['id']}?since=0001-01-01T00:00:00Z&until=0001-01-09T00:00:00Z",
        None,
        422,
        "invalid_window",
    )
    refused("GET", f"{base}/themes/{charged['id']}?until=9999-12-31T00:00:00Z", None, 422, "invalid_window")

    merged = client.post(
        f"{base}/themes/{charged['id']}/merge", json={"source_ids": [crash["id"]]}, headers=headers
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["moved"] == 2
    refused("PATCH", f"{base}/themes/{crash['id']}", {"name": "Crashes"}, 409, "theme_merged")
    refused(
        "POST", f"{base}/themes/{charged['id']}/merge", {"source_ids": [crash["id"]]}, 409, "theme_merged"
    )
    gone = client.get(f"{base}/themes/{crash['id']}", headers=headers).json()["theme"]
    assert gone["state"] == "merged" and gone["merged_into_id"] == charged["id"]
    assert client.get(f"{base}/themes/{charged['id']}", headers=headers).json()["theme"]["size"] == 6


def test_search_words_are_words_not_patterns(client: TestClient, people: Personas) -> None:
    write_history(client, people)
    assert themes(client, people.advocate, q="charged")
    assert themes(client, people.advocate, q="%") == []
    assert themes(client, people.advocate, q="_") == []


def test_online_assignment_moves_the_stored_centroid_and_follows_merges(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    """The per-process index only finds the nearest theme: the centroid written is the database's moved by
    the new member, whatever the index holds; a theme merged away sends new members to its successor."""
    write_in(client, people.agent, "I was charged twice for my order", email="a@example.net")
    write_in(client, people.agent, "The app keeps crashing when I log in", email="b@example.net")
    charged = theme_of(client, people.advocate, "charged twice")
    crash = theme_of(client, people.advocate, "keeps crashing")
    # Another process changed the theme; this process's index does not know (no generation moved).
    with runtime.database.session() as session:
        theme = session.get(Theme, charged["id"])
        assert theme is not None
        stored = from_bytes(theme.centroid).astype(np.float64)
        theme.size = 10
        session.commit()
    write_in(client, people.agent, "My card was charged twice for my order", email="c@example.net")
    with runtime.database.session(write=False) as session:
        theme = session.get(Theme, charged["id"])
        newest = session.scalar(
            select(ThemeMember)
            .where(ThemeMember.theme_id == charged["id"])
            .order_by(ThemeMember.concern_id.desc())
        )
        assert theme is not None and newest is not None
        vector = from_bytes(newest.vector).astype(np.float64)
        expected = (stored * 10 + vector / np.linalg.norm(vector)) / 11
        assert theme.size == 11
        assert np.allclose(from_bytes(theme.centroid), expected, atol=1e-5)

    with runtime.database.session() as session:
        session.execute(
            update(Theme)
            .where(Theme.id == charged["id"])
            .values(state=ThemeState.merged, merged_into_id=crash["id"], size=0)
        )
        session.commit()
    write_in(client, people.agent, "You charged me twice for one order", email="d@example.net")
    with runtime.database.session(write=False) as session:
        newest = session.scalar(select(ThemeMember).order_by(ThemeMember.concern_id.desc()))
        assert newest is not None and newest.theme_id == crash["id"]


def test_a_theme_job_steps_back_while_the_themes_are_held(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    """On PostgreSQL a re-clustering holds the themes' advisory lock for minutes. A theme job used to wait
    on it holding a worker thread (two such jobs and a worker's triage stopped); now it ends at once and
    comes back a second later, and themes the concern then."""
    if runtime.database.dialect != "postgresql":
        pytest.skip("the themes lock is PostgreSQL's; SQLite runs one writer at a time")
    holder = runtime.database.writer()
    holder.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": THEMES_LOCK})
    try:
        # memory:// runs triage, the dispatch and the theme job as each commits, in this thread.
        writer = threading.Thread(
            target=write_in, args=(client, people.agent, DOUBLE_CHARGES[0]), kwargs={"email": "a@example.net"}
        )
        writer.start()
        writer.join(timeout=60)
        assert not writer.is_alive(), "the theme job waited for the themes lock"
        with runtime.database.session(write=False) as session:
            assert session.scalar(select(func.count()).select_from(ThemeMember)) == 0
        comeback = [t for t in runtime.queue.huey.scheduled() if t.name == THEME_JOB]
        assert comeback
    finally:
        holder.rollback()
        holder.close()
    for task in comeback:
        runtime.queue.huey.execute(task, timestamp=task.eta)
    with runtime.database.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(ThemeMember)) >= 1
