"""Article bodies: safe HTML whatever the Markdown holds, plain text for search, passages and snippets."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ombud.knowledge.render import Passage, plain_text, render_markdown, snippet, split_passages

# Text in the output has its "<" escaped, so every "<" starts a real tag: the checks look inside tags,
# where a handler or a javascript: URL would run (the words "onclick=" in a sentence are harmless).
_TAG = re.compile(r"<[^>]*>")
_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def assert_safe(output: str) -> None:
    assert "<script" not in output.lower()
    for tag in _TAG.findall(output):
        assert not _HANDLER.search(tag), tag
        assert "javascript:" not in tag.lower(), tag
        assert "data:" not in tag.lower(), tag
        assert not tag.lower().startswith(("<iframe", "<style", "<svg", "<form", "<object", "<embed")), tag


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        "Hello <script>alert(1)</script> world",
        '<img src="https://x.org/a.png" onerror="alert(1)">',
        "<img src=x onerror=alert(1)//",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](  javascript:alert(1))",
        "<javascript:alert(1)>",
        '<a href="javascript:alert(1)">click</a>',
        '<a href="jav&#x09;ascript:alert(1)">click</a>',
        '<a href="https://x.org" onclick="alert(1)">x</a>',
        '<iframe src="https://evil.example"></iframe>',
        "<style>body { display: none }</style>",
        '<p style="position:fixed">x</p>',
        '<svg><script>alert(1)</script><circle onload="alert(1)"/></svg>',
        "![x](data:image/svg+xml;base64,PHN2Zz4=)",
        '<img src="data:image/png;base64,AAAA">',
        "[x](data:text/html,<script>alert(1)</script>)",
        '<form action="https://evil"><input name="pin"></form>',
        '<div onmouseover="alert(1)">hover</div>',
        "<object data=x></object><embed src=x>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext>",
        "<!--><script>alert(1)</script>-->",
        "```\n</code></pre><script>alert(1)</script>\n```",
    ],
)
def test_render_drops_anything_that_could_run(body: str) -> None:
    assert_safe(render_markdown(body))


def test_script_and_style_contents_are_dropped() -> None:
    output = render_markdown("Before <script>steal()</script><style>p{}</style> after")
    assert "steal" not in output
    assert "p{}" not in output
    assert "Before" in output
    assert "after" in output


def test_markdown_renders() -> None:
    output = render_markdown(
        "# Reset your PIN\n\n## Steps\n\n1. Open **Settings**\n2. Choose _Security_\n\n"
        "- a\n- b ~~old~~\n\n> quoted\n\n`inline` code\n\n```python\nprint('x < y')\n```\n\n"
        "| Plan | Price |\n|:-----|------:|\n| Basic | 10 |\n\n"
        "[Help](https://example.com/help) [Other article](/kb/other) <mailto:help@example.com>\n\n"
        '![Logo](https://example.com/logo.png "The logo")\n\n---\n'
    )
    assert "<h1>Reset your PIN</h1>" in output
    assert "<h2>Steps</h2>" in output
    assert "<ol>" in output
    assert "<li>Open <strong>Settings</strong></li>" in output
    assert "<em>Security</em>" in output
    assert "<s>old</s>" in output
    assert "<blockquote>" in output
    assert "<code>inline</code>" in output
    assert '<code class="language-python">' in output
    assert "x &lt; y" in output
    assert "<table>" in output
    assert '<th style="text-align:left">Plan</th>' in output
    assert '<td style="text-align:right">10</td>' in output
    assert '<a href="https://example.com/help" rel="noopener noreferrer nofollow">Help</a>' in output
    assert 'href="/kb/other"' in output
    assert 'href="mailto:help@example.com"' in output
    assert '<img src="https://example.com/logo.png" alt="Logo" title="The logo">' in output
    assert "<hr>" in output


def test_raw_html_on_the_allowlist_is_kept() -> None:
    output = render_markdown('<p>Hi <strong>there</strong> <a href="https://x.org" target="_blank">x</a></p>')
    assert "<strong>there</strong>" in output
    assert 'href="https://x.org"' in output
    assert "target" not in output
    assert 'rel="noopener noreferrer nofollow"' in output


def test_images_only_from_the_web() -> None:
    assert "src=" not in render_markdown("![x](/local.png)")
    assert "src=" not in render_markdown("![x](ftp://x.org/a.png)")
    assert 'src="http://x.org/a.png"' in render_markdown("![x](http://x.org/a.png)")


@pytest.mark.parametrize(
    "body",
    [
        "> " * 100_000,
        "- " * 100_000,
        "".join("  " * i + "- x\n" for i in range(500)),
        "<div>" * 40_000,
        "<ul>" * 50_000,
        "*a" * 100_000,
        "a\n\n" * 66_000,
        "`" * 200_000,
    ],
    ids=["quotes", "lists", "nested-list", "divs", "uls", "emphasis", "paragraphs", "backticks"],
)
def test_pathological_bodies_render_safely(body: str) -> None:
    # 200,000 characters of the worst Markdown: rendered (in linear time; not timed here, machines are
    # shared) and safe.
    assert_safe(render_markdown(body))
    plain_text(body)


def test_a_long_article_renders_whole() -> None:
    section = (
        "## Section\n\nThe customer can reset their **PIN** from the settings page, see "
        "[the guide](https://example.com/guide) and `Settings > Security`.\n\n- one step\n- two steps\n\n"
    )
    count = 200_000 // len(section)
    html = render_markdown(section * count)
    assert html.count("<h2>Section</h2>") == count
    assert html.count('rel="noopener noreferrer nofollow"') == count


def test_plain_text_strips_markup() -> None:
    text = plain_text(
        "# Reset your PIN\n\nOpen **Settings** and  choose\n_Security_ &amp; `PIN`.\n\n"
        "- [Help](https://example.com)\n- ![Logo](https://x.org/a.png)\n\n"
        "<div>Raw <b>HTML</b><script>steal()</script><style>p{}</style></div>\n\n"
        "Inline <span>html</span> <script>alert(1)</script> end &eacute;\n\n"
        "| Plan | Price |\n|---|---|\n| Basic | 10 |\n"
    )
    assert text.split("\n\n") == [
        "Reset your PIN",
        "Open Settings and choose Security & PIN.",
        "Help",
        "Logo",
        "Raw HTML",
        "Inline html end é",
        "Plan: Basic; Price: 10",
    ]


def test_plain_text_of_nothing() -> None:
    assert plain_text("") == ""
    assert plain_text("  \n\n ") == ""


def test_passages_follow_headings() -> None:
    body = "Intro text.\n\n# First\n\nOne.\n\nTwo.\n\n## Empty\n\n## Second\n\nThree."
    assert split_passages(body) == [
        Passage(None, "Intro text."),
        Passage("First", "One.\n\nTwo."),
        Passage("Second", "Three."),
    ]


def test_passages_respect_max_chars() -> None:
    paragraph = "This is a sentence about PINs. " * 10
    body = "# Long\n\n" + "\n\n".join([paragraph] * 5)
    passages = split_passages(body, max_chars=100)
    assert all(len(passage.text) <= 100 for passage in passages)
    assert all(passage.heading == "Long" for passage in passages)
    # Cut at sentence ends: every passage ends with a full stop.
    assert all(passage.text.endswith(".") for passage in passages)
    assert " ".join(p.text for p in passages).split() == plain_text(body).split()[1:]


def test_a_long_sentence_is_cut_at_spaces() -> None:
    sentence = " ".join(f"word{i}" for i in range(100))
    passages = split_passages(sentence, max_chars=50)
    assert all(len(passage.text) <= 50 for passage in passages)
    assert " ".join(passage.text for passage in passages) == sentence
    assert split_passages("x" * 120, max_chars=50) == [
        Passage(None, "x" * 50),
        Passage(None, "x" * 50),
        Passage(None, "x" * 20),
    ]


def test_passages_keep_article_order() -> None:
    body = "\n\n".join(f"# H{i}\n\nText {i}." for i in range(20))
    assert [passage.text for passage in split_passages(body)] == [f"Text {i}." for i in range(20)]


@pytest.mark.parametrize("body", ["", "   ", "\n\n\n", "<!-- comment -->", "# Only a heading"])
def test_no_passages_without_text(body: str) -> None:
    assert split_passages(body) == []


def test_snippet_shows_the_window_with_most_terms() -> None:
    text = "Filler words here. " * 30 + "To reset your PIN open settings. " + "More filler text. " * 30
    result = snippet(text, ["PIN", "RESET"], max_chars=80)
    assert "reset your PIN" in result
    assert result.startswith("…")
    assert result.endswith("…")
    assert len(result) <= 80
    # Cut at word boundaries: no partial words next to the ellipses.
    assert all(word in text.split() for word in result.strip("…").split())


def test_snippet_prefers_more_distinct_terms() -> None:
    text = "pin " * 5 + "x " * 200 + "pin reset card " + "y " * 200
    assert "reset" in snippet(text, ["pin", "reset", "card"], max_chars=60)


def test_snippet_without_matches_is_the_start() -> None:
    text = "The beginning of the text. " + "word " * 100
    result = snippet(text, ["absent"], max_chars=40)
    assert result.startswith("The beginning")
    assert result.endswith("…")
    assert snippet("Short text.", ["x"]) == "Short text."


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))))
def test_render_and_plain_text_never_fail_and_stay_safe(body: str) -> None:
    assert_safe(render_markdown(body))
    assert "<script" not in plain_text(body).lower() or "<script" in body.lower()


_MARKUPISH = st.sampled_from(
    [*"<>/=\"' \n#*_`[]()!-|:~&;>", "script", "onerror", "javascript:", "img", "a href", "svg", "x"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_MARKUPISH, max_size=30).map("".join))
def test_markup_soup_stays_safe(body: str) -> None:
    assert_safe(render_markdown(body))
    plain_text(body)


@settings(max_examples=200, deadline=None)
@given(st.text(), st.integers(min_value=1, max_value=300))
def test_passages_are_never_empty_or_too_long(body: str, max_chars: int) -> None:
    for passage in split_passages(body, max_chars=max_chars):
        assert passage.text.strip()
        assert len(passage.text) <= max_chars


@given(st.text(), st.lists(st.text(max_size=10), max_size=5), st.integers(min_value=10, max_value=300))
def test_snippet_is_never_much_longer_than_asked(text: str, terms: list[str], max_chars: int) -> None:
    assert len(snippet(text, terms, max_chars=max_chars)) <= max_chars
