"""The knowledge base through HTTP: writing and versioning articles, who sees what, hybrid search, safe
rendering, import, suggestions on tickets, feedback."""

from __future__ import annotations

import io
import json
import zipfile

from fastapi.testclient import TestClient

from tests.conftest import Personas, new_ticket
from tests.knowledge.articles import CARD, FRAUD, LOGIN, PIN, write


def test_write_version_and_read_back(client: TestClient, people: Personas) -> None:
    created = write(client, people.agent, CARD)
    assert created["version"] == 1
    assert created["slug"] == "when-will-my-new-card-arrive"
    assert "<h2>Delivery</h2>" in str(created["body_html"])
    changed = client.patch(
        f"/api/v1/kb/articles/{created['id']}",
        json={"body": CARD["body"] + "\n\nExpress delivery is available for a fee.", "expected_version": 1},
        headers=people.lead.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    stale = client.patch(
        f"/api/v1/kb/articles/{created['id']}",
        json={"title": "Card delivery", "expected_version": 1},
        headers=people.agent.headers,
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "article_version_conflict"
    versions = client.get(
        f"/api/v1/kb/articles/{created['id']}/versions", headers=people.agent.headers
    ).json()
    assert [v["version"] for v in versions] == [1, 2]
    assert "Express delivery" not in versions[0]["body"] and "Express delivery" in versions[1]["body"]
    # No change, no new version.
    same = client.patch(
        f"/api/v1/kb/articles/{created['id']}", json={"title": CARD["title"]}, headers=people.agent.headers
    )
    assert same.json()["version"] == 2


def test_who_sees_what(client: TestClient, people: Personas) -> None:
    public = write(client, people.agent, CARD)
    internal = write(client, people.agent, FRAUD)
    draft = write(client, people.agent, {**PIN, "status": "draft"})
    for article in (public,):
        assert client.get(f"/api/v1/kb/articles/{article['id']}").status_code == 200
    for article in (internal, draft):
        missing = client.get(f"/api/v1/kb/articles/{article['id']}")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "article_not_found"
        assert (
            client.get(f"/api/v1/kb/articles/{article['id']}", headers=people.customer.headers).status_code
            == 404
        )
        assert (
            client.get(f"/api/v1/kb/articles/{article['id']}", headers=people.agent.headers).status_code
            == 200
        )
    assert (
        client.get(f"/api/v1/kb/articles/{internal['id']}", headers=people.partner.headers).status_code == 404
    )
    refused = client.post("/api/v1/kb/articles", json=CARD, headers=people.customer.headers)
    assert refused.status_code == 403
    assert client.post("/api/v1/kb/articles", json=CARD).status_code == 401
    listed = client.get("/api/v1/kb/articles").json()["items"]
    assert [a["id"] for a in listed] == [public["id"]]


def test_hybrid_search_ranks_and_shows_the_passage(client: TestClient, people: Personas) -> None:
    card = write(client, people.agent, CARD)
    pin = write(client, people.agent, PIN)
    write(client, people.agent, FRAUD)
    found = client.get("/api/v1/kb/search", params={"q": "my card never arrived, it's been two weeks"}).json()
    assert found["hits"][0]["article_id"] == card["id"]
    assert 0 < found["hits"][0]["score"] <= 1
    assert "report it as lost" in found["hits"][0]["passage"]
    assert found["hits"][0]["heading"] == "Not arrived yet?"
    by_meaning = client.get("/api/v1/kb/search", params={"q": "new pin code please"}).json()
    assert by_meaning["hits"][0]["article_id"] == pin["id"]
    # An internal article is found by its error code only with a staff token.
    anonymous = client.get("/api/v1/kb/search", params={"q": "E4711"}).json()
    assert all(hit["audience"] == "public" for hit in anonymous["hits"])
    staff = client.get("/api/v1/kb/search", params={"q": "E4711"}, headers=people.agent.headers).json()
    assert staff["hits"][0]["title"] == FRAUD["title"]
    # FTS syntax typed by a user is searched for, never interpreted.
    odd = client.get("/api/v1/kb/search", params={"q": 'card" OR NEAR(pin AND * -"'})
    assert odd.status_code == 200
    bad = client.get("/api/v1/kb/search", params={"q": ""})
    assert bad.status_code == 422


def test_edits_reach_search_and_unchanged_text_is_not_embedded_again(
    client: TestClient, people: Personas
) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    embedder = runtime.knowledge.embedder
    card = write(client, people.agent, CARD)
    calls: list[int] = []
    original = embedder._run

    def counting(texts: list[str]) -> object:
        calls.append(len(texts))
        return original(texts)

    embedder._run = counting
    embedder._cache.clear()
    try:
        client.patch(
            f"/api/v1/kb/articles/{card['id']}",
            json={"example_questions": [*CARD["example_questions"], "Where is my debit card?"]},  # type: ignore[list-item]
            headers=people.agent.headers,
        )
    finally:
        embedder._run = original
    assert sum(calls) == 1  # only the new question; the title, sections and old questions kept their vectors
    archived = client.patch(
        f"/api/v1/kb/articles/{card['id']}", json={"status": "archived"}, headers=people.agent.headers
    )
    assert archived.status_code == 200
    hits = client.get("/api/v1/kb/search", params={"q": "where is my debit card"}).json()["hits"]
    assert card["id"] not in [h["article_id"] for h in hits]


def test_bodies_render_safely(client: TestClient, people: Personas) -> None:
    nasty = write(
        client,
        people.agent,
        {
            "title": "Nasty",
            "status": "published",
            "body": "<script>alert(1)</script>\n\n[click](javascript:alert(2))\n\n"
            '<img src=x onerror="alert(3)">'
            "\n\n**unclosed *markdown [link(",
        },
    )
    html = str(nasty["body_html"])
    assert "<script" not in html and "javascript:" not in html and "onerror" not in html


def test_import_is_all_or_nothing(client: TestClient, people: Personas) -> None:
    good = json.dumps({"articles": [CARD, PIN]}).encode()
    response = client.post(
        "/api/v1/kb/import",
        files={"file": ("help.json", good, "application/json")},
        headers=people.admin.headers,
    )
    assert response.status_code == 201, response.text
    assert [a["title"] for a in response.json()["created"]] == [CARD["title"], PIN["title"]]
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("ok.md", "---\ntitle: Fine\n---\nA fine article.")
        archive.writestr("broken.json", json.dumps([{"title": "", "body": "x"}]))
    bad = client.post(
        "/api/v1/kb/import",
        files={"file": ("help.zip", bundle.getvalue(), "application/zip")},
        headers=people.admin.headers,
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "kb_import_invalid"
    assert "broken.json" in bad.json()["error"]["message"]
    titles = [
        a["title"] for a in client.get("/api/v1/kb/articles", headers=people.agent.headers).json()["items"]
    ]
    assert "Fine" not in titles


def test_every_concern_of_a_ticket_gets_suggestions(client: TestClient, people: Personas) -> None:
    card = write(client, people.agent, CARD)
    login = write(client, people.agent, LOGIN)
    write(client, people.agent, PIN)
    ticket = new_ticket(
        client,
        people.agent,
        subject="card and app",
        body="My new card still hasn't arrived after two weeks. Also I can't log in to the app, it says my "
        "password is wrong.",
    )
    suggestions = client.get(f"/api/v1/tickets/{ticket['id']}/suggestions", headers=people.agent.headers)
    assert suggestions.status_code == 200, suggestions.text
    top = {s["concern_index"]: s["article_id"] for s in suggestions.json() if s["rank"] == 0}
    assert top == {0: card["id"], 1: login["id"]}
    first = next(s for s in suggestions.json() if s["concern_index"] == 1 and s["rank"] == 0)
    assert "Forgot password" in first["passage"] and first["title"] == LOGIN["title"]
    refused = client.get(f"/api/v1/tickets/{ticket['id']}/suggestions", headers=people.customer.headers)
    assert refused.status_code == 403


def test_feedback_counts(client: TestClient, people: Personas) -> None:
    card = write(client, people.agent, CARD)
    assert (
        client.post(f"/api/v1/kb/articles/{card['id']}/feedback", json={"helpful": True}).status_code == 204
    )
    assert (
        client.post(
            f"/api/v1/kb/articles/{card['id']}/feedback",
            json={"helpful": False, "comment": "out of date"},
            headers=people.agent.headers,
        ).status_code
        == 204
    )
    again = client.get(f"/api/v1/kb/articles/{card['id']}").json()
    assert (again["helpful"], again["not_helpful"]) == (1, 1)


def test_the_sweep_finishes_indexing_and_suggestions_a_crash_left(
    client: TestClient, people: Personas
) -> None:
    from sqlalchemy import delete, update

    from ombud.knowledge.models import Article, Suggestion

    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    login = write(client, people.agent, LOGIN)
    ticket = new_ticket(
        client, people.agent, subject="app", body="I can't log in to the app, it says my password is wrong."
    )
    with runtime.database.session() as session:  # as if both jobs had been lost
        session.execute(update(Article).values(indexed_hash=None))
        session.execute(delete(Suggestion))
        session.commit()
    counts = runtime.queue.sweep()
    assert counts["knowledge.index_article"] == 1 and counts["knowledge.suggest"] == 1, counts
    suggestions = client.get(
        f"/api/v1/tickets/{ticket['id']}/suggestions", headers=people.agent.headers
    ).json()
    assert suggestions[0]["article_id"] == login["id"]
    assert runtime.queue.sweep()["knowledge.index_article"] == 0


def test_feedback_names_a_real_ticket(client: TestClient, people: Personas) -> None:
    card = write(client, people.agent, CARD)
    missing = client.post(
        f"/api/v1/kb/articles/{card['id']}/feedback",
        json={"helpful": True, "ticket_id": 999999},
        headers=people.agent.headers,
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ticket_not_found"
    ticket = new_ticket(client, people.agent)
    used = client.post(
        f"/api/v1/kb/articles/{card['id']}/feedback",
        json={"helpful": True, "ticket_id": ticket["id"]},
        headers=people.agent.headers,
    )
    assert used.status_code == 204


def test_a_long_setext_heading_does_not_stop_indexing(client: TestClient, people: Personas) -> None:
    long_heading = "When a card does not arrive " + "and still has not arrived " * 15
    article = write(
        client,
        people.agent,
        {"title": "Long heading", "status": "published", "body": long_heading + "\n---\nReport it as lost."},
    )
    write(client, people.agent, PIN)  # indexed after it, in the same batch
    hits = client.get("/api/v1/kb/search", params={"q": "new pin code please"}).json()["hits"]
    assert hits[0]["title"] == PIN["title"]
    found = client.get("/api/v1/kb/search", params={"q": "card has not arrived report lost"}).json()["hits"]
    assert article["id"] in [h["article_id"] for h in found]


def test_readers_see_only_categories_they_can_read(client: TestClient, people: Personas) -> None:
    write(client, people.agent, {**FRAUD, "category": "Fraud desk"})
    write(client, people.agent, {**CARD, "category": "Cards"})
    anonymous = {c["name"] for c in client.get("/api/v1/kb/categories").json()}
    assert anonymous == {"Cards"}
    staff = {c["name"] for c in client.get("/api/v1/kb/categories", headers=people.agent.headers).json()}
    assert staff == {"Cards", "Fraud desk"}


def test_anonymous_votes_are_rate_limited(client: TestClient, people: Personas) -> None:
    card = write(client, people.agent, CARD)
    codes = [
        client.post(f"/api/v1/kb/articles/{card['id']}/feedback", json={"helpful": True}).status_code
        for _ in range(31)
    ]
    assert codes[:30] == [204] * 30 and codes[30] == 429
    assert client.get(f"/api/v1/kb/articles/{card['id']}").json()["helpful"] == 30


def test_a_new_process_warms_its_index_before_the_first_search(client: TestClient, people: Personas) -> None:
    from ombud.knowledge.search import Searcher

    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    write(client, people.agent, CARD)
    fresh = Searcher(runtime.knowledge.embedder)  # as another process would start: an empty index
    assert len(fresh.index) == 0
    fresh.warm(runtime.database)
    assert len(fresh.index) == len(CARD["example_questions"]) + 1 + 2  # type: ignore[arg-type]
