"""What someone who chose English reads: every list our forms offer, and the task page's reason
lists, in English. A list declared on a form class is built when the page is shown; one
formatted at import (an f-string over lazy labels) stayed in Chinese whatever the language."""

import importlib
import pkgutil
import re

import pytest
from django import forms
from django.test import Client
from django.urls import reverse
from django.utils import translation

from claims.services import create_claim
from workflow.services import submit_claim

from .conftest import claim_data
from .payments_support import open_task_id

pytestmark = pytest.mark.usefixtures("celery_eager")

CJK = re.compile(r"[\u4e00-\u9fff]")
APPS = (
    "accounts",
    "api",
    "approvals",
    "audit",
    "auditor",
    "claims",
    "config",
    "demo",
    "due",
    "notifications",
    "payments",
    "workflow",
)


def english_client(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def select_options(html: str, name: str) -> list[str]:
    match = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert match, f"no select {name}"
    return [re.sub(r"<[^>]+>", "", option).strip() for option in re.findall(r"<option[^>]*>(.*?)</option>", match.group(1), re.S)]


def test_the_task_pages_reason_lists_are_english_in_english(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data())
    submit_claim(user=demo["provider_clerk"], claim=claim)
    page = english_client(demo["dept_reviewer"]).get(reverse("approvals:task", args=[open_task_id(claim)])).content.decode()

    claim_reasons = select_options(page, "reason")
    assert "E2 More than 3 subsidies per person per year" in claim_reasons, claim_reasons
    for name in ("reason", "line_1_reason", "line_1_decision"):
        assert not [label for label in select_options(page, name) if CJK.search(label)], name


def our_form_classes() -> list[type]:
    for app in APPS:
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, f"{app}."):
            if ".migrations" not in module.name and ".management" not in module.name:
                importlib.import_module(module.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return sorted(
        {cls for cls in subclasses(forms.BaseForm) if cls.__module__.split(".")[0] in APPS},
        key=lambda cls: (cls.__module__, cls.__name__),
    )


def test_every_list_a_form_of_ours_declares_is_english_in_english():
    """The choices of every choice field declared on a form class (lists built in __init__ are
    built for the request, in its language; a model's rows are data, not our words)."""
    chinese = []
    with translation.override("en"):
        for form_class in our_form_classes():
            for name, field in form_class.base_fields.items():
                if not isinstance(field, forms.ChoiceField) or isinstance(field, forms.ModelChoiceField):
                    continue
                for _value, label in field.choices:
                    labels = [text for _v, text in label] if isinstance(label, list | tuple) else [label]
                    chinese += [f"{form_class.__name__}.{name}: {text}" for text in map(str, labels) if CJK.search(text)]
    assert not chinese, "\n".join(chinese)
