"""The advocacy charts: inline SVG that escapes labels, copes with no data, one point and all zeros,
and repeats its numbers as text for screen readers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from markupsafe import Markup

from ombud.web.advocacy_charts import bars, line_chart, sparkline

HOSTILE = '<script>alert("x")</script>&'


def _parse(markup: Markup) -> ET.Element:
    """The output must be well-formed markup (an unescaped label would break it)."""
    return ET.fromstring(f"<root>{markup}</root>")


def test_line_chart_escapes_labels_and_title() -> None:
    out = line_chart([(HOSTILE, 3), ("b", 5)], title=HOSTILE)
    assert isinstance(out, Markup)
    assert "<script>" not in out
    assert "&lt;script&gt;" in out
    _parse(out)


def test_line_chart_is_accessible_with_numbers_as_text() -> None:
    out = line_chart([("Mon", 2), ("Tue", 7.5), ("Wed", 4)], baseline=[3, 3, 3], title="Concerns per day")
    root = _parse(out)
    svg = root.find(".//{http://www.w3.org/2000/svg}svg")
    assert svg is not None and svg.get("role") == "img"
    labelled = (svg.get("aria-labelledby") or "").split()
    ids = {el.get("id") for el in svg.iter() if el.get("id")}
    assert labelled and set(labelled) <= ids
    assert svg.find("{http://www.w3.org/2000/svg}title") is not None
    assert svg.find("{http://www.w3.org/2000/svg}desc") is not None
    table = root.find(".//table")
    assert table is not None
    text = "".join(table.itertext())
    assert "Tue" in text and "7.5" in text and "baseline 3" in text


def test_line_chart_draws_the_baseline_dashed() -> None:
    with_base = line_chart([("a", 1), ("b", 2), ("c", 9)], baseline=[1, 1, 1], title="t")
    without = line_chart([("a", 1), ("b", 2), ("c", 9)], title="t")
    assert re.search(r'class="baseline"[^>]*stroke-dasharray', with_base)
    assert "stroke-dasharray" not in without


def test_line_chart_empty_series() -> None:
    out = line_chart([], title="Nothing")
    _parse(out)
    assert "No data" in out
    assert "<polyline" not in out and "<circle" not in out


def test_line_chart_single_point() -> None:
    out = line_chart([("only", 4)], title="One")
    _parse(out)
    assert out.count("<circle") == 1
    assert 'class="series"' not in out  # no line from a single point
    assert "nan" not in out.lower()


def test_line_chart_all_zeros_has_no_division_error() -> None:
    out = line_chart([("a", 0), ("b", 0), ("c", 0)], baseline=[0, 0, 0], title="Zeros")
    _parse(out)
    assert "nan" not in out.lower() and "inf" not in out.lower()
    assert out.count("<circle") == 3


def test_line_chart_ignores_non_finite_values() -> None:
    out = line_chart([("a", float("nan")), ("b", float("inf")), ("c", 2)], title="t")
    assert "nan" not in out.lower() and "inf" not in out.lower()


def test_sparkline_variants() -> None:
    many = sparkline([1, 3, 2, 8], title=HOSTILE)
    _parse(many)
    assert "<polyline" in many and "1, 3, 2, 8" in many
    assert "<script>" not in many
    assert "No data".lower() not in many.lower()
    one = sparkline([5])
    _parse(one)
    assert "<polyline" not in one and "<circle" in one
    zeros = sparkline([0, 0, 0])
    assert "nan" not in zeros.lower()
    empty = sparkline([])
    _parse(empty)
    assert "<svg" not in empty and "no data" in empty


def test_bars_escape_and_show_values() -> None:
    out = bars([(HOSTILE, 10), ("Refunds", 2.5)], title="By theme", unit=" EUR")
    root = _parse(out)
    assert "<script>" not in out
    assert "2.5 EUR" in "".join(root.itertext())
    widths = [float(w) for w in re.findall(r'<rect x="[^"]+" y="[^"]+" width="([^"]+)"', out)]
    assert widths[0] > widths[1] > 0


def test_bars_empty_and_zeros() -> None:
    empty = bars([], title="None")
    _parse(empty)
    assert "No data" in empty
    zeros = bars([("a", 0), ("b", 0)], title="Zeros")
    _parse(zeros)
    assert "nan" not in zeros.lower()
    assert re.findall(r'width="(0\.0)"', zeros) == ["0.0", "0.0"]
