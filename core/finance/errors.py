"""Errors of the finance domain. Subclasses of the shared domain errors, so the faces map them without knowing them."""

from __future__ import annotations

from core.errors import DomainError, ValidationFailed


class InvalidCurrency(ValidationFailed):
    def __init__(self, currency: object) -> None:
        super().__init__("finance.currency_invalid", f"unknown currency code: {currency!r}")
        self.currency = currency


class CurrencyMismatch(ValidationFailed):
    def __init__(self, left: str, right: str) -> None:
        super().__init__("finance.currency_mismatch", f"amounts in {left} and {right} cannot be combined")


class AmountOutOfRange(ValidationFailed):
    def __init__(self, message: str = "amount does not fit a signed 64-bit count of minor units") -> None:
        super().__init__("finance.amount_out_of_range", message)


class AmountTooPrecise(ValidationFailed):
    def __init__(self, currency: str, exponent: int) -> None:
        super().__init__(
            "finance.amount_too_precise", f"{currency} amounts have at most {exponent} digits after the point"
        )


class AmountUnreadable(ValidationFailed):
    def __init__(self, message: str = "not an amount") -> None:
        super().__init__("finance.amount_unreadable", message)


class InvalidRate(ValidationFailed):
    def __init__(self, message: str = "an exchange rate is a positive finite decimal") -> None:
        super().__init__("finance.rate_invalid", message)


class RateMissing(ValidationFailed):
    """No rate of `currency` on or before the entry's date; carries both codes, so a face can say how to add one."""

    def __init__(self, currency: str, base_currency: str) -> None:
        super().__init__("finance.rate_missing", f"Enter a rate of {currency} to {base_currency} for this date first")
        self.currency = currency
        self.base_currency = base_currency


class RateUnreadable(ValidationFailed):
    def __init__(self, text: str) -> None:
        super().__init__("finance.rate_unreadable", f"not an exchange rate: {text!r}")


class DateUnreadable(ValidationFailed):
    def __init__(self, text: str) -> None:
        super().__init__("finance.date_unreadable", f"not a date: {text!r}")


class RateEntryUnreadable(ValidationFailed):
    """A rate command without a currency and a rate, or with words besides them and a date."""

    def __init__(self) -> None:
        super().__init__("finance.rate_entry_unreadable", "a rate entry is a currency, a rate and an optional date")


class ChartUnavailable(DomainError):
    """A chart could not be drawn in the time allowed; the faces answer that the chart is busy, not a 500."""

    status_hint = 503

    def __init__(self, message: str = "the chart took too long to draw") -> None:
        super().__init__("finance.chart_unavailable", message)
