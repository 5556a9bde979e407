import django_filters
from django.db.models import Q

from claims.bounds import ID_MAX, column_length
from claims.models import Claim, ClaimStatus, Department, Jurisdiction, Provider, SubsidyPolicy
from workflow.inbox_filters import InboxFilter


class ClaimFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ClaimStatus.choices)
    department = django_filters.CharFilter(
        field_name="department__code", max_length=column_length(Department, "code"), help_text="department code"
    )
    provider = django_filters.CharFilter(
        field_name="provider__code", max_length=column_length(Provider, "code"), help_text="provider code"
    )
    q = django_filters.CharFilter(
        method="search", max_length=column_length(Claim, "class_name"), help_text="part of the claim number or class name"
    )

    class Meta:
        model = Claim
        fields = ["status", "department", "provider", "q"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(number__icontains=value) | Q(class_name__icontains=value))


class TaskFilter(InboxFilter):
    """The inbox's search, filters and sort (workflow.inbox_filters: the page's own), and a claim by id."""

    claim = django_filters.NumberFilter(field_name="claim_id", max_value=ID_MAX, help_text="claim id")

    class Meta(InboxFilter.Meta):
        fields = [*InboxFilter.Meta.fields, "claim"]


class PolicyFilter(django_filters.FilterSet):
    jurisdiction = django_filters.CharFilter(
        field_name="jurisdiction__code", max_length=column_length(Jurisdiction, "code"), help_text="jurisdiction code"
    )
    code = django_filters.CharFilter(max_length=column_length(SubsidyPolicy, "code"), help_text="catalogue code, S1…S18")
