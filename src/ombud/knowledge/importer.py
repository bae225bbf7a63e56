"""Bulk import of knowledge base articles: a JSON, JSON Lines or Markdown file, or a zip of them.

:func:`parse_bundle` only parses and validates; it writes nothing, so the caller can store the whole
bundle in one transaction or none of it. A bundle is checked completely before it is refused: the error
lists every bad article (``details``), each named by its file and position ("articles.json, article 3
("Reset your PIN")") with the field and what is wrong, so the author fixes everything in one go.

The bytes come from whoever uploads them, so nothing they contain may escape as anything but
:class:`~ombud.errors.InvalidInput` (code ``kb_import_invalid``): not a JSON recursion error, not a
corrupt zip, not a zip bomb (declared sizes are checked and reading stops at the limit anyway).

Markdown files carry their metadata in YAML front matter. It is read with PyYAML's BaseLoader, which
keeps every value a string as written ("no" stays "no", "2024" stays "2024") and builds no objects.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import yaml
from pydantic import ValidationError

from ombud.errors import InvalidInput
from ombud.knowledge.render import plain_text
from ombud.knowledge.schemas import ArticleCreate

__all__ = ["MAX_MEMBERS", "MAX_UNCOMPRESSED_BYTES", "parse_bundle"]

CODE = "kb_import_invalid"
MAX_MEMBERS = 5_000
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
# A bundle of thousands of broken articles would give a response as big as the bundle; the message says
# how many problems there were in all.
MAX_DETAILS = 1_000
FRONT_MATTER_KEYS = (
    "title",
    "audience",
    "status",
    "product",
    "language",
    "category",
    "tags",
    "example_questions",
)
_JSON = {".json"}
_JSONL = {".jsonl"}
_MARKDOWN = {".md", ".markdown"}
_ZIP = {".zip"}
_FORMATS = "JSON (.json), JSON Lines (.jsonl), Markdown (.md, .markdown) or a zip (.zip) of them"
_FENCE = re.compile(r"---[ \t]*")
_FENCE_END = re.compile(r"(?:---|\.\.\.)[ \t]*")
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


@dataclass
class _Problems:
    """The problems found so far, one entry per (article, field)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0

    def add(self, article: str, problem: str, field_name: str | None = None) -> None:
        self.total += 1
        if len(self.items) < MAX_DETAILS:
            self.items.append({"article": article, "field": field_name, "problem": problem})

    def raise_if_any(self) -> None:
        if not self.total:
            return
        first = self.items[0]
        where = f"{first['field']}: " if first["field"] else ""
        message = f"{first['article']}: {where}{first['problem']}"
        others = self.total - 1
        if others:
            message += f" (and {others} more problem{'s' if others > 1 else ''}: see details)"
        raise InvalidInput(f"The articles were not imported. {message}", code=CODE, details=self.items)


def parse_bundle(data: bytes, *, filename: str) -> list[ArticleCreate]:
    """Return the articles in an uploaded bundle, validated, or raise InvalidInput naming every bad one.

    The format follows the file name: ``.json`` (a list of articles or ``{"articles": [...]}``),
    ``.jsonl`` (one article per line), ``.md``/``.markdown`` (one article with optional YAML front
    matter) or ``.zip`` (any of these, in folders).
    """
    name = _printable(PurePosixPath(filename.replace("\\", "/")).name or filename)
    suffix = PurePosixPath(name).suffix.lower()
    problems = _Problems()
    if suffix in _ZIP:
        articles = _parse_zip(data, name, problems)
    elif _known(suffix):
        articles = _parse_file(data, name, suffix, problems)
    else:
        raise InvalidInput(f"{name}: cannot import this kind of file; upload {_FORMATS}", code=CODE)
    problems.raise_if_any()
    if not articles:
        raise InvalidInput(f"{name}: the bundle holds no articles", code=CODE)
    return articles


def _known(suffix: str) -> bool:
    return suffix in _JSON | _JSONL | _MARKDOWN


def _parse_file(data: bytes, name: str, suffix: str, problems: _Problems) -> list[ArticleCreate]:
    """Return the valid articles of one file, adding what is wrong with the others to ``problems``."""
    if not data.strip():
        problems.add(name, "the file is empty")
        return []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problems.add(
            name,
            f"the file is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}): "
            "save it as UTF-8",
        )
        return []
    if suffix in _JSON:
        return _parse_json(text, name, problems)
    if suffix in _JSONL:
        return _parse_jsonl(text, name, problems)
    return _parse_markdown(text, name, problems)


def _load_json(text: str, where: str, problems: _Problems, *, one_line: bool = False) -> tuple[bool, Any]:
    try:
        return True, json.loads(text)
    except json.JSONDecodeError as error:
        position = f"column {error.colno}" if one_line else f"line {error.lineno}, column {error.colno}"
        problems.add(where, f"not valid JSON: {error.msg} at {position}")
    except RecursionError:
        problems.add(where, "not valid JSON: it nests too deeply")
    except ValueError as error:
        # An integer with more digits than Python converts.
        problems.add(where, f"not valid JSON: {_printable(str(error))}")
    return False, None


def _parse_json(text: str, name: str, problems: _Problems) -> list[ArticleCreate]:
    ok, document = _load_json(text, name, problems)
    if not ok:
        return []
    if isinstance(document, dict) and isinstance(document.get("articles"), list):
        items: list[Any] = document["articles"]
    elif isinstance(document, list):
        items = document
    else:
        problems.add(
            name,
            'expected a list of articles or {"articles": [...]}; a single article must be put in a list',
        )
        return []
    if not items:
        problems.add(name, "the file holds no articles")
    return [
        article
        for number, item in enumerate(items, start=1)
        if (article := _validate(item, f"{name}, article {number}", problems)) is not None
    ]


def _parse_jsonl(text: str, name: str, problems: _Problems) -> list[ArticleCreate]:
    articles: list[ArticleCreate] = []
    found = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        found = True
        where = f"{name}, line {number}"
        ok, item = _load_json(line, where, problems, one_line=True)
        if ok and (article := _validate(item, where, problems)) is not None:
            articles.append(article)
    if not found:
        problems.add(name, "the file holds no articles")
    return articles


def _validate(item: Any, where: str, problems: _Problems) -> ArticleCreate | None:
    """Return the article, or None after adding its problems (naming it by its title when it has one)."""
    if not isinstance(item, dict):
        problems.add(where, f"an article must be a JSON object with title and body, not {_json_type(item)}")
        return None
    title = item.get("title")
    if isinstance(title, str) and title.strip():
        short = title.strip()
        where += f' ("{_printable(short[:60])}{"…" if len(short) > 60 else ""}")'
    try:
        return ArticleCreate.model_validate(item)
    except ValidationError as error:
        _add_validation_errors(error, where, problems)
        return None


def _add_validation_errors(error: ValidationError, where: str, problems: _Problems) -> None:
    for entry in error.errors(include_url=False, include_input=False):
        location = ".".join(_printable(str(part))[:100] for part in entry["loc"]) or None
        problem = _printable(entry["msg"])
        if entry["type"] == "extra_forbidden":
            problem = f"unknown field; the fields are {', '.join(ArticleCreate.model_fields)}"
        elif entry["type"] == "missing":
            problem = "this field is required"
        problems.add(where, problem, location)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    return "a number"


# --- Markdown ---------------------------------------------------------------------------------------------


class _FrontMatterLoader(yaml.BaseLoader):
    """BaseLoader (every value a string, no objects built) without anchors and aliases, whose expansion
    ("billion laughs") could turn a few lines into millions of values."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("anchors and aliases (*name) are not allowed in front matter")
        return super().compose_node(parent, index)


def _parse_markdown(text: str, name: str, problems: _Problems) -> list[ArticleCreate]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    metadata: dict[str, Any] = {}
    if lines and _FENCE.fullmatch(lines[0]):
        end = next((i for i in range(1, len(lines)) if _FENCE_END.fullmatch(lines[i])), None)
        if end is None:
            problems.add(name, "the front matter starts with --- but has no closing --- line")
            return []
        front = _load_front_matter("\n".join(lines[1:end]), name, problems)
        if front is None:
            return []
        metadata = front
        lines = lines[end + 1 :]
    body = "\n".join(lines)
    if "title" not in metadata:
        title, body = _title_from_heading(body)
        if title is None:
            problems.add(
                name, "the article has no title: add title: to the front matter or start with a # Heading"
            )
            return []
        metadata["title"] = title
    article = _validate({**metadata, "body": body.strip("\n")}, name, problems)
    return [article] if article is not None else []


def _load_front_matter(text: str, name: str, problems: _Problems) -> dict[str, Any] | None:
    try:
        front = yaml.load(text, Loader=_FrontMatterLoader)  # noqa: S506 (BaseLoader builds only str, list, dict)
    except yaml.YAMLError as error:
        problems.add(name, f"the front matter is not valid YAML: {_printable(str(error))}")
        return None
    except RecursionError:
        problems.add(name, "the front matter is not valid YAML: it nests too deeply")
        return None
    if front is None:
        return {}
    if not isinstance(front, dict):
        problems.add(name, "the front matter must be key: value lines (title: ..., tags: [...])")
        return None
    unknown = [key for key in front if key not in FRONT_MATTER_KEYS]
    for key in unknown:
        problems.add(
            name, f"unknown front matter key; the keys are {', '.join(FRONT_MATTER_KEYS)}", _printable(key)
        )
    return None if unknown else front


def _title_from_heading(body: str) -> tuple[str | None, str]:
    """Return the text of the first "# Heading" line and the body without that line."""
    lines = body.split("\n")
    fenced = None
    for number, line in enumerate(lines):
        stripped = line.lstrip(" ")
        fence = re.match(r"(`{3,}|~{3,})", stripped) if len(line) - len(stripped) < 4 else None
        if fence:
            marker = fence.group(1)
            if fenced is None:
                fenced = marker
            elif marker[0] == fenced[0] and len(marker) >= len(fenced):
                fenced = None
            continue
        match = re.fullmatch(r" {0,3}# +(.*?)(?: +#+)? *", line)
        if fenced is None and match and match.group(1).strip():
            # Parsed as a heading, so "1. Intro" stays text rather than becoming a list.
            title = plain_text("# " + match.group(1))
            return title, "\n".join(lines[:number] + lines[number + 1 :])
    return None, body


# --- zip --------------------------------------------------------------------------------------------------


def _parse_zip(data: bytes, name: str, problems: _Problems) -> list[ArticleCreate]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise InvalidInput(f"{name}: not a readable zip file", code=CODE) from None
    if len(members) > MAX_MEMBERS:
        raise InvalidInput(
            f"{name}: the zip holds {len(members)} entries, more than {MAX_MEMBERS}: split it", code=CODE
        )
    declared = sum(member.file_size for member in members)
    if declared > MAX_UNCOMPRESSED_BYTES:
        raise InvalidInput(
            f"{name}: the zip unpacks to {declared // 2**20} MB, more than "
            f"{MAX_UNCOMPRESSED_BYTES // 2**20} MB: split it",
            code=CODE,
        )
    unsafe = [member.filename for member in members if _unsafe(member.filename)]
    for path in unsafe:
        problems.add(
            f"{name}: {_printable(path)}", "the path is absolute or leaves the zip (..): rename the entry"
        )
    if unsafe:
        return []
    articles: list[ArticleCreate] = []
    budget = _Budget(MAX_UNCOMPRESSED_BYTES)
    for member in sorted(members, key=lambda member: member.filename):
        path = _printable(member.filename)
        if not member.filename:
            problems.add(f"{name}: an entry", "the entry has no name: rebuild the zip")
            continue
        # Not member.is_dir(): it fails on a damaged entry's empty name; a directory's name ends in "/".
        if member.filename.endswith("/") or _ignored(member.filename):
            continue
        suffix = PurePosixPath(member.filename).suffix.lower()
        if not _known(suffix):
            problems.add(
                path, "cannot import this kind of file; a zip may hold .json, .jsonl, .md and .markdown files"
            )
            continue
        content = _read_member(archive, member, path, budget, name)
        if content is not None:
            articles.extend(_parse_file(content, path, suffix, problems))
    if not articles and not problems.total:
        problems.add(name, "the zip holds no articles (.json, .jsonl, .md or .markdown files)")
    return articles


@dataclass
class _Budget:
    """How many uncompressed bytes may still be read from the zip."""

    remaining: int


def _read_member(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, path: str, budget: _Budget, name: str
) -> bytes | None:
    """Return the member's bytes, reading no more than the budget allows (a zip's sizes can lie)."""
    chunks: list[bytes] = []
    try:
        with archive.open(member) as stream:
            for chunk in iter(lambda: stream.read(64 * 1024), b""):
                budget.remaining -= len(chunk)
                if budget.remaining < 0:
                    limit = MAX_UNCOMPRESSED_BYTES // 2**20
                    raise InvalidInput(
                        f"{name}: the zip unpacks to more than {limit} MB: split it", code=CODE
                    )
                chunks.append(chunk)
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        ValueError,
        NotImplementedError,
        RuntimeError,  # an encrypted entry
    ) as error:
        reason = "it is encrypted" if "encrypted" in str(error) else "it is damaged"
        raise InvalidInput(f"{name}: cannot read {path}: {reason}", code=CODE) from None
    return b"".join(chunks)


def _unsafe(path: str) -> bool:
    """Whether a member's path is absolute or climbs out of the folder it is unpacked in (zip slip)."""
    normal = path.replace("\\", "/")
    return (
        normal.startswith("/")
        or re.match(r"[A-Za-z]:", normal) is not None
        or ".." in normal.split("/")
        or "\x00" in normal
    )


def _ignored(path: str) -> bool:
    """Whether the member is macOS resource-fork noise or a hidden file, which are not articles."""
    parts = [part for part in path.replace("\\", "/").split("/") if part]
    return not parts or parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts)


def _printable(text: str) -> str:
    """Return ``text`` safe to put in an error message: no control characters or lone surrogates."""
    return _UNPRINTABLE.sub("\ufffd", text)
