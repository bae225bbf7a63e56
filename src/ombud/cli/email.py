"""`ombud email`: look inside an email the way the email channel reads it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ombud.channels.email.parse import parse_email
from ombud.cli.common import friendly


@click.group()
def email() -> None:
    """The email channel."""


@email.command("parse")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True))
@click.option("--max-bytes", type=click.IntRange(1), default=50 * 1024 * 1024, show_default=True)
@friendly
def parse(path: Path, max_bytes: int) -> None:
    """Print what ombud reads in the email FILE.eml (- for standard input) as one JSON object: from, to,
    cc, subject, message_id, in_reply_to, references, new_text, text, html (sanitised), attachments and
    auto_reply."""
    if str(path) == "-":
        raw = sys.stdin.buffer.read(max_bytes + 1)
    else:
        try:
            with path.open("rb") as handle:
                raw = handle.read(max_bytes + 1)
        except OSError as error:
            raise click.ClickException(f"cannot read {path}: {error.strerror or error}") from None
    if len(raw) > max_bytes:
        raise click.ClickException(f"{path} is over {max_bytes} bytes; raise --max-bytes to read it")
    click.echo(json.dumps(parse_email(raw).summary(), ensure_ascii=False, indent=2))
