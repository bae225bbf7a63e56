"""Bulk import: every format parses, and every bad bundle is refused with a message that names the article."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ombud.errors import InvalidInput
from ombud.knowledge.importer import MAX_MEMBERS, parse_bundle
from ombud.knowledge.schemas import ArticleStatus, Audience

ARTICLE = {"title": "Reset your PIN", "body": "Open **Settings**.", "tags": ["pin"]}


def make_zip(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def refusal(data: bytes, filename: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_bundle(data, filename=filename)
    assert caught.value.code == "kb_import_invalid"
    return caught.value


# --- happy paths ------------------------------------------------------------------------------------------


def test_json_list() -> None:
    articles = parse_bundle(json.dumps([ARTICLE, {"title": "B", "body": "b"}]).encode(), filename="kb.json")
    assert [article.title for article in articles] == ["Reset your PIN", "B"]
    assert articles[0].tags == ["pin"]
    assert articles[0].audience is Audience.public


def test_json_object_with_articles() -> None:
    articles = parse_bundle(json.dumps({"articles": [ARTICLE]}).encode(), filename="KB.JSON")
    assert articles[0].body == "Open **Settings**."


def test_json_lines_ignore_blank_lines() -> None:
    data = (json.dumps(ARTICLE) + "\n\n   \n" + json.dumps({"title": "B", "body": "b"}) + "\r\n").encode()
    assert [article.title for article in parse_bundle(data, filename="kb.jsonl")] == ["Reset your PIN", "B"]


def test_json_with_byte_order_mark() -> None:
    assert parse_bundle(b"\xef\xbb\xbf" + json.dumps([ARTICLE]).encode(), filename="kb.json")


def test_markdown_with_front_matter() -> None:
    data = (
        b"---\ntitle: Reset your PIN\naudience: internal\nstatus: published\nproduct: Card\nlanguage: de\n"
        b"category: Security\ntags: [pin, card]\n"
        b"example_questions:\n  - How do I reset my PIN?\n  - PIN locked\n"
        b"---\n\n# A heading that stays\n\nOpen settings.\n"
    )
    [article] = parse_bundle(data, filename="pin.md")
    assert article.title == "Reset your PIN"
    assert article.audience is Audience.internal
    assert article.status is ArticleStatus.published
    assert (article.product, article.language, article.category) == ("Card", "de", "Security")
    assert article.tags == ["pin", "card"]
    assert article.example_questions == ["How do I reset my PIN?", "PIN locked"]
    assert article.body == "# A heading that stays\n\nOpen settings."


def test_front_matter_values_stay_as_written() -> None:
    [article] = parse_bundle(b"---\ntitle: 2024\ntags: [no, yes]\n---\nBody", filename="a.md")
    assert article.title == "2024"
    assert article.tags == ["no", "yes"]


def test_markdown_heading_becomes_the_title() -> None:
    data = b"```\n# a shell comment, not a title\n```\n\n# Reset your **PIN**\n\nOpen settings.\n"
    [article] = parse_bundle(data, filename="pin.markdown")
    assert article.title == "Reset your PIN"
    assert "Reset your" not in article.body
    assert "# a shell comment" in article.body
    assert "Open settings." in article.body


def test_markdown_with_front_matter_but_no_title_uses_the_heading() -> None:
    [article] = parse_bundle(b"---\ntags: [a]\n---\n# Title\n\nText", filename="a.md")
    assert (article.title, article.body, article.tags) == ("Title", "Text", ["a"])


def test_zip_with_nested_folders() -> None:
    data = make_zip(
        {
            "kb/": b"",
            "kb/cards/pin.md": "# Reset your PIN\n\nText",
            "kb/cards/more/list.json": json.dumps([{"title": "B", "body": "b"}]),
            "kb/lines.jsonl": json.dumps({"title": "C", "body": "c"}),
            "__MACOSX/kb/._pin.md": b"\x00\x05\x16\x07",
            "kb/.DS_Store": b"\x00\x00",
            ".hidden/x.md": "# Hidden\n\nx",
        }
    )
    titles = sorted(article.title for article in parse_bundle(data, filename="export.zip"))
    assert titles == ["B", "C", "Reset your PIN"]


# --- refusals ---------------------------------------------------------------------------------------------


def test_invalid_article_names_file_position_title_and_field() -> None:
    bad = {"title": "Reset your PIN", "body": "x", "audience": "everyone"}
    error = refusal(json.dumps([ARTICLE, ARTICLE, bad]).encode(), "articles.json")
    assert 'articles.json, article 3 ("Reset your PIN")' in error.message
    assert "audience" in error.message
    assert error.details == [
        {
            "article": 'articles.json, article 3 ("Reset your PIN")',
            "field": "audience",
            "problem": error.details[0]["problem"],
        }
    ]
    assert "public" in error.details[0]["problem"]


def test_missing_field_is_named() -> None:
    error = refusal(json.dumps([{"title": "No body"}]).encode(), "a.json")
    assert error.details == [
        {"article": 'a.json, article 1 ("No body")', "field": "body", "problem": "this field is required"}
    ]


def test_every_bad_article_is_reported() -> None:
    items = [ARTICLE, {"body": "no title"}, "just a string", {"title": "T", "body": "b", "tags": ["ok", ""]}]
    error = refusal(json.dumps(items).encode(), "a.json")
    assert [(entry["article"], entry["field"]) for entry in error.details] == [
        ("a.json, article 2", "title"),
        ("a.json, article 3", None),
        ('a.json, article 4 ("T")', "tags.1"),
    ]
    assert "2 more problems" in error.message


def test_bad_articles_across_a_zip_are_reported_together() -> None:
    data = make_zip(
        {
            "a.md": "no title here",
            "b.json": json.dumps([{"title": "B"}]),
            "c.jsonl": '{"title": "C", "body": "c"}\n{oops',
            "d.md": "# Good\n\ntext",
        }
    )
    error = refusal(data, "kb.zip")
    assert [entry["article"] for entry in error.details] == [
        "a.md",
        'b.json, article 1 ("B")',
        "c.jsonl, line 2",
    ]


def test_unknown_field_is_named() -> None:
    error = refusal(json.dumps([{**ARTICLE, "colour": "red"}]).encode(), "a.json")
    assert error.details[0]["field"] == "colour"
    assert "unknown field" in error.details[0]["problem"]


def test_non_object_article() -> None:
    error = refusal(b"[[1, 2]]", "a.json")
    assert "a.json, article 1" in error.message
    assert "JSON object" in error.message


def test_single_object_is_not_a_bundle() -> None:
    error = refusal(json.dumps(ARTICLE).encode(), "a.json")
    assert "list" in error.message


def test_malformed_json_gives_line_and_column() -> None:
    error = refusal(b'[\n  {"title": "A",,}\n]', "a.json")
    assert "line 2, column" in error.message
    assert "a.json" in error.message


def test_malformed_json_line_names_the_line() -> None:
    error = refusal(json.dumps(ARTICLE).encode() + b"\n{nope}\n", "a.jsonl")
    assert "a.jsonl, line 2" in error.message
    assert "column" in error.message


def test_undecodable_bytes() -> None:
    error = refusal(b"# Titel\n\nGr\xfc\xdfe", "a.md")
    assert "a.md" in error.message
    assert "UTF-8" in error.message


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"", "a.json"),
        (b"[]", "a.json"),
        (b'{"articles": []}', "a.json"),
        (b"\n \n", "a.jsonl"),
        (b"", "a.md"),
    ],
)
def test_empty_bundles(data: bytes, filename: str) -> None:
    assert filename in refusal(data, filename).message


def test_empty_zip() -> None:
    assert "no articles" in refusal(make_zip({"folder/": b""}), "kb.zip").message


def test_unknown_extension() -> None:
    error = refusal(b"title,body", "articles.csv")
    assert "articles.csv" in error.message
    assert ".json" in error.message


def test_unknown_file_in_zip() -> None:
    error = refusal(make_zip({"a.md": "# A\n\nx", "notes.txt": "x"}), "kb.zip")
    assert error.details[0]["article"] == "notes.txt"


def test_markdown_without_title() -> None:
    error = refusal(b"Just text, no heading.", "faq.md")
    assert "faq.md" in error.message
    assert "title" in error.message


@pytest.mark.parametrize(
    "data",
    [
        b"---\ntitle: [unclosed\n---\nBody",
        b"---\n- a list\n---\nBody",
        b"---\ntitle: A\nbody: sneaky\n---\nBody",
        b"---\ntitle: A\n",
        b"---\nx: &a [1, 2]\ny: *a\n---\n# T\n",
    ],
    ids=["bad-yaml", "not-a-mapping", "unknown-key", "unclosed", "alias"],
)
def test_bad_front_matter(data: bytes) -> None:
    error = refusal(data, "a.md")
    assert error.message.startswith("The articles were not imported. a.md")


def test_deep_json_is_refused_not_crashed() -> None:
    assert "nests too deeply" in refusal(b"[" * 100_000, "a.json").message


@pytest.mark.parametrize(
    "name", ["../evil.md", "kb/../../evil.md", "/etc/evil.md", "C:/evil.md", "..\\evil.md"]
)
def test_zip_slip_names_are_refused(name: str) -> None:
    error = refusal(make_zip({"ok.md": "# A\n\nx", name: "# B\n\nx"}), "kb.zip")
    assert name in error.message


def test_zip_with_too_many_members() -> None:
    data = make_zip({f"a{i}.md": "" for i in range(MAX_MEMBERS + 1)})
    assert "entries" in refusal(data, "kb.zip").message


def test_zip_declaring_too_much_data() -> None:
    # 51 MB of zeros compresses to about 50 KB: the declared size gives it away.
    data = make_zip({"big.md": b"# Big\n\n" + b"0" * (51 * 1024 * 1024)})
    assert len(data) < 1024 * 1024
    assert "MB" in refusal(data, "kb.zip").message


def test_zip_lying_about_its_size_stops_at_the_limit() -> None:
    data = bytearray(make_zip({"big.md": b"# Big\n\n" + b"0" * (51 * 1024 * 1024)}))
    # Patch the declared uncompressed size (central directory and local header) down to 10 bytes.
    real = (51 * 1024 * 1024 + 7).to_bytes(4, "little")
    assert data.count(real) == 2
    data = bytearray(bytes(data).replace(real, (10).to_bytes(4, "little")))
    error = refusal(bytes(data), "kb.zip")
    assert "kb.zip" in error.message


def test_damaged_zip() -> None:
    good = make_zip({"a.md": "# A\n\n" + "text " * 1000})
    damaged = good[:40] + bytes(b ^ 0xFF for b in good[40:200]) + good[200:]
    assert "kb.zip" in refusal(damaged, "kb.zip").message
    assert "kb.zip" in refusal(b"PK\x03\x04 not really", "kb.zip").message


def test_nul_and_surrogates_are_refused_cleanly() -> None:
    error = refusal(b'[{"title": "A\\u0000", "body": "\\ud800"}]', "a.json")
    assert {entry["field"] for entry in error.details} == {"title", "body"}


# --- any bytes at all -------------------------------------------------------------------------------------

_EXTENSIONS = st.sampled_from(["a.json", "a.jsonl", "a.md", "a.markdown", "a.zip", "a.txt", "noext"])


def _never_crashes(data: bytes, filename: str) -> None:
    try:
        articles = parse_bundle(data, filename=filename)
    except InvalidInput as error:
        assert error.code == "kb_import_invalid"
        assert error.message
        json.dumps(error.details)  # the API can send it
    else:
        assert articles


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), _EXTENSIONS)
def test_any_bytes_give_articles_or_invalid_input(data: bytes, filename: str) -> None:
    _never_crashes(data, filename)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*'{}[]",:\n \\-#0123u', '"title"', '"body"', "---", "# T"])), _EXTENSIONS)
def test_any_jsonish_text_gives_articles_or_invalid_input(pieces: list[str], filename: str) -> None:
    _never_crashes("".join(pieces).encode(), filename)


_ZIP = make_zip({"a.md": "# A\n\ntext", "b/c.json": json.dumps([ARTICLE]), "d.jsonl": json.dumps(ARTICLE)})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_ZIP) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_damaged_zips_give_articles_or_invalid_input(flips: list[tuple[int, int]]) -> None:
    data = bytearray(_ZIP)
    for position, value in flips:
        data[position] = value
    _never_crashes(bytes(data), "kb.zip")
