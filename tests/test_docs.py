"""Everything a user can set, run or call is documented (Datasette's test_docs idea)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from ombud.cli.main import main
from ombud.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _commands(group: click.Group, prefix: str = "ombud") -> list[str]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.extend(_commands(command, f"{prefix} {name}"))
        else:
            found.append(f"{prefix} {name}")
    return found


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert f"`OMBUD_{name.upper()}`" in (DOCS / "settings.md").read_text()


@pytest.mark.parametrize("command", _commands(main))
def test_every_command_is_documented(command: str) -> None:
    assert f"`{command}" in (DOCS / "cli.md").read_text()


def test_every_api_path_is_documented() -> None:
    from ombud.runtime import build_runtime
    from ombud.web.app import create_app

    runtime = build_runtime(Settings(database_url="sqlite://"), queue_url="memory://")
    schema = create_app(runtime).openapi()
    runtime.close()
    text = (DOCS / "api.md").read_text()
    for path, operations in schema["paths"].items():
        for method in operations:
            assert f"{method.upper()} {path}" in text, f"{method.upper()} {path} is not in docs/api.md"
