"""Amounts as finance writes them, in both languages: 1,350.00 with thousands separators and two
places, the same on every page and in what people are told (a notification, a message), so an
auditor comparing a claim's list, its page and its ledger view reads one figure, not 1350.00 on
one and 1,350.00 on the other. Below the pages, ``claims.amounts.amount_text``; on a page, the
``money`` filter, which is it."""

import re
from decimal import Decimal

import pytest
from django.test import Client

from notifications.models import Notification

from .payments_support import approved_claim
from .test_dates_shown import visible_text, world  # noqa: F401 (a fixture)

# An amount of a thousand yuan or more written without its grouping: four digits or more, then
# the two places; not inside a longer number or one already grouped.
UNGROUPED_AMOUNT = re.compile(r"(?<![\d,.])\d{4,}\.\d{2}(?![\d])")


def ungrouped_amounts(html: str) -> list[str]:
    text = " ".join(visible_text(html).split())
    return [text[max(0, m.start() - 30) : m.end() + 10] for m in UNGROUPED_AMOUNT.finditer(text)]


def test_the_check_finds_an_ungrouped_amount_and_not_a_grouped_one_or_an_identifier():
    assert ungrouped_amounts("<td>1,350.00</td><td>450.00</td><td>WL-2026-000123</td><td>331081********0072</td>") == []
    assert ungrouped_amounts("<td>合计 1350.00</td>") and ungrouped_amounts("<td>12345.50 元</td>")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_no_page_shows_an_amount_without_its_thousands_separators(demo, world, language):  # noqa: F811
    shown: list[str] = []
    for username, paths in world.items():
        client = Client()
        if username:
            client.force_login(demo[username])
        client.cookies["django_language"] = language
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (username, path)
            shown += [f"{username} {path}: …{found}…" for found in ungrouped_amounts(response.content.decode())]
    assert shown == [], "\n".join(dict.fromkeys(shown))


def test_the_provider_is_told_the_approved_amount_as_the_claim_page_shows_it(demo, celery_eager):
    claim = approved_claim(demo, serials=(81, 82, 83))  # three electricians: over a thousand yuan
    assert claim.total >= Decimal("1000")
    told = Notification.objects.get(recipient=demo["provider_clerk"], claim=claim, kind="approved")
    assert f"核准金额 {claim.total:,.2f} 元" in told.message
