"""`ombud kb`: import a bundle (all or nothing, indexed at once), then search it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ombud.cli.main import main

ARTICLES = [
    {
        "title": "Resetting the HomeHub router",
        "body": "Hold the reset button for 10 seconds until the light blinks orange.",
        "status": "published",
        "example_questions": ["How do I factory reset my router?"],
    },
    {
        "title": "Internal: router RMA",
        "body": "Use RMA form R-7.",
        "audience": "internal",
        "status": "published",
    },
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("OMBUD_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("OMBUD_HOME", str(tmp_path / "home"))
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    return tmp_path


def test_import_then_search(home: Path) -> None:
    bundle = home / "help.json"
    bundle.write_text(json.dumps(ARTICLES), encoding="utf-8")
    runner = CliRunner()
    imported = runner.invoke(main, ["kb", "import", str(bundle)])
    assert imported.exit_code == 0, imported.output
    assert "resetting-the-homehub-router" in imported.output
    found = runner.invoke(main, ["kb", "search", "factory reset router"])
    assert found.exit_code == 0, found.output
    first = found.output.splitlines()[0].split("\t")
    assert first[2] == "Resetting the HomeHub router"
    assert "Hold the reset button" in found.output


def test_a_bad_bundle_imports_nothing_and_says_why(home: Path) -> None:
    bundle = home / "help.json"
    bundle.write_text(json.dumps([ARTICLES[0], {"title": "No body"}]), encoding="utf-8")
    runner = CliRunner()
    refused = runner.invoke(main, ["kb", "import", str(bundle)])
    assert refused.exit_code == 1
    assert "kb_import_invalid" in refused.output and "No body" in refused.output
    assert runner.invoke(main, ["kb", "search", "reset router"]).output.strip() == (
        "no articles match (unpublished or not yet indexed articles are not searched)"
    )
