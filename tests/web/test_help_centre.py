"""The public help centre (/help): categories with their published public articles, search with the
matching passage, an article's sanitised HTML, 404 for everything a reader may not see, and the
helpful-or-not vote (once per page view)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Personas
from tests.knowledge.articles import CARD as SHARED_CARD

CARD = {**SHARED_CARD, "category": "Cards"}
PIN = {
    "title": "Changing your PIN",
    "body": "You can change your PIN at any cash machine: insert your card, choose PIN services and follow "
    "the steps. The new PIN works straight away.",
    "status": "published",
    "category": "Cards",
}
LOGIN = {
    "title": "Can't sign in to the app",
    "body": "If the app says your password is wrong, choose 'Forgot password' on the sign-in screen.",
    "status": "published",
}
HOSTILE = {
    "title": "Paying by bank transfer",
    "body": "Use the reference on your invoice.\n\n<script>alert('stolen')</script>\n\n"
    '<a href="javascript:alert(1)" onclick="alert(2)">click</a> <img src=x onerror="alert(3)">',
    "status": "published",
}
INTERNAL = {
    "title": "Internal: handling suspected fraud",
    "body": "Freeze the card in the back office. Error E4711.",
    "audience": "internal",
    "status": "published",
}
PARTNER = {"title": "Partner: repair codes", "body": "Code R12 means a new motor.", "audience": "partner"}
DRAFT = {"title": "Upcoming: virtual cards", "body": "Virtual cards arrive next month.", "status": "draft"}
ARCHIVED = {"title": "Old fees", "body": "The old fee table.", "status": "archived"}


def write(client: TestClient, people: Personas, article: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/kb/articles", json=article, headers=people.agent.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def body_of(page: str) -> str:
    """The article's own HTML on its page (the page itself also loads the chat widget's script)."""
    found = re.search(r'<div class="help-body">(.*?)</div>\s*</article>', page, re.DOTALL)
    assert found is not None, page
    return found.group(1)


def test_start_page_links_to_the_help_centre(client: TestClient) -> None:
    assert 'href="/help"' in client.get("/").text


def test_categories_with_their_published_public_articles(client: TestClient, people: Personas) -> None:
    empty = client.get("/help")
    assert empty.status_code == 200 and "There are no help articles yet" in empty.text
    category = client.post(
        "/api/v1/kb/categories",
        json={"name": "Billing", "description": "Invoices and payments"},
        headers=people.agent.headers,
    )
    assert category.status_code == 201, category.text
    for article in (CARD, PIN, LOGIN, INTERNAL, PARTNER, DRAFT, ARCHIVED):
        write(client, people, article)
    page = client.get("/help")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "<h2>Cards</h2>" in text and "<h2>More articles</h2>" in text
    # A category without a public article is not shown.
    assert "Billing" not in text
    for shown in (CARD, PIN, LOGIN):
        assert str(shown["title"]).replace("'", "&#39;") in text
    assert text.index("Changing your PIN") < text.index("When will my new card arrive?")
    assert 'href="/help/when-will-my-new-card-arrive"' in text
    for hidden in (INTERNAL, PARTNER, DRAFT, ARCHIVED):
        assert str(hidden["title"]) not in text
    assert 'action="/help"' in text and 'name="q"' in text


def test_search_shows_matching_passages(client: TestClient, people: Personas) -> None:
    for article in (CARD, PIN, LOGIN, INTERNAL):
        write(client, people, article)
    page = client.get("/help", params={"q": "my card has not arrived yet"})
    assert page.status_code == 200
    results = page.text.split('class="help-results"', 1)[1]
    assert "When will my new card arrive?" in results
    assert "report it as lost in the app" in results  # the passage that answers
    assert "Internal: handling suspected fraud" not in results
    nothing = client.get("/help", params={"q": "What is the weather like on Mars today?"})
    assert nothing.status_code == 200
    assert "No article answers that yet" in nothing.text
    # What the reader typed comes back escaped.
    typed = client.get("/help", params={"q": "<b>card</b> arrive"})
    assert "<b>card</b>" not in typed.text and "&lt;b&gt;card&lt;/b&gt; arrive" in typed.text
    assert client.get("/help", params={"q": "x" * 1001}).status_code == 422


def test_article_page_shows_sanitised_html(client: TestClient, people: Personas) -> None:
    card = write(client, people, CARD)
    page = client.get(f"/help/{card['slug']}")
    assert page.status_code == 200
    assert "<h1>When will my new card arrive?</h1>" in page.text
    assert "<h2>Delivery</h2>" in body_of(page.text)
    assert "Cards" in page.text.split('class="crumbs"', 1)[1].split("</nav>", 1)[0]
    assert "Was this helpful?" in page.text and 'href="/contact"' in page.text

    hostile = write(client, people, HOSTILE)
    shown = body_of(client.get(f"/help/{hostile['slug']}").text)
    assert "Use the reference on your invoice." in shown
    lowered = shown.lower()
    for bad in ("<script", "alert('stolen')", "javascript:", "onclick", "onerror"):
        assert bad not in lowered, shown


def test_what_a_reader_may_not_see_is_not_found(client: TestClient, people: Personas) -> None:
    for article in (INTERNAL, PARTNER, DRAFT, ARCHIVED):
        slug = write(client, people, article)["slug"]
        page = client.get(f"/help/{slug}")
        assert page.status_code == 404, (article["title"], page.status_code)
        assert page.headers["content-type"].startswith("text/html")
        assert str(article["body"]) not in page.text
        vote = client.post(f"/help/{slug}/feedback", data={"helpful": "yes", "view": "abcdefgh12"})
        assert vote.status_code == 404
    assert client.get("/help/no-such-article").status_code == 404


def test_votes_count_once_per_page_view(client: TestClient, people: Personas) -> None:
    card = write(client, people, CARD)
    page = client.get(f"/help/{card['slug']}").text
    view = re.search(r'name="view" value="([^"]+)"', page)
    assert view is not None
    vote = client.post(
        f"/help/{card['slug']}/feedback",
        data={"helpful": "yes", "view": view.group(1)},
        follow_redirects=False,
    )
    assert vote.status_code == 303
    assert vote.headers["location"] == f"/help/{card['slug']}?voted=yes"
    thanked = client.get(vote.headers["location"])
    assert "Thank you for your feedback!" in thanked.text and "Was this helpful?" not in thanked.text
    # The same form again (a double click, a reload of the post) is not counted twice.
    again = client.post(f"/help/{card['slug']}/feedback", data={"helpful": "yes", "view": view.group(1)})
    assert again.status_code == 200
    other_view = re.search(r'name="view" value="([^"]+)"', client.get(f"/help/{card['slug']}").text)
    assert other_view is not None and other_view.group(1) != view.group(1)
    client.post(f"/help/{card['slug']}/feedback", data={"helpful": "no", "view": other_view.group(1)})
    counted = client.get(f"/api/v1/kb/articles/{card['id']}").json()
    assert (counted["helpful"], counted["not_helpful"]) == (1, 1)
    bad = client.post(f"/help/{card['slug']}/feedback", data={"helpful": "maybe", "view": "abcdefgh12"})
    assert bad.status_code == 422
