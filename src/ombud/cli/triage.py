"""`ombud triage`: analyse text, train and evaluate models, and choose the live intent model."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ombud.cli.common import _settings, database_option, friendly
from ombud.errors import ConfigurationError, InvalidInput

FORMAT_CHOICE = click.Choice(["auto", "csv", "jsonl", "nlupp", "tweeteval"])
TASK_CHOICE = click.Choice(["intent", "emotion", "sentiment", "abuse"])


def data_options(fn: Any) -> Any:
    fn = click.option(
        "--label-column", default=None, help="CSV label column (default: label, category or intent)."
    )(fn)
    fn = click.option("--text-column", default="text", show_default=True, help="CSV text column.")(fn)
    fn = click.option(
        "--format",
        "fmt",
        type=FORMAT_CHOICE,
        default="auto",
        show_default=True,
        help="Data format (auto: by name).",
    )(fn)
    fn = click.option("--task", type=TASK_CHOICE, default="intent", show_default=True)(fn)
    return click.option(
        "--data",
        "paths",
        multiple=True,
        required=True,
        type=click.Path(path_type=Path),
        help="Labelled data; repeat for several files (e.g. NLU++ folds).",
    )(fn)


def _read(paths: tuple[Path, ...], fmt: str, text_column: str, label_column: str | None) -> Any:
    from ombud.triage import data

    return data.read(list(paths), fmt=fmt, text_column=text_column, label_column=label_column)


def _workspace_database(database_url: str | None) -> Any:
    """Return the workspace database if it exists and is current, else None (loose-text use needs none)."""
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema

    database = Database(_settings(database_url=database_url).effective_database_url)
    try:
        check_schema(database)
    except ConfigurationError:
        database.dispose()
        return None
    return database


@click.group()
def triage() -> None:
    """Triage: analyse messages, train and evaluate models."""


@triage.command("analyze")
@click.argument("text", required=False)
@click.option(
    "--file",
    "file_",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the text from F.",
)
@click.option(
    "--model", "model_dir", type=click.Path(path_type=Path), help="Intent model directory (default: live)."
)
@database_option
@friendly
def analyze(text: str | None, file_: Path | None, model_dir: Path | None, database_url: str | None) -> None:
    """Print the triage JSON of TEXT (or --file F, or standard input)."""
    from ombud.triage import service
    from ombud.triage.classifier import TextClassifier
    from ombud.triage.engine import Models, Triage
    from ombud.triage.pipeline import Context
    from ombud.validation import check_text

    if text is None:
        raw = file_.read_bytes() if file_ else sys.stdin.buffer.read()
        text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        raise InvalidInput(
            "There is no text to triage: give TEXT, --file F or standard input.", code="empty_text"
        )
    try:
        text = check_text(text)
    except ValueError as error:
        raise InvalidInput(f"The text cannot be triaged: {error}.", code="invalid_text") from None
    engine = Triage(Models())
    if model_dir is not None:
        chosen = TextClassifier.load(model_dir)
        if chosen.task != "intent":
            raise InvalidInput(
                f"{model_dir} holds a {chosen.task} model, not an intent model.", code="bad_model"
            )
        engine.models.use_intent(chosen, str(model_dir))
    database = _workspace_database(database_url)
    if database is None:
        result = engine.analyze([(text, Context())])[0]
    else:
        with database.session(write=False) as session:
            live = model_dir is None
            result = service.analyze_text(session=session, engine=engine, text=text, live_model=live)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


@triage.command("train")
@data_options
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Model directory."
)
@click.option(
    "--features",
    type=click.Choice(["tfidf", "tfidf+minilm"]),
    default="tfidf",
    show_default=True,
    help="tfidf: fast; tfidf+minilm adds MiniLM sentence embeddings (more accurate, slower).",
)
@click.option(
    "--c", "c", type=click.FloatRange(min=1e-4, max=1e4), default=None, help="Inverse regularisation."
)
@click.option(
    "--corrections/--no-corrections", default=True, show_default=True, help="Add agents' stored corrections."
)
@database_option
@friendly
def train(
    paths: tuple[Path, ...],
    task: str,
    fmt: str,
    text_column: str,
    label_column: str | None,
    out: Path,
    features: str,
    c: float | None,
    corrections: bool,
    database_url: str | None,
) -> None:
    """Train a model from labelled data (CSV, JSON lines, NLU++ folds, TweetEval) and save it in --out."""
    from ombud.triage import service, training

    dataset = _read(paths, fmt, text_column, label_column)
    if corrections:
        database = _workspace_database(database_url)
        if database is not None:
            with database.session(write=False) as session:
                extra = service.corrections_dataset(session=session, task=task)
            extra, skipped = training.fit_corrections(extra, dataset) if task == "intent" else (extra, 0)
            if len(extra):
                dataset.extend(extra)
                click.echo(f"added {len(extra)} agent corrections from the workspace", err=True)
            if skipped:
                click.echo(f"left out {skipped} corrections that do not fit this data's labels", err=True)
    model = training.train(
        dataset, task=task, features=features, c=c, progress=lambda line: click.echo(line, err=True)
    )
    model.save(out, metadata=model.metadata_)
    click.echo(f"saved {task} model ({len(model.labels_)} labels) to {out}", err=True)


@triage.command("evaluate")
@click.option("--model", "model_dir", required=True, type=click.Path(path_type=Path), help="Model directory.")
@data_options
@friendly
def evaluate(
    model_dir: Path, paths: tuple[Path, ...], task: str, fmt: str, text_column: str, label_column: str | None
) -> None:
    """Print one JSON line of metrics of --model on --data."""
    from ombud.triage import training
    from ombud.triage.classifier import TextClassifier

    model = TextClassifier.load(model_dir)
    if model.task != task:
        raise InvalidInput(
            f"{model_dir} holds a {model.task} model; pass --task {model.task}.", code="task_mismatch"
        )
    click.echo(json.dumps(training.evaluate(model, _read(paths, fmt, text_column, label_column))))


@triage.command("use")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--builtin", is_flag=True, help="Go back to the built-in intents.")
@database_option
@friendly
def use(directory: Path | None, builtin: bool, database_url: str | None) -> None:
    """Make the intent model in DIRECTORY the workspace's live model (every server and worker picks it up)."""
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema
    from ombud.triage import service

    if (directory is None) == (not builtin):
        raise InvalidInput("Give a model DIRECTORY or --builtin (not both).", code="invalid_arguments")
    database = Database(_settings(database_url=database_url).effective_database_url)
    check_schema(database)
    with database.session() as session:
        if builtin:
            service.deactivate_intent_models(session=session)
            session.commit()
            click.echo("live intent model: builtin")
            return
        assert directory is not None
        row = service.activate_intent_model(session=session, directory=directory)
        session.commit()
        click.echo(f"live intent model: {row.version} ({row.labels} intents)")
