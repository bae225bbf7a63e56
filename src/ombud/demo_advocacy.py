"""The demo's advocacy set-up: the departments that can fix causes, and one case already under way.

The demo's four "AirBrew 2 app update" tickets (``demo.SYSTEMIC``) are one problem many customers share;
the case taking it to engineering is opened by hand here, because themes appear only once triage and
theming have run in the background after the demo is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from ombud.accounts.models import Role, User
from ombud.accounts.schemas import Principal
from ombud.advocacy import cases, departments
from ombud.advocacy.case_schemas import CaseIn
from ombud.advocacy.models import CaseStatus

DEPARTMENTS = (
    (
        "App and firmware",
        "engineering",
        "The AirBrew and HomeHub apps, device firmware and the accounts they sign in with.",
        "engineering@demo.ombud.test",
        ["technical_problem", "account_access"],
    ),
    (
        "Billing",
        "billing",
        "Charges, payments, invoices and refunds.",
        "billing@demo.ombud.test",
        ["charge_dispute", "payment_failed", "invoice_request", "refund_status"],
    ),
    (
        "Logistics",
        "logistics",
        "Warehouses, carriers and deliveries.",
        "logistics@demo.ombud.test",
        ["order_status", "delivery_late", "damaged_or_wrong_item", "change_order_or_address"],
    ),
    (
        "Returns and warranty policy",
        "policy",
        "What the returns, warranty and price policies allow.",
        "policy@demo.ombud.test",
        ["return_request", "warranty_repair", "discount_or_price"],
    ),
)

WORKAROUND = (
    "Until the fix is out: sign in again once, then set the schedule on the machine itself (hold the "
    "clock button for three seconds); a schedule set on the machine is kept even when the app logs out."
)


def load_advocacy(
    *, session: Session, advocate: User, lead: User, systemic_ticket_ids: Sequence[int]
) -> None:
    """Create the demo departments (owned by the lead) and the open, acknowledged AirBrew 2 case."""
    principal = Principal(kind="user", id=advocate.id, role=Role.advocate)
    made = {}
    for name, kind, description, email, intents in DEPARTMENTS:
        made[name] = departments.create_department(
            session=session,
            principal=principal,
            fields={
                "name": name,
                "kind": kind,
                "description": description,
                "notify_email": email,
                "intents": intents,
                "owner_ids": [lead.id],
            },
        )
    case = cases.open_case(
        session=session,
        principal=principal,
        data=CaseIn(
            title="AirBrew 2 app update logs customers out and empties their schedules",
            summary=(
                "Since the latest AirBrew 2 app update, customers on every channel report being signed out "
                "each time they open the app, and their brewing schedules are gone."
            ),
            department_id=made["App and firmware"].id,
            workaround=WORKAROUND,
            ticket_ids=list(systemic_ticket_ids),
        ),
    )
    cases.transition(session=session, principal=principal, case_id=case.id, status=CaseStatus.acknowledged)
