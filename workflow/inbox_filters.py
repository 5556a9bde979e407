"""The inbox's search, filters and sort: one definition (``InboxFilter``) that the inbox page
(approvals.views.inbox) and GET /api/v1/tasks/ (api.filters.TaskFilter, this plus ``claim``) apply
to a person's rows (selectors.actionable_items, team_items).

Every filter narrows rows that are already the person's (their steps in their scope), so no search
reaches past the scope; each is a predicate on the read model's own columns, or a short list of
ids found by a unique index (a provider by name or code, a trainee by the keyed digest of their ID
number: claims.personal_data), so a search reads the person's index range of open tasks, which
the year's closed claims do not lengthen. A plain ID number is digested as it is read and never
kept; the page's search form posts it, so that it is not in any address (approvals.views.inbox).
"""

import re

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from claims.bounds import column_length
from claims.models import ClaimLine, Department, Jurisdiction, Provider
from claims.personal_data import id_number_digest
from claims.selectors import scope_ids
from claims.validators import normalize_resident_id, validate_resident_id

from .deadlines import DueState, due_state_condition
from .models import InboxItem
from .policy import steps_of_user
from .selectors import INBOX_ORDER
from .steps import HUMAN_STEPS, STEPS

# sort value → (label, keyset order: the key, then the task to break ties). The default: oldest first.
SORTS = {
    "due": (_("期限由近到远"), ("due", "task_id")),
    "-due": (_("期限由远到近"), ("-due", "-task_id")),
    "-amount": (_("金额由高到低"), ("-amount", "-task_id")),
    "amount": (_("金额由低到高"), ("amount", "task_id")),
    "-submitted": (_("提交时间由近到远"), ("-submitted", "-task_id")),
    "submitted": (_("提交时间由远到近"), ("submitted", "task_id")),
    "number": (_("申领编号升序"), ("claim_number", "task_id")),
    "-number": (_("申领编号降序"), ("-claim_number", "-task_id")),
}
# Keys that may be NULL (a row made before the column was kept: see the migration).
NULLABLE_KEYS = frozenset({"submitted"})
AMOUNT_MAX = 10**12  # the amount column's 14 digits, 2 of them decimals

FLAG_CHOICES = (("clean", _("无预警")), ("flagged", _("有预警")))
DUE_CHOICES = ((DueState.DUE_SOON, _("即将到期")), (DueState.OVERDUE, _("已逾期")))
DIGEST = re.compile(r"^[0-9a-f]{64}$")


def looks_like_id_number(value: str) -> bool:
    """A resident ID number (check digit and birth date right): searched by its digest only."""
    try:
        validate_resident_id(value)
    except forms.ValidationError:
        return False
    return True


def claims_of_trainee(digest: str):
    """The ids of the claims with a line of the person whose ID number has this keyed digest
    (Trainee's unique digest, then ClaimLine's trainee index: a handful of rows)."""
    return ClaimLine.objects.filter(trainee__id_number_digest=digest).values("claim_id")


def _departments_in_scope(user):
    ids = scope_ids(user)
    return Department.objects.filter(
        Q(pk__in=ids["department"]) | Q(jurisdiction_id__in=ids["jurisdiction"]) | Q(jurisdiction__providers__in=ids["provider"])
    ).distinct()


def _providers_in_scope(user):
    ids = scope_ids(user)
    return Provider.objects.filter(
        Q(pk__in=ids["provider"])
        | Q(jurisdiction_id__in=ids["jurisdiction"])
        | Q(jurisdiction__departments__in=ids["department"])
    ).distinct()


def _jurisdictions_in_scope(user) -> list[int]:
    ids = scope_ids(user)
    return list(
        Jurisdiction.objects.filter(
            Q(pk__in=ids["jurisdiction"]) | Q(departments__in=ids["department"]) | Q(providers__in=ids["provider"])
        )
        .distinct()
        .values_list("pk", flat=True)
    )


class InboxFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        max_length=column_length(InboxItem, "class_name"),
        label=_("搜索"),
        help_text="part of the claim number or the class name, a provider's name or code, or a trainee's ID number "
        "(compared by its keyed digest, never kept)",
    )
    trainee = django_filters.CharFilter(
        method="by_trainee",
        max_length=64,
        label=_("学员"),
        help_text="the keyed digest of a trainee's ID number, as the inbox page's search links to it",
    )
    step = django_filters.ChoiceFilter(
        choices=(), empty_label=_("全部"), label=_("环节"), help_text="a step of the caller's role"
    )
    department = django_filters.ModelChoiceFilter(
        queryset=Department.objects.none(),
        to_field_name="code",
        empty_label=_("全部"),
        label=_("行业主管部门"),
        help_text="department code",
    )
    provider = django_filters.ModelChoiceFilter(
        queryset=Provider.objects.none(),
        to_field_name="code",
        empty_label=_("全部"),
        label=_("培训机构"),
        help_text="provider code",
        # A code typed, not a list: a city has hundreds of providers, and a select of them all
        # was most of the inbox page's rendering (the search box finds a provider by its name).
        widget=forms.TextInput(attrs={"size": 14, "placeholder": _("机构代码"), "autocomplete": "off"}),
    )
    amount_min = django_filters.NumberFilter(
        field_name="amount", lookup_expr="gte", min_value=0, max_value=AMOUNT_MAX, label=_("金额不低于")
    )
    amount_max = django_filters.NumberFilter(
        field_name="amount", lookup_expr="lte", min_value=0, max_value=AMOUNT_MAX, label=_("金额不高于")
    )
    flags = django_filters.ChoiceFilter(
        choices=FLAG_CHOICES,
        method="by_flags",
        empty_label=_("全部"),
        label=_("预警"),
        help_text="clean: no line flagged; flagged: some",
    )
    due = django_filters.ChoiceFilter(
        choices=DUE_CHOICES,
        method="by_due",
        empty_label=_("全部"),
        label=_("期限"),
        help_text="due_soon: due within 2 working days; overdue: past the due date (the jurisdiction's calendar)",
    )
    resubmitted = django_filters.BooleanFilter(
        label=_("重新提交"),
        help_text="true: claims that came back from a correction; false: the others",
        widget=forms.Select(choices=(("", _("全部")), ("true", _("是")), ("false", _("否")))),
    )
    sort = django_filters.ChoiceFilter(
        choices=[(value, label) for value, (label, _order) in SORTS.items()],
        method="keep",
        empty_label=_("最早到达"),
        label=_("排序"),
        help_text="due, amount, submitted or number; '-' first for the reverse; default: oldest task first",
    )

    class Meta:
        model = InboxItem
        fields = ["q", "trainee", "step", "department", "provider", "amount_min", "amount_max", "flags", "due"]

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, user=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self.user = user if user is not None else request.user
        names = steps_of_user(self.user) or list(HUMAN_STEPS)
        self.filters["step"].extra["choices"] = [(name, STEPS[name].label) for name in names]
        self.filters["department"].queryset = _departments_in_scope(self.user)
        self.filters["provider"].queryset = _providers_in_scope(self.user)

    # --- the filters ------------------------------------------------------------------------

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        if looks_like_id_number(value):
            return queryset.filter(claim_id__in=claims_of_trainee(id_number_digest(normalize_resident_id(value))))
        providers = Provider.objects.filter(Q(name__icontains=value) | Q(code__iexact=value)).values("pk")
        return queryset.filter(Q(claim_number__icontains=value) | Q(class_name__icontains=value) | Q(provider_id__in=providers))

    def by_trainee(self, queryset, name, value):
        value = value.strip().lower()
        if not DIGEST.match(value):
            return queryset.none()
        return queryset.filter(claim_id__in=claims_of_trainee(value))

    def by_flags(self, queryset, name, value):
        return queryset.filter(flagged_lines=0) if value == "clean" else queryset.filter(flagged_lines__gt=0)

    def by_due(self, queryset, name, value):
        return queryset.filter(due_state_condition(value, _jurisdictions_in_scope(self.user), now=timezone.now()))

    def keep(self, queryset, name, value):
        return queryset  # the order is the page's (``order``), read by keyset

    # --- what the lists read ----------------------------------------------------------------

    @property
    def order(self) -> tuple[str, ...]:
        """The keyset order the filters ask for (valid data), else the inbox's own."""
        sort = self.form.cleaned_data.get("sort") if self.is_valid() else ""
        return SORTS[sort][1] if sort in SORTS else INBOX_ORDER

    @property
    def nullable(self) -> frozenset:
        return frozenset(name.lstrip("-") for name in self.order) & NULLABLE_KEYS

    @property
    def active(self) -> bool:
        """Whether any filter narrows the lists (the sort does not)."""
        return self.is_valid() and any(value not in (None, "") for key, value in self.form.cleaned_data.items() if key != "sort")

    def errors_by_field(self) -> dict[str, list[str]]:
        return {name: [str(message) for message in messages] for name, messages in self.errors.items()}


def address_query(data, filters: type[InboxFilter] = InboxFilter) -> dict[str, str]:
    """The filters as an address carries them, from a search that was posted (the page's search
    form, the API's POST /api/v1/tasks/search/): a trainee's ID number typed in the search box
    becomes its keyed digest (``trainee``), so that the number is in no address, browser history
    or server log. ``filters``: the filter set whose fields are read (the API's adds ``claim``)."""
    query = {}
    for key in filters.base_filters:
        value = str(data.get(key, "") or "").strip()
        if value and value != "unknown":  # "unknown": the yes-or-no select's "either" (resubmitted)
            query[key] = value
    if looks_like_id_number(query.get("q", "")):
        query["trainee"] = id_number_digest(normalize_resident_id(query.pop("q")))
    return query
