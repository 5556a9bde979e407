"""A claim's thread: 钱老师 (provider_clerk) asks the department a question, mentioning its
reviewer; the reviewer answers, and writes an internal note for HR that the school never
reads: not on the claim page, not through the API, not in the claim's history or the ledger."""

import pytest
from django.test import Client

from audit import actions
from audit.models import AuditEvent
from claims.bounds import TEXT_MAX_LENGTH
from claims.errors import ActionForbidden, InvalidInput
from claims.models import Claim
from claims.selectors import ledger_entries_visible_to
from notifications.models import Notification
from workflow import conversation
from workflow.services import submit_claim

from .api_support import create_claim, error, login, ok
from .conftest import claim_data


@pytest.fixture
def claim(demo):
    draft = Claim.objects.get(pk=create_claim(login("provider_clerk"), claim_data())["id"])
    return submit_claim(user=demo["provider_clerk"], claim=draft)


def page(user, claim) -> str:
    client = Client()
    client.force_login(user)
    return client.get(f"/claims/{claim.pk}/").content.decode()


def test_a_mention_tells_the_person_in_scope_and_nobody_else(demo, claim, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        comment = conversation.post_comment(
            user=demo["provider_clerk"],
            claim=claim,
            body="@dept_reviewer 第2行证书已补扫描件，请查收。@provider2_clerk @nobody @auditor",
        )
    # The department's reviewer and the jurisdiction's auditor see the claim; the other school does not.
    assert sorted(person.username for person in comment.mentions.all()) == ["auditor", "dept_reviewer"]
    told = Notification.objects.filter(claim=claim, kind="mention")
    assert sorted(told.values_list("recipient__username", flat=True)) == ["auditor", "dept_reviewer"]
    assert "provider_clerk" in told.first().message and claim.number in told.first().message
    # The reviewer answers on the page; the thread reads the same for both.
    client = Client()
    client.force_login(demo["dept_reviewer"])
    response = client.post(f"/claims/{claim.pk}/comments/", {"body": "收到，@provider_clerk 谢谢。"})
    assert response.status_code == 302
    for reader in ("provider_clerk", "dept_reviewer", "auditor"):
        shown = page(demo[reader], claim)
        assert "第2行证书已补扫描件" in shown and "收到，@provider_clerk 谢谢。" in shown, reader
    assert "第2行证书已补扫描件" not in page(demo["provider2_clerk"], claim)  # 404 page


def test_an_internal_note_is_never_shown_to_the_provider(demo, claim):
    conversation.post_comment(user=demo["provider_clerk"], claim=claim, body="请问何时审核？")
    note = conversation.post_comment(
        user=demo["dept_reviewer"], claim=claim, body="内部：该机构去年有重复申领记录，@hr_reviewer 请留意。", internal=True
    )
    assert [person.username for person in note.mentions.all()] == ["hr_reviewer"]
    secret = "该机构去年有重复申领记录"

    # The page.
    assert secret not in page(demo["provider_clerk"], claim)
    for reader in ("dept_reviewer", "hr_reviewer", "auditor"):
        assert secret in page(demo[reader], claim), reader
    # The API: the thread and the claim's history.
    clerk = login("provider_clerk")
    assert [item["body"] for item in ok(clerk.get(f"/api/v1/claims/{claim.pk}/comments/"))] == ["请问何时审核？"]
    history = ok(clerk.get(f"/api/v1/claims/{claim.pk}/history/"))["results"]
    assert actions.INTERNAL_NOTE_POSTED not in [entry["action"] for entry in history]
    assert secret not in str(history)
    reviewer_thread = ok(login("hr_reviewer").get(f"/api/v1/claims/{claim.pk}/comments/"))
    assert [item["internal"] for item in reviewer_thread] == [False, True]
    # The ledger: the entry is there, holding the text, and read by the auditor, not the provider.
    entry = AuditEvent.objects.get(claim_id=claim.pk, action=actions.INTERNAL_NOTE_POSTED)
    assert secret in entry.reason
    assert not ledger_entries_visible_to(demo["provider_clerk"]).filter(pk=entry.pk).exists()
    assert ledger_entries_visible_to(demo["auditor"]).filter(pk=entry.pk).exists()
    timeline = Client()
    timeline.force_login(demo["auditor"])
    shown = timeline.get(f"/audit/claims/{claim.pk}/").content.decode()
    assert secret in shown and "内部备注" in shown

    # A provider cannot write one, nor mention someone into one; the auditor writes nothing.
    with pytest.raises(ActionForbidden):
        conversation.post_comment(user=demo["provider_clerk"], claim=claim, body="x", internal=True)
    error(clerk.post(f"/api/v1/claims/{claim.pk}/comments/", {"body": "x", "internal": True}, format="json"), 403)
    error(login("auditor").post(f"/api/v1/claims/{claim.pk}/comments/", {"body": "x"}, format="json"), 403)
    error(login("provider2_clerk").post(f"/api/v1/claims/{claim.pk}/comments/", {"body": "x"}, format="json"), 404)


def test_mentions_are_found_in_chinese_text_but_not_in_e_mail_addresses():
    assert conversation.mentioned_names("请@dept_reviewer查收，抄送 @hr_head. 邮件 a@example.cn") == ["dept_reviewer", "hr_head"]


def test_an_internal_note_mentions_only_those_who_may_read_it(demo, claim):
    note = conversation.post_comment(user=demo["dept_reviewer"], claim=claim, body="@provider_clerk @hr_head 内部", internal=True)
    assert [person.username for person in note.mentions.all()] == ["hr_head"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("a\x00b", "U+0000"),
        ("见附件\x0b第二页", "U+000B"),
        ("长" * (TEXT_MAX_LENGTH + 1), str(TEXT_MAX_LENGTH)),
        ("   ", "请填写"),
    ],
    ids=["nul", "vertical-tab", "huge", "blank"],
)
def test_control_characters_and_huge_texts_are_refused_naming_the_field(demo, claim, body, expected):
    before = AuditEvent.objects.filter(claim_id=claim.pk).count()
    with pytest.raises(InvalidInput) as refused:
        conversation.post_comment(user=demo["provider_clerk"], claim=claim, body=body)
    assert list(refused.value.fields) == ["body"] and expected in refused.value.fields["body"][0]
    api = error(login("provider_clerk").post(f"/api/v1/claims/{claim.pk}/comments/", {"body": body}, format="json"), 400)
    assert list(api["fields"]) == ["body"]
    client = Client()
    client.force_login(demo["provider_clerk"])
    response = client.post(f"/claims/{claim.pk}/comments/", {"body": body})
    assert response.status_code == 400 and 'class="field-error"' in response.content.decode()
    assert AuditEvent.objects.filter(claim_id=claim.pk).count() == before and not claim.comments.exists()
