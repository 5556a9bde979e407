"""Texts kept in both languages: a flag's message and message_en, a line's explanation and
explanation_en, a roster error's. Written once in each, from one Chinese msgid; read in the
language of the page or the API request."""

from collections.abc import Callable

from django.utils import translation


def in_both_languages(render: Callable[[], str]) -> tuple[str, str]:
    """``render`` (which uses gettext) called once in Chinese and once in English."""
    with translation.override("zh-hans"):
        chinese = str(render())
    with translation.override("en"):
        english = str(render())
    return chinese, english


def in_active_language(chinese: str, english: str) -> str:
    """The text in the active language: Chinese unless English is active; a text kept before its
    English was (empty) is shown in Chinese."""
    if (translation.get_language() or "").startswith("en"):
        return english or chinese
    return chinese
