"""The email parser: never a crash on any bytes, and the new text of the common reply styles."""

from __future__ import annotations

import json
import time
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from ombud.channels.email.parse import parse_email
from ombud.channels.email.quotes import html_to_text, split_reply
from ombud.cli.main import main

HEADERS = st.sampled_from(
    [
        b"From: a@example.com\n",
        b"From: =?utf-8?b?w6k=?= <x@y.example>\n",
        b"From: <<<@@@>>>\n",
        b"Subject: =?unknown-8bit?q?=E9t=E9?=\n",
        b"Subject: =?utf-8?b?!!!?=\n",
        b"Message-ID: <a@b>\n",
        b"References: <a@b> <c@d> garbage <\n",
        b"Content-Type: multipart/mixed; boundary=X\n",
        b"Content-Type: text/plain; charset=x-unknown\n",
        b"Content-Transfer-Encoding: base64\n",
        b"Content-Transfer-Encoding: quoted-printable\n",
        b"Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC%ZZ.pdf\n",
        b"Auto-Submitted: auto-replied\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(HEADERS, max_size=8), st.binary(max_size=2000))
def test_any_bytes_parse_without_a_crash(headers: list[bytes], body: bytes) -> None:
    parsed = parse_email(b"".join(headers) + b"\n" + body)
    summary = parsed.summary()
    json.dumps(summary)  # everything it says can be printed as JSON
    assert isinstance(parsed.new_text, str)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000))
def test_split_reply_takes_any_text(text: str) -> None:
    split = split_reply(text)
    assert len(split.new_text) <= len(text) + 1


def test_hostile_quote_headers_stay_fast() -> None:
    nasty = ("On " + "x " * 300 + "\n") * 500 + ("From: y\n" * 2000) + ("> " * 5000)
    start = time.perf_counter()
    split_reply(nasty)
    html_to_text("<blockquote>" * 2000 + "text" + "</div>" * 2000)
    assert time.perf_counter() - start < 5


def test_new_text_of_common_clients() -> None:
    cases = {
        "Gmail wraps the header": (
            "Still broken.\n\nOn Mon, 3 Jun 2024 at 10:12, Northwind Support <\nsupport@x.example> wrote:\n> old"  # noqa: E501
        ),
        "German Gmail": "Still broken.\n\nAm Mo., 3. Juni 2024 um 10:12 Uhr schrieb Support <s@x.example>:\n> alt",  # noqa: E501
        "French": "Still broken.\n\nLe lun. 3 juin 2024 à 10:12, Support <s@x.example> a écrit :\n> vieux",
        "Outlook block": "Still broken.\n\n________________________________\nFrom: Support\nSent: Monday\nTo: Ann\n\nold",  # noqa: E501
        "Outlook German": "Still broken.\n\nVon: Support <s@x.example>\nGesendet: Montag, 3. Juni 2024\nAn: Ann\n\nalt",  # noqa: E501
        "Original message": "Still broken.\n\n-----Original Message-----\nFrom: Support\nold",
        "iPhone": "Still broken.\n\nSent from my iPhone\n\nOn 3 Jun 2024, at 10:12, Support wrote:\n\n> old",
        "Signature": "Still broken.\n\n-- \nAnn Smith\nACME Ltd\n+44 20 1234 5678",
    }
    for name, text in cases.items():
        assert split_reply(text).new_text == "Still broken.", name


def test_forward_without_comment_gives_the_forwarded_message() -> None:
    text = (
        "---------- Forwarded message ---------\nFrom: Shop <s@x.example>\nDate: Mon, 3 Jun 2024\n"
        "Subject: Your order\nTo: <ann@example.com>\n\nYour order A-10042 has been cancelled."
    )
    split = split_reply(text)
    assert split.forwarded and split.new_text == "Your order A-10042 has been cancelled."


def test_html_only_email_is_sanitised_and_read(tmp_path: Path) -> None:
    raw = (
        b"From: Ann <ann@example.com>\nSubject: help\nMessage-ID: <h@example.com>\nMIME-Version: 1.0\n"
        b"Content-Type: text/html; charset=utf-8\n\n"
        b'<p onclick="steal()">My order <b>A-10042</b> is late.</p><script>alert(1)</script>'
        b'<img src="https://track.example/p.gif"><a href="javascript:alert(1)">x</a>'
        b"<blockquote>On Monday you wrote: we shipped it</blockquote>"
    )
    parsed = parse_email(raw)
    assert parsed.new_text == "My order A-10042 is late.\nx"
    assert parsed.html is not None
    for bad in ("<script", "onclick", "javascript:", "track.example"):
        assert bad not in parsed.html
    path = tmp_path / "h.eml"
    path.write_bytes(raw)
    result = CliRunner().invoke(main, ["email", "parse", str(path)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["from"] == "ann@example.com" and printed["message_id"] == "h@example.com"
    assert printed["auto_reply"] is False


def test_cli_parse_of_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["email", "parse", str(tmp_path / "nope.eml")])
    assert result.exit_code != 0 and "cannot read" in result.output


def test_answers_below_or_between_a_quote_are_new_text() -> None:
    bottom = "On 3 Jun 2024, Support wrote:\n> Replacement or refund?\n\nA replacement.\n\n-- \nAnn\nACME"
    assert split_reply(bottom).new_text == "A replacement."
    interleaved = (
        "On Mon, Jun 03, 2024 at 10:12:00AM +0200, Support wrote:\n> Which version?\n\nIt says 4.1.\n\n"
        "> Every time?\nYes.\n\n> Regards,\n> Support\n\nPlease fix it.\n\n-- \nAnn\nKey: 4E2A 9C71"
    )
    assert split_reply(interleaved).new_text == "It says 4.1.\n\nYes.\n\nPlease fix it."
    # A quote header over history that is not ">"-quoted (Yahoo) still ends the new text.
    yahoo = "Cancel it.\n\n    On Monday, June 3, 2024, Support <s@x.example> wrote:\n\n Hello,\n Old text."
    assert split_reply(yahoo).new_text == "Cancel it."


def test_signature_lines_and_pgp_dash_escapes() -> None:
    windows = (
        "Any news?\n\nPeter\n\nSent from Mail<https://go.microsoft.com/fwlink/?LinkId=550986> for Windows"
    )
    assert split_reply(windows).new_text == "Any news?\n\nPeter"
    assert split_reply("Any news?\n\nVon Mail für Windows gesendet").new_text == "Any news?"
    signed = (
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nDelete my account.\n\n- -- \nAnn\n"
        "OpenPGP: https://keys.openpgp.org/x\n"
        "-----BEGIN PGP SIGNATURE-----\n\nabc=\n-----END PGP SIGNATURE-----"
    )
    assert split_reply(signed).new_text == "Delete my account."


def test_html_pre_keeps_its_line_breaks() -> None:
    html = "<p>A replacement please.</p><pre>-- \nOliver Grant\nhttps://club.example</pre>"
    assert html_to_text(html) == "A replacement please.\n\n--\nOliver Grant\nhttps://club.example"
    assert split_reply(html_to_text(html)).new_text == "A replacement please."
