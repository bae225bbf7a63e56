"""ISO 4217 currencies and their minor units, and exact conversion of amounts to minor units (cents)."""

from __future__ import annotations

from decimal import Decimal

from ombud.errors import InvalidInput

# ISO 4217 (active codes for money, not funds or metals) with their minor units; 2 unless listed.
_ISO_4217 = (  # noqa: SIM905  # a table to read, not a list to scroll
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD "
    "GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT "
    "LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR "
    "NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP "
    "STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF "
    "XPF YER ZAR ZMW ZWL"
).split()
_ZERO_DECIMALS = frozenset("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split())  # noqa: SIM905
_THREE_DECIMALS = frozenset("BHD IQD JOD KWD LYD OMR TND".split())  # noqa: SIM905
CURRENCIES: dict[str, int] = {
    code: 0 if code in _ZERO_DECIMALS else 3 if code in _THREE_DECIMALS else 2 for code in _ISO_4217
}


def minor_units(currency: str) -> int:
    """Return how many decimals the ISO 4217 currency has; InvalidInput for an unknown code."""
    try:
        return CURRENCIES[currency]
    except KeyError:
        raise InvalidInput(
            f"{currency!r} is not an ISO 4217 currency code (e.g. EUR, USD, GBP)", code="invalid_currency"
        ) from None


def to_minor(amount: Decimal, currency: str) -> int:
    """Return ``amount`` in the currency's minor units; InvalidInput if it has more decimals than that."""
    exponent = minor_units(currency)
    scaled = amount.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise InvalidInput(
            f"{currency} amounts have at most {exponent} decimals; {amount} has more", code="invalid_amount"
        )
    return int(scaled)


def from_minor(value: int, currency: str) -> Decimal:
    exponent = CURRENCIES.get(currency, 2)
    return Decimal(value).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))
