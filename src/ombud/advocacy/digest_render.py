"""The weekly digest as email-safe HTML (tables and inline styles, every value escaped, nothing loaded from
elsewhere), as plain text (the email's text part) and as CSV."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Sequence

from ombud.advocacy.digest_schemas import Digest, DigestTheme
from ombud.advocacy.schemas import MoneyTotal


def _money_text(items: Sequence[MoneyTotal]) -> str:
    return ", ".join(f"{m.amount} {m.currency}" for m in items) or "none"


def _link(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path if base_url else path


def _growth_text(theme: DigestTheme) -> str:
    if theme.previous_7_days == 0:
        return "new this week" if theme.last_7_days else "none"
    return f"{theme.growth * 100:+.0f}% on the week before"


def subject(digest: Digest) -> str:
    return f"Weekly advocacy digest: {digest.department_name} ({digest.until:%Y-%m-%d})"


_H = "font-family:Arial,Helvetica,sans-serif;color:#1b1b1b"
_TABLE = "border-collapse:collapse;width:100%;max-width:720px;margin:0 0 16px 0"
_TH = "text-align:left;border-bottom:2px solid #767676;padding:4px 8px;font-size:13px"
_TD = "border-bottom:1px solid #d0d0d0;padding:4px 8px;font-size:13px;vertical-align:top"
_MUTED = "color:#595959;font-size:12px"


def render_html(digest: Digest, *, base_url: str = "") -> str:
    """Return the digest as one HTML document for email: tables and inline styles only, every value
    escaped, links absolute when ``base_url`` is given; no images, scripts or stylesheets."""
    e = html.escape

    def theme_rows(items: Sequence[DigestTheme]) -> str:
        if not items:
            return f'<p style="{_MUTED}">None this week.</p>'
        rows = []
        for t in items:
            top = max(t.daily) or 1
            bars = "".join(
                f'<td style="padding:0 1px;vertical-align:bottom" title="{n}">'
                f'<div style="width:6px;height:{max(round(20 * n / top), 1 if n else 0)}px;'
                f'background:#1f4e8c;font-size:0;line-height:0">&nbsp;</div></td>'
                for n in t.daily
            )
            quotes = "".join(
                f'<div style="{_MUTED};font-style:italic;margin-top:2px">&ldquo;{e(q)}&rdquo;</div>'
                for q in t.quotes
            )
            rows.append(
                f'<tr><td style="{_TD}"><a href="{e(_link(base_url, t.url))}" style="color:#1f4e8c">'
                f"{e(t.label)}</a>{quotes}</td>"
                f'<td style="{_TD};text-align:right">{t.last_7_days}</td>'
                f'<td style="{_TD}">{e(_growth_text(t))}</td>'
                f'<td style="{_TD};text-align:right">{t.customers}</td>'
                f'<td style="{_TD}">{e(_money_text(t.cost))}</td>'
                f'<td style="{_TD}"><table role="presentation" style="border-collapse:collapse;height:22px">'
                f"<tr>{bars}</tr></table></td></tr>"
            )
        head = "".join(
            f'<th scope="col" style="{_TH}">{e(h)}</th>'
            for h in ("Theme", "Concerns (7 days)", "Trend", "Customers", "Concessions", "Last 14 days")
        )
        return f'<table style="{_TABLE}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'

    if digest.open_cases:
        head = "".join(
            f'<th scope="col" style="{_TH}">{e(h)}</th>'
            for h in ("Case", "Status", "Theme", "Tickets", "Customers", "Open since")
        )
        rows = "".join(
            f'<tr><td style="{_TD}"><a href="{e(_link(base_url, c.url))}" style="color:#1f4e8c">'
            f"#{c.case_id} {e(c.title)}</a></td>"
            f'<td style="{_TD}">{e(c.status.value.replace("_", " "))}</td>'
            f'<td style="{_TD}">{e(c.theme_label or "")}</td>'
            f'<td style="{_TD};text-align:right">{c.tickets}</td>'
            f'<td style="{_TD};text-align:right">{c.customers}</td>'
            f'<td style="{_TD}">{c.opened_at:%Y-%m-%d}</td></tr>'
            for c in digest.open_cases
        )
        cases_html = f'<table style="{_TABLE}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    else:
        cases_html = f'<p style="{_MUTED}">No open cases.</p>'
    summary = (
        f'<table role="presentation" style="{_TABLE}"><tr>'
        + "".join(
            f'<td style="padding:8px;border:1px solid #d0d0d0"><div style="{_MUTED}">{e(label)}</div>'
            f'<div style="font-size:20px;font-weight:bold">{e(value)}</div></td>'
            for label, value in (
                ("Concerns this week", str(digest.concerns)),
                ("Customers affected", str(digest.customers_affected)),
                ("Concessions this week", _money_text(digest.cost_week)),
                ("Open cases", str(len(digest.open_cases))),
            )
        )
        + "</tr></table>"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(subject(digest))}</title></head>"
        f'<body style="{_H};margin:0;padding:16px;background:#ffffff">'
        '<h1 style="font-size:20px;margin:0 0 4px 0">'
        f"Weekly advocacy digest: {e(digest.department_name)}</h1>"
        f'<p style="{_MUTED};margin:0 0 16px 0">'
        f"{digest.since:%Y-%m-%d %H:%M} to {digest.until:%Y-%m-%d %H:%M}"
        f" UTC &middot; {digest.themes_linked} themes linked to the department</p>"
        f"{summary}"
        f'<h2 style="font-size:16px">Top themes</h2>{theme_rows(digest.top_themes)}'
        f'<h2 style="font-size:16px">Rising themes</h2>{theme_rows(digest.rising_themes)}'
        f'<h2 style="font-size:16px">Open cases</h2>{cases_html}'
        f'<p style="{_MUTED}">All-time concessions on these themes: {e(_money_text(digest.cost_total))}.</p>'
        "</body></html>"
    )


def render_text(digest: Digest, *, base_url: str = "") -> str:
    """Return the digest as plain text (the email's text part)."""
    lines = [
        f"Weekly advocacy digest: {digest.department_name}",
        f"{digest.since:%Y-%m-%d %H:%M} to {digest.until:%Y-%m-%d %H:%M} UTC",
        "",
        f"Concerns this week: {digest.concerns}",
        f"Customers affected: {digest.customers_affected}",
        f"Concessions this week: {_money_text(digest.cost_week)}",
        f"Open cases: {len(digest.open_cases)}",
    ]
    for title, items in (("Top themes", digest.top_themes), ("Rising themes", digest.rising_themes)):
        lines += ["", title]
        if not items:
            lines.append("  none this week")
        for t in items:
            lines.append(
                f"- {t.label}: {t.last_7_days} concerns ({_growth_text(t)}), {t.customers} customers, "
                f"concessions {_money_text(t.cost)}  {_link(base_url, t.url)}"
            )
            lines += [f'    "{q}"' for q in t.quotes]
    lines += ["", "Open cases"]
    if not digest.open_cases:
        lines.append("  none")
    for c in digest.open_cases:
        lines.append(
            f"- #{c.case_id} {c.title} [{c.status.value}] {c.tickets} tickets, {c.customers} customers  "
            f"{_link(base_url, c.url)}"
        )
    return "\n".join(lines) + "\n"


CSV_COLUMNS = (
    "section",
    "id",
    "title",
    "status",
    "concerns_7_days",
    "previous_7_days",
    "customers",
    "concessions",
    "url",
)


def _cell(value: object) -> str:
    text = str(value)
    # A cell a spreadsheet would run as a formula is quoted as text (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(digest: Digest, *, base_url: str = "") -> str:
    """Return the digest as CSV: one row per top theme, rising theme and open case, then a summary row."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for section, items in (("top_theme", digest.top_themes), ("rising_theme", digest.rising_themes)):
        for t in items:
            writer.writerow(
                _cell(v)
                for v in (
                    section,
                    t.theme_id,
                    t.label,
                    "",
                    t.last_7_days,
                    t.previous_7_days,
                    t.customers,
                    _money_text(t.cost),
                    _link(base_url, t.url),
                )
            )
    for c in digest.open_cases:
        writer.writerow(
            _cell(v)
            for v in (
                "case",
                c.case_id,
                c.title,
                c.status.value,
                "",
                "",
                c.customers,
                "",
                _link(base_url, c.url),
            )
        )
    writer.writerow(
        _cell(v)
        for v in (
            "summary",
            digest.department_id,
            digest.department_name,
            "",
            digest.concerns,
            "",
            digest.customers_affected,
            _money_text(digest.cost_week),
            "",
        )
    )
    return out.getvalue()
