"""The email parser against the corpus of real-looking mails in tests/channels/emails/: one case per file,
asserting everything its entry in expected.json states (the README there explains each client's quirks).

A key missing from an entry is deliberately not asserted. Phrases are compared with runs of whitespace
collapsed, so a hard line break or a format=flowed soft break inside a phrase does not matter.
"""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path
from typing import Any

import pytest

from ombud.channels.email.parse import ParsedEmail, decode_bytes, parse_email
from ombud.channels.email.quotes import html_to_text, split_reply

EMAILS = Path(__file__).parent / "emails"
EXPECTED: dict[str, dict[str, Any]] = json.loads((EMAILS / "expected.json").read_text(encoding="utf-8"))
KNOWN_KEYS = {
    "from",
    "subject",
    "message_id",
    "in_reply_to",
    "references",
    "new_text_contains",
    "new_text_excludes",
    "attachments",
    "auto_reply",
    "html_excludes",
}


def _normalised(text: str) -> str:
    return " ".join(text.split())


def _everything_readable(raw: bytes, parsed: ParsedEmail) -> str:
    """Return all the text a phrase of the message can be in, whitespace collapsed: the raw header block,
    the decoded subject, every decoded part (scripts and signature parts included) and the parsed text."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    texts = [raw.split(b"\n\n", 1)[0].decode("latin-1"), parsed.subject, parsed.text]
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            texts.append(decode_bytes(payload, part.get_content_charset()))
    return _normalised("\n".join(texts))


def test_every_fixture_has_expectations_and_only_known_keys() -> None:
    assert sorted(path.stem for path in EMAILS.glob("*.eml")) == sorted(EXPECTED)
    for name, expected in EXPECTED.items():
        assert set(expected) <= KNOWN_KEYS, name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_email(name: str) -> None:
    expected = EXPECTED[name]
    raw = (EMAILS / f"{name}.eml").read_bytes()
    parsed = parse_email(raw)
    summary = parsed.summary()
    json.dumps(summary)  # what `ombud email parse` prints is valid JSON

    for key in ("from", "subject", "message_id", "in_reply_to", "references", "auto_reply"):
        if key in expected:
            assert summary[key] == expected[key], f"{key}: {summary[key]!r}"

    if "attachments" in expected:
        # Inline images referenced by cid: are part of the body, not attachments.
        attachments = [
            {"filename": a["filename"], "content_type": a["content_type"]}
            for a in summary["attachments"]
            if not a["inline"]
        ]
        assert attachments == expected["attachments"]

    new_text = _normalised(parsed.new_text)
    missing = [
        phrase for phrase in expected.get("new_text_contains", []) if _normalised(phrase) not in new_text
    ]
    assert not missing, f"missing from the new text {parsed.new_text!r}: {missing}"

    readable = _everything_readable(raw, parsed)
    for phrase in expected.get("new_text_excludes", []):
        # The fixture must really contain the phrase, or the exclusion below proves nothing.
        assert _normalised(phrase) in readable, f"vacuous exclusion: {phrase!r} is not in the message"
    leaked = [phrase for phrase in expected.get("new_text_excludes", []) if _normalised(phrase) in new_text]
    assert not leaked, f"left in the new text {parsed.new_text!r}: {leaked}"

    if "html_excludes" in expected:
        assert parsed.html is not None
        kept = [bad for bad in expected["html_excludes"] if bad in parsed.html]
        assert not kept, f"left in the sanitised HTML: {kept}"


def _html_parts(raw: bytes) -> list[str]:
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    parts = [part for part in message.walk() if part.get_content_type() == "text/html"]
    return [decode_bytes(part.get_payload(decode=True), part.get_content_charset()) for part in parts]


HTML_FIXTURES = sorted(
    name
    for name, expected in EXPECTED.items()
    if "new_text_contains" in expected and _html_parts((EMAILS / f"{name}.eml").read_bytes())
)


@pytest.mark.parametrize("name", HTML_FIXTURES)
def test_corpus_email_html_part_gives_the_same_new_text(name: str) -> None:
    """The README promises every expected phrase is in the HTML part too, so the new text read from the
    HTML alone (what an HTML-only copy of the mail would give) must meet the same expectations."""
    expected = EXPECTED[name]
    html = "\n".join(_html_parts((EMAILS / f"{name}.eml").read_bytes()))
    new_text = split_reply(html_to_text(html)).new_text
    normalised = _normalised(new_text)
    missing = [phrase for phrase in expected["new_text_contains"] if _normalised(phrase) not in normalised]
    leaked = [phrase for phrase in expected.get("new_text_excludes", []) if _normalised(phrase) in normalised]
    assert not missing and not leaked, f"new text {new_text!r}: missing {missing}, left in {leaked}"
