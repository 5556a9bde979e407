"""Form widgets the pages of every app share: one definition of each."""

import functools

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

# An <input type="date"> takes its value in ISO (yyyy-mm-dd) only, whatever the page's language.
# Without this format Django pre-fills the locale's first input format (zh-hans: 2026/12/06),
# which the browser drops, showing an empty field that the next save would clear.
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


# --- widgets a page shows thousands of ------------------------------------------------------
# A reviewer's decision form holds two selects a line and a "fix this line" box a line: 4,000
# selects and 2,000 boxes on a claim of 2,000 lines. Django renders each widget (and each box of
# a multiple choice) through the template engine, about 4 ms apiece here: 17 s for the page. These
# render the same markup in Python, each distinct list of options once per process.


@functools.lru_cache(maxsize=64)
def _options(choices: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str, str], ...]:
    """Each option as (value, its markup, its markup selected). Keyed by the options' text, so a
    list in another language is another entry."""
    return tuple(
        (
            value,
            format_html('<option value="{}">{}</option>', value, label),
            format_html('<option value="{}" selected>{}</option>', value, label),
        )
        for value, label in choices
    )


def _flat_choices(widget: forms.Select | forms.CheckboxSelectMultiple) -> tuple[tuple[str, str], ...]:
    """The widget's options as text (the labels may be lazy: their text is this request's language)."""
    return tuple((str(value), str(label)) for value, label in widget.choices)


class ManySelect(forms.Select):
    """A single <select> of flat options (no groups), rendered without the template engine."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = set(self.format_value(value))
        options, selected = [], False
        for option_value, plain, marked in _options(_flat_choices(self)):
            # Like Django's Select: only the first option of the value is selected.
            take = not selected and option_value in chosen
            selected = selected or take
            options.append(marked if take else plain)
        return format_html(
            '<select name="{}"{}>{}</select>', name, flatatt(self.build_attrs(self.attrs, attrs)), mark_safe("".join(options))
        )


class ManyCheckboxes(forms.CheckboxSelectMultiple):
    """Boxes of a multiple choice, each in its own <label class="choice">, rendered without the
    template engine; ids as Django gives them (the field's id, then _0, _1, …)."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = set(self.format_value(value))
        base_id = self.build_attrs(self.attrs, attrs).get("id", "")
        return format_html_join(
            "",
            '<label class="choice"><input type="checkbox" name="{}" value="{}"{}{}> {}</label>',
            (
                (
                    name,
                    option_value,
                    format_html(' id="{}_{}"', base_id, index) if base_id else "",
                    mark_safe(" checked") if option_value in chosen else "",
                    label,
                )
                for index, (option_value, label) in enumerate(_flat_choices(self))
            ),
        )
