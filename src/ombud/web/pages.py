"""Server-rendered pages. The agent workspace and the customer portal come with their own issue; for now
the start page says what is running and where to go."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ombud import __version__

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    database = request.app.state.runtime.database.dialect
    return HTMLResponse(TEMPLATES.get_template("index.html").render(version=__version__, database=database))


def render_error(*, status: int, code: str, message: str) -> str:
    return TEMPLATES.get_template("error.html").render(status=status, code=code, message=message)
