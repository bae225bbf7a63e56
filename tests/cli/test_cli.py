"""The `ombud` command as an administrator uses it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ombud.cli.main import main
from ombud.settings import Settings

OMBUD = str(Path(sys.executable).with_name("ombud"))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key in list(os.environ):
        if key.startswith("OMBUD_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("OMBUD_HOME", str(tmp_path / "home"))
    return {"OMBUD_HOME": str(tmp_path / "home")}


def test_db_upgrade_then_user_add_prints_a_working_token(env: dict[str, str]) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert "was empty" in first.output
    again = runner.invoke(main, ["db", "upgrade"])
    assert again.exit_code == 0 and "was" not in again.output

    added = runner.invoke(
        main, ["user", "add", "Lee@Example.com", "--role", "lead", "--name", "Lee", "--team", "Tier 2"]
    )
    assert added.exit_code == 0, added.output
    token = added.output.strip().splitlines()[-1]
    assert token.startswith("omb_")

    from fastapi.testclient import TestClient

    from ombud.runtime import build_runtime
    from ombud.web.app import create_app

    runtime = build_runtime(Settings(), queue_url="memory://")
    with TestClient(create_app(runtime)) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    runtime.close()
    assert (me["email"], me["role"], me["name"]) == ("lee@example.com", "lead", "Lee")

    duplicate = runner.invoke(main, ["user", "add", "lee@example.com", "--role", "agent"])
    assert duplicate.exit_code == 1
    assert "error [user_exists]" in duplicate.output
    bad_role = runner.invoke(main, ["user", "add", "x@example.com", "--role", "king"])
    assert bad_role.exit_code == 2 and "king" in bad_role.output
    bad_email = runner.invoke(main, ["user", "add", "not-an-email", "--role", "agent"])
    assert bad_email.exit_code == 1 and "invalid_email" in bad_email.output


def test_commands_refuse_an_outdated_schema_and_name_the_fix(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["user", "add", "a@b.co", "--role", "agent"])
    assert result.exit_code == 2
    assert "schema_outdated" in result.output and "ombud db upgrade" in result.output


def test_serve_refuses_to_start_on_an_outdated_schema(env: dict[str, str]) -> None:
    completed = subprocess.run(  # a real process: the check must happen before anything listens
        [OMBUD, "serve", "--port", "0"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "ombud db upgrade" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_serve_without_worker_on_a_local_queue_warns_about_live_chat(env: dict[str, str]) -> None:
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    server = subprocess.Popen(
        [OMBUD, "serve", "--no-worker", "--port", "0", "--smtp-port", "0", "--no-imap"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline()  # printed before anything listens
    finally:
        server.terminate()  # our own child, by its handle
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()
    assert first.startswith("warning: jobs run in other processes") and "OMBUD_QUEUE_URL=redis" in first


def test_bad_database_url_is_a_clear_error(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["db", "upgrade", "--database", "mysql://nope"])
    assert result.exit_code == 2
    assert "SQLite and PostgreSQL" in result.output


def test_customer_token_gives_portal_access(env: dict[str, str]) -> None:
    runner = CliRunner()
    runner.invoke(main, ["db", "upgrade"])
    result = runner.invoke(main, ["customer", "token", "Maria@Example.com"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("omb_")


def test_settings_lists_every_setting_with_description(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["settings"])
    assert result.exit_code == 0
    for name, field in Settings.model_fields.items():
        assert f"OMBUD_{name.upper()}" in result.output
        assert field.description and field.description in result.output


def test_invalid_setting_is_reported(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMBUD_PORT", "eighty")
    result = CliRunner().invoke(main, ["settings"])
    assert result.exit_code == 1
    assert "OMBUD_" in result.output or "port" in result.output
