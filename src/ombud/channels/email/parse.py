"""An email's raw RFC 5322 bytes into what ombud keeps: sender, recipients, threading headers, the plain
text, the sanitised HTML, the new text only, attachments, and whether a machine sent it.

Best effort and never a crash: broken charsets fall back to UTF-8, then Windows-1252; malformed MIME is
read as far as Python's parser gets and its defects are listed; a header that cannot be decoded is kept
as raw text. Hostile mail is read within bounds: at most MAX_HEADER_CHARS of a header, MAX_ADDRESSES
addresses per header, ``max_text_chars`` of text (twice that of HTML), MIME nesting as deep as Python's
parser can go (deeper is reported in ``unreadable``); every text that comes out can be stored (no NUL, no
lone surrogate).
"""

from __future__ import annotations

import contextlib
import email
import email.errors
import email.header
import email.message
import email.parser
import email.policy
import email.utils
import re
from dataclasses import dataclass, field
from typing import Any

from ombud.channels.email.quotes import html_to_text, split_reply
from ombud.html import sanitise_html

_MESSAGE_ID = re.compile(r"<([^<>\s\x00-\x1f\x7f]{1,900})>")
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:auto(?:matic)?[\s_-]*(?:reply|response|antwort)|out\s+of\s+(?:the\s+)?office|"
    r"abwesenheitsnotiz|automatische\s+antwort|réponse\s+automatique|respuesta\s+automática|"
    r"afwezigheidsmelding|automatisch\s+antwoord|risposta\s+automatica|autoreply|auto:)",
    re.IGNORECASE,
)
_BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|postmaster)@", re.IGNORECASE)
MAX_REFERENCES = 50
# Bounds on what hostile mail makes the parser do: decoding RFC 2047 words and splitting address lists
# both cost more than linear time in Python's email package (100,000 encoded words took 23 s).
MAX_HEADER_CHARS = 16_000
MAX_ADDRESSES = 100
MAX_TEXT_CHARS = 250_000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


class _Policy(email.policy.Compat32):
    """compat32 (reads anything, decodes nothing on its own), but a header with 8-bit bytes comes back as
    text (UTF-8 as RFC 6532 allows, else Windows-1252) rather than a Header object, which the
    Content-Type and Content-Disposition parsing of the email package cannot split (AttributeError)."""

    def _sanitize_header(self, name: str, value: Any) -> Any:
        if isinstance(value, str) and _has_surrogates(value):
            return decode_bytes(value.encode("utf-8", "surrogateescape"), None)
        return value


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_POLICY = _Policy()


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    content: bytes
    inline: bool = False

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass
class ParsedEmail:
    sender: str | None = None
    sender_name: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    reply_to: str | None = None
    subject: str = ""
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    date: str | None = None
    text: str = ""
    html: str | None = None
    new_text: str = ""
    forwarded: bool = False
    attachments: list[ParsedAttachment] = field(default_factory=list)
    auto_reply: bool = False
    auto_reply_reason: str | None = None
    bounce: bool = False
    bounced_message_ids: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    hops: int = 0  # Received headers: how many mail servers it went through
    truncated: bool = False  # text or HTML was longer than the parser reads (the source keeps it all)
    unreadable: str | None = None  # why the body could not be read at all (the headers still were)

    def thread_refs(self) -> list[str]:
        """Return the Message-IDs this email answers, the most direct first: In-Reply-To, then References
        from the newest back."""
        refs = [self.in_reply_to] if self.in_reply_to else []
        refs += [ref for ref in reversed(self.references) if ref not in refs]
        return refs

    def summary(self) -> dict[str, Any]:
        """Return the JSON shape `ombud email parse` prints."""
        return {
            "from": self.sender,
            "from_name": self.sender_name,
            "to": self.to,
            "cc": self.cc,
            "subject": self.subject,
            "message_id": self.message_id,
            "in_reply_to": self.in_reply_to,
            "references": self.references,
            "date": self.date,
            "new_text": self.new_text,
            "text": self.text,
            "html": self.html,
            "forwarded": self.forwarded,
            "attachments": [
                {"filename": a.filename, "content_type": a.content_type, "size": a.size, "inline": a.inline}
                for a in self.attachments
            ],
            "auto_reply": self.auto_reply,
            "auto_reply_reason": self.auto_reply_reason,
            "bounce": self.bounce,
            "bounced_message_ids": self.bounced_message_ids,
            "defects": self.defects,
            "hops": self.hops,
            "truncated": self.truncated,
            "unreadable": self.unreadable,
        }


def parse_email(raw: bytes, *, max_text_chars: int = MAX_TEXT_CHARS) -> ParsedEmail:
    """Return what ``raw`` (an RFC 5322 message) says, reading at most ``max_text_chars`` of its text;
    never raises on malformed input."""
    parsed = ParsedEmail()
    try:
        _parse(raw, parsed, max_text_chars)
    except RecursionError:
        # MIME nested deeper than Python's parser can follow (about 1,000 levels): read the headers only.
        parsed = ParsedEmail(unreadable="mime_too_deep")
        _parse(raw, parsed, max_text_chars, headers_only=True)
    _make_storable(parsed)
    return parsed


def _parse(raw: bytes, parsed: ParsedEmail, max_text_chars: int, *, headers_only: bool = False) -> None:
    # compat32 reads anything and decodes nothing on its own; each header is decoded below, defensively.
    parser = email.parser.BytesParser(policy=_POLICY)
    message = parser.parsebytes(raw, headersonly=headers_only)
    parsed.defects = sorted({type(defect).__name__ for defect in message.defects})
    parsed.hops = len(message.get_all("Received") or [])
    sender_name, sender = _first_address(message, "From")
    parsed.sender, parsed.sender_name = sender, sender_name
    parsed.reply_to = _first_address(message, "Reply-To")[1]
    parsed.to = _addresses(message, "To")
    parsed.cc = _addresses(message, "Cc")
    parsed.subject = " ".join(_header(message, "Subject").split())[:998]
    parsed.message_id = _first_id(_header(message, "Message-ID"))
    parsed.in_reply_to = _first_id(_header(message, "In-Reply-To"))
    parsed.references = _ids(_header(message, "References"))[-MAX_REFERENCES:]
    parsed.date = _header(message, "Date")[:200] or None
    if not headers_only:
        _read_parts(message, parsed, max_text_chars)
        split = split_reply(parsed.text)
        parsed.new_text, parsed.forwarded = split.new_text, split.forwarded
    _detect_machine(message, parsed)


def _make_storable(parsed: ParsedEmail) -> None:
    """Drop NUL characters and lone surrogates from every text: PostgreSQL refuses the first, neither
    database stores the second (a charset that decodes to them, an encoded word that carries them)."""
    for name in ("sender", "sender_name", "reply_to", "subject", "message_id", "in_reply_to", "date"):
        value = getattr(parsed, name)
        if value:
            setattr(parsed, name, _storable(value))
    for name in ("text", "new_text", "html"):
        value = getattr(parsed, name)
        if value:
            setattr(parsed, name, _storable(value))
    parsed.to = [_storable(a) for a in parsed.to]
    parsed.cc = [_storable(a) for a in parsed.cc]
    parsed.references = [_storable(r) for r in parsed.references]
    parsed.bounced_message_ids = [_storable(r) for r in parsed.bounced_message_ids]
    for attachment in parsed.attachments:
        attachment.filename = _storable(attachment.filename) or "attachment"
    if parsed.auto_reply_reason:
        parsed.auto_reply_reason = _storable(parsed.auto_reply_reason)


def _storable(value: str) -> str:
    return _UNSTORABLE.sub("", value) if _UNSTORABLE.search(value) else value


# -- headers ----------------------------------------------------------------------------------------------
def _header(message: email.message.Message, name: str) -> str:
    """Return the header decoded from RFC 2047 words; its raw text if that fails; "" if absent."""
    value = message.get(name)
    if value is None:
        return ""
    raw = (value if isinstance(value, str) else str(value))[:MAX_HEADER_CHARS]
    try:
        return str(email.header.make_header(email.header.decode_header(raw)))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _addresses(message: email.message.Message, name: str) -> list[str]:
    """Return the first MAX_ADDRESSES distinct addresses of the ``name`` headers."""
    found: dict[str, None] = {}
    for value in message.get_all(name) or []:
        for _, address in email.utils.getaddresses([str(value)[:MAX_HEADER_CHARS]]):
            clean = _clean_address(address)
            if clean:
                found[clean] = None
                if len(found) >= MAX_ADDRESSES:
                    return list(found)
    return list(found)


def _first_address(message: email.message.Message, name: str) -> tuple[str, str | None]:
    raw = message.get(name)
    if raw is None:
        return "", None
    pairs = email.utils.getaddresses([str(raw)[:MAX_HEADER_CHARS]])
    for display, address in pairs:
        clean = _clean_address(address)
        if clean:
            try:
                decoded = str(email.header.make_header(email.header.decode_header(display)))
            except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
                decoded = display
            return " ".join(decoded.split())[:200], clean
    return "", None


def _clean_address(address: str) -> str | None:
    address = address.strip().strip("<>").lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or len(address) > 320 or any(c.isspace() for c in address):
        return None
    return address


def _first_id(value: str) -> str | None:
    ids = _ids(value)
    if ids:
        return ids[0]
    bare = value.strip()
    # Some clients send the id without angle brackets.
    return bare[:900] if bare and " " not in bare and "@" in bare else None


def _ids(value: str) -> list[str]:
    seen: list[str] = []
    for found in _MESSAGE_ID.findall(value):
        if found not in seen:
            seen.append(found)
    return seen


# -- parts ------------------------------------------------------------------------------------------------
def _read_parts(message: email.message.Message, parsed: ParsedEmail, max_text_chars: int) -> None:
    texts: list[str] = []
    htmls: list[str] = []
    for part, inside_attached_message in _walk(message):
        content_type = _content_type(part)
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        filename = _filename(part)
        if part.is_multipart():
            continue
        if content_type.startswith("multipart/"):
            # A multipart whose boundary never appears: Python keeps the body as one string; read it as text.
            broken = part.get_payload()
            if isinstance(broken, str) and broken.strip() and not inside_attached_message:
                texts.append(
                    decode_bytes(broken.encode("utf-8", "surrogateescape"), part.get_content_charset())
                )
            continue
        if content_type == "message/delivery-status":
            parsed.bounce = True
            continue
        if content_type in ("text/rfc822-headers", "message/rfc822-headers"):
            parsed.bounced_message_ids += _ids(_decoded_text(part) or "")[:1]
            continue
        if content_type == "application/pgp-signature":
            continue
        is_body = (
            not inside_attached_message
            and disposition != "attachment"
            and filename is None
            and content_type in ("text/plain", "text/html")
        )
        if is_body:
            body = _decoded_text(part)
            if body is not None:
                (texts if content_type == "text/plain" else htmls).append(body)
            continue
        content = _payload_bytes(part)
        if content is None:
            continue
        parsed.attachments.append(
            ParsedAttachment(
                filename=(filename or _default_name(content_type))[:255],
                content_type=content_type[:255],
                content=content,
                inline=disposition == "inline"
                or (bool(part.get("Content-ID")) and disposition != "attachment"),
            )
        )
    _set_bodies(parsed, texts, htmls, max_text_chars)


def _set_bodies(parsed: ParsedEmail, texts: list[str], htmls: list[str], max_text_chars: int) -> None:
    """Set the text (from the HTML when there is no plain part) and the sanitised HTML, each cut to what
    a message can keep: splitting quotes and turning HTML into text cost about a second per million
    characters (the raw source still holds the rest)."""
    text = "\n\n".join(t.strip("\n") for t in texts).replace("\r\n", "\n")
    html = "\n".join(htmls)
    if len(html) > 2 * max_text_chars:
        html, parsed.truncated = html[: 2 * max_text_chars], True
    if not text and html:
        text = html_to_text(html)
    if len(text) > max_text_chars:
        text, parsed.truncated = text[:max_text_chars], True
    parsed.text = text
    if html:
        parsed.html = sanitise_html(html, remote_images=False)


def _walk(message: email.message.Message) -> list[tuple[email.message.Message, bool]]:
    """Return every part with whether it sits inside an attached (forwarded) message, which is then kept
    as one .eml attachment rather than read as the body."""
    found: list[tuple[email.message.Message, bool]] = []

    def visit(part: email.message.Message, inside: bool, depth: int) -> None:
        if depth > 20:  # a hostile nesting depth: stop reading deeper parts
            return
        if _content_type(part) == "message/rfc822" and depth > 0:
            found.append((part, inside))
            return
        found.append((part, inside))
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            for child in payload:
                if isinstance(child, email.message.Message):
                    visit(child, inside, depth + 1)

    visit(message, False, 0)
    return found


def _content_type(part: email.message.Message) -> str:
    """Return the part's content type, application/octet-stream when it is not a plain type/subtype
    (it reaches a Content-Type response header when the attachment is downloaded)."""
    content_type = part.get_content_type()
    return content_type if _CONTENT_TYPE.fullmatch(content_type) else "application/octet-stream"


def _filename(part: email.message.Message) -> str | None:
    try:
        name = part.get_filename()
    except (LookupError, UnicodeError, ValueError, AttributeError):
        name = None
    if not name:
        return None
    with contextlib.suppress(LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        name = str(email.header.make_header(email.header.decode_header(name)))
    # Never let a path in a file name reach anything that writes files.
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip().replace("\x00", "")
    # Control characters (a CR/LF would reach the Content-Disposition of the download) become "_".
    name = "".join(ch if ch.isprintable() else "_" for ch in name)
    return name or None


def _default_name(content_type: str) -> str:
    if content_type == "message/rfc822":
        return "forwarded-message.eml"
    return "attachment." + {"text/calendar": "ics", "application/pdf": "pdf"}.get(
        content_type, content_type.rsplit("/", 1)[-1][:10] or "bin"
    )


def _payload_bytes(part: email.message.Message) -> bytes | None:
    if _content_type(part) == "message/rfc822":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, email.message.Message):
            try:
                return inner.as_bytes()
            except (LookupError, UnicodeError, ValueError, TypeError, RecursionError):
                return None
        return None
    try:
        content = part.get_payload(decode=True)
    except (LookupError, UnicodeError, ValueError, TypeError):
        return None
    return content if isinstance(content, bytes) else None


def _decoded_text(part: email.message.Message) -> str | None:
    content = _payload_bytes(part)
    if content is None:
        return None
    return decode_bytes(content, part.get_content_charset())


def decode_bytes(content: bytes, charset: str | None) -> str:
    """Return ``content`` as text in its declared charset, else UTF-8, else Windows-1252 (a label that
    lies about Latin-1 text is the commonest broken charset), never failing."""
    for candidate in (charset, "utf-8", "cp1252"):
        if not candidate:
            continue
        try:
            return content.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return content.decode("latin-1")


# -- machines ---------------------------------------------------------------------------------------------
def _detect_machine(message: email.message.Message, parsed: ParsedEmail) -> None:
    """Mark mail a machine sent (auto-replies, bounces, lists): ombud never answers it automatically."""
    auto_submitted = _header(message, "Auto-Submitted").strip().lower()
    precedence = _header(message, "Precedence").strip().lower()
    reason: str | None = None
    if parsed.bounce or message.get_content_type() == "multipart/report":
        parsed.bounce = True
        reason = "bounce"
    elif parsed.sender and _BOUNCE_SENDER.match(parsed.sender):
        parsed.bounce, reason = True, "bounce"
    elif auto_submitted and auto_submitted != "no":
        reason = f"Auto-Submitted: {auto_submitted[:40]}"
    elif precedence in ("bulk", "junk", "list", "auto_reply"):
        reason = f"Precedence: {precedence}"
    elif any(message.get(name) for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply")):
        reason = "X-Autoreply"
    elif message.get("List-Id") or message.get("List-Unsubscribe"):
        reason = "mailing list"
    elif (message.get("Return-Path") or "").strip() == "<>":
        reason = "null sender"
    elif _AUTO_SUBJECT.match(parsed.subject):
        reason = "subject"
    parsed.auto_reply = reason is not None
    parsed.auto_reply_reason = reason
