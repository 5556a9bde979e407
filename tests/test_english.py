"""What someone who chose English reads: every list our forms offer, the task page's reason
lists, and how each line's amount was computed, in English. A list declared on a form class is
built when the page is shown (one formatted at import stayed in Chinese whatever the language);
a line keeps its explanation in both languages, as a flag keeps its message."""

import importlib
import pkgutil
import re

import pytest
from django import forms
from django.test import Client
from django.urls import reverse
from django.utils import translation

from claims.models import ClaimLine, Jurisdiction
from claims.services import create_claim
from workflow.disbursement import build_batch
from workflow.services import submit_claim

from .api_support import login, ok
from .conftest import claim_data, line, resident_id
from .payments_support import approved_claim, open_task_id

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


# --------------------------------------------------------------------------- a line's explanation

CAPPED_ZH, CAPPED_EN = "S3 v2 高级工 ≤500，实际费用 450 → 450", "S3 v2 Senior ≤500, actual cost 450 → 450"
UNCAPPED_ZH, UNCAPPED_EN = "S3 v2 高级工 ≤500，未填实际费用 → 按上限 500", "S3 v2 Senior ≤500, no actual cost given → the cap 500"


def lines_of_each_kind() -> list[dict]:
    """Priced at the cap with its cost, at the cap without one, at nothing (a level S3 does not
    cover), and at its cost."""
    return [
        line(resident_id(1), "张三"),
        line(resident_id(2), "李四", certificate_number="T-2026-0002", stated_cost=None),
        line(resident_id(3), "王五", certificate_number="T-2026-0003", level="technician"),
        line(resident_id(4), "赵六", certificate_number="T-2026-0004", stated_cost="300.00"),
    ]


def test_a_claim_made_in_chinese_explains_its_lines_in_english_to_who_reads_english(demo):
    claim = create_claim(user=demo["provider_clerk"], data=claim_data(lines=lines_of_each_kind()[:1]))

    page = english_client(demo["provider_clerk"]).get(reverse("approvals:claim", args=[claim.pk])).content.decode()
    assert CAPPED_EN in page and CAPPED_ZH not in page
    chinese_page = Client()
    chinese_page.force_login(demo["provider_clerk"])
    assert CAPPED_ZH in chinese_page.get(reverse("approvals:claim", args=[claim.pk])).content.decode()

    # The API answers in the request's language, as it does a flag's message.
    api = login("provider_clerk")
    assert ok(api.get(f"/api/v1/claims/{claim.pk}/", HTTP_ACCEPT_LANGUAGE="en"))["lines"][0]["explanation"] == CAPPED_EN
    assert ok(api.get(f"/api/v1/claims/{claim.pk}/"))["lines"][0]["explanation"] == CAPPED_ZH


def test_lines_priced_before_the_english_was_kept_get_it_where_pricing_again_gives_their_chinese(transactional_db, demo):
    """claims/0020: a line's English is its pricing flag's, or the pricing again of what it holds
    when that gives its Chinese word for word; any other line is shown in Chinese."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    claim = create_claim(user=demo["provider_clerk"], data=claim_data(lines=lines_of_each_kind()))
    before = ("claims", "0019_drop_trainee_name")
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([before])
    try:
        old_line = executor.loader.project_state([before]).apps.get_model("claims", "ClaimLine")
        # A line whose explanation no pricing writes (demo/load.py's, say).
        old_line.objects.filter(claim_id=claim.pk, line_no=4).update(explanation="S3 v2：300")
    finally:
        MigrationExecutor(connection).migrate(latest)

    lines = {line.line_no: line for line in ClaimLine.objects.filter(claim=claim)}
    assert (lines[1].explanation_en, lines[2].explanation_en) == (CAPPED_EN, UNCAPPED_EN)
    assert lines[3].explanation_en == lines[3].flags[0]["message_en"] == "S3 v2 does not cover this level (Technician)."
    assert lines[4].explanation_en == ""
    with translation.override("en"):
        assert lines[4].localized_explanation == "S3 v2：300"


def test_a_page_about_one_batch_or_one_claim_is_headed_in_the_singular(demo):
    """Chinese says 拨付批次 and 申领 for one or many; English heads the list "Payment batches"
    and "Claims", and the page of one "Payment batch PB-…" and "Claim WL-…"."""
    claim = approved_claim(demo, serials=(91,))
    batch = build_batch(actor=demo["finance_officer"], jurisdiction=Jurisdiction.objects.get(code="WL"))
    headings = {
        "finance_officer2": (reverse("payments:batch", args=[batch.pk]), f"Payment batch {batch.number}"),
        "auditor": (reverse("audit:timeline", args=[claim.pk]), f"Claim {claim.number}"),
        "provider_clerk": (reverse("approvals:claim", args=[claim.pk]), f"Claim {claim.number}"),
    }
    for username, (path, heading) in headings.items():
        html = english_client(demo[username]).get(path).content.decode()
        h1 = " ".join(re.sub(r"<[^>]+>", " ", re.search(r"<h1>(.*?)</h1>", html, re.S).group(1)).split())
        assert h1.startswith(heading), (username, h1)
