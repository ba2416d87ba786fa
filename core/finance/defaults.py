"""What a new personal family starts with, in the language of the person it is made for."""

from __future__ import annotations

# (kind, name, emoji)
_CATEGORIES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "en": (
        ("expense", "Groceries", "🛒"),
        ("expense", "Cafe", "☕"),
        ("expense", "Transport", "🚕"),
        ("expense", "Home", "🏠"),
        ("expense", "Health", "💊"),
        ("expense", "Clothes", "👕"),
        ("expense", "Entertainment", "🎬"),
        ("expense", "Other", "📦"),
        ("income", "Salary", "💼"),
        ("income", "Other income", "💰"),
    ),
    "ru": (
        ("expense", "Продукты", "🛒"),
        ("expense", "Кафе", "☕"),
        ("expense", "Транспорт", "🚕"),
        ("expense", "Дом", "🏠"),
        ("expense", "Здоровье", "💊"),
        ("expense", "Одежда", "👕"),
        ("expense", "Развлечения", "🎬"),
        ("expense", "Другое", "📦"),
        ("income", "Зарплата", "💼"),
        ("income", "Другой доход", "💰"),
    ),
}
# Words quick entry should file without any history: keyword -> index into the categories above.
_ALIASES: dict[str, dict[str, int]] = {
    "en": {"coffee": 1, "cafe": 1, "lunch": 1, "taxi": 2, "bus": 2, "groceries": 0, "food": 0, "salary": 8, "rent": 3},
    "ru": {"кофе": 1, "обед": 1, "такси": 2, "автобус": 2, "продукты": 0, "еда": 0, "зарплата": 8, "аренда": 3},
}
_NAMES = {"en": ("My household", "Cash"), "ru": ("Моя семья", "Наличные")}


def language_of(language: str | None) -> str:
    return language if language in _CATEGORIES else "en"


def default_categories(language: str | None) -> tuple[tuple[str, str, str], ...]:
    return _CATEGORIES[language_of(language)]


def default_aliases(language: str | None) -> dict[str, int]:
    return _ALIASES[language_of(language)]


def family_name(language: str | None) -> str:
    return _NAMES[language_of(language)][0]


def cash_account_name(language: str | None) -> str:
    return _NAMES[language_of(language)][1]
