"""Whatever a user types into search, the full-text engine answers (possibly with nothing), never errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from ombud.search import service as search
from ombud.storage.db import Database
from ombud.storage.schema import upgrade


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
        ids = session.execute(search.matching_ticket_ids(session=session, text=query, include_internal=True))
        assert set(ids.scalars()) <= {7}


@pytest.mark.parametrize("query", ['"', "AND", "near*", "(parens)", "^caret", "-minus", "printer jams"])
def test_operator_words_are_searched_for_literally(indexed: Database, query: str) -> None:
    with Session(indexed.engine) as session:
        ids = session.execute(search.matching_ticket_ids(session=session, text=query, include_internal=True))
        expected = set() if query == '"' else {7}
        assert set(ids.scalars()) == expected
