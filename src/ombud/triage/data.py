"""Reading labelled training and evaluation files: CSV, JSON lines, NLU++ fold files and TweetEval's
text/label file pairs. A bad file is refused with the file and line that is wrong."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ombud.errors import InvalidInput

FORMATS = ("auto", "csv", "jsonl", "nlupp", "tweeteval")
MAX_TEXT_CHARS = 20_000


@dataclass
class Dataset:
    texts: list[str]
    labels: list[list[str]]
    # Concerns that usually come with an intent (few-shot definitions carry them), for "unspoken" concerns.
    implies: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    def extend(self, other: Dataset) -> None:
        self.texts.extend(other.texts)
        self.labels.extend(other.labels)
        for label, implied in other.implies.items():
            self.implies.setdefault(label, []).extend(implied)


def from_definitions(document: object, *, where: str) -> Dataset:
    """Return the examples of a few-shot definitions document:
    ``{"intents": {"label": {"examples": [...], "implies": [...]}}}`` (or ``{"label": [examples]}``)."""
    intents = document.get("intents") if isinstance(document, dict) else None
    if not isinstance(intents, dict) or not intents:
        raise InvalidInput(
            code="bad_data",
            message=f'{where}: few-shot definitions are {{"intents": {{"label": {{"examples": [...]}}}}}}.',
        )
    data = Dataset([], [])
    for label, spec in intents.items():
        examples = spec.get("examples") if isinstance(spec, dict) else spec
        implied = spec.get("implies", []) if isinstance(spec, dict) else []
        if (
            not isinstance(examples, list)
            or not examples
            or not all(isinstance(e, str) and e.strip() for e in examples)
        ):
            raise InvalidInput(
                code="bad_data",
                message=f"{where}: intent {label!r} needs a non-empty list of example phrases.",
            )
        if not isinstance(implied, list) or not all(isinstance(i, str) for i in implied):
            raise InvalidInput(
                code="bad_data", message=f"{where}: intent {label!r}: implies must be a list of strings."
            )
        data.texts.extend(examples)
        data.labels.extend([[label]] * len(examples))
        if implied:
            data.implies[label] = list(implied)
    return data


def detect_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith("_text.txt"):
        return "tweeteval"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".json"):
        return "nlupp"
    raise InvalidInput(
        code="unknown_data_format",
        message=f"Cannot tell the format of {path.name}: name it .csv, .jsonl, .json (NLU++) or *_text.txt "
        "(TweetEval), or give --format.",
    )


def read(
    paths: Sequence[Path], *, fmt: str = "auto", text_column: str = "text", label_column: str | None = None
) -> Dataset:
    """Return every labelled row of ``paths`` (all in one format, or each detected from its name)."""
    if fmt not in FORMATS:
        raise InvalidInput(
            code="unknown_data_format", message=f"--format must be one of {', '.join(FORMATS)}."
        )
    data = Dataset([], [])
    for path in paths:
        kind = detect_format(path) if fmt == "auto" else fmt
        if not path.is_file():
            raise InvalidInput(code="data_not_found", message=f"{path} does not exist or is not a file.")
        if kind == "nlupp":
            document = _json_document(path)
            if isinstance(document, dict):
                data.extend(from_definitions(document, where=str(path)))
                continue
        for line, text, labels in _rows(path, kind, text_column, label_column):
            if not text.strip():
                raise InvalidInput(code="bad_data", message=f"{path}:{line}: the text is empty.")
            if len(text) > MAX_TEXT_CHARS:
                raise InvalidInput(
                    code="bad_data", message=f"{path}:{line}: the text is over {MAX_TEXT_CHARS} characters."
                )
            if "\x00" in text or any("\x00" in label or not label.strip() for label in labels):
                raise InvalidInput(
                    code="bad_data", message=f"{path}:{line}: a text or label is empty or holds a NUL byte."
                )
            data.texts.append(text)
            data.labels.append(sorted({label.strip() for label in labels}))
    if not data.texts:
        raise InvalidInput(code="empty_data", message="The data holds no labelled rows.")
    return data


def _rows(
    path: Path, kind: str, text_column: str, label_column: str | None
) -> Iterator[tuple[int, str, list[str]]]:
    try:
        if kind == "csv":
            yield from _csv(path, text_column, label_column)
        elif kind == "jsonl":
            yield from _jsonl(path)
        elif kind == "nlupp":
            yield from _nlupp(path)
        else:
            yield from _tweeteval(path)
    except UnicodeDecodeError as error:
        raise InvalidInput(
            code="bad_data", message=f"{path}: not UTF-8 text ({error.reason} at byte {error.start})."
        ) from None


def _csv(path: Path, text_column: str, label_column: str | None) -> Iterator[tuple[int, str, list[str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        try:
            columns = reader.fieldnames or []
        except csv.Error as error:
            raise InvalidInput(code="bad_data", message=f"{path}:1: {error}.") from None
        label = label_column or next((c for c in ("label", "category", "intent") if c in columns), "label")
        for column in (text_column, label):
            if column not in columns:
                raise InvalidInput(
                    code="bad_data",
                    message=f"{path}:1: no column {column!r} (columns: {', '.join(columns) or 'none'}); "
                    "name them with --text-column/--label-column.",
                )
        try:
            for row in reader:
                line = reader.line_num
                text, value = row.get(text_column), row.get(label)
                if text is None or value is None:
                    raise InvalidInput(
                        code="bad_data", message=f"{path}:{line}: the row has too few columns."
                    )
                labels = [part for part in value.split("|") if part.strip()]
                if not labels:
                    raise InvalidInput(code="bad_data", message=f"{path}:{line}: the label is empty.")
                yield line, text, labels
        except csv.Error as error:
            raise InvalidInput(code="bad_data", message=f"{path}:{reader.line_num}: {error}.") from None


def _jsonl(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    with path.open(encoding="utf-8") as handle:
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as error:
                raise InvalidInput(
                    code="bad_data", message=f"{path}:{line}: not JSON ({error.msg})."
                ) from None
            yield line, *_labelled(row, f"{path}:{line}")


def _json_document(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InvalidInput(
            code="bad_data", message=f"{path}:{error.lineno}: not JSON ({error.msg})."
        ) from None
    except UnicodeDecodeError as error:
        raise InvalidInput(
            code="bad_data", message=f"{path}: not UTF-8 text ({error.reason} at byte {error.start})."
        ) from None


def _nlupp(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    rows = _json_document(path)
    if not isinstance(rows, list):
        raise InvalidInput(
            code="bad_data",
            message=f"{path}: an NLU++ file is a JSON list of {{text, intents}} objects "
            "(or few-shot definitions).",
        )
    for number, row in enumerate(rows, start=1):
        where = f"{path}: item {number}"
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise InvalidInput(code="bad_data", message=f"{where}: needs a text.")
        intents = row.get("intents") or []
        if not isinstance(intents, list) or not all(isinstance(i, str) for i in intents):
            raise InvalidInput(code="bad_data", message=f"{where}: intents must be a list of strings.")
        # NLU++ rows without an intent are the data's "none of these" examples.
        yield number, row["text"], intents or ["oos"]


def _tweeteval(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    labels_path = path.with_name(path.name[: -len("_text.txt")] + "_labels.txt")
    if not path.name.endswith("_text.txt") or not labels_path.is_file():
        raise InvalidInput(
            code="bad_data", message=f"{path}: TweetEval data is NAME_text.txt beside NAME_labels.txt."
        )
    mapping_path = path.with_name("mapping.txt")
    names: dict[str, str] = {}
    if mapping_path.is_file():
        for raw in mapping_path.read_text(encoding="utf-8").splitlines():
            parts = raw.split()
            if len(parts) >= 2:
                names[parts[0]] = parts[1]
    texts = path.read_text(encoding="utf-8").split("\n")
    ids = labels_path.read_text(encoding="utf-8").split("\n")
    texts, ids = [t for t in texts if t.strip()], [i.strip() for i in ids if i.strip()]
    if len(texts) != len(ids):
        raise InvalidInput(
            code="bad_data",
            message=f"{path}: {len(texts)} texts but {len(ids)} labels in {labels_path.name}.",
        )
    for line, (text, label_id) in enumerate(zip(texts, ids, strict=True), start=1):
        yield line, text.strip(), [names.get(label_id, label_id)]


def _labelled(row: object, where: str) -> tuple[str, list[str]]:
    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
        raise InvalidInput(
            code="bad_data", message=f'{where}: each line is {{"text": ..., "labels": [...]}}.'
        )
    labels = row.get("labels", row.get("label"))
    if isinstance(labels, str):
        labels = [labels]
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise InvalidInput(code="bad_data", message=f"{where}: labels must be a non-empty list of strings.")
    return row["text"], labels
