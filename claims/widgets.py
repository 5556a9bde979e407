"""Form widgets the pages of every app share: one definition of each."""

from django import forms

# An <input type="date"> takes its value in ISO (yyyy-mm-dd) only, whatever the page's language.
# Without this format Django pre-fills the locale's first input format (zh-hans: 2026/12/06),
# which the browser drops, showing an empty field that the next save would clear.
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
