"""The new text of an email: what the customer wrote this time, without the quoted history, the
signature or the "Sent from my iPhone" line, for the common mail clients in several languages.

Every client marks the start of the history differently: a header line ("On ... wrote:", "Am ...
schrieb ...:", "Le ... a écrit :"), a block of "From: / Sent:" lines (Outlook), a separator ("-----Original
Message-----", "---------- Forwarded message ---------"), or "> " before every line. Mail clients wrap a
long header line, so up to three lines are read together.

History that is not ">"-quoted (Outlook, Yahoo, AOL, forwards) runs to the end of the message, so its
first marker ends the new text. A ">"-quoted history need not: Thunderbird and Mutt users answer below
the quote (bottom-posting) or between its lines (interleaved answers). So every line outside the quote
counts as new text, wherever it sits, except the header line that introduces a quote and the signature
of each answer.
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
    r"|Von\s+(?:meinem\s+)?\S.{0,40}\s+gesendet\.?"
    r"|Get\s+Outlook\s+for\s+\S+.{0,20}"
    r"|Sent\s+(?:with|via|using)\s+\S.{0,40}",
    re.IGNORECASE,
)
# How text/plain renders a link: "Mail<https://go.microsoft.com/fwlink/?LinkId=550986>".
_LINK_TARGET = re.compile(r"<(?:https?|mailto):[^<>\s]{1,2000}>", re.IGNORECASE)
_QUOTED_LINE = re.compile(r"\s*>")
# A quote header is followed by the quote it introduces within this many lines (blank lines between).
_QUOTE_LOOKAHEAD = 3
_PGP_BEGIN = re.compile(r"-----BEGIN PGP SIGNED MESSAGE-----[ \t]*\n(?:Hash:[^\n]*\n)*\s*")
_PGP_SIGNATURE = re.compile(
    r"\n?-----BEGIN PGP SIGNATURE-----.*?(?:-----END PGP SIGNATURE-----|\Z)", re.DOTALL
)
# OpenPGP cleartext signatures escape every signed line that starts with a dash as "- -..." (RFC 4880 7.1).
_DASH_ESCAPE = re.compile(r"^- ", re.MULTILINE)


@dataclass(frozen=True)
class Split:
    """The new text and what followed it."""

    new_text: str
    history: str
    forwarded: bool


def split_reply(text: str) -> Split:
    """Return the text the sender wrote this time, and the quoted history or forwarded message below it.

    Lines outside a ">"-quote are new text wherever they sit, so answers written below the quote or
    between its lines are kept. A forward with nothing written above it gives the forwarded message as
    the new text: that message is what the customer wants help with.
    """
    text = _unsign_pgp(text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = text.split("\n")
    cut, forwarded = _history_start(lines)
    answers: list[list[str]] = [[]]
    history_from = cut
    index = 0
    while index < cut:
        line = lines[index]
        span = 1 if _QUOTED_LINE.match(line) else _quote_header_span(lines, index)
        if span:
            history_from = min(history_from, index)
            if answers[-1]:
                answers.append([])
            index += span
            continue
        answers[-1].append(line)
        index += 1
    # Each answer between two quotes may end in its own signature; the last one usually does.
    new_lines = [line for answer in answers for line in [*_without_signature(answer), ""]]
    new_text = _tidy("\n".join(new_lines))
    history = "\n".join(lines[history_from:]).strip()
    if not new_text and forwarded:
        body = _forwarded_body(lines[cut + 1 :])
        return Split(new_text=_tidy("\n".join(body)), history=history, forwarded=True)
    return Split(new_text=new_text, history=history, forwarded=forwarded)


def _history_start(lines: list[str]) -> tuple[int, bool]:
    """Return the index of the first line of a history that runs to the end of the message (len(lines) if
    none) and whether it is a forwarded message. A quote header followed by a ">"-quote is not such a
    start: answers can follow that quote."""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or _QUOTED_LINE.match(line):
            continue
        if _SEPARATOR.fullmatch(stripped):
            if stripped.startswith("_") and not _outlook_block(lines, index + 1):
                continue
            return index, bool(_FORWARD.search(stripped))
        if _outlook_block(lines, index):
            return index, False
        span = _header_span(lines, index)
        if span and not _quote_follows(lines, index + span):
            return index, False
    return len(lines), False


def _header_span(lines: list[str], index: int) -> int:
    """Return how many lines (1 to 3) the "On ... wrote:" header starting at ``index`` spans, 0 if none."""
    for span in (1, 2, 3):
        candidate = " ".join(part.strip() for part in lines[index : index + span])
        if len(candidate) > MAX_HEADER_CHARS:
            break
        if _WROTE.fullmatch(candidate):
            return span
    return 0


def _quote_header_span(lines: list[str], index: int) -> int:
    """Return how many lines the header introducing a ">"-quote at ``index`` spans, 0 if none is there."""
    span = _header_span(lines, index)
    return span if span and _quote_follows(lines, index + span) else 0


def _quote_follows(lines: list[str], index: int) -> bool:
    """Return whether the first non-blank line from ``index`` on (within a few lines) is ">"-quoted."""
    for line in lines[index : index + _QUOTE_LOOKAHEAD]:
        if line.strip():
            return bool(_QUOTED_LINE.match(line))
    return False


def _outlook_block(lines: list[str], index: int) -> bool:
    """Return whether a "From: ..." line at ``index`` starts an Outlook-style header block."""
    if index >= len(lines) or len(lines[index]) > MAX_HEADER_CHARS:
        return False
    if not _FROM_LINE.fullmatch(lines[index].strip()):
        return False
    following = [line.strip() for line in lines[index + 1 : index + 5] if line.strip()][:3]
    return any(len(line) <= MAX_HEADER_CHARS and _SENT_LINE.fullmatch(line) for line in following)


def _without_signature(lines: list[str]) -> list[str]:
    """Drop the signature: from the last "-- " line or "Sent from my ..." line to the end."""
    for index in range(len(lines) - 1, -1, -1):
        if len(lines[index]) > MAX_HEADER_CHARS:
            continue
        # "Sent from Mail<https://...> for Windows": the link target is not part of what the line says.
        stripped = _LINK_TARGET.sub("", lines[index]).strip()
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
    """Return ``text`` without the armour of an OpenPGP cleartext signature, its dash escapes undone."""
    begin = _PGP_BEGIN.search(text)
    if begin is None:
        return text
    signed = _DASH_ESCAPE.sub("", text[begin.end() :])
    return text[: begin.start()] + _PGP_SIGNATURE.sub("", signed)


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
    """HTML to plain text with line breaks where blocks end and "> " before blockquoted lines. Inside
    ``<pre>`` (Thunderbird's plain-text signature, pasted logs) the source's own line breaks are kept."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.quote_depth = 0
        self.skip_depth = 0
        self.pre_depth = 0

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
            if tag == "pre":
                self.pre_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == "blockquote":
            self._break()
            self.quote_depth = max(0, self.quote_depth - 1)
        elif tag in _BLOCK_TAGS and tag not in _VOID_TAGS:
            self._break()
            if tag == "pre":
                self.pre_depth = max(0, self.pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if not self.pre_depth:
            self.current.append(data)
            return
        first, *rest = data.split("\n")
        self.current.append(first)
        for line in rest:
            self._break()
            self.current.append(line)


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
