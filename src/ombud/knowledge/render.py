"""Knowledge base article bodies: Markdown rendered to safe HTML, and the plain text that search reads.

Articles are written in Markdown (CommonMark with tables and strikethrough) and may contain raw HTML,
because bodies imported from other help desks often do. Agents write them, but an article is shown to
every customer of the help centre, so the HTML we produce is sanitised by nh3 (Rust ammonia) with a
short allowlist: whatever markdown-it lets through, no script, handler, style or javascript:/data: URL
reaches a page.

Search and the assistant do not want markup: :func:`plain_text` walks markdown-it's token stream (not
regexes over Markdown) and :func:`split_passages` cuts the text into sections and passages small enough
to embed and to quote. :func:`snippet` picks the part of a passage that shows why it matched.

Every function here takes any ``str`` (broken Markdown, deep nesting, 200,000 characters) and never
raises: parsing is linear, and the one quadratic case we know of (html5ever, the parser inside nh3, on
thousands of unclosed raw HTML tags) is avoided by escaping raw HTML in such bodies instead.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = ["Passage", "plain_text", "render_markdown", "snippet", "split_passages"]


class _Markdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        """Accept every URL: nh3 decides which survive. markdown-it would print a link it rejects as
        literal text, leaving "javascript:..." visible on the page."""
        return True


# maxNesting (20 in the commonmark preset) bounds how deep lists and quotes go, and so the recursion.
_MARKDOWN = _Markdown("commonmark", {"html": True}).enable(["table", "strikethrough"])
_MARKDOWN_NO_HTML = _Markdown("commonmark", {"html": False}).enable(["table", "strikethrough"])

_TAGS = {
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "p",
    "br",
    "hr",
    "ul",
    "ol",
    "li",
    "blockquote",
    "pre",
    "code",
    "em",
    "strong",
    "del",
    "s",  # markdown-it writes ~~strikethrough~~ as <s>
    "a",
    "img",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
# Tags whose content is dropped with them, not kept as text (the defaults are script and style).
_DROPPED = {"script", "style", "template", "iframe", "noscript", "object", "embed", "svg", "math", "select"}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "code": {"class"},
    "th": {"style"},
    "td": {"style"},
}
_CODE_CLASS = re.compile(r"language-[A-Za-z0-9_+#.-]{1,40}")
_ALIGN = re.compile(r"text-align:\s*(left|right|center)\s*;?")
_WEB_URL = re.compile(r"https?://", re.IGNORECASE)


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Keep only the attribute values we expect: table alignment, a code block's language, web images."""
    if attribute == "style":
        match = _ALIGN.fullmatch(value.strip().lower())
        return f"text-align:{match.group(1)}" if match else None
    if attribute == "class":
        return value if _CODE_CLASS.fullmatch(value) else None
    if tag == "img" and attribute == "src":
        return value if _WEB_URL.match(value.strip()) else None
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags=_DROPPED,
    attributes=_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)

# html5ever (inside nh3) walks the stack of open elements for many start tags, so thousands of unclosed
# raw tags cost depth x tags. Bodies whose raw HTML nests deeper than this are rendered with the HTML
# shown as text: no real article nests 100 levels deep.
_MAX_RAW_DEPTH = 100
_RAW_TAG = re.compile(
    r"<!--(?:-?>|.*?--!?>|.*\Z)"  # comments (including the abrupt <!--> and an unclosed one)
    r"|<(script|style|textarea|title|xmp|iframe|noembed|noframes|noscript)\b.*?(?:</\1[\s/>]|\Z)"
    r"|<plaintext\b.*"
    r"|<[!?][^>]*>?"  # bogus comments and declarations: no tags inside
    r"|<(/?)([A-Za-z][A-Za-z0-9-]*)",
    re.IGNORECASE | re.DOTALL,
)
_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "keygen",
    "link",
    "meta",
    "param",
    "source",
    "track",
    "wbr",
}


def render_markdown(body: str) -> str:
    """Return the article body as sanitised HTML, safe to put in any page."""
    tokens = _MARKDOWN.parse(body)
    if _raw_html_depth(tokens) > _MAX_RAW_DEPTH:
        tokens = _MARKDOWN_NO_HTML.parse(body)
    rendered = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {})
    return _CLEANER.clean(rendered)


def _raw_html_depth(tokens: Sequence[Token]) -> int:
    """Return roughly how deep the raw HTML in ``tokens`` nests (an over-estimate in odd cases)."""
    raw = "".join(_raw_html(tokens))
    if raw.count("<") <= _MAX_RAW_DEPTH:
        return 0
    open_tags: Counter[str] = Counter()
    depth = deepest = 0
    for match in _RAW_TAG.finditer(raw):
        name = match.group(3)
        if not name:
            continue
        name = name.lower()
        if match.group(2):
            if open_tags[name] > 0:
                open_tags[name] -= 1
                depth -= 1
        elif name not in _VOID:
            open_tags[name] += 1
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def _raw_html(tokens: Iterable[Token]) -> Iterable[str]:
    for token in tokens:
        if token.type in {"html_block", "html_inline"}:
            yield token.content
        elif token.children:
            yield from _raw_html(token.children)


# --- plain text -------------------------------------------------------------------------------------------

_SKIPPED_HTML = {"script", "style", "template", "iframe", "noscript", "object", "embed", "select"}
_BLOCK_HTML = {
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
}


class _HTMLText(HTMLParser):
    """Collects the text of an HTML fragment as paragraphs, without script and style contents."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._current: list[str] = []
        self._skipping: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_HTML:
            self._skipping[tag] += 1
        elif tag in _BLOCK_HTML:
            self.end_paragraph()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_HTML:
            self.end_paragraph()

    def handle_endtag(self, tag: str) -> None:
        if self._skipping[tag] > 0:
            self._skipping[tag] -= 1
        elif tag in _BLOCK_HTML:
            self.end_paragraph()

    def handle_data(self, data: str) -> None:
        if not self._skipping.total():
            self._current.append(data)

    def end_paragraph(self) -> None:
        text = _collapse("".join(self._current))
        if text:
            self.paragraphs.append(text)
        self._current = []


def _html_paragraphs(fragment: str) -> list[str]:
    """Return the text paragraphs of an HTML fragment."""
    parser = _HTMLText()
    try:
        parser.feed(fragment)
        parser.close()
    except AssertionError:
        # html.parser gives up on some malformed declarations ("<![foo["); ammonia never does.
        text = _collapse(html.unescape(_TEXT_ONLY.clean(fragment)))
        return [text] if text else []
    parser.end_paragraph()
    return parser.paragraphs


_TEXT_ONLY = nh3.Cleaner(tags=set(), clean_content_tags=_SKIPPED_HTML | {"svg", "math"}, attributes={})


def _collapse(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class _Block:
    text: str
    heading: bool = False


def _blocks(body: str) -> list[_Block]:
    """Return the article's headings and paragraphs as plain text, in order."""
    tokens = _MARKDOWN.parse(body)
    blocks: list[_Block] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type in {"heading_open", "paragraph_open"}:
            text = _inline_text(tokens[index + 1])
            if text:
                blocks.append(_Block(text, heading=token.type == "heading_open"))
            index += 2
            continue
        if token.type in {"fence", "code_block"}:
            text = _collapse(token.content)
            if text:
                blocks.append(_Block(text))
        elif token.type == "html_block":
            blocks.extend(_Block(text) for text in _html_paragraphs(token.content))
        elif token.type == "table_open":
            index, rows = _table_rows(tokens, index)
            blocks.extend(_Block(text) for text in _table_text(rows))
        index += 1
    return blocks


def _table_rows(tokens: Sequence[Token], index: int) -> tuple[int, list[tuple[bool, list[str]]]]:
    """Return the index of the table's closing token and its rows as (is_header, cell texts)."""
    rows: list[tuple[bool, list[str]]] = []
    row: list[str] = []
    header = False
    while tokens[index].type != "table_close":
        token = tokens[index]
        if token.type == "inline":
            row.append(_inline_text(token))
        elif token.type == "th_open":
            header = True
        elif token.type == "tr_close":
            rows.append((header, row))
            row, header = [], False
        index += 1
    return index, rows


def _table_text(table: list[tuple[bool, list[str]]]) -> list[str]:
    """Return one paragraph per table row, each cell labelled with its column ("Plan: Basic; Price: 10")."""
    header = table[0][1] if table and table[0][0] else []
    rows = [cells for is_header, cells in table if not is_header]
    if not rows:
        text = " ".join(cell for cell in header if cell)
        return [text] if text else []
    paragraphs = []
    for row in rows:
        cells = [
            f"{header[i]}: {cell}" if i < len(header) and header[i] else cell
            for i, cell in enumerate(row)
            if cell
        ]
        if cells:
            paragraphs.append("; ".join(cells))
    return paragraphs


def _inline_text(token: Token) -> str:
    """Return the text of an inline token: markup dropped, raw HTML tags stripped, entities decoded."""
    pieces: list[str] = []
    has_html = False
    for child in _flatten(token.children or []):
        if child.type in {"text", "code_inline"}:
            pieces.append(html.escape(child.content, quote=False))
        elif child.type in {"softbreak", "hardbreak"}:
            pieces.append(" ")
        elif child.type == "html_inline":
            pieces.append(child.content)
            has_html = True
    joined = "".join(pieces)
    if has_html:
        return " ".join(_html_paragraphs(joined))
    return _collapse(html.unescape(joined))


def _flatten(tokens: Iterable[Token]) -> Iterable[Token]:
    for token in tokens:
        if token.type == "image":
            # An image's children hold its alt text, which is the image's text.
            yield from _flatten(token.children or [])
        else:
            yield token


def plain_text(body: str) -> str:
    """Return the article's text for search and embeddings: no markup, one blank line between paragraphs."""
    return "\n\n".join(block.text for block in _blocks(body))


# --- passages ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Passage:
    """A piece of an article small enough to embed and quote, with the heading of its section."""

    heading: str | None
    text: str


# A sentence ends at . ! ? or … (then closing quotes or brackets) before a space, or at the CJK full stop,
# exclamation or question mark, which need no space after them.
_SENTENCE_END = re.compile("[.!?\u2026]+[\"'\u201d\u2019)\\]]*\\s+|[\u3002\uff01\uff1f]+\\s*")


def split_passages(body: str, *, max_chars: int = 700) -> list[Passage]:
    """Return the article cut into passages of at most ``max_chars`` characters, in article order.

    Each heading starts a section; a section's paragraphs are packed into passages, and a paragraph
    longer than ``max_chars`` is cut at sentence ends (a sentence that is itself too long, at spaces).
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    passages: list[Passage] = []
    heading: str | None = None
    section: list[str] = []
    for block in _blocks(body):
        if block.heading:
            passages.extend(Passage(heading, text) for text in _pack(section, max_chars))
            heading, section = block.text, []
        else:
            section.append(block.text)
    passages.extend(Passage(heading, text) for text in _pack(section, max_chars))
    return passages


def _pack(paragraphs: list[str], max_chars: int) -> list[str]:
    """Return the paragraphs packed greedily into texts of at most ``max_chars`` characters."""
    texts: list[str] = []
    current = ""
    for paragraph in paragraphs:
        for piece_number, piece in enumerate(_pieces(paragraph, max_chars)):
            separator = " " if piece_number else "\n\n"
            if current and len(current) + len(separator) + len(piece) <= max_chars:
                current += separator + piece
            else:
                if current:
                    texts.append(current)
                current = piece
    if current:
        texts.append(current)
    return texts


def _pieces(paragraph: str, max_chars: int) -> list[str]:
    """Return the paragraph whole if it fits, else its sentences (or words, or slices) that fit."""
    if len(paragraph) <= max_chars:
        return [paragraph]
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        sentences.append(paragraph[start : match.end()].strip())
        start = match.end()
    sentences.append(paragraph[start:].strip())
    pieces: list[str] = []
    for sentence in filter(None, sentences):
        if len(sentence) <= max_chars:
            pieces.append(sentence)
        else:
            pieces.extend(_hard_split(sentence, max_chars))
    return pieces


def _hard_split(sentence: str, max_chars: int) -> list[str]:
    """Return the sentence cut at spaces into parts that fit; a word longer than the limit is sliced."""
    parts: list[str] = []
    current = ""
    for whole_word in sentence.split():
        word = whole_word
        while len(word) > max_chars:
            if current:
                parts.append(current)
                current = ""
            parts.append(word[:max_chars])
            word = word[max_chars:]
        if current and len(current) + 1 + len(word) <= max_chars:
            current += " " + word
        else:
            if current:
                parts.append(current)
            current = word
    if current:
        parts.append(current)
    return parts


# --- snippets ---------------------------------------------------------------------------------------------

_ELLIPSIS = "…"


def snippet(text: str, query_terms: list[str], *, max_chars: int = 240) -> str:
    """Return the window of about ``max_chars`` characters of ``text`` that holds the most query terms.

    Terms match case-insensitively; the window is cut at word boundaries and marked with "…" where text
    was left out. With no term in the text, the window is the start of the text.
    """
    text = _collapse(text)
    if len(text) <= max_chars:
        return text
    width = max(max_chars - 2 * len(_ELLIPSIS), 1)
    start, end = _best_window(text, query_terms, width)
    start, end = _word_bounds(text, start, end)
    return (_ELLIPSIS if start > 0 else "") + text[start:end].strip() + (_ELLIPSIS if end < len(text) else "")


def _best_window(text: str, query_terms: list[str], width: int) -> tuple[int, int]:
    """Return the span of ``width`` characters that holds the most distinct terms (then the most hits)."""
    terms = list(dict.fromkeys(term.strip().casefold() for term in query_terms if term.strip()))
    hits: list[tuple[int, int, int]] = []  # (start, end, term number)
    for number, term in enumerate(terms):
        pattern = re.compile(re.escape(term), re.IGNORECASE)
        hits.extend((match.start(), match.end(), number) for match in pattern.finditer(text))
    if not hits:
        return 0, width
    hits.sort()
    best = (-1, -1, 0, 0)  # (distinct terms, hits, first, last end)
    counts: Counter[int] = Counter()
    right = 0
    for left, (first, _, _) in enumerate(hits):
        while right < len(hits) and hits[right][1] - first <= width:
            counts[hits[right][2]] += 1
            right += 1
        if right > left:
            score = (len(+counts), right - left, first, hits[right - 1][1])
            if score[:2] > best[:2]:
                best = score
        counts[hits[left][2]] -= 1
    _, _, first, last_end = best
    # Centre the matched span in the window, so the reader sees some words before the first term.
    lead = max((width - (last_end - first)) // 2, 0)
    start = max(min(first - lead, len(text) - width), 0)
    return start, start + width


def _word_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Return ``start`` and ``end`` moved inward to word boundaries (unless a word fills the window)."""
    if start > 0 and not text[start - 1].isspace():
        space = text.find(" ", start, end)
        if space != -1:
            start = space + 1
    if end < len(text) and not text[end].isspace():
        space = text.rfind(" ", start, end)
        if space > start:
            end = space
    return start, end
