"""Whatever a user types into search, the full-text engine answers (possibly with nothing), never errors; and
a word in few messages finds the same tickets, in the same pages, as a word in many."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from ombud.search import service as search
from ombud.storage.db import Database
from ombud.storage.schema import upgrade
from tests.conftest import Persona, Personas, new_ticket


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('fts') / 'ombud.db'}")
    upgrade(database)
    with database.session() as session:
        search.write_entry(
            session=session,
            message_id=1,
            ticket_id=7,
            internal=False,
            subject="Printer jams",
            body='quotes " and (parens) AND OR NOT near* ^caret -minus',
        )
        session.commit()
    yield database
    database.dispose()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(st.text(max_size=60))
def test_any_query_text_is_safe(indexed: Database, query: str) -> None:
    with Session(indexed.engine) as session:
        assert _matching(session, query) <= {7}


@pytest.mark.parametrize("query", ['"', "AND", "near*", "(parens)", "^caret", "-minus", "printer jams"])
def test_operator_words_are_searched_for_literally(indexed: Database, query: str) -> None:
    with Session(indexed.engine) as session:
        expected = set() if query == '"' else {7}
        assert _matching(session, query) == expected


def _matching(session: Session, query: str) -> set[int]:
    return search.all_matching_ticket_ids(session=session, text=query, include_internal=True)


def _pages(client: TestClient, who: Persona, q: str) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        params = {"q": q, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/tickets", params=params, headers=who.headers)
        assert response.status_code == 200, response.text
        pages.append([t["id"] for t in response.json()["items"]])
        cursor = response.json()["next_cursor"]
        if not cursor:
            return pages


def test_few_and_many_matches_give_the_same_tickets_and_pages(
    client: TestClient, people: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to FEW matching messages the ids are read first; above it the list filters by a subquery. The
    answer must not depend on which side of FEW a word falls, nor leak an internal note to a customer."""
    mine = []  # the persona customer's (Maria's) tickets
    for n in range(5):
        ticket = new_ticket(
            client,
            people.agent,
            customer={"email": "bo@example.com"} if n % 2 else {"email": "maria@example.com"},
            subject=f"Kettle {n}",
            body=f"The zebra kettle number {n} leaks",
        )
        if n % 2 == 0:
            mine.append(ticket["id"])
        note = {"body": "zebra note: internal only", "internal": True}
        reply = client.post(
            f"/api/v1/tickets/{ticket['id']}/messages", json=note, headers=people.agent.headers
        )
        assert reply.status_code == 201, reply.text
    noted = new_ticket(client, people.agent, subject="Kettle 9", body="Only the note says it")
    assert (
        client.post(
            f"/api/v1/tickets/{noted['id']}/messages",
            json={"body": "zebra again, internal", "internal": True},
            headers=people.agent.headers,
        ).status_code
        == 201
    )

    many = {who: _pages(client, getattr(people, who), "zebra") for who in ("agent", "customer")}
    monkeypatch.setattr(search, "FEW", 2)  # every query above it
    assert {who: _pages(client, getattr(people, who), "zebra") for who in many} == many
    staff = [i for page in many["agent"] for i in page]
    assert len(staff) == 6 and staff == sorted(staff, reverse=True) and noted["id"] in staff
    customer = [i for page in many["customer"] for i in page]
    assert customer == sorted(mine, reverse=True)  # Maria's own, and not the one only a note matches
