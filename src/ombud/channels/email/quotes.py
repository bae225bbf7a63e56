"""The new text of an email: what the customer wrote this time, without the quoted history, the
signature or the "Sent from my iPhone" line, for the common mail clients in several languages.

Every client marks the start of the history differently: a header line ("On ... wrote:", "Am ...
schrieb ...:", "Le ... a écrit :"), a block of "From: / Sent:" lines (Outlook), a separator ("-----Original
Message-----", "---------- Forwarded message ---------"), or "> " before every line. The first of these
ends the new text. Mail clients wrap a long header line, so up to three lines are read together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

# Every pattern is matched against one candidate of at most MAX_HEADER_CHARS, so none can run away.
MAX_HEADER_CHARS = 600
# Cyrillic, Greek and Arabic words on purpose: clients write the header in the reader's language.
_WROTE = re.compile(
    r"(?:On|Am|Le|El|Op|Il|Em|Den|På|W\s+dniu|Dne|V|Στις|В|Pada|Vào|في)\s.{1,400}?"  # noqa: RUF001
    r"(?:wrote|schrieb|a\s+écrit|escribió|schreef|ha\s+scritto|escreveu|skrev|napisał\(a\)|napisał|"
    r"napsal\(a\)|napsal|написал\(а\)|написал|έγραψε|menulis|đã viết|كتب)"  # noqa: RUF001
    r"(?:\s.{0,200})?\s*:\s*",
    re.IGNORECASE | re.DOTALL,
)
_SEPARATOR = re.compile(
    r"-{2,}\s*(?:Original\s+Message|Ursprüngliche\s+Nachricht|Message\s+d'origine|Mensaje\s+original|"
    r"Oorspronkelijk\s+bericht|Messaggio\s+originale|Mensagem\s+original|Ursprungligt\s+meddelande|"
    r"Forwarded\s+message|Weitergeleitete\s+Nachricht|Message\s+transféré|Mensaje\s+reenviado|"
    r"Doorgestuurd\s+bericht|Messaggio\s+inoltrato)\s*-{2,}"
    r"|(?:Begin\s+forwarded\s+message|Anfang\s+der\s+weitergeleiteten\s+Nachricht|Début\s+du\s+message\s+réexpédié)\s*:"
    r"|_{10,}",
    re.IGNORECASE,
)
_FORWARD = re.compile(r"forward|weitergeleitet|transféré|réexpédié|reenviado|doorgestuurd|inoltrato", re.I)
# Outlook's header block: a "From:" line, then within three lines a "Sent:"/"Date:" line.
_FROM_LINE = re.compile(r"\*?(?:From|Von|De|Van|Da|Från|Fra|Od|От)\s?:\*?\s.{1,300}", re.IGNORECASE)
_SENT_LINE = re.compile(
    r"\*?(?:Sent|Date|Gesendet|Datum|Envoyé|Enviado|Enviada|Fecha|Verzonden|Inviato|Data|Skickat|Sendt|Odesláno|"
    r"Отправлено)\s?:\*?\s.{1,200}",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(
    r"--\s?"
    r"|(?:Sent|Envoyé|Enviado|Inviato|Verzonden|Skickat|Sendt|Gesendet)\s+(?:from|de|desde|da|vanaf|met|från|fra|von)"
    r"\s+(?:my|mon|ma|mi|meinem|mijn|min)?\s*\S.{0,60}"
    r"|Von\s+meinem\s+\S.{0,40}\s+gesendet\.?"
    r"|Get\s+Outlook\s+for\s+\S+.{0,20}"
    r"|Sent\s+(?:with|via|using)\s+\S.{0,40}",
    re.IGNORECASE,
)
_QUOTED_LINE = re.compile(r"\s*>")
_PGP_BEGIN = re.compile(r"-----BEGIN PGP SIGNED MESSAGE-----\s*\n(?:Hash:[^\n]*\n)*\s*")
_PGP_SIGNATURE = re.compile(
    r"\n?-----BEGIN PGP SIGNATURE-----.*?(?:-----END PGP SIGNATURE-----|\Z)", re.DOTALL
)


@dataclass(frozen=True)
class Split:
    """The new text and what followed it."""

    new_text: str
    history: str
    forwarded: bool


def split_reply(text: str) -> Split:
    """Return the text the sender wrote this time, and the quoted history or forwarded message below it.

    A forward with nothing written above it gives the forwarded message as the new text: that message is
    what the customer wants help with.
    """
    text = _unsign_pgp(text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = text.split("\n")
    cut, forwarded = _history_start(lines)
    new_lines = lines[:cut]
    history = "\n".join(lines[cut:]).strip()
    new_lines = _without_signature(new_lines)
    new_text = "\n".join(line for line in new_lines if not _QUOTED_LINE.match(line))
    new_text = _tidy(new_text)
    if not new_text and forwarded:
        body = _forwarded_body(lines[cut + 1 :])
        return Split(new_text=_tidy("\n".join(body)), history=history, forwarded=True)
    return Split(new_text=new_text, history=history, forwarded=forwarded)


def _history_start(lines: list[str]) -> tuple[int, bool]:
    """Return the index of the first line of the quoted history (len(lines) if none) and whether it is a
    forwarded message."""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if _SEPARATOR.fullmatch(stripped):
            if stripped.startswith("_") and not _outlook_block(lines, index + 1):
                continue
            return index, bool(_FORWARD.search(stripped))
        if _outlook_block(lines, index):
            return index, False
        for span in (1, 2, 3):
            candidate = " ".join(part.strip() for part in lines[index : index + span])
            if len(candidate) > MAX_HEADER_CHARS:
                break
            if _WROTE.fullmatch(candidate):
                return index, False
        if _QUOTED_LINE.match(line) and _rest_is_quoted(lines, index):
            return index, False
    return len(lines), False


def _outlook_block(lines: list[str], index: int) -> bool:
    """Return whether a "From: ..." line at ``index`` starts an Outlook-style header block."""
    if index >= len(lines) or len(lines[index]) > MAX_HEADER_CHARS:
        return False
    if not _FROM_LINE.fullmatch(lines[index].strip()):
        return False
    following = [line.strip() for line in lines[index + 1 : index + 5] if line.strip()][:3]
    return any(len(line) <= MAX_HEADER_CHARS and _SENT_LINE.fullmatch(line) for line in following)


def _rest_is_quoted(lines: list[str], index: int) -> bool:
    """Return whether every non-blank line from ``index`` on is quoted (a bottom-quoted reply)."""
    return all(not line.strip() or _QUOTED_LINE.match(line) for line in lines[index:])


def _without_signature(lines: list[str]) -> list[str]:
    """Drop the signature: from the last "-- " line or "Sent from my ..." line to the end."""
    for index in range(len(lines) - 1, -1, -1):
        stripped = lines[index].strip()
        if len(stripped) <= 120 and _SIGNATURE.fullmatch(stripped):
            # A "-- " far from the end is a sentence dash run, not a signature: allow a dozen lines after.
            if stripped.startswith("--") and len(lines) - index > 12:
                continue
            return lines[:index]
    return lines


def _forwarded_body(lines: list[str]) -> list[str]:
    """Return a forwarded message's body: the lines after its From/Date/Subject/To header block."""
    index = 0
    while index < len(lines) and (
        not lines[index].strip() or re.match(r"\s*\*?[\w -]{1,20}:\*?\s", lines[index])
    ):
        index += 1
    return lines[index:]


def _unsign_pgp(text: str) -> str:
    if "-----BEGIN PGP SIGNED MESSAGE-----" not in text:
        return text
    return _PGP_SIGNATURE.sub("", _PGP_BEGIN.sub("", text, count=1))


def _tidy(text: str) -> str:
    """Return ``text`` with trailing spaces, runs of blank lines and surrounding blank lines removed."""
    lines = [line.rstrip() for line in text.split("\n")]
    kept: list[str] = []
    for line in lines:
        if not line and kept and not kept[-1]:
            continue
        kept.append(line)
    return "\n".join(kept).strip()


# -- HTML to text -----------------------------------------------------------------------------------------
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre"}
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})
_VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source"})


class _TextExtractor(HTMLParser):
    """HTML to plain text with line breaks where blocks end and "> " before blockquoted lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.quote_depth = 0
        self.skip_depth = 0

    def _break(self) -> None:
        text = " ".join("".join(self.current).split())
        self.current = []
        self.lines.append(("> " * self.quote_depth + text) if text else "")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth += 1
        elif tag == "blockquote":
            self._break()
            self.quote_depth += 1
        elif tag in _BLOCK_TAGS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == "blockquote":
            self._break()
            self.quote_depth = max(0, self.quote_depth - 1)
        elif tag in _BLOCK_TAGS and tag not in _VOID_TAGS:
            self._break()

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.current.append(data)


def html_to_text(html: str) -> str:
    """Return the readable text of ``html``: blocks on their own lines, scripts and styles dropped."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup: keep what it read
        pass
    parser._break()
    return _tidy("\n".join(parser.lines))
