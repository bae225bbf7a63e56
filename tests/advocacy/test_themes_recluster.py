"""Re-clustering: themes keep their ids and history as they grow, advocates' edits survive it (names, moved
members, merges, splits), concerns from before advocacy are themed (backfill), and it runs on demand (API,
CLI) and on its schedule (the sweep)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update

from ombud.advocacy import jobs, reclustering
from ombud.advocacy import themes as themes_service
from ombud.advocacy.models import CaseTicket, Schedule, ThemeCount, ThemeEdit, ThemeMember
from ombud.cli.main import main as cli
from ombud.events.models import Event
from ombud.runtime import Runtime
from ombud.tickets.models import Concern, ConcernStatus
from tests.advocacy.cases_helpers import open_case
from tests.advocacy.conftest import HashEmbedder, write_in
from tests.advocacy.test_themes import DOUBLE_CHARGES, members, theme_of, themes, write_history
from tests.conftest import Personas

BASE = "/api/v1/advocacy"


def recluster(client: TestClient, people: Personas) -> None:
    response = client.post(f"{BASE}/recluster", headers=people.advocate.headers)
    assert response.status_code == 202, response.text


def member_ids(client: TestClient, people: Personas, theme_id: int) -> set[int]:
    return {m["concern_id"] for m in members(client, people.advocate, theme_id)}


def outcome(runtime: Runtime) -> dict[str, Any]:
    with runtime.database.session(write=False) as session:
        row = session.get(Schedule, "recluster")
        assert row is not None and row.last_run_at is not None
        return dict(row.outcome)


def hourly_total(runtime: Runtime, theme_id: int) -> int:
    with runtime.database.session(write=False) as session:
        return sum(
            session.scalars(
                select(ThemeCount.count).where(ThemeCount.theme_id == theme_id, ThemeCount.segment == "")
            )
        )


def test_recluster_keeps_ids_names_and_moved_members(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    write_history(client, people)
    charged = theme_of(client, people.advocate, "charged twice for my order A-1001")
    crash = theme_of(client, people.advocate, "The app keeps crashing")
    refund = theme_of(client, people.advocate, "I want a refund now")
    before = member_ids(client, people, charged["id"])
    renamed = client.patch(
        f"{BASE}/themes/{charged['id']}", json={"name": "Double charges"}, headers=people.advocate.headers
    )
    assert renamed.status_code == 200
    # An advocate puts the refund demand with the crashes: it stays there, whatever the vectors say.
    [demand] = member_ids(client, people, refund["id"])
    moved = client.post(
        f"{BASE}/members/{demand}/move", json={"theme_id": crash["id"]}, headers=people.advocate.headers
    )
    assert moved.status_code == 200, moved.text
    assert (
        client.get(f"{BASE}/themes/{refund['id']}", headers=people.advocate.headers).json()["theme"]["state"]
        == "retired"
    )

    recluster(client, people)
    result = outcome(runtime)
    assert result["retired"] == 0 and result["members"] == 7

    after = {t["id"]: t for t in themes(client, people.advocate)}
    assert after[charged["id"]]["title"] == "Double charges"
    assert member_ids(client, people, charged["id"]) == before
    assert demand in member_ids(client, people, crash["id"])
    assert refund["id"] not in after
    assert hourly_total(runtime, charged["id"]) == 4
    assert hourly_total(runtime, crash["id"]) == 3

    # The theme grows online and through the next re-clustering, keeping its id, name and history.
    for i, body in enumerate(DOUBLE_CHARGES):
        write_in(client, people.agent, body, email=f"later{i}@example.net")
    recluster(client, people)
    grown = client.get(f"{BASE}/themes/{charged['id']}", headers=people.advocate.headers).json()
    assert grown["theme"]["title"] == "Double charges" and grown["theme"]["state"] == "active"
    assert member_ids(client, people, charged["id"]) >= before
    assert grown["figures"]["concerns"] == len(before) + 3
    assert grown["figures"]["customers_affected"] == 7


def test_merged_and_split_themes_stay_as_the_advocate_left_them(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    write_history(client, people)
    charged = theme_of(client, people.advocate, "charged twice for my order A-1001")
    refund = theme_of(client, people.advocate, "I want a refund now")
    merged = client.post(
        f"{BASE}/themes/{charged['id']}/merge",
        json={"source_ids": [refund["id"]]},
        headers=people.advocate.headers,
    )
    assert merged.status_code == 200, merged.text
    crash = theme_of(client, people.advocate, "The app keeps crashing")
    angry = next(
        m["concern_id"]
        for m in members(client, people.advocate, crash["id"])
        if "A-1001" not in m["text"] and m["text"].startswith("the app")
    )
    split = client.post(
        f"{BASE}/themes/{crash['id']}/split",
        json={"concern_ids": [angry], "name": "Login crashes"},
        headers=people.advocate.headers,
    )
    assert split.status_code == 200, split.text
    child_id = split.json()["theme_ids"][1]

    recluster(client, people)

    gone = client.get(f"{BASE}/themes/{refund['id']}", headers=people.advocate.headers).json()["theme"]
    assert gone["state"] == "merged" and gone["merged_into_id"] == charged["id"]
    assert {t["id"] for t in themes(client, people.advocate)} >= {charged["id"], crash["id"], child_id}
    assert "I want a refund now!!!" in [m["text"] for m in members(client, people.advocate, charged["id"])]
    child = client.get(f"{BASE}/themes/{child_id}", headers=people.advocate.headers).json()["theme"]
    assert child["title"] == "Login crashes" and child["split_from_id"] == crash["id"]
    # The split-off member was not folded back, though it says the same as the theme it left.
    assert member_ids(client, people, child_id) == {angry}
    assert angry not in member_ids(client, people, crash["id"])
    with runtime.database.session(write=False) as session:
        kinds = sorted(e.kind for e in session.scalars(select(ThemeEdit)))
    assert kinds == ["merge", "split"]


def test_split_by_subclustering(client: TestClient, people: Personas) -> None:
    write_history(client, people)
    charged = theme_of(client, people.advocate, "charged twice for my order A-1001")
    crash = theme_of(client, people.advocate, "The app keeps crashing")
    merged = client.post(
        f"{BASE}/themes/{charged['id']}/merge",
        json={"source_ids": [crash["id"]]},
        headers=people.advocate.headers,
    )
    assert merged.status_code == 200
    # Merged by mistake: split it again by its members' meaning.
    split = client.post(f"{BASE}/themes/{charged['id']}/split", json={}, headers=people.advocate.headers)
    assert split.status_code == 200, split.text
    new_ids = split.json()["theme_ids"][1:]
    assert new_ids
    texts = [m["text"] for m in members(client, people.advocate, charged["id"])]
    assert not any("crashing" in t for t in texts), texts
    split_texts = [m["text"] for i in new_ids for m in members(client, people.advocate, i)]
    assert sorted(t for t in split_texts if "crashing" in t) == sorted(split_texts)


def test_backfill_of_concerns_from_before_advocacy_by_cli_and_schedule(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    write_history(client, people)
    charged = theme_of(client, people.advocate, "charged twice for my order A-1001")
    before = member_ids(client, people, charged["id"])
    # History from before advocacy: concerns no theme holds.
    with runtime.database.session() as session:
        session.execute(delete(ThemeMember).where(ThemeMember.concern_id.in_(sorted(before)[1:])))
        session.commit()
    result = CliRunner().invoke(
        cli, ["advocacy", "recluster", "--database", runtime.settings.effective_database_url]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["backfilled"] == len(before) - 1
    assert member_ids(client, people, charged["id"]) == before

    # The schedule: when due, the sweep runs it.
    with runtime.database.session() as session:
        session.execute(delete(ThemeMember).where(ThemeMember.concern_id == max(before)))
        session.execute(update(Schedule).values(due_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
        session.commit()
    counts = runtime.queue.sweep()
    assert counts["advocacy.recluster"] == 1
    assert member_ids(client, people, charged["id"]) == before
    with runtime.database.session(write=False) as session:
        row = session.get(Schedule, "recluster")
        assert row is not None and row.due_at > dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)


def test_backfilled_history_gives_daily_counts_and_growth(
    client: TestClient, people: Personas, runtime: Runtime, hash_embedder: HashEmbedder
) -> None:
    """History written before advocacy (concerns at known times), themed by a re-clustering with a synthetic
    embedder: the daily series and the week-on-week growth come out of the hourly counts."""
    ticket = write_in(
        client, people.agent, "The parcel never arrived and tracking is stuck.", email="late@example.net"
    )
    now = dt.datetime.now(dt.UTC)
    days_ago = [1, 2, 2, 3, 5, 6, 6, 6, 9, 12]  # 8 in the last 7 days, 2 in the 7 before
    with runtime.database.session() as session:
        for days in days_ago:
            at = now - dt.timedelta(days=days, minutes=5)
            session.add(
                Concern(
                    ticket_id=ticket["id"],
                    text="Invoice total does not match the order total",
                    intent="billing_question",
                    status=ConcernStatus.open,
                    source="agent",
                    created_at=at,
                    updated_at=at,
                )
            )
        session.commit()
    with runtime.database.session() as session, runtime.database.session(write=False) as reader:
        result = reclustering.recluster(session=session, reader=reader, embedder=hash_embedder)
        session.commit()
    assert result["backfilled"] == len(days_ago)
    theme = theme_of(client, people.advocate, "Invoice total does not match")
    assert theme["size"] == len(days_ago)
    assert (theme["last_7_days"], theme["previous_7_days"]) == (8, 2)
    assert theme["growth"] == 3.0
    assert len(theme["daily"]) == 14 and sum(theme["daily"]) == len(days_ago)
    figures = client.get(
        f"{BASE}/themes/{theme['id']}",
        params={"since": (now - dt.timedelta(days=7)).isoformat()},
        headers=people.agent.headers,
    ).json()["figures"]
    assert figures["concerns"] == 8
    by_day = {d["day"]: d["count"] for d in figures["daily"]}
    assert by_day[(now - dt.timedelta(days=6, minutes=5)).date().isoformat()] == 3
    assert figures["first_seen_at"] < figures["last_seen_at"]


def count_drift(runtime: Runtime) -> dict[int, tuple[int, int]]:
    """Themes (and theme 0, every concern) whose hourly counts do not add up to their members:
    {theme id: (counted, members)}; empty when the counts are right."""
    with runtime.database.session(write=False) as session:
        counted = {
            int(t): int(n)
            for t, n in session.execute(
                select(ThemeCount.theme_id, func.sum(ThemeCount.count))
                .where(ThemeCount.segment == "")
                .group_by(ThemeCount.theme_id)
            )
        }
        held = {
            int(t): int(n)
            for t, n in session.execute(
                select(ThemeMember.theme_id, func.count()).group_by(ThemeMember.theme_id)
            )
        }
    held[0] = sum(held.values())
    return {
        t: (counted.get(t, 0), held.get(t, 0))
        for t in set(counted) | set(held)
        if counted.get(t, 0) != held.get(t, 0)
    }


def test_backfill_counts_every_concern_once_and_the_repair_rebuilds_theme_0(
    client: TestClient, people: Personas, runtime: Runtime, hash_embedder: HashEmbedder
) -> None:
    for i in range(3):
        write_in(client, people.agent, f"The parcel never arrived number {i}", email=f"p{i}@example.net")
    with runtime.database.session() as session:
        session.execute(delete(ThemeMember))
        session.execute(delete(ThemeCount))
        session.commit()
    with runtime.database.session() as session, runtime.database.session(write=False) as reader:
        result = reclustering.recluster(session=session, reader=reader, embedder=hash_embedder)
        session.commit()
    assert result["backfilled"] == 3
    assert count_drift(runtime) == {}
    # The repair counts theme 0 again too.
    with runtime.database.session() as session:
        session.execute(update(ThemeCount).where(ThemeCount.theme_id == 0).values(count=ThemeCount.count + 5))
        session.commit()
    assert count_drift(runtime)
    with runtime.database.session() as session:
        themes_service.rebuild_all_counts(session=session)
        session.commit()
    assert count_drift(runtime) == {}


def test_a_split_off_theme_keeps_growing_across_reclustering(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    write_history(client, people)
    crash = theme_of(client, people.advocate, "The app keeps crashing")
    angry = next(
        m["concern_id"]
        for m in members(client, people.advocate, crash["id"])
        if m["text"].startswith("the app")
    )
    split = client.post(
        f"{BASE}/themes/{crash['id']}/split",
        json={"concern_ids": [angry], "name": "Login crashes"},
        headers=people.advocate.headers,
    )
    assert split.status_code == 200, split.text
    child = split.json()["theme_ids"][1]
    for i in range(4):
        write_in(client, people.agent, "the app keeps crashing when i log in", email=f"c{i}@example.net")
    grown = member_ids(client, people, child)
    assert len(grown) == 5  # online assignment put the new ones with the split-off theme

    recluster(client, people)

    assert member_ids(client, people, child) == grown
    assert crash["id"] in {t["id"] for t in themes(client, people.advocate)}
    assert count_drift(runtime) == {}


def test_members_moving_tell_open_cases_and_a_theme_with_an_open_case_is_not_retired(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    write_history(client, people)
    charged = theme_of(client, people.advocate, "charged twice for my order A-1001")
    refund = theme_of(client, people.advocate, "I want a refund now")
    crash = theme_of(client, people.advocate, "The app keeps crashing")
    case = open_case(client, people.advocate, theme_id=crash["id"], title="App crashes at login")
    kept = open_case(client, people.advocate, theme_id=refund["id"], title="Refund demands")
    [demand] = member_ids(client, people, refund["id"])
    one_charge = min(member_ids(client, people, charged["id"]))
    with runtime.database.session(write=False) as session:
        ticket_of = {
            int(c): int(t)
            for c, t in session.execute(
                select(ThemeMember.concern_id, ThemeMember.ticket_id).where(
                    ThemeMember.concern_id.in_([demand, one_charge])
                )
            )
        }

    moved = client.post(
        f"{BASE}/members/{one_charge}/move", json={"theme_id": crash["id"]}, headers=people.advocate.headers
    )
    assert moved.status_code == 200, moved.text
    moved = client.post(
        f"{BASE}/members/{demand}/move", json={"theme_id": crash["id"]}, headers=people.advocate.headers
    )
    assert moved.status_code == 200, moved.text
    assert count_drift(runtime) == {}

    with runtime.database.session(write=False) as session:
        themed = session.scalars(
            select(Event).where(
                Event.kind == "advocacy.concern_themed", Event.entity_id.in_([demand, one_charge])
            )
        ).all()
        joined = set(session.scalars(select(CaseTicket.ticket_id).where(CaseTicket.case_id == case["id"])))
    assert {(e.entity_id, e.payload["theme_id"]) for e in themed} >= {
        (demand, crash["id"]),
        (one_charge, crash["id"]),
    }
    assert {ticket_of[demand], ticket_of[one_charge]} <= joined  # the tickets joined the open case
    # The refund theme lost its only member but has an open case: it stays (and through re-clustering).
    left = client.get(f"{BASE}/themes/{refund['id']}", headers=people.advocate.headers).json()["theme"]
    assert left["state"] == "active" and left["size"] == 0
    recluster(client, people)
    left = client.get(f"{BASE}/themes/{refund['id']}", headers=people.advocate.headers).json()["theme"]
    assert left["state"] == "active", kept
    assert count_drift(runtime) == {}

    merged = client.post(
        f"{BASE}/themes/{crash['id']}/merge",
        json={"source_ids": [charged["id"]]},
        headers=people.advocate.headers,
    )
    assert merged.status_code == 200, merged.text
    assert count_drift(runtime) == {}
    with runtime.database.session(write=False) as session:
        joined = set(session.scalars(select(CaseTicket.ticket_id).where(CaseTicket.case_id == case["id"])))
        charged_tickets = set(
            session.scalars(select(ThemeMember.ticket_id).where(ThemeMember.theme_id == crash["id"]))
        )
    assert charged_tickets <= joined
    split = client.post(
        f"{BASE}/themes/{crash['id']}/split", json={"concern_ids": [demand]}, headers=people.advocate.headers
    )
    assert split.status_code == 200, split.text
    assert count_drift(runtime) == {}


def test_a_failed_reclustering_is_due_again_soon_and_runs_are_one_at_a_time(
    client: TestClient, people: Personas, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_history(client, people)
    due = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    with runtime.database.session() as session:
        session.execute(update(Schedule).where(Schedule.name == "recluster").values(due_at=due))
        session.commit()

    def broken(**_: Any) -> dict[str, int]:
        raise RuntimeError("clustering blew up")

    monkeypatch.setattr(reclustering, "recluster", broken)
    with runtime.database.session() as session, pytest.raises(RuntimeError):
        jobs.recluster(
            session=session, database=runtime.database, embedder=HashEmbedder(), every=dt.timedelta(hours=24)
        )
    with runtime.database.session(write=False) as session:
        row = session.get(Schedule, "recluster")
        assert row is not None
        assert row.due_at <= dt.datetime.now(dt.UTC) + jobs.RETRY
        assert "clustering blew up" in row.outcome["error"] and "leased_until" not in row.outcome
    monkeypatch.undo()

    # A run holds its claim: neither the sweep's job nor the CLI runs alongside it.
    assert jobs.claim_recluster(database=runtime.database, force=True)
    with runtime.database.session() as session:
        assert (
            jobs.recluster(
                session=session,
                database=runtime.database,
                embedder=HashEmbedder(),
                every=dt.timedelta(hours=24),
            )
            is None
        )
    result = CliRunner().invoke(
        cli, ["advocacy", "recluster", "--database", runtime.settings.effective_database_url]
    )
    assert result.exit_code != 0 and "another re-clustering is running" in result.output
