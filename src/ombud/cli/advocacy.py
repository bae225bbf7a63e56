"""`ombud advocacy`: `cluster` and `replay` work on a CSV of concerns without a database (docs/advocacy.md);
the database commands (digest, recluster) live in their own modules and are added to this group."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from pathlib import Path

import click

from ombud.cli.advocacy_digest import digest_command
from ombud.cli.advocacy_themes import recluster_command
from ombud.cli.common import friendly
from ombud.errors import InvalidInput


@click.group("advocacy")
def advocacy() -> None:
    """Customer advocacy: themes across concerns, spikes, cases."""


advocacy.add_command(digest_command)
advocacy.add_command(recluster_command)


def read_rows(path: Path, columns: list[str]) -> list[dict[str, str]]:
    """The CSV's rows (the named columns only); errors say what to fix, with a stable code."""
    if not path.exists():
        raise InvalidInput(f"{path}: no such file", code="file_not_found")
    if path.is_dir():
        raise InvalidInput(f"{path} is a directory; give a CSV file", code="not_a_file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8", code="not_utf8"
        ) from None
    except OSError as error:
        raise InvalidInput(f"{path}: cannot read it ({error.strerror})", code="unreadable_file") from None
    if not text.strip():
        raise InvalidInput(
            f"{path} is empty; it needs a header row and one row per concern", code="empty_file"
        )
    csv.field_size_limit(sys.maxsize)
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = reader.fieldnames or []
    for column in columns:
        if column not in header:
            raise InvalidInput(
                f"{path} has no column {column!r} (its columns: {', '.join(header) or 'none'}); "
                "name the right one with --text-column / --time-column",
                code="missing_column",
            )
    try:
        rows = [{column: (row.get(column) or "") for column in columns} for row in reader]
    except csv.Error as error:
        raise InvalidInput(f"{path}: not a readable CSV ({error})", code="bad_csv") from None
    if not rows:
        raise InvalidInput(f"{path} has a header but no rows", code="empty_file")
    return rows


def parse_time(value: str, row: int) -> dt.datetime:
    """ISO 8601 (a time without a zone is UTC)."""
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"row {row}: {value!r} is not an ISO 8601 timestamp (e.g. 2026-03-01T14:05:00Z)",
            code="bad_timestamp",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _embed(texts: list[str]) -> object:
    from ombud.triage.embed import shared_minilm

    return shared_minilm().embed_batch(texts)


DataFile = click.Path(dir_okay=True, path_type=Path)


@advocacy.command("cluster")
@click.option("--data", "data", type=DataFile, required=True, help="CSV file with one concern per row.")
@click.option("--text-column", default="text", show_default=True, help="Column with the concern's text.")
@click.option(
    "--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output directory."
)
@friendly
def cluster_command(data: Path, text_column: str, out: Path) -> None:
    """Group the concerns of a CSV into themes (how many is found, not given).

    Writes OUT/assignments.jsonl ({"row", "theme"} per input row, in input order; -1 for isolated concerns
    and empty texts) and OUT/themes.json ([{"id", "label", "size", "quotes"}], largest first).
    """
    import numpy as np

    from ombud.advocacy import clustering

    rows = read_rows(data, [text_column])
    texts = [row[text_column].strip() for row in rows]
    present = [i for i, text in enumerate(texts) if text]
    labels = np.full(len(texts), -1, dtype=np.int64)
    summaries: dict[int, clustering.ThemeSummary] = {}
    if present:
        vectors = np.asarray(_embed([texts[i] for i in present]), dtype=np.float32)
        found = clustering.cluster(vectors)
        labels[present] = found
        summaries = clustering.describe([texts[i] for i in present], found, vectors)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInput(
            f"{out}: cannot create the directory ({error.strerror})", code="bad_output"
        ) from None
    with (out / "assignments.jsonl").open("w", encoding="utf-8") as handle:
        for row, theme in enumerate(labels.tolist()):
            handle.write(json.dumps({"row": row, "theme": theme}) + "\n")
    themes = [
        {
            "id": theme,
            "label": summary.label,
            "size": summary.size,
            "quotes": [texts[present[i]] for i in summary.quotes],
        }
        for theme, summary in sorted(summaries.items())
    ]
    (out / "themes.json").write_text(
        json.dumps(themes, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    noise = int((labels < 0).sum())
    click.echo(
        f"{len(themes)} themes from {len(texts)} concerns ({noise} isolated); written to {out}", err=True
    )


@advocacy.command("replay")
@click.option("--data", "data", type=DataFile, required=True, help="CSV file with timestamped concerns.")
@click.option("--text-column", default="text", show_default=True, help="Column with the concern's text.")
@click.option("--time-column", default="timestamp", show_default=True, help="Column with ISO 8601 times.")
@click.option(
    "--warmup-days",
    type=click.FloatRange(min=0.0),
    default=7.0,
    show_default=True,
    help="Cluster this much of the start of the stream to seed the themes (at most half of the stream).",
)
@friendly
def replay_command(data: Path, text_column: str, time_column: str, warmup_days: float) -> None:
    """Feed a timestamped stream through online themes and spike detection as if live; print one JSON line
    per alert: {"theme", "label", "started_at", "detected_at", "count", "baseline"}.

    The first --warmup-days are clustered in one go to seed the themes (no alerts there: no baseline yet);
    then each concern in time order joins its nearest theme or opens one, and its theme is checked for a
    spike against its weekly and daily rhythm.
    """
    import numpy as np

    from ombud.advocacy.replay import replay

    rows = read_rows(data, [text_column, time_column])
    kept = [(row[text_column].strip(), parse_time(row[time_column], n + 1)) for n, row in enumerate(rows)]
    kept = [(text, moment) for text, moment in kept if text]
    if not kept:
        raise InvalidInput(f"{data}: every {text_column!r} is empty", code="empty_file")
    texts = [text for text, _ in kept]
    times = [moment for _, moment in kept]
    vectors = np.asarray(_embed(texts), dtype=np.float32)
    for alert in replay(texts, times, vectors, warmup=dt.timedelta(days=warmup_days)):
        click.echo(json.dumps(alert.as_json(), ensure_ascii=False))
