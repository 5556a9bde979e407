"""Every date field of every form is pre-filled in the one format <input type="date"> accepts
(ISO), in both languages: with the locale's format (zh-hans: 2026/12/06) the browser shows an
empty field, and saving the form again would clear the date."""

import datetime
import importlib
import pkgutil

import pytest
from django import forms
from django.utils import translation

PROJECT_APPS = ("accounts", "api", "approvals", "audit", "auditor", "claims", "notifications", "payments", "workflow")


def _project_forms() -> list[type[forms.BaseForm]]:
    for app in PROJECT_APPS:
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, f"{app}."):
            if ".migrations" not in module.name and ".management" not in module.name:
                importlib.import_module(module.name)
    found, pending = [], [forms.BaseForm]
    while pending:
        for subclass in pending.pop().__subclasses__():
            pending.append(subclass)
            if subclass.__module__.split(".")[0] in PROJECT_APPS:
                found.append(subclass)
    return found


def _date_inputs() -> list[tuple[str, forms.Widget]]:
    inputs = []
    for form in _project_forms():
        for name, field in getattr(form, "base_fields", {}).items():
            if getattr(field.widget, "input_type", None) == "date":
                inputs.append((f"{form.__module__}.{form.__name__}.{name}", field.widget))
    return inputs


def test_the_forms_of_every_app_are_found():
    names = {name for name, _widget in _date_inputs()}
    # One of each app's pages with a date field: the check below covers them all.
    for expected in (
        "auditor.views.PackageForm.date_from",
        "claims.catalogue_views.VersionForm.valid_from",
        "payments.forms_results.ReceiptForm.received_on",
        "approvals.forms.DelegationForm.starts_on",
    ):
        assert expected in names, sorted(names)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_date_input_is_pre_filled_in_iso_in_both_languages(language):
    day = datetime.date(2026, 12, 6)
    with translation.override(language):
        shown = {name: widget.format_value(day) for name, widget in _date_inputs()}
    assert shown and all(value == "2026-12-06" for value in shown.values()), shown
