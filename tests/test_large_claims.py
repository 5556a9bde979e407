"""A claim of hundreds of lines on its pages (issue 15): the reviewer sees the sums by standard
and level at the top, the flagged lines first, the other lines folded away, the decision one
link away; the page says why the HR head must approve it (the jurisdiction's threshold) and
shows what was claimed beside what is approved; and the page costs the same number of queries
for 2 lines as for 200."""

import gzip
import json
import re

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from claims.models import Claim, Jurisdiction
from claims.services import create_claim
from workflow import selectors as inbox
from workflow.services import LineDecisionInput, decide_task, submit_claim

from .api_support import login
from .conftest import claim_data, line, resident_id
from .page_support import form_as_sent


def lines_for(count: int, *, duplicate_of_first: int | None = None) -> list[dict]:
    """``count`` trainees of 电工, one in three at the intermediate level, the others senior; the
    line ``duplicate_of_first`` names the first line's certificate again (flagged CERT_DUP)."""
    rows = [
        line(
            resident_id(n),
            f"学员{n}",
            certificate_number=f"T-2026-{n:04d}",
            level="intermediate" if n % 3 == 0 else "senior",
        )
        for n in range(1, count + 1)
    ]
    if duplicate_of_first:
        rows[duplicate_of_first - 1]["certificate_number"] = "T-2026-0001"
    return rows


def submitted(demo, count: int, **kwargs) -> Claim:
    claim = create_claim(user=demo["provider_clerk"], data=claim_data(lines=lines_for(count, **kwargs)))
    submit_claim(user=demo["provider_clerk"], claim=claim)
    claim.refresh_from_db()
    return claim


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queries_of(client: Client, url: str) -> list[str]:
    client.get(url)  # warm what is read once per process (content types, the catalogue's labels)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return [query["sql"] for query in captured.captured_queries]


def test_the_claim_and_task_pages_cost_as_many_queries_for_200_lines_as_for_2(demo):
    small, large = submitted(demo, 2), submitted(demo, 200, duplicate_of_first=6)
    reviewer, clerk = signed_in(demo["dept_reviewer"]), signed_in(demo["provider_clerk"])
    for client, page in ((reviewer, "approvals:claim"), (clerk, "approvals:claim")):
        few, many = (queries_of(client, reverse(page, args=[claim.pk])) for claim in (small, large))
        assert len(few) == len(many), "\n".join(many)
    # The reviewer's task page, with its decision form of a field pair per line.
    few, many = (queries_of(reviewer, reverse("approvals:task", args=[inbox.open_task_of_claim(c).pk])) for c in (small, large))
    assert len(few) == len(many), "\n".join(many)
    assert len(many) < 60


def test_the_department_reviewer_finds_the_flagged_line_and_the_decision_of_a_claim_of_200_lines(demo):
    """市应急管理局's reviewer opens a claim of 200 electricians: one of them names another's
    certificate. The sums come first, the flagged line is open at the top, the 199 others are
    folded by standard and level, and a link leads straight to the decision."""
    claim = submitted(demo, 200, duplicate_of_first=6)
    task = inbox.open_task_of_claim(claim)
    page = signed_in(demo["dept_reviewer"]).get(reverse("approvals:task", args=[task.pk])).content.decode()

    # The summary by standard and level: 66 intermediate lines (every third, the flagged 6th among
    # them) and 134 senior, 450.00 each.
    summary = page[page.index('id="lines-summary"') : page.index("</table>", page.index('id="lines-summary"'))]
    rows = re.findall(r'<tr data-group="S3-(\w+)">(.*?)</tr>', summary, re.S)
    assert [level for level, _cells in rows] == ["intermediate", "senior"]  # lowest level first
    assert re.findall(r">([^<>]+)</td>", rows[0][1])[1:] == ["中级工", "66", "1", "—", "29,700.00", "29,700.00"]
    assert re.findall(r">([^<>]+)</td>", rows[1][1])[1:] == ["高级工", "134", "—", "—", "60,300.00", "60,300.00"]
    assert "90,000.00" in summary  # the total row, with thousands separators

    # Flagged lines first, open; the others folded in a <details> per standard and level.
    groups = re.findall(r'<details class="line-group[^"]*" id="lines-([\w-]+)"( open)?>', page)
    assert groups == [("flagged", " open"), ("S3-intermediate", ""), ("S3-senior", "")]
    flagged = page[page.index('id="lines-flagged"') : page.index('id="lines-S3-intermediate"')]
    assert 'id="line-6"' in flagged and 'id="line-5"' not in flagged and "CERT_DUP" in flagged
    assert page.index('id="lines-summary"') < page.index('id="lines-flagged"')

    # The decision is one link from the top, and every line's choice is in the form.
    assert page.index('href="#decision"') < page.index('id="claim-lines"')
    assert 'id="decision"' in page and page.count('name="line_') == 400
    assert page.count('class="visually-hidden" for="id_line_') == 400  # each choice labelled


def test_the_page_says_why_the_hr_head_approves_and_shows_claimed_and_approved(demo):
    """温岭市 sets its HR head's threshold at 80,000 yuan. A claim of 200 lines (90,000 claimed)
    stays over it when the department rejects the line naming a certificate twice; the page
    says so at each step, with the threshold as the jurisdiction states it."""
    Jurisdiction.objects.filter(code="WL").update(hr_head_threshold="80000.00")
    claim = submitted(demo, 200, duplicate_of_first=6)
    clerk = signed_in(demo["provider_clerk"])
    page = clerk.get(reverse("approvals:claim", args=[claim.pk])).content.decode()
    assert 'data-hr-head="needed"' in page and "80,000.00" in page
    assert re.search(r'id="claimed-total">90,000.00<', page) and re.search(r'id="approved-total">90,000.00<', page)

    # The department approves all but the flagged line: 89,550 approved of 90,000 claimed, still over.
    decide_task(
        user=demo["dept_reviewer"],
        task_id=inbox.open_task_of_claim(claim).pk,
        decision="approve",
        line_decisions=[LineDecisionInput(line=6, decision="reject", reason="CERT_DUP")],
    )
    decide_task(user=demo["hr_reviewer"], task_id=inbox.open_task_of_claim(claim).pk, decision="approve")
    claim.refresh_from_db()
    assert claim.status == "hr_head_approval"
    head = signed_in(demo["hr_head"])
    page = head.get(reverse("approvals:task", args=[inbox.open_task_of_claim(claim).pk])).content.decode()
    assert 'data-hr-head="at_head"' in page
    assert "核准金额超过本地区负责人审批金额线 80,000.00 元，因此须经人社局负责人审批" in page
    assert re.search(r'id="claimed-total">90,000.00<', page) and re.search(r'id="approved-total">89,550.00<', page)

    # Below the threshold, the page says the HR head is not needed.
    Jurisdiction.objects.filter(code="WL").update(hr_head_threshold="100000.00")
    small = submitted(demo, 2)
    page = clerk.get(reverse("approvals:claim", args=[small.pk])).content.decode()
    assert 'data-hr-head="not_needed"' in page and "100,000.00" in page


def widget_templates(response) -> list[str]:
    return [template.name for template in response.templates if template.name.startswith("django/forms/")]


def test_the_decision_form_renders_no_template_per_line(demo):
    """A claim of 2,000 lines has 4,000 selects and 2,000 "fix this line" boxes in its decision
    form; Django renders each through the template engine (17 s for that page here). The task
    page renders as many widget templates for 200 lines as for 2."""
    reviewer = signed_in(demo["dept_reviewer"])
    pages = [
        reviewer.get(reverse("approvals:task", args=[inbox.open_task_of_claim(submitted(demo, count)).pk])) for count in (2, 200)
    ]
    few, many = (widget_templates(page) for page in pages)
    assert len(few) == len(many), sorted(set(many) - set(few))
    page = pages[1].content.decode()
    assert page.count('name="fix_lines"') == 200 and page.count('<select name="line_') == 400

    # Sent compressed to a browser that asks: 8 MB for 2,000 lines, 0.15 MB packed.
    packed = reviewer.get(pages[1].wsgi_request.path, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert packed["Content-Encoding"] == "gzip" and len(packed.content) * 5 < len(pages[1].content)
    unpacked = gzip.decompress(packed.content).decode()
    # The same page (each answer has its own CSRF token).
    assert re.sub(r'value="[^"]{64}"', "", unpacked) == re.sub(r'value="[^"]{64}"', "", page)


def test_the_many_widgets_write_what_djangos_own_write():
    """The selects and boxes rendered without templates: the same markup as Django's widgets,
    a chosen value, attributes, escaped labels, and each language's labels."""
    from django import forms
    from django.template import Context, Template
    from django.test.html import parse_html
    from django.utils import translation

    from approvals.forms import coded_reason_choices
    from claims.widgets import ManyCheckboxes, ManySelect

    choices = [("", "—"), ("a<b", "A & <B>"), ("c", "C"), ("c", "C again")]

    def select_form(widget):
        return type("Form", (forms.Form,), {"pick": forms.ChoiceField(choices=choices, required=False, widget=widget)})

    theirs, ours = select_form(forms.Select(attrs={"class": "x"})), select_form(ManySelect(attrs={"class": "x"}))
    for data in (None, {"pick": "a<b"}, {"pick": "c"}, {"pick": "zz"}):
        bound = [form(data) for form in (theirs, ours)]
        for form in bound:
            form.is_valid()
        assert parse_html(str(bound[1]["pick"])) == parse_html(str(bound[0]["pick"])), data
    assert 'aria-invalid="true"' in str(bound[1]["pick"])  # the last: refused

    class Boxes(forms.Form):
        lines = forms.TypedMultipleChoiceField(
            choices=[(1, 1), (2, "<2>"), (3, 3)], coerce=int, required=False, widget=ManyCheckboxes
        )

    loop = Template(
        '{% for choice in form.lines %}<label class="choice">{{ choice.tag }} {{ choice.choice_label }}</label>{% endfor %}'
    )
    for data in (None, {"lines": ["2", "3"]}):
        form = Boxes(data)
        assert parse_html(str(form["lines"])) == parse_html(loop.render(Context({"form": form}))), data

    # The options are kept once per list of labels: each language's labels are their own entry.
    for language, label in (("zh-hans", "E2 超过每人每年3次补贴"), ("en", "E2 More than 3 subsidies per person per year")):
        with translation.override(language):
            reasons = ManySelect(choices=coded_reason_choices()).render("reason", "E2")
        assert f'<option value="E2" selected>{label}</option>' in reasons, language


def test_a_large_claim_is_decided_and_edited_on_its_pages(demo):
    """The forms of a large claim as the browser sends them: the reviewer's decision (two fields
    a line) on a claim of 600 lines, the clerk's edit (16 fields a line, boxes unticked) of one of 70. Django
    refuses a request of more than 1,000 fields unless told otherwise: each was a 400 page."""
    claim = submitted(demo, 600, duplicate_of_first=6)
    task = inbox.open_task_of_claim(claim)
    reviewer = signed_in(demo["dept_reviewer"])
    url = reverse("approvals:task", args=[task.pk])
    post = form_as_sent(reviewer.get(url).content.decode(), "decision-form")
    assert len(post) > 1200
    post.update({"decision": "approve", "comment": "第6行证书重复", "line_6_decision": "reject", "line_6_reason": "CERT_DUP"})
    response = reviewer.post(reverse("approvals:task_decide", args=[task.pk]), post)
    assert response.status_code == 302, response.content.decode()[:2000]
    claim.refresh_from_db()
    assert claim.status == "hr_review"
    assert [line.line_no for line in claim.lines.filter(decision="reject")] == [6]

    clerk = signed_in(demo["provider_clerk"])
    draft = create_claim(user=demo["provider_clerk"], data=claim_data(lines=lines_for(70)))
    edit = reverse("approvals:claim_edit", args=[draft.pk])
    post = form_as_sent(clerk.get(edit).content.decode())
    assert len(post) > 1000
    post["lines-69-name"] = "学员七十"
    response = clerk.post(edit, post)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert draft.lines.get(line_no=70).name == "学员七十"


def test_the_largest_claim_fits_the_requests_a_page_may_send(settings):
    """A claim may have settings.CLAIM_LINES_MAX lines (a roster's rows): its decision form, every
    box ticked, is within the fields Django takes of a request; so is the claim form at its own
    bound, with the header's fields."""
    from types import SimpleNamespace

    from approvals.forms import FORM_LINES_MAX, ClaimHeaderForm, DecisionForm, LineForm

    lines = [SimpleNamespace(line_no=n) for n in range(1, settings.CLAIM_LINES_MAX + 1)]
    decision = DecisionForm(lines=lines)
    # Each field once, but a multiple choice once for each value ticked; and the CSRF token.
    sent = len(decision.fields) + sum(len(decision.fields[name].choices) - 1 for name in ("fix_lines", "fix_fields")) + 1
    assert settings.CLAIM_LINES_MAX * 3 <= sent <= settings.DATA_UPLOAD_MAX_NUMBER_FIELDS

    header_fields = len(ClaimHeaderForm.base_fields) + 1  # the class, added for the user
    row_fields = len(LineForm.base_fields) + 1  # and the delete box
    sent = header_fields + FORM_LINES_MAX * row_fields + 4 + 1  # the formset's management form; the token
    assert sent <= settings.DATA_UPLOAD_MAX_NUMBER_FIELDS


def test_a_claim_too_large_for_the_claim_form_says_where_it_is_corrected(demo, monkeypatch):
    """Past approvals.forms.FORM_LINES_MAX lines (here lowered to 50) the claim form is not shown,
    whose save could not be sent; the clerk is told how such a claim is corrected."""
    import approvals.forms
    import approvals.views

    for module in (approvals.views, approvals.forms):
        monkeypatch.setattr(module, "FORM_LINES_MAX", 50)
    clerk = signed_in(demo["provider_clerk"])
    draft = create_claim(user=demo["provider_clerk"], data=claim_data(lines=lines_for(60)))
    response = clerk.get(reverse("approvals:claim_edit", args=[draft.pk]), follow=True)
    assert response.redirect_chain == [(reverse("approvals:claim", args=[draft.pk]), 302)]
    assert "本申领有 60 行，网页表单最多修改 50 行：请撤回后按花名册重新导入，或通过接口修改。" in response.content.decode()
    small = create_claim(user=demo["provider_clerk"], data=claim_data(lines=lines_for(3)))
    assert clerk.get(reverse("approvals:claim_edit", args=[small.pk])).status_code == 200


def test_the_api_answers_a_large_claim_compressed_to_a_client_that_asks(demo):
    claim = submitted(demo, 200)
    reviewer = login("dept_reviewer")
    plain = reviewer.get(f"/api/v1/claims/{claim.pk}/")
    packed = reviewer.get(f"/api/v1/claims/{claim.pk}/", HTTP_ACCEPT_ENCODING="gzip")
    assert packed["Content-Encoding"] == "gzip" and len(packed.content) * 5 < len(plain.content)
    assert json.loads(gzip.decompress(packed.content)) == plain.json()
    assert len(plain.json()["lines"]) == 200
