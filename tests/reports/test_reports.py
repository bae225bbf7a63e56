"""Reports: the aggregates the ``reports`` consumer keeps as events happen equal a brute-force count over the
same tickets (made through the API, and a larger synthetic history with spread-out times), a rebuild
reproduces them, CSV matches JSON, the workspace page draws them, and who may see what."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import random
import statistics
from collections import Counter, defaultdict
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from ombud.accounts import service as accounts
from ombud.accounts.schemas import SYSTEM
from ombud.cli.main import main as cli
from ombud.events import service as events
from ombud.events.models import Event
from ombud.events.service import EventRecord
from ombud.reports import service as reports
from ombud.reports.schemas import Dimension, Grouping, ReportName, ReportQuery
from ombud.runtime import Runtime
from tests.conftest import Personas, new_ticket
from tests.web.workspace import sign_in

CUSTOMERS = ({"email": "maria@example.com", "name": "María López"}, {"email": "tom@example.org"})
CHANNELS = ("email", "chat", "phone", "web", "email", "api")


def _patch(client: TestClient, people: Personas, ticket_id: int, **changes: Any) -> None:
    answer = client.patch(f"/api/v1/tickets/{ticket_id}", json=changes, headers=people.lead.headers)
    assert answer.status_code == 200, answer.text


def _history(client: TestClient, people: Personas, runtime: Runtime) -> list[int]:
    """A realistic day: a dozen tickets on several channels, assigned, answered, solved, one reopened,
    rated, with SLA outcomes and concessions as the SLA and resolution parts publish them."""
    ids = []
    for i in range(12):
        ticket = new_ticket(
            client,
            people.agent,
            customer=CUSTOMERS[i % 2],
            channel=CHANNELS[i % len(CHANNELS)],
            subject=f"Order A-{1000 + i} arrived damaged",
            body=f"My order A-{1000 + i} arrived damaged, the box was crushed. Can you replace it?",
        )
        ticket_id = int(str(ticket["id"]))
        ids.append(ticket_id)
        assignee = (people.agent.id, people.agent2.id, None)[i % 3]
        _patch(client, people, ticket_id, assignee_id=assignee, team_id=people.team_id if i % 4 else None)
        if i % 4 != 3:
            reply = client.post(
                f"/api/v1/tickets/{ticket_id}/messages",
                json={"body": "We are sending a replacement today.", "internal": False},
                headers=people.agent.headers,
            )
            assert reply.status_code == 201, reply.text
        if i % 3 != 2:
            _patch(client, people, ticket_id, status="solved", confirm=True)
    # Reopened by the agent, then solved again; another reopened and left open.
    _patch(client, people, ids[0], status="open")
    _patch(client, people, ids[0], status="solved", confirm=True)
    _patch(client, people, ids[1], status="pending")
    tokens = {0: people.customer, 1: people.other_customer}
    for i, ticket_id in enumerate(ids):
        if i % 3 != 2 and i % 4 != 3:
            rated = client.put(
                f"/api/v1/tickets/{ticket_id}/rating",
                json={"score": 1 + (i * 2) % 5, "comment": "thanks"},
                headers=tokens[i % 2].headers,
            )
            assert rated.status_code == 200, rated.text
    with runtime.database.session() as session:
        for i, ticket_id in enumerate(ids[:8]):
            events.emit(
                session=session,
                kind="sla.breached" if i % 3 == 0 else "sla.achieved",
                entity_type="ticket",
                entity_id=ticket_id,
                actor_type="system",
                actor_id=None,
                ticket_id=ticket_id,
                payload={"metric": "first_response", "breached": i % 3 == 0, "business_minutes": 30 + i},
            )
        for i, ticket_id in enumerate(ids[:5]):
            events.emit(
                session=session,
                kind="resolution.applied",
                entity_type="resolution",
                entity_id=100 + i,
                actor_type="user",
                actor_id=people.agent.id,
                ticket_id=ticket_id,
                payload={
                    "after": {
                        "kind": "refund",
                        "amount": 10.5 * (i + 1),
                        "currency": "EUR",
                        "reason": "damaged" if i % 2 else "late",
                    }
                },
            )
        session.commit()
    return ids


def _brute(client: TestClient, people: Personas, runtime: Runtime, ids: list[int]) -> dict[str, Any]:
    """Count the same figures the slow way: every ticket, every rating, every event."""
    tickets = [client.get(f"/api/v1/tickets/{t}", headers=people.admin.headers).json() for t in ids]
    with runtime.database.session(write=False) as session:
        outbox = session.scalars(select(Event).where(Event.ticket_id.in_(ids)).order_by(Event.id)).all()
        rows = [(e.kind, e.ticket_id, dict(e.payload or {})) for e in outbox]
    out: dict[str, Any] = {
        "created_by_channel": Counter(t["channel"] for t in tickets),
        "solved_by_channel": Counter(t["channel"] for t in tickets if t["status"] in ("solved", "closed")),
        "created_by_agent": Counter(t["assignee_id"] or 0 for t in tickets),
        "created_by_team": Counter(t["team_id"] or 0 for t in tickets),
        "first_responses": sum(1 for t in tickets if t["first_response_at"]),
        "reopened": sum(
            1
            for kind, _, payload in rows
            if kind == "ticket.updated"
            and (payload.get("before") or {}).get("status") in ("solved", "closed")
            and (payload.get("after") or {}).get("status") in ("new", "open", "pending", "on_hold")
        ),
        "concerns": sum(1 for kind, _, _ in rows if kind == "concern.created"),
        "sla": Counter(
            (p["metric"], "breached" if p["breached"] else "met") for k, _, p in rows if k.startswith("sla.")
        ),
        "concessions": defaultdict(float),
        "concession_counts": Counter(),
    }
    for kind, _, payload in rows:
        if kind == "resolution.applied":
            after = payload["after"]
            out["concessions"][(after["reason"], after["currency"])] += after["amount"]
            out["concession_counts"][after["reason"]] += 1
    scores: dict[int, list[int]] = defaultdict(list)
    for t in tickets:
        rating = client.get(f"/api/v1/tickets/{t['id']}/rating", headers=people.admin.headers)
        if rating.status_code == 200:
            scores[t["assignee_id"] or 0].append(rating.json()["score"])
    out["csat_by_agent"] = scores
    return out


def _report(client: TestClient, who: Any, name: str, **params: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/reports/{name}", params={"group": "total", **params}, headers=who.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_aggregates_match_a_brute_force_count(runtime: Runtime, client: TestClient, people: Personas) -> None:
    ids = _history(client, people, runtime)
    truth = _brute(client, people, runtime, ids)

    by_channel = _report(client, people.lead, "volume", by="channel")["rows"]
    assert {r["channel"]: r["created"] for r in by_channel} == dict(truth["created_by_channel"])
    assert {r["channel"]: r["solved"] for r in by_channel if r["solved"]} == dict(truth["solved_by_channel"])
    assert sum(r["reopened"] for r in by_channel) == truth["reopened"] == 2
    names = {u.id: u.name for u in _users(runtime)}
    by_agent = _report(client, people.lead, "volume", by="agent")["rows"]
    assert {r["agent"]: r["created"] for r in by_agent} == {
        names.get(k, "unassigned"): v for k, v in truth["created_by_agent"].items()
    }
    by_team = _report(client, people.lead, "volume", by="team")["rows"]
    assert {r["team"]: r["created"] for r in by_team} == {
        ("Support" if k else "no team"): v for k, v in truth["created_by_team"].items()
    }

    times = _report(client, people.lead, "response_times")["rows"]
    assert times[0]["first_responses"] == truth["first_responses"]
    assert times[0]["resolutions"] == sum(truth["solved_by_channel"].values())

    csat = _report(client, people.lead, "csat", by="agent")["rows"]
    assert {r["agent"]: (r["ratings"], r["average"]) for r in csat} == {
        names.get(k, "unassigned"): (len(v), round(statistics.mean(v), 2))
        for k, v in truth["csat_by_agent"].items()
    }

    sla = _report(client, people.lead, "sla")["rows"]
    assert {(r["metric"], "met"): r["met"] for r in sla} | {
        (r["metric"], "breached"): r["breached"] for r in sla
    } == dict(truth["sla"])
    for r in sla:
        assert r["attainment_pct"] == round(100 * r["met"] / (r["met"] + r["breached"]), 2)

    conc = _report(client, people.lead, "concessions")["rows"]
    assert {(r["reason"], r["currency"]): r["amount"] for r in conc} == pytest.approx(
        dict(truth["concessions"])
    )
    assert {r["reason"]: r["count"] for r in conc} == dict(truth["concession_counts"])

    concerns = _report(client, people.lead, "concerns")["rows"][0]
    assert (concerns["tickets"], concerns["concerns"]) == (12, truth["concerns"])

    backlog = _report(client, people.lead, "backlog", by="channel")
    open_now = Counter(
        t["channel"]
        for t in (client.get(f"/api/v1/tickets/{i}", headers=people.admin.headers).json() for i in ids)
        if t["status"] not in ("solved", "closed")
    )
    assert {r["channel"]: (r["open"], r["under 4h"]) for r in backlog["rows"]} == {
        k: (v, v) for k, v in open_now.items()
    }

    # A rebuild from the tickets and the outbox gives the same figures.
    before = {
        n: _report(client, people.lead, n, by="agent")["rows"]
        for n in ("volume", "csat", "sla", "concessions")
    }
    assert client.post("/api/v1/reports/rebuild", headers=people.lead.headers).status_code == 403
    rebuilt = client.post("/api/v1/reports/rebuild", headers=people.admin.headers)
    assert rebuilt.status_code == 200 and rebuilt.json() == {"tickets": 12}
    after = {n: _report(client, people.lead, n, by="agent")["rows"] for n in before}
    assert after == before
    rebuilt_times = _report(client, people.lead, "response_times")["rows"][0]
    assert (rebuilt_times["first_responses"], rebuilt_times["resolutions"]) == (
        times[0]["first_responses"],
        times[0]["resolutions"],
    )


def _users(runtime: Runtime) -> list[Any]:
    with runtime.database.session(write=False) as session:
        return list(accounts.list_users(session=session))


# -- a longer synthetic history, folded event by event ------------------------------------------------------
START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def _event(
    ids: list[int], kind: str, ticket_id: int, at: dt.datetime, payload: dict[str, Any], actor: str = "user"
) -> EventRecord:
    ids.append(len(ids) + 1)
    return EventRecord(
        id=ids[-1],
        kind=kind,
        ticket_id=ticket_id,
        customer_id=1,
        entity_type="ticket",
        entity_id=ticket_id,
        actor_type=actor,
        actor_id=None,
        payload=payload,
        created_at=at,
    )


def test_percentiles_and_reattribution_over_a_synthetic_month(runtime: Runtime) -> None:
    rng = random.Random(7)
    seq: list[int] = []
    stream: list[EventRecord] = []
    truth: list[dict[str, Any]] = []
    for ticket_id in range(1, 121):
        created = START + dt.timedelta(minutes=rng.randrange(0, 20 * 24 * 60))
        channel = rng.choice(["email", "chat", "web"])
        team = rng.choice([1, 2])
        fact: dict[str, Any] = {
            "created": created,
            "channel": channel,
            "team": team,
            "intent": "",
            "frt": None,
        }
        stream.append(
            _event(
                seq,
                "ticket.created",
                ticket_id,
                created,
                {"after": {"channel": channel, "team_id": team, "status": "new"}},
            )
        )
        if ticket_id % 5:
            fact["intent"] = rng.choice(["refund_request", "delivery_problem"])
            stream.append(
                _event(
                    seq,
                    "message.triaged",
                    ticket_id,
                    created + dt.timedelta(seconds=5),
                    {"intents": [fact["intent"]]},
                    "system",
                )
            )
        if ticket_id % 7:
            # A survey link posted by the system is no first response; the agent's reply is.
            frt = rng.lognormvariate(4.0, 1.4)
            stream.append(
                _event(
                    seq,
                    "message.added",
                    ticket_id,
                    created + dt.timedelta(minutes=frt / 2),
                    {"after": None},
                    "system",
                )
            )
            stream.append(
                _event(
                    seq,
                    "message.added",
                    ticket_id,
                    created + dt.timedelta(minutes=frt),
                    {"after": {"ticket": {"status": "open"}}},
                )
            )
            fact["frt"] = frt
        if ticket_id % 6 == 0:
            # Moved to the other team: counted there from now on, for every day.
            fact["team"] = 3 - team
            stream.append(
                _event(
                    seq,
                    "ticket.updated",
                    ticket_id,
                    created + dt.timedelta(hours=1),
                    {"before": {"team_id": team}, "after": {"team_id": 3 - team}},
                )
            )
        fact["res"] = None
        if ticket_id % 3:
            res = (fact["frt"] or 0) + rng.lognormvariate(6.0, 1.2)
            if ticket_id % 9 == 1:
                # Solved, reopened, solved again: the resolution is the last solve.
                stream.append(
                    _event(
                        seq,
                        "ticket.updated",
                        ticket_id,
                        created + dt.timedelta(minutes=res / 3),
                        {"after": {"status": "solved"}},
                    )
                )
                stream.append(
                    _event(
                        seq,
                        "ticket.updated",
                        ticket_id,
                        created + dt.timedelta(minutes=res / 2),
                        {"after": {"status": "open"}},
                    )
                )
            stream.append(
                _event(
                    seq,
                    "ticket.updated",
                    ticket_id,
                    created + dt.timedelta(minutes=res),
                    {"after": {"status": "solved"}},
                )
            )
            fact["res"] = res
        truth.append(fact)
    # The outbox's ids follow commit order, which is time order.
    stream = [
        dataclasses.replace(e, id=n)
        for n, e in enumerate(sorted(stream, key=lambda e: (e.created_at, e.id)), 1)
    ]
    with runtime.database.session() as session:
        for event in stream:
            reports.on_event(session=session, event=event)
        # Handed twice (a retry): counted once.
        reports.on_event(session=session, event=stream[-1])
        session.commit()

    query = ReportQuery(start=START.date(), end=(START + dt.timedelta(days=60)).date(), group=Grouping.total)
    with runtime.database.session(write=False) as session:
        times = reports.report(session=session, principal=SYSTEM, name=ReportName.response_times, query=query)
        by_team = reports.report(
            session=session,
            principal=SYSTEM,
            name=ReportName.volume,
            query=query.model_copy(update={"by": Dimension.team}),
        )
        by_intent = reports.report(
            session=session,
            principal=SYSTEM,
            name=ReportName.volume,
            query=query.model_copy(update={"by": Dimension.intent}),
        )
        weekly = reports.report(
            session=session,
            principal=SYSTEM,
            name=ReportName.volume,
            query=query.model_copy(update={"group": Grouping.week}),
        )
    row = times.rows[0]
    frts = sorted(f["frt"] for f in truth if f["frt"] is not None)
    ress = sorted(f["res"] for f in truth if f["res"] is not None)
    assert row["first_responses"] == len(frts) and row["resolutions"] == len(ress)
    assert row["first_response_mean"] == pytest.approx(statistics.mean(frts), abs=0.02)
    assert row["resolution_mean"] == pytest.approx(statistics.mean(ress), abs=0.02)
    for estimate, values, q in (
        (row["first_response_median"], frts, 0.5),
        (row["first_response_p90"], frts, 0.9),
        (row["resolution_median"], ress, 0.5),
        (row["resolution_p90"], ress, 0.9),
    ):
        exact = values[min(int(q * len(values)), len(values) - 1)]
        lower, upper = _bucket_bounds(exact)
        # The estimate lies in the exact quantile's histogram bucket (interpolated within it).
        assert lower - 1e-6 <= estimate <= (upper if upper is not None else lower) + 1e-6, (estimate, exact)
    assert {r["team"]: r["created"] for r in by_team.rows} == {
        f"team {k}": v for k, v in Counter(f["team"] for f in truth).items()
    }
    assert {r["intent"]: r["created"] for r in by_intent.rows} == {
        (k or "not triaged"): v for k, v in Counter(f["intent"] for f in truth).items()
    }
    weeks = Counter("{}-W{:02d}".format(*f["created"].isocalendar()[:2]) for f in truth)
    assert {r["period"]: r["created"] for r in weekly.rows if r["created"]} == dict(weeks)
    assert sum(r["reopened"] for r in weekly.rows) == sum(1 for t in range(1, 121) if t % 3 and t % 9 == 1)


def _bucket_bounds(minutes: float) -> tuple[float, float | None]:
    bounds = (5, 15, 30, 60, 120, 240, 480, 1440, 2880, 4320, 7200, 10080, 20160, 43200)
    lower = 0.0
    for bound in bounds:
        if minutes <= bound:
            return lower, float(bound)
        lower = float(bound)
    return lower, None


# -- export, permissions, pages ----------------------------------------------------------------------------
def test_csv_matches_json_and_keeps_names_from_running_as_formulas(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    with runtime.database.session() as session:
        team = accounts.create_team(session=session, name='=HYPERLINK("http://evil.example")')
        session.commit()
        team_id = team.id
    for i in range(3):
        ticket = new_ticket(client, people.agent, subject=f"Question {i}", body=f"Where is my order A-{i}?")
        _patch(client, people, int(str(ticket["id"])), team_id=team_id if i else people.team_id)
    data = _report(client, people.lead, "volume", by="team")
    export = client.get(
        "/api/v1/reports/volume.csv", params={"group": "total", "by": "team"}, headers=people.lead.headers
    )
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0] == data["columns"] == ["period", "team", "created", "solved", "reopened", "backlog_change"]
    by_team = {r[1]: r for r in rows[1:]}
    assert by_team["Support"][2] == "1"
    assert by_team['\'=HYPERLINK("http://evil.example")'][2] == "2"
    assert len(rows) == len(data["rows"]) + 1


def test_who_sees_which_figures(runtime: Runtime, client: TestClient, people: Personas) -> None:
    mine = new_ticket(client, people.agent, subject="Mine", body="Where is my parcel?")
    _patch(client, people, int(str(mine["id"])), assignee_id=people.agent.id)
    theirs = new_ticket(client, people.agent, subject="Theirs", body="Where is my parcel now?")
    _patch(client, people, int(str(theirs["id"])), assignee_id=people.agent2.id)

    everyone = _report(client, people.lead, "volume")
    assert everyone["scope"] == "all" and everyone["rows"][0]["created"] == 2
    assert _report(client, people.advocate, "volume")["rows"][0]["created"] == 2
    own = _report(client, people.agent, "volume", by="agent")
    assert own["scope"] == f"agent:{people.agent.id}"
    assert [(r["agent"], r["created"]) for r in own["rows"]] == [("Agent", 1)]
    assert _report(client, people.agent, "backlog")["rows"][0]["open"] == 1
    for who in (people.partner, people.customer):
        refused = client.get("/api/v1/reports/volume", headers=who.headers)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "role_forbidden"
    assert client.get("/api/v1/reports/volume").status_code == 401
    backwards = client.get(
        "/api/v1/reports/volume",
        params={"start": "2026-05-02", "end": "2026-05-01"},
        headers=people.lead.headers,
    )
    assert backwards.status_code == 422 and backwards.json()["error"]["code"] == "invalid_range"
    assert client.get("/api/v1/reports/volume?group=year", headers=people.lead.headers).status_code == 422
    assert client.get("/api/v1/reports/nonsense", headers=people.lead.headers).status_code == 422
    listed = client.get("/api/v1/reports", headers=people.agent.headers).json()
    assert {r["name"] for r in listed} == {n.value for n in ReportName}


def test_reports_page_draws_charts_for_leads_and_own_figures_for_agents(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    for i in range(3):
        ticket = new_ticket(
            client, people.agent, subject=f"Broken lid {i}", body="The lid of my kettle broke."
        )
        _patch(
            client, people, int(str(ticket["id"])), assignee_id=people.agent.id, status="solved", confirm=True
        )
    sign_in(client, runtime, "lead@desk.test")
    page = client.get("/agent/reports?group=week&by=channel")
    assert page.status_code == 200
    assert page.text.count("<svg") >= 2 and "<rect" in page.text
    assert 'href="/api/v1/reports/volume.csv?' in page.text and "Everyone's figures" in page.text
    assert 'href="/agent/reports"' in page.text  # the nav link
    export = client.get("/api/v1/reports/volume.csv?group=week&by=channel")
    assert export.status_code == 200 and export.text.startswith("period,channel,created")
    bad = client.get("/agent/reports?start=yesterday")
    assert bad.status_code == 200 and "give dates as YYYY-MM-DD" in bad.text

    client.cookies.clear()
    sign_in(client, runtime, "agent@desk.test")
    assert "Your own figures" in client.get("/agent/reports").text


def test_cli_rebuilds_and_prints_a_report(runtime: Runtime, client: TestClient, people: Personas) -> None:
    new_ticket(client, people.agent)
    url = runtime.settings.effective_database_url
    runner = CliRunner()
    rebuilt = runner.invoke(cli, ["report", "rebuild", "--database", url])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt from 1 tickets" in rebuilt.output
    shown = runner.invoke(cli, ["report", "show", "volume", "--group", "total", "--database", url])
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[0] == "period,created,solved,reopened,backlog_change"
    assert shown.output.splitlines()[1].split(",")[1] == "1"


def test_tickets_from_before_reports_are_counted_from_their_next_event(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    from sqlalchemy import delete

    from ombud.reports.models import ReportCount, ReportTicket

    ticket = new_ticket(client, people.agent, subject="Older ticket", body="Where is my order A-77?")
    # As if it had been created before reports existed: no facts, no counts.
    with runtime.database.session() as session:
        session.execute(delete(ReportCount))
        session.execute(delete(ReportTicket))
        session.commit()
    assert _report(client, people.lead, "volume")["rows"] == []
    reply = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "It left our warehouse today.", "internal": False},
        headers=people.agent.headers,
    )
    assert reply.status_code == 201
    volume = _report(client, people.lead, "volume")["rows"]
    assert [(r["created"], r["solved"]) for r in volume] == [(1, 0)]
    times = _report(client, people.lead, "response_times")["rows"]
    assert times[0]["first_responses"] == 1


def test_a_clock_that_breaches_and_is_then_met_counts_once_as_breached(runtime: Runtime) -> None:
    seq: list[int] = []
    at = START
    stream = [
        _event(seq, "ticket.created", 1, at, {"after": {"channel": "email", "status": "new"}}),
        _event(seq, "sla.breached", 1, at + dt.timedelta(hours=2), {"metric": "first_response"}, "system"),
        _event(
            seq,
            "sla.achieved",
            1,
            at + dt.timedelta(hours=3),
            {"metric": "first_response", "breached": True, "business_minutes": 180},
            "system",
        ),
        _event(
            seq,
            "sla.achieved",
            1,
            at + dt.timedelta(hours=4),
            {"metric": "next_response", "breached": False, "business_minutes": 20},
            "system",
        ),
        _event(seq, "sla.breached", 1, at + dt.timedelta(hours=30), {"metric": "resolution"}, "system"),
    ]
    with runtime.database.session() as session:
        for event in stream:
            reports.on_event(session=session, event=event)
        session.commit()
        query = ReportQuery(start=START.date(), end=START.date() + dt.timedelta(days=2), group=Grouping.total)
        table = reports.report(session=session, principal=SYSTEM, name=ReportName.sla, query=query)
    assert {r["metric"]: (r["met"], r["breached"]) for r in table.rows} == {
        "first_response": (0, 1),
        "next_response": (1, 0),
        "resolution": (0, 1),
    }


def test_concession_sums_are_exact_in_minor_units_across_moves(runtime: Runtime) -> None:
    """KWD has three decimals, and 0.1 + 0.2 EUR is not 0.3 in floats: sums are kept in minor units, and a
    ticket moved between teams (and back) leaves exact zeros behind."""
    from ombud.reports.models import ReportCount

    seq: list[int] = []
    at = START

    def applied(ticket_id: int, minutes: int, after: dict[str, Any]) -> EventRecord:
        return _event(
            seq, "resolution.applied", ticket_id, at + dt.timedelta(minutes=minutes), {"after": after}
        )

    def moved(ticket_id: int, minutes: int, team: int) -> EventRecord:
        return _event(
            seq, "ticket.updated", ticket_id, at + dt.timedelta(minutes=minutes), {"after": {"team_id": team}}
        )

    stream = [
        _event(seq, "ticket.created", 1, at, {"after": {"channel": "email", "team_id": 1, "status": "new"}}),
        _event(seq, "ticket.created", 2, at, {"after": {"channel": "email", "team_id": 1, "status": "new"}}),
        # As resolutions publish it: the amount as a JSON number, the exact value in minor units beside it.
        applied(1, 1, {"reason": "damaged", "currency": "KWD", "amount": 1.235, "amount_minor": 1235}),
        applied(1, 2, {"reason": "goodwill", "currency": "EUR", "amount": 0.1, "amount_minor": 10}),
        # Without amount_minor, the amount is converted exactly with the currency's decimals.
        applied(2, 3, {"reason": "damaged", "currency": "KWD", "amount": 0.1}),
        applied(2, 4, {"reason": "goodwill", "currency": "EUR", "amount": 0.2}),
        moved(1, 5, 2),
        moved(1, 6, 3),
        moved(1, 7, 2),
    ]
    query = ReportQuery(start=START.date(), end=START.date(), group=Grouping.total)
    with runtime.database.session() as session:
        for event in stream:
            reports.on_event(session=session, event=event)
        session.commit()
        total = reports.report(session=session, principal=SYSTEM, name=ReportName.concessions, query=query)
        by_team = reports.report(
            session=session,
            principal=SYSTEM,
            name=ReportName.concessions,
            query=query.model_copy(update={"by": Dimension.team}),
        )
        cells = {(c.team_id, c.measure): c.value for c in session.scalars(select(ReportCount))}
    assert {(r["reason"], r["currency"]): (r["count"], r["amount"]) for r in total.rows} == {
        ("damaged", "KWD"): (2, 1.335),
        ("goodwill", "EUR"): (2, 0.3),
    }
    assert {(r["team"], r["reason"], r["currency"]): (r["count"], r["amount"]) for r in by_team.rows} == {
        ("team 1", "damaged", "KWD"): (1, 0.1),
        ("team 1", "goodwill", "EUR"): (1, 0.2),
        ("team 2", "damaged", "KWD"): (1, 1.235),
        ("team 2", "goodwill", "EUR"): (1, 0.1),
    }
    assert cells[(2, "conc_minor:KWD:damaged")] == 1235 and cells[(1, "conc_minor:KWD:damaged")] == 100
    assert cells[(3, "conc_minor:KWD:damaged")] == 0 and cells[(3, "conc_n:damaged")] == 0
    assert all(type(value) is int for value in cells.values())
