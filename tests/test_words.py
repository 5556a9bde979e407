"""What people read instead of our codes: the auditor's timeline labels every action, field and
value; flags name the policy paragraph by its document's title; the verify page says exactly
what it checked (and that no checkpoint is signed yet, when none is)."""

import re

from django.test import Client
from django.utils import translation

from audit.actions import REGISTRY
from audit.checkpoints import sign_checkpoint
from claims.models import CertificateType, Claim, ClaimStatus, Level, PaymentStatus
from claims.sources import source_label
from workflow import selectors as inbox
from workflow.services import decide_task, submit_claim

from .api_support import create_claim, login, ok
from .conftest import claim_data, line, resident_id

CODES = (
    set(REGISTRY) | set(Level.values) | set(PaymentStatus.values) | set(ClaimStatus.values) | set(CertificateType.values)
) | {"class_name", "training_start", "training_end", "certificate_number", "approve", "reject", "department_review", "hr_review"}


def raw_codes(html: str) -> list[str]:
    text = re.sub(r"<[^>]+>", " ", html)  # what is read, not the attributes (data-action keeps the code)
    return sorted(code for code in CODES if re.search(r"(?<![\w.-])" + re.escape(code) + r"(?![\w.-])", text))


def page(user, url) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_the_timeline_labels_every_action_field_and_value(demo):
    clerk = login("provider_clerk")
    claim = Claim.objects.get(pk=create_claim(clerk, claim_data())["id"])
    claim = submit_claim(user=demo["provider_clerk"], claim=claim)
    decide_task(user=demo["dept_reviewer"], task_id=inbox.open_task_of_claim(claim).pk, decision="approve", comment="材料齐全")
    decide_task(
        user=demo["hr_reviewer"], task_id=inbox.open_task_of_claim(claim).pk, decision="return", comment="改班级名称和等级"
    )
    # The provider changes the class's name, its dates and a line's level: the header's before and after are recorded.
    ok(
        clerk.patch(
            f"/api/v1/claims/{claim.pk}/",
            {
                "class_name": "低压电工作业 2026 第2期",
                "lines": [
                    line(resident_id(1), "张三", level="intermediate"),
                    line(resident_id(2), "李四", certificate_number="T-2026-0002"),
                ],
            },
            format="json",
        )
    )
    timeline = page(demo["auditor"], f"/audit/claims/{claim.pk}/")
    assert raw_codes(timeline) == []
    assert "班级名称" in timeline and "低压电工作业 2026 第2期" in timeline and "中级工" in timeline
    assert raw_codes(page(demo["provider_clerk"], f"/claims/{claim.pk}/")) == []


def test_a_flag_names_the_document_not_the_file_or_our_ids():
    with translation.override("en"):
        assert source_label("002 §五(十九)") == "Zhuji skills upgrading action plan 2019–2021 (诸政办发〔2020〕6号) §五(十九)"
    with translation.override("zh-hans"):
        chinese_titles()


def chinese_titles():
    assert (
        source_label("002 §五(十九), RULES.md M5")
        == "《诸暨市职业技能提升行动实施方案（2019-2021）》（诸政办发〔2020〕6号）§五(十九)"
    )
    quota = source_label("000 §二(三), 001 §13, 002 §五(十九), 004 §四")
    assert quota.startswith(
        "《温岭市职业技能培训三年计划行动方案》（温人社发〔2023〕29号）§二(三)；《关于进一步加强职业能力建设工作的意见》"
    )
    assert "威人社字〔2019〕73号）§四" in quota
    assert source_label("RULES.md §6 N2（浙江、广东）") == "浙江、广东的通行做法"
    assert (
        source_label("RULES.md §3 / 002 末段（过渡条款）")
        == "《诸暨市职业技能提升行动实施方案（2019-2021）》（诸政办发〔2020〕6号）末段（过渡条款）"
    )
    for source in ("002 §五(十九), RULES.md M5", "RULES.md §6 N9（天津）", "000 §二(三), 001 §13"):
        assert not re.search(r"RULES\.md|\b00[0-4]\b|\bN\d\b|\bM\d\b", source_label(source)), source


def test_a_flagged_line_shows_its_reason_in_words_and_its_source_by_title(demo):
    clerk = login("provider_clerk")
    twice = [line(resident_id(7), "王五"), line(resident_id(7), "王五", certificate_number="T-2026-0009")]
    claim = Claim.objects.get(pk=create_claim(clerk, claim_data(lines=twice))["id"])
    shown = page(demo["provider_clerk"], f"/claims/{claim.pk}/")
    flags = re.findall(r'<li class="flag[^"]*" data-code="(\w+)"><span class="badge[^"]*">([^<]+)</span>', shown)
    assert flags and all(code != words and code not in words for code, words in flags), flags
    assert "RULES.md" not in shown and not re.search(r"依据 0\d\d ", shown)


def test_the_verify_page_says_what_it_checked(demo, settings, tmp_path):
    before = page(demo["auditor"], "/audit/verify/")
    verdict = before.split('id="verify-result"')[1].split("</div>")[0]
    assert "尚未签署任何检查点" in verdict and "所有检查点" not in verdict
    assert re.search(r"已逐条核对 \d+ 条记录", verdict)

    settings.AUDIT_SIGNING_KEY = "A" * 43 + "="  # a 32-byte seed
    sign_checkpoint()
    after = page(demo["auditor"], "/audit/verify/").split('id="verify-result"')[1].split("</div>")[0]
    assert "已核对 1 个签名检查点：签名有效" in after and "尚未签署" not in after
