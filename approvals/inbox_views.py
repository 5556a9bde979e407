"""The reviewer's inbox: its tabs (my tasks, the team's queue) with their bounded counts, the
search, filters and sort (workflow.inbox_filters, the API's too), and the bulk approval of clean
claims with its confirmation (workflow.bulk). Thin: the reads are selectors, the writes services."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from claims.amounts import amount_text
from claims.errors import InvalidInput
from claims.http import scoped
from claims.keyset import bounded_count
from payments import access as payments_access
from payments.selectors import batches as batch_selectors
from workflow import bulk, labels, selectors
from workflow.inbox_filters import InboxFilter, address_query, looks_like_id_number
from workflow.steps import REVIEW_STEPS, STEPS

PAGE_SIZE = 50
TABS = (("mine", gettext_lazy("我的任务")), ("team", gettext_lazy("团队队列")))
TAB_NAMES = tuple(name for name, _label in TABS)
BULK_SALT = "approvals.inbox.bulk_approve"
BULK_TOKEN_AGE = 3600  # seconds a confirmation stays good for
CHANGES_SHOWN = 6
AUTOSUBMIT = ("step", "department", "provider", "flags", "due", "resubmitted", "sort")  # changes named on a row; the rest counted


def _inbox_url(query: dict) -> str:
    address = reverse("approvals:inbox")
    return f"{address}?{urlencode(query)}" if query else address


def _changes_text(changes: dict) -> str:
    """What a resubmission changed, in words (labels.change_label: the same words as the claim page's)."""
    listed = [labels.change_label(change) for change in (changes or {}).get("changes") or []]
    text = "；".join(listed[:CHANGES_SHOWN])
    if len(listed) > CHANGES_SHOWN:
        text += _("；另有 %(n)d 处") % {"n": len(listed) - CHANGES_SHOWN}
    return text


def _inbox_page(request, items, param: str, filters: InboxFilter, *, bulk_tab: bool):
    """One keyset page of inbox rows in the filters' order (``param``: the cursor in the query
    string); a cursor that does not parse starts the list again."""
    options = {"size": PAGE_SIZE, "order": filters.order, "nullable": filters.nullable}
    try:
        page = selectors.inbox_page(items, cursor=request.GET.get(param), **options)
    except selectors.BadCursor:
        page = selectors.inbox_page(items, cursor=None, **options)
    for item in page.items:
        item.step_label = STEPS[item.step].label
        item.changes_text = _changes_text(item.changes) if item.resubmitted else ""
        item.bulk_ok = bulk_tab and item.flagged_lines == 0 and item.step in REVIEW_STEPS
    selectors.mark_due(page.items)
    return page


@scoped
@require_http_methods(["GET", "POST"])
def inbox(request):
    if request.method == "POST":  # the search form: to an address without the ID number typed
        query = address_query(request.POST)
        if request.POST.get("tab") in TAB_NAMES[1:]:
            query["tab"] = request.POST["tab"]
        return redirect(_inbox_url(query))
    tab = request.GET.get("tab") if request.GET.get("tab") in TAB_NAMES else TAB_NAMES[0]
    if looks_like_id_number(request.GET.get("q", "")):  # typed into the address: out of it, and of the history
        query = address_query(request.GET)
        if tab != TAB_NAMES[0]:
            query["tab"] = tab
        return redirect(_inbox_url(query))
    user = request.user
    filters = InboxFilter(request.GET, user=user)
    for name in AUTOSUBMIT:  # a choice made submits the form (static/js/autosubmit.js)
        filters.form.fields[name].widget.attrs["data-autosubmit"] = ""
    lists = {"mine": selectors.actionable_items(user), "team": selectors.team_items(user)}
    valid = filters.is_valid()
    lists = {name: filters.filter_queryset(items) if valid else items.none() for name, items in lists.items()}
    may_bulk = tab == "mine" and bulk.may_bulk_approve(user)
    page = _inbox_page(request, lists[tab], f"{tab}_after", filters, bulk_tab=may_bulk)
    tabs = []
    for name, label in TABS:
        count, capped = (page.count, page.count_capped) if name == tab else bounded_count(lists[name])
        query = {key: value for key, value in request.GET.items() if key in filters.base_filters}
        if name != TAB_NAMES[0]:
            query["tab"] = name
        tabs.append({"name": name, "label": label, "count": count, "capped": capped, "url": _inbox_url(query)})
    return render(
        request,
        "approvals/inbox.html",
        {
            "tab": tab,
            "tabs": tabs,
            "page": page,
            "param": f"{tab}_after",
            "filters": filters,
            "filtered": filters.active,
            "may_bulk": may_bulk and any(item.bulk_ok for item in page.items),
            "bulk_max": bulk.BULK_MAX,
            # Finance's inbox: the built batches waiting for a second officer's release, as on its desk.
            "awaiting_release": (
                batch_selectors.batches_awaiting_release(user)
                if payments_access.may(user, payments_access.RELEASE_BATCHES)
                else None
            ),
        },
    )


def _back_url(query: str) -> str:
    """The inbox as the reviewer left it (its filters and tab, read again: nothing else passes)."""
    given = QueryDict(query[:2000])
    kept = address_query(given)
    if given.get("tab") in TAB_NAMES[1:]:
        kept["tab"] = given["tab"]
    return _inbox_url(kept)


def _require_bulk(user) -> None:
    if not bulk.may_bulk_approve(user):
        raise PermissionDenied


@require_POST
@scoped
def bulk_confirm(request):
    """What the bulk approval will do, before it does it: each claim, its amount, the total."""
    _require_bulk(request.user)
    back_url = _back_url(request.POST.get("back") or "")
    try:
        ids = bulk.parse_task_ids(request.POST.getlist("tasks"))
    except InvalidInput as error:
        messages.error(request, error.message)
        return redirect(back_url)
    rows = list(bulk.bulk_candidates(request.user, ids))
    if not rows:
        messages.error(request, _("所选申领都不能批量同意：有预警、已处理，或不在您的待办中。"))
        return redirect(back_url)
    following = bulk.steps_after_approval(rows)
    for row in rows:
        row.step_label = STEPS[row.step].label
        row.next_step = following[row.task_id]
        row.next_label = STEPS[row.next_step].label
    token = signing.dumps({"user": request.user.pk, "tasks": [row.task_id for row in rows]}, salt=BULK_SALT)
    return render(
        request,
        "approvals/bulk_confirm.html",
        {
            "rows": rows,
            "total": sum(row.amount for row in rows),
            "left_out": len(ids) - len(rows),
            "token": token,
            "back_url": back_url,
        },
    )


@require_POST
@scoped
def bulk_approve(request):
    """Approve what the confirmation listed (its signed token), each claim on its own; the outcome
    claim by claim. Sent again, every task is found decided and nothing is approved twice."""
    _require_bulk(request.user)
    try:
        confirmed = signing.loads(request.POST.get("token", ""), salt=BULK_SALT, max_age=BULK_TOKEN_AGE)
    except signing.BadSignature:
        confirmed = None
    if not isinstance(confirmed, dict) or confirmed.get("user") != request.user.pk:
        messages.error(request, _("批量审批的确认已失效，请重新勾选。"))
        return redirect("approvals:inbox")
    outcome = bulk.bulk_approve(user=request.user, task_ids=confirmed.get("tasks"))
    if outcome.approved:
        messages.success(
            request,
            _("已批量同意 %(n)d 件，合计 %(total)s 元：%(numbers)s")
            % {
                "n": len(outcome.approved),
                "total": amount_text(outcome.approved_total),
                "numbers": "、".join(item["number"] for item in outcome.approved),
            },
        )
    for item in outcome.failed:
        messages.error(request, _("%(number)s 未同意：%(reason)s") % item)
    return redirect("approvals:inbox")
