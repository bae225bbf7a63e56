"""What every `ombud` command shares: settings read once, the --database option, friendly errors."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ombud.errors import OmbudError
from ombud.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings().with_overrides(**overrides)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise click.ClickException(f"invalid OMBUD_* setting: {exc}") from None


def friendly(fn: F) -> F:
    """Turn OmbudError into a one-line message and exit status 1 (2 for configuration errors)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OmbudError as exc:
            click.echo(f"error [{exc.code}]: {exc.message}", err=True)
            sys.exit(2 if exc.status >= 500 else 1)
        except (click.ClickException, click.exceptions.Exit, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            logging.getLogger("ombud.cli").debug("unexpected error", exc_info=True)
            click.echo(
                f"error [internal_error]: {type(exc).__name__}: {exc}\n"
                "Run again with OMBUD_LOG_LEVEL=debug for details, and report it if it keeps happening.",
                err=True,
            )
            sys.exit(3)

    return wrapper  # type: ignore[return-value]


database_option = click.option(
    "--database", "database_url", metavar="URL", help="Database URL (overrides OMBUD_DATABASE_URL)."
)
