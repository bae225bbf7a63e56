"""Server-rendered pages. The agent workspace and the customer portal come with their own issue; for now
the start page says what is running and where to go."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from ombud import __version__
from ombud.channels.form import service as form_channel
from ombud.errors import OmbudError
from ombud.runtime import Runtime
from ombud.tickets.service import NewAttachment, check_attachment_count, check_attachment_size
from ombud.web.api.forms import submit_form

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    database = request.app.state.runtime.database.dialect
    return HTMLResponse(TEMPLATES.get_template("index.html").render(version=__version__, database=database))


@router.get("/contact", response_class=HTMLResponse)
def contact_form() -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template("contact.html").render(form={}, reference=None))


@router.post("/contact", response_class=HTMLResponse)
async def contact_submit(
    request: Request,
    email: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    website: Annotated[str, Form()] = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> HTMLResponse:
    """The form's post: the confirmation with the ticket reference, or the form again with what to fix."""
    runtime: Runtime = request.app.state.runtime
    values = {"name": name, "email": email, "subject": subject, "message": message}
    uploads = [upload for upload in files or [] if upload.filename]
    try:
        form = form_channel.ContactForm(
            name=name or None, email=email, subject=subject, message=message, website=website
        )
        attachments = await _read_uploads(uploads, runtime)
        submitted = await run_in_threadpool(submit_form, runtime, form, attachments, _client(request))
    except ValidationError as error:
        first = error.errors()[0]
        problem = f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
        return _form_again(values, problem, 422)
    except OmbudError as error:
        return _form_again(values, error.message, error.status)
    page = TEMPLATES.get_template("contact.html").render(
        form=values, reference=submitted.reference, email=email
    )
    return HTMLResponse(page, status_code=201)


def _form_again(values: dict[str, str], error: str, status: int) -> HTMLResponse:
    page = TEMPLATES.get_template("contact.html").render(form=values, reference=None, error=error)
    return HTMLResponse(page, status_code=status)


async def _read_uploads(uploads: list[UploadFile], runtime: Runtime) -> list[NewAttachment]:
    limits = runtime.limits
    check_attachment_count(len(uploads), limits)
    read = []
    for position, upload in enumerate(uploads):
        # Never more than one byte over the limit in memory: enough to know it is too large.
        content = await upload.read(limits.max_attachment_bytes + 1)
        filename = (upload.filename or "file")[:255]
        check_attachment_size(filename, len(content), position, limits)
        read.append(
            NewAttachment(
                filename=filename,
                content_type=upload.content_type or "application/octet-stream",
                content=content,
            )
        )
    return read


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def render_error(*, status: int, code: str, message: str) -> str:
    return TEMPLATES.get_template("error.html").render(status=status, code=code, message=message)
