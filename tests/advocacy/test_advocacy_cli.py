"""`ombud advocacy cluster` and `ombud advocacy replay` as an analyst runs them on a CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from ombud.cli.main import main

TOPICS = {
    "card": [
        "My new card still has not arrived",
        "I ordered a card two weeks ago and it never came",
        "Where is my card? It has not been delivered",
        "The replacement card has not arrived in the post",
        "still waiting for my card to be delivered",
        "card delivery is taking forever, nothing arrived yet",
        "has my card been sent? I have not received it",
        "I never received the card you posted",
    ],
    "refund": [
        "I want a refund for the item I returned",
        "When will I get my refund?",
        "The refund for my returned order has not come through",
        "please refund my money, I sent the parcel back",
        "how long does a refund take to appear",
        "my refund is missing from my account",
        "I returned the shoes and still have no refund",
        "refund not received after returning the order",
    ],
    "password": [
        "I forgot my password and cannot log in",
        "how do I reset my password",
        "the password reset email never arrives",
        "I am locked out, my password does not work",
        "can't sign in, password reset link is broken",
        "need help resetting my password",
        "my password stopped working this morning",
        "reset password page gives an error",
    ],
}
CRASH = [
    "The app crashes as soon as I open it",
    "app keeps crashing after the update",
    "the mobile app crashes when I log in",
    "since this morning the app crashes on start",
    "your app crashed again when I tried to pay",
    "app crash on launch, cannot use it",
]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_cluster_writes_a_theme_per_row_in_input_order_and_named_themes(tmp_path: Path) -> None:
    rows = [[text, topic] for topic, texts in TOPICS.items() for text in texts]
    random.Random(1).shuffle(rows)
    rows.insert(5, ["   ", "blank"])
    data = _write(
        tmp_path / "concerns.csv", ["id", "body", "topic"], [[str(i), *r] for i, r in enumerate(rows)]
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["advocacy", "cluster", "--data", str(data), "--text-column", "body", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assignments = [json.loads(line) for line in (out / "assignments.jsonl").read_text().splitlines()]
    assert [a["row"] for a in assignments] == list(range(len(rows)))
    assert assignments[5]["theme"] == -1  # the blank text
    by_topic: dict[str, set[int]] = {}
    for (_, topic), assignment in zip(rows, assignments, strict=True):
        by_topic.setdefault(topic, set()).add(assignment["theme"])
    # Each topic is one theme (a stray member may be left isolated), and the topics are different themes.
    main_theme = {
        topic: max(themes - {-1}, key=lambda t: sum(1 for a in assignments if a["theme"] == t))
        for topic, themes in by_topic.items()
        if topic != "blank"
    }
    assert len(set(main_theme.values())) == 3
    themes = json.loads((out / "themes.json").read_text())
    described = {theme["id"]: theme for theme in themes}
    assert set(main_theme.values()) <= set(described)
    assert "card" in described[main_theme["card"]]["label"]
    assert "refund" in described[main_theme["refund"]]["label"]
    assert "password" in described[main_theme["password"]]["label"]
    for theme in themes:
        assert theme["size"] == sum(1 for a in assignments if a["theme"] == theme["id"])
        assert 1 <= len(theme["quotes"]) <= 3 and len(set(theme["quotes"])) == len(theme["quotes"])
        assert set(theme["quotes"]) <= {text for text, _ in rows}


def _stream(seed: int) -> list[list[str]]:
    """Two weeks of three everyday topics with a daily rhythm, and an app crash spike on day 10 at 14:00."""
    rng = random.Random(seed)
    start = dt.datetime(2026, 2, 2, tzinfo=dt.UTC)
    rows = []
    for hour in range(14 * 24):
        moment = start + dt.timedelta(hours=hour)
        busy = 1.6 if 9 <= moment.hour < 18 else 0.4
        for texts in TOPICS.values():
            for _ in range(int(busy) + (rng.random() < busy % 1)):
                at = moment + dt.timedelta(minutes=rng.randrange(60))
                rows.append([at.isoformat().replace("+00:00", "Z"), rng.choice(texts)])
        if 10 * 24 + 14 <= hour < 10 * 24 + 17:
            for _ in range(12):
                at = moment + dt.timedelta(minutes=rng.randrange(60))
                rows.append([at.isoformat(), rng.choice(CRASH)])
    rng.shuffle(rows)  # a CSV export need not be sorted
    return rows


def test_replay_prints_the_spike_once_with_when_it_began(tmp_path: Path) -> None:
    data = _write(tmp_path / "stream.csv", ["timestamp", "text"], _stream(3))
    result = CliRunner().invoke(main, ["advocacy", "replay", "--data", str(data)])
    assert result.exit_code == 0, result.output
    alerts = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(alerts) == 1, alerts
    alert = alerts[0]
    assert set(alert) == {"theme", "label", "started_at", "detected_at", "count", "baseline"}
    assert "app" in alert["label"] or "crash" in alert["label"]
    began = dt.datetime(2026, 2, 12, 14, tzinfo=dt.UTC)
    started_at = dt.datetime.fromisoformat(alert["started_at"])
    detected_at = dt.datetime.fromisoformat(alert["detected_at"])
    assert started_at == began
    assert began < detected_at <= began + dt.timedelta(hours=2)
    assert alert["count"] >= 8 and alert["baseline"] < alert["count"] / 4


def test_replay_of_ordinary_traffic_prints_nothing(tmp_path: Path) -> None:
    rows = [row for row in _stream(4) if row[1] not in CRASH]
    data = _write(tmp_path / "calm.csv", ["when", "message"], rows)
    result = CliRunner().invoke(
        main, ["advocacy", "replay", "--data", str(data), "--time-column", "when", "--text-column", "message"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ""


@pytest.mark.parametrize(
    ("content", "arguments", "code"),
    [
        (None, [], "file_not_found"),
        (b"", [], "empty_file"),
        (b"timestamp,text\n", [], "empty_file"),
        (b"when,body\n2026-01-01T10:00:00Z,hello\n", [], "missing_column"),
        (b"timestamp,text\nyesterday at noon,my card\n", [], "bad_timestamp"),
        ("timestamp,text\n2026-01-01T10:00:00Z,caf\u00e9\n".encode("latin-1"), [], "not_utf8"),
    ],
)
def test_bad_input_is_a_clear_error_not_a_traceback(
    tmp_path: Path, content: bytes | None, arguments: list[str], code: str
) -> None:
    data = tmp_path / "input.csv"
    if content is not None:
        data.write_bytes(content)
    for command in (["cluster", "--out", str(tmp_path / "out")], ["replay"]):
        if code == "bad_timestamp" and command[0] == "cluster":
            continue
        if code == "missing_column" and command[0] == "cluster":
            arguments = ["--text-column", "message"]
        result = CliRunner().invoke(main, ["advocacy", *command, "--data", str(data), *arguments])
        assert result.exit_code == 1, result.output
        assert f"error [{code}]" in result.output
        assert "Traceback" not in result.output
        arguments = []
    assert not (tmp_path / "out" / "assignments.jsonl").exists()


def test_a_bad_timestamp_names_its_row(tmp_path: Path) -> None:
    data = _write(
        tmp_path / "s.csv",
        ["timestamp", "text"],
        [["2026-01-01T10:00:00", "my card"], ["2026-13-01T10:00:00", "refund please"]],
    )
    result = CliRunner().invoke(main, ["advocacy", "replay", "--data", str(data)])
    assert result.exit_code == 1
    assert "row 2" in result.output and "2026-13-01" in result.output
