"""`ombud policy`: check a file (every problem with its line), load it (a refused one changes nothing),
show the one in force."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient

from ombud.cli.main import main
from tests.conftest import Personas
from tests.resolutions.helpers import POLICY

EXAMPLE = Path(__file__).parents[2] / "docs" / "concession-policy.example.toml"


def test_check_load_and_show_a_policy_file(
    tmp_path: Path, database_url: str, client: TestClient, people: Personas
) -> None:
    runner = CliRunner()
    good = tmp_path / "policy.toml"
    good.write_text(POLICY)
    bad = tmp_path / "bad.toml"
    bad.write_text(POLICY.replace("max = 1000", "max = 10").replace("USD = 0.5", "USD = -1"))

    assert runner.invoke(main, ["policy", "check", str(EXAMPLE)]).exit_code == 0
    checked = runner.invoke(main, ["policy", "check", str(bad)])
    assert checked.exit_code == 1
    lines = checked.stderr.splitlines()
    assert f"{bad}: line {POLICY.splitlines().index('USD = 0.5') + 1}: currencies.USD:" in lines[0]
    assert any("limit #" in line and "admin" in line for line in lines)

    refused = runner.invoke(main, ["policy", "load", str(bad), "--database", database_url])
    assert refused.exit_code == 1 and "invalid_policy" in refused.stderr
    assert runner.invoke(main, ["policy", "show", "--database", database_url]).exit_code == 1  # none yet

    loaded = runner.invoke(
        main, ["policy", "load", str(good), "--comment", "from git", "--database", database_url]
    )
    assert loaded.exit_code == 0, loaded.output
    assert "version 1 is in force" in loaded.output
    again = runner.invoke(main, ["policy", "load", str(bad), "--database", database_url])
    assert again.exit_code == 1
    shown = runner.invoke(main, ["policy", "show", "--database", database_url])
    assert shown.exit_code == 0 and shown.output.startswith("# version 1,") and POLICY in shown.output

    current = client.get("/api/v1/resolutions/policy", headers=people.agent.headers).json()
    assert current["version"] == 1 and current["comment"] == "from git" and current["uploaded_by_id"] is None
