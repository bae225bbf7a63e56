"""The negotiation helper: the smallest remedy that fits the case and the policy, with the alternatives.

Each intent has a ladder of remedies, ordered as a seasoned representative would offer them: what fixes the
problem itself (a replacement, an expedited repair, a refunded shipping fee) before goods are taken back,
and store credit before cash. Every rung is checked against the policy for this agent and this customer;
the first one the agent may grant now is the suggestion.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.orm import Session

from ombud.accounts.schemas import Principal
from ombud.customers import purchases
from ombud.errors import InvalidInput
from ombud.resolutions import currencies as money
from ombud.resolutions import policies, service
from ombud.resolutions import policy as rules
from ombud.resolutions.schemas import Option, Suggestion
from ombud.storage.base import utcnow
from ombud.tickets import concerns
from ombud.tickets import service as tickets


@dataclass(frozen=True)
class Rung:
    kind: str
    basis: str  # "purchase", "shipping", "credit_share", "partial_share" or "goodwill"
    label: str
    reasons: tuple[str, ...]  # the policy reasons it fits, most fitting first


_LATE = ("late_delivery", "delivery_problem", "service_failure")
_FAULTY = ("damaged", "faulty", "defective", "wrong_item", "product_fault")
_BILLING = ("billing_error", "double_charge", "overcharge")
_SERVICE = ("service_failure", "goodwill", "complaint")
_RETURN = ("changed_mind", "return", "cancellation", "service_failure")

LADDERS: dict[str, tuple[Rung, ...]] = {
    "delivery_late": (
        Rung("credit", "shipping", "Store credit worth the shipping fee", _LATE),
        Rung("partial_refund", "shipping", "Refund the shipping fee", _LATE),
        Rung("coupon", "credit_share", "A coupon for the next order", _LATE),
        Rung("refund", "purchase", "Full refund", _LATE),
    ),
    "damaged_or_wrong_item": (
        Rung("replacement", "purchase", "Send a replacement (exchange)", _FAULTY),
        Rung("partial_refund", "partial_share", "Keep it with a partial refund", _FAULTY),
        Rung("return", "purchase", "Take it back (return with RMA) and refund", _FAULTY),
        Rung("refund", "purchase", "Full refund", _FAULTY),
    ),
    "warranty_repair": (
        Rung("repair", "partial_share", "Expedited repair", _FAULTY),
        Rung("replacement", "purchase", "Replacement", _FAULTY),
        Rung("partial_refund", "partial_share", "Partial refund", _FAULTY),
        Rung("refund", "purchase", "Full refund", _FAULTY),
    ),
    "charge_dispute": (
        Rung("billing_correction", "purchase", "Correct the bill", _BILLING),
        Rung("refund", "purchase", "Refund the charge", _BILLING),
    ),
    "return_request": (
        Rung("return", "purchase", "Return with RMA", _RETURN),
        Rung("refund", "purchase", "Refund", _RETURN),
    ),
    "discount_or_price": (
        Rung("coupon", "credit_share", "A coupon for the next order", _SERVICE),
        Rung("credit", "credit_share", "Store credit", _SERVICE),
        Rung("partial_refund", "credit_share", "Refund the difference", _SERVICE),
    ),
}
LADDERS["technical_problem"] = LADDERS["warranty_repair"]
LADDERS["payment_failed"] = LADDERS["charge_dispute"]
LADDERS["invoice_request"] = LADDERS["charge_dispute"]
LADDERS["refund_status"] = LADDERS["return_request"]
LADDERS["cancel_order"] = LADDERS["return_request"]
LADDERS["subscription_cancel"] = LADDERS["return_request"]
DEFAULT_LADDER = (
    Rung("goodwill", "goodwill", "A goodwill gesture", _SERVICE),
    Rung("coupon", "goodwill", "A coupon", _SERVICE),
    Rung("credit", "credit_share", "Store credit", _SERVICE),
)


def suggest(
    *,
    session: Session,
    principal: Principal,
    ticket_id: int,
    concern_id: int | None = None,
    purchase_id: int | None = None,
) -> Suggestion:
    """Return the remedies that fit the ticket (or one concern), each checked for ``principal`` now."""
    role = service.granting_role(principal)
    ticket = tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    _row, policy = policies.require_policy(session=session)
    intent = None
    if concern_id is not None:
        concern = concerns.access_concern(session=session, principal=principal, concern_id=concern_id)
        if concern.ticket_id != ticket.id:
            raise InvalidInput(
                f"concern {concern_id} is not on ticket {ticket.id}", code="concern_not_on_ticket"
            )
        intent = concern.intent
    intent = intent or service.ticket_intent(session=session, ticket=ticket)
    bought = _purchase(session=session, customer_id=ticket.customer_id, purchase_id=purchase_id)
    currency, price = _price(policy, bought)
    now = utcnow()
    options: list[Option] = []
    for rung in LADDERS.get(intent or "", DEFAULT_LADDER):
        amount = _amount(policy, rung.basis, price, currency)
        if amount is None:
            continue
        reason = next((r for r in rung.reasons if r in policy.reasons), next(iter(policy.reasons)))
        verdict = service.check_for(
            session=session,
            policy=policy,
            role=role,
            customer_id=ticket.customer_id,
            kind=rung.kind,
            amount=amount,
            currency=currency,
            reason=reason,
            purchased_at=bought.purchased_at if bought is not None else None,
            now=now,
        )
        if verdict.within:
            why = [f"within your limit of {verdict.limit} {policy.base_currency} for {rung.kind}"]
            word = "now"
        else:
            why = [f.message for f in verdict.failures]
            if verdict.second_person:
                why.append(f"the reason “{policy.reasons[reason].label}” needs a second person's approval")
            word = "approval"
        options.append(
            Option(
                kind=rung.kind,
                amount=amount,
                currency=currency,
                reason=reason,
                label=rung.label,
                verdict=word,
                why=why,
            )
        )
    best = next((o for o in options if o.verdict == "now"), None) or next(iter(options), None)
    return Suggestion(
        ticket_id=ticket.id,
        concern_id=concern_id,
        intent=intent,
        purchase_id=bought.id if bought is not None else None,
        best=best,
        options=options,
    )


def _purchase(*, session: Session, customer_id: int, purchase_id: int | None) -> Any:
    owned = purchases.list_purchases(session=session, customer_id=customer_id)
    if purchase_id is not None:
        bought = next((p for p in owned if p.id == purchase_id), None)
        if bought is None:
            raise InvalidInput(f"the customer has no purchase with id {purchase_id}", code="unknown_purchase")
        return bought
    # The newest purchase with an amount is the likeliest subject of a complaint.
    return next((p for p in owned if p.amount is not None), None)


def _price(policy: rules.Policy, bought: Any) -> tuple[str, Decimal | None]:
    """Return the currency the remedies are offered in and the purchase's price in it (None: unknown)."""
    if bought is None or bought.amount is None:
        return policy.base_currency, None
    if bought.currency in policy.rates:
        return bought.currency, Decimal(str(bought.amount))
    if bought.currency is None:
        return policy.base_currency, Decimal(str(bought.amount))
    # Bought in a currency the policy does not take: offer in the base currency, fixed amounts only.
    return policy.base_currency, None


def _amount(policy: rules.Policy, basis: str, price: Decimal | None, currency: str) -> Decimal | None:
    helper = policy.helper
    if basis == "purchase":
        value = price
    elif basis in ("credit_share", "partial_share"):
        share = helper.credit_share if basis == "credit_share" else helper.partial_share
        value = None if price is None else price * share
    else:
        fixed = helper.shipping if basis == "shipping" else helper.goodwill
        # Fixed amounts are in the base currency.
        value = fixed / policy.rates[currency]
    if value is None or value <= 0:
        return None
    quantum = Decimal(1).scaleb(-money.minor_units(currency))
    return value.quantize(quantum, rounding=ROUND_HALF_UP)
