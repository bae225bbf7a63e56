"""ombud's own import format: complete, consistent rows written in bulk; a rerun adds nothing; what could not
be read is skipped with a stable reason and reported; imported history is triaged and themed quietly."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from ombud.cli.main import main
from ombud.runtime import Runtime
from ombud.storage.models import metadata
from ombud.tickets import feeds
from ombud.tickets import priority as ranking
from ombud.tickets.models import Message
from tests.conftest import Personas, new_ticket
from tests.imports.common import import_file, runs, skips_of, ticket, write_jsonl

T = metadata.tables


def _count(runtime: Runtime, table: str) -> int:
    with runtime.database.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(T[table])).scalar_one())


def test_import_writes_what_the_ticket_service_would_and_a_rerun_adds_nothing(
    runtime: Runtime, people: Personas, tmp_path: Path
) -> None:
    records = [ticket(n, status="open" if n % 5 == 0 else "closed") for n in range(1, 21)]
    path = write_jsonl(tmp_path / "tickets.jsonl", records)
    run = import_file(runtime.database, path, batch_size=7)
    assert run.status == "finished"
    assert run.counts["tickets"] == 20 and run.counts["messages"] == 60 and run.counts["customers"] == 7
    assert run.counts["skipped"] == {}

    with runtime.database.engine.connect() as connection:
        tickets = {r.external_id: r for r in connection.execute(select(T["tickets"]))}
        messages = connection.execute(select(T["messages"]).order_by(T["messages"].c.id)).all()
        emails = set(connection.execute(select(T["identities"].c.value)).scalars())
        tags = connection.execute(select(T["ticket_tags"])).all()
    assert set(tickets) == {f"T-{n}" for n in range(1, 21)}
    for number in range(1, 21):
        row = tickets[f"T-{number}"]
        closed = number % 5 != 0
        assert row.is_open is (not closed) and row.status == ("closed" if closed else "open")
        assert (row.resolved_at is not None) is closed
        assert row.queue_rank == ranking.queue_rank(row.priority_score, row.created_at) and row.queue_rank > 0
        assert row.assignee_id is None and row.team_id is None
        assert row.first_response_at is not None and row.first_response_at > row.created_at
    by_ticket = {t.id: t for t in tickets.values()}
    for message in messages:
        owner = by_ticket[message.ticket_id]
        assert message.customer_id == owner.customer_id and message.channel == owner.channel
        assert message.channel_meta["imported"]["run"] == run.id
        assert message.indexed_at is None  # the search index job takes them
        if message.author_type == "customer":
            assert message.triaged_at is None and message.delivery_state is None  # waits for triage
        elif message.internal:
            assert message.triaged_at is not None and message.delivery_state is None
        else:  # a public agent reply that went out long ago: never emailed again
            assert message.delivery_state == "sent" and message.triaged_at is not None
            assert message.author_user_id == people.agent.id  # agent@desk.test is an ombud agent
    assert emails >= {f"person{n}@example.com" for n in range(7)}
    assert len(tags) == 20

    before = {table: _count(runtime, table) for table in ("tickets", "messages", "customers", "identities")}
    again = import_file(runtime.database, path)
    assert again.counts["tickets"] == 0 and again.counts["already_imported"] == 20
    assert {table: _count(runtime, table) for table in before} == before
    # Nothing was published and nothing is on its way to a customer.
    assert _count(runtime, "events") == 0


def test_what_cannot_be_read_is_skipped_with_a_reason_and_the_rest_is_imported(
    runtime: Runtime, tmp_path: Path
) -> None:
    good = ticket(1)
    records: list[object] = [
        good,
        "{not json",
        ticket(2, status="thinking"),
        {**ticket(3), "customer": {"email": "not an address"}},
        {**ticket(4), "messages": [{"body": "  ", "created_at": "2025-01-01T00:00:00Z"}]},
        {**ticket(5), "created_at": "yesterday"},
        {**ticket(6), "customer": {"email": "six@example.com", "phone": "030 123456"}},
        ticket(1),  # the same ticket twice in one batch
        {**ticket(7), "channel": "pigeon"},
    ]
    run = import_file(runtime.database, write_jsonl(tmp_path / "mixed.jsonl", records))
    assert run.counts["tickets"] == 2  # T-1 and T-6 (without its national phone number)
    assert run.counts["skipped"] == {
        "duplicate_in_source": 1,
        "invalid_channel": 1,
        "invalid_identity": 2,
        "invalid_json": 1,
        "invalid_status": 1,
        "invalid_timestamp": 1,
        "no_customer": 1,
        "no_messages": 1,
    }
    found = skips_of(runtime, run.id)
    assert ("row", "line 2", "invalid_json") in found
    assert ("ticket", "T-2", "invalid_status") in found
    assert ("identity", "T-6", "invalid_identity") in found
    assert ("ticket", "T-3", "no_customer") in found


def test_json_and_csv_files_read_the_same_format(runtime: Runtime, tmp_path: Path) -> None:
    document = tmp_path / "tickets.json"
    document.write_text(json.dumps({"tickets": [ticket(1), ticket(2)]}), encoding="utf-8")
    assert import_file(runtime.database, document).counts["tickets"] == 2

    sheet = tmp_path / "tickets.csv"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["external_id", "subject", "status", "customer_email", "author", "body", "created_at", "tags"]
        )
        writer.writerow(
            [
                "C-1",
                "Refund",
                "solved",
                "ann@example.com",
                "customer",
                "Where is my refund?",
                "2025-02-01T10:00:00",
                "refund;billing",
            ]
        )
        writer.writerow(["C-1", "", "", "", "agent", "It was sent today.", "2025-02-01T11:00:00", ""])
        writer.writerow(
            ["C-2", "Card", "open", "bob@example.com", "customer", "Card stuck", "2025-02-02T10:00:00", ""]
        )
        writer.writerow(["C-1", "", "", "", "customer", "thanks", "2025-02-03T10:00:00", ""])
    run = import_file(runtime.database, sheet)
    assert run.counts["tickets"] == 2 and run.counts["messages"] == 3
    assert run.counts["skipped"] == {"split_ticket_rows": 1}
    with runtime.database.engine.connect() as connection:
        refund = connection.execute(select(T["tickets"]).where(T["tickets"].c.external_id == "C-1")).one()
        tags = set(
            connection.execute(
                select(T["ticket_tags"].c.tag).where(T["ticket_tags"].c.ticket_id == refund.id)
            ).scalars()
        )
    assert refund.status == "solved" and not refund.is_open and tags == {"refund", "billing"}


def test_imported_history_is_triaged_and_themed_without_waking_the_workflow(
    runtime: Runtime, people: Personas, client: TestClient, tmp_path: Path
) -> None:
    records = [ticket(n, status="open" if n == 3 else "closed") for n in range(1, 5)]
    run = import_file(runtime.database, write_jsonl(tmp_path / "t.jsonl", records))
    imported = run.counts["messages"]
    # A live ticket for comparison: its triage is published, as always.
    live = new_ticket(
        client, people.agent, customer={"email": "live@example.com"}, body="Where is my parcel? It is late"
    )

    runtime.queue.sweep()  # what a server's periodic sweep does; memory:// runs the jobs at once

    with runtime.database.engine.connect() as connection:
        ids = set(
            connection.execute(
                select(T["tickets"].c.id).where(T["tickets"].c.external_id.like("T-%"))
            ).scalars()
        )
        waiting = connection.execute(
            select(func.count()).select_from(T["messages"]).where(T["messages"].c.triaged_at.is_(None))
        ).scalar_one()
        triaged = set(connection.execute(select(T["message_triage"].c.ticket_id)).scalars())
        kinds = connection.execute(select(T["events"].c.ticket_id, T["events"].c.kind)).all()
        concerns = connection.execute(
            select(T["concerns"], T["tickets"].c.is_open)
            .join(T["tickets"], T["tickets"].c.id == T["concerns"].c.ticket_id)
            .where(T["concerns"].c.ticket_id.in_(ids))
        ).all()
        themed = connection.execute(
            select(func.count())
            .select_from(T["advocacy_theme_members"])
            .where(T["advocacy_theme_members"].c.ticket_id.in_(ids))
        ).scalar_one()
        clocks = connection.execute(
            select(func.count()).select_from(T["sla_tickets"]).where(T["sla_tickets"].c.ticket_id.in_(ids))
        ).scalar_one()
        assignees = set(
            connection.execute(select(T["tickets"].c.assignee_id).where(T["tickets"].c.id.in_(ids))).scalars()
        )
        count_now = connection.execute(
            select(func.count()).select_from(T["messages"]).where(T["messages"].c.ticket_id.in_(ids))
        ).scalar_one()
        unindexed = connection.execute(
            select(func.count()).select_from(T["messages"]).where(T["messages"].c.indexed_at.is_(None))
        ).scalar_one()
        suggested = set(connection.execute(select(T["kb_suggestions"].c.ticket_id)).scalars())

    assert waiting == 0 and unindexed == 0
    # Suggestions are for the live conversation only: nobody answers history, and its concerns would
    # count as today's knowledge gaps.
    assert live["id"] in suggested and not suggested & ids
    assert ids <= triaged  # every imported ticket's customer message was triaged
    assert (live["id"], "message.triaged") in kinds  # the live one was published...
    assert [kind for ticket_id, kind in kinds if ticket_id in ids] == []  # ...imported history never
    assert concerns, "triage found concerns in the imported questions"
    for concern in concerns:
        assert concern.source == "import"
        assert concern.status == ("open" if concern.is_open else "resolved")
    assert themed == len(concerns)  # themed by the advocacy sweep, announced to no one
    assert clocks == 0 and assignees == {None} and count_now == imported  # no SLA, no routing, no auto-reply

    found = client.get("/api/v1/tickets", params={"q": "declined twice"}, headers=people.agent.headers)
    assert found.status_code == 200 and {t["id"] for t in found.json()["items"]} == ids


def test_live_messages_are_triaged_before_imported_history(
    runtime: Runtime, people: Personas, client: TestClient, tmp_path: Path
) -> None:
    """A million imported messages wait for triage in the background; a customer writing now must not
    wait behind them. Both the job's batch and the sweep take live messages first."""
    import_file(runtime.database, write_jsonl(tmp_path / "t.jsonl", [ticket(n) for n in range(1, 4)]))
    live = new_ticket(
        client, people.agent, customer={"email": "now@example.com"}, body="My card was declined"
    )
    with runtime.database.session() as session:
        # memory:// triaged it as it was created, and the history with it: make them all wait again, as a
        # live message waits behind a backlog too large for one batch.
        message_id = session.scalars(select(Message.id).where(Message.ticket_id == live["id"])).one()
        session.execute(
            update(Message)
            .where((Message.id == message_id) | (Message.imported & (Message.author_type == "customer")))
            .values(triaged_at=None)
        )
        session.commit()
    with runtime.database.session(write=False) as session:
        waiting = feeds.untriaged_message_ids(session=session, limit=100)
        batch = feeds.untriaged_for_triage(session=session, first_id=0, limit=2)
    assert len(waiting) > 1 and min(waiting) < message_id  # older imported messages wait too...
    assert waiting[0] == message_id  # ...but the sweep names the live one first
    assert batch[0].id == message_id and batch[1].imported


def test_the_cli_imports_reports_and_lists_runs(
    runtime: Runtime, tmp_path: Path, monkeypatch: object
) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [ticket(1), "{oops", ticket(2)])
    env = {"OMBUD_DATABASE_URL": runtime.settings.effective_database_url, "OMBUD_HOME": str(tmp_path)}
    cli = CliRunner()
    first = cli.invoke(main, ["import", "file", str(path), "--no-sweep"], env=env)
    assert first.exit_code == 0, first.output
    assert "2 tickets, 6 messages" in first.output and "invalid_json 1" in first.output
    assert "invalid_json\trow line 2" in first.output
    second = cli.invoke(main, ["import", "file", str(path), "--no-sweep"], env=env)
    assert second.exit_code == 0 and "2 tickets were already imported" in second.output
    listed = cli.invoke(main, ["import", "runs"], env=env)
    assert listed.exit_code == 0 and len(listed.output.strip().splitlines()) == 2
    last = runs(runtime.database)[-1]
    report = cli.invoke(main, ["import", "report", str(last.id)], env=env)
    assert report.exit_code == 0 and f"import run {last.id} (ombud, finished)" in report.output
    missing = cli.invoke(main, ["import", "report", "999"], env=env)
    assert missing.exit_code == 1 and "import_run_not_found" in missing.output
    bad = tmp_path / "t.xml"
    bad.write_text("<x/>", encoding="utf-8")
    wrong = cli.invoke(main, ["import", "file", str(bad)], env=env)
    assert wrong.exit_code == 1 and "unknown_import_format" in wrong.output


def test_without_triage_nothing_waits_for_it(runtime: Runtime, tmp_path: Path) -> None:
    import_file(runtime.database, write_jsonl(tmp_path / "t.jsonl", [ticket(1), ticket(2)]), triage=False)
    with runtime.database.engine.connect() as connection:
        waiting = connection.execute(
            select(func.count()).select_from(T["messages"]).where(T["messages"].c.triaged_at.is_(None))
        ).scalar_one()
        total = connection.execute(select(func.count()).select_from(T["messages"])).scalar_one()
    assert (waiting, total) == (0, 6)


def test_a_source_user_id_follows_a_merge_and_forgets_a_deleted_customer(
    runtime: Runtime, tmp_path: Path
) -> None:
    def by_key(number: int) -> dict[str, object]:
        return {**ticket(number), "customer": {"external_id": "U-1", "name": "No Address"}}

    import_file(runtime.database, write_jsonl(tmp_path / "a.jsonl", [by_key(1)]))
    customers, tickets = T["customers"], T["tickets"]
    with runtime.database.engine.begin() as connection:
        first = connection.execute(select(tickets.c.customer_id)).scalar_one()
        target = connection.execute(
            customers.insert().values(
                name="Target",
                preferences={},
                notes="",
                tier="standard",
                created_at=dt.datetime.now(dt.UTC),
                updated_at=dt.datetime.now(dt.UTC),
            )
        ).inserted_primary_key[0]
        connection.execute(customers.update().where(customers.c.id == first).values(merged_into_id=target))
    import_file(runtime.database, write_jsonl(tmp_path / "b.jsonl", [by_key(2)]))
    with runtime.database.engine.begin() as connection:
        second = connection.execute(
            select(tickets.c.customer_id).where(tickets.c.external_id == "T-2")
        ).scalar_one()
        assert second == target
        # The target is deleted (as an erasure would): the next record with that user id starts afresh.
        connection.execute(T["messages"].delete())
        connection.execute(tickets.delete())
        connection.execute(customers.update().values(merged_into_id=None))
        connection.execute(customers.delete())
    run = import_file(runtime.database, write_jsonl(tmp_path / "c.jsonl", [by_key(3)]))
    assert run.status == "finished" and run.counts["customers"] == 1 and run.counts["tickets"] == 1
