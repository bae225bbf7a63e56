"""Imports every domain's models so that the metadata (for migrations and tests) knows every table."""

from __future__ import annotations

from ombud.accounts import models as accounts_models
from ombud.advocacy import models as advocacy_models
from ombud.assist import models as assist_models
from ombud.audit import models as audit_models
from ombud.automations import models as automations_models
from ombud.channels import models as channels_models
from ombud.customers import models as customers_models
from ombud.events import models as events_models
from ombud.imports import models as imports_models
from ombud.knowledge import models as knowledge_models
from ombud.partners import models as partners_models
from ombud.people import models as people_models
from ombud.people import training_models as people_training_models
from ombud.reports import models as reports_models
from ombud.resolutions import models as resolutions_models
from ombud.routing import models as routing_models
from ombud.sla import models as sla_models
from ombud.storage.base import Base
from ombud.tickets import models as tickets_models
from ombud.tickets import surveys as tickets_surveys
from ombud.triage import models as triage_models
from ombud.webhooks import models as webhooks_models

metadata = Base.metadata

__all__ = [
    "accounts_models",
    "advocacy_models",
    "assist_models",
    "audit_models",
    "automations_models",
    "channels_models",
    "customers_models",
    "events_models",
    "imports_models",
    "knowledge_models",
    "metadata",
    "partners_models",
    "people_models",
    "people_training_models",
    "reports_models",
    "resolutions_models",
    "routing_models",
    "sla_models",
    "tickets_models",
    "tickets_surveys",
    "triage_models",
    "webhooks_models",
]
