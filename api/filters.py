import django_filters
from django.db.models import Q

from claims.models import Claim, ClaimStatus


class ClaimFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ClaimStatus.choices)
    department = django_filters.CharFilter(field_name="department__code", help_text="department code")
    provider = django_filters.CharFilter(field_name="provider__code", help_text="provider code")
    q = django_filters.CharFilter(method="search", help_text="part of the claim number or class name")

    class Meta:
        model = Claim
        fields = ["status", "department", "provider", "q"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(number__icontains=value) | Q(class_name__icontains=value))


class TaskFilter(django_filters.FilterSet):
    claim = django_filters.NumberFilter(field_name="process__claim", help_text="claim id")


class PolicyFilter(django_filters.FilterSet):
    jurisdiction = django_filters.CharFilter(field_name="jurisdiction__code", help_text="jurisdiction code")
    code = django_filters.CharFilter(help_text="catalogue code, S1…S18")
