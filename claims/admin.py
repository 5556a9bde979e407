"""Administrators look here; changes to claims go through the services (and so the audit ledger),
so claims and lines are read-only in the admin."""

from django.contrib import admin

from audit.admin import ReadOnlyAdmin

from .models import Claim, ClaimLine, Department, Jurisdiction, Occupation, PolicyVersion, Provider, SubsidyPolicy


class ClaimLineInline(admin.TabularInline):
    model = ClaimLine
    fields = ("line_no", "occupation", "level", "certificate_number", "amount", "flags", "decision", "payment_status")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Claim)
class ClaimAdmin(ReadOnlyAdmin):
    list_display = ("number", "provider", "department", "policy", "status", "total", "created_at")
    list_filter = ("status", "jurisdiction", "department")
    search_fields = ("number", "class_name")
    inlines = [ClaimLineInline]


@admin.register(Jurisdiction)
class JurisdictionAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "hr_head_threshold")


@admin.register(Department)
class DepartmentAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "sector", "jurisdiction")


@admin.register(Provider)
class ProviderAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "credit_code", "jurisdiction")


class PolicyVersionInline(admin.TabularInline):
    model = PolicyVersion
    fk_name = "policy"
    fields = (
        "version",
        "valid_from",
        "valid_to",
        "amount_rule",
        "amount_by_level",
        "variant_amounts",
        "period",
        "max_periods",
        "percent",
        "base_policy",
        "capped_by_cost",
        "certificate_types",
        "source",
        "notes",
        "created_by",
        "created_at",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SubsidyPolicy)
class SubsidyPolicyAdmin(ReadOnlyAdmin):
    """Read-only: administrators edit the catalogue at /catalogue/ (claims/catalogue_views.py),
    where every change goes through claims.catalogue and into the audit ledger."""

    list_display = ("code", "name", "category", "payee", "jurisdiction")
    list_filter = ("jurisdiction", "category", "payee")
    inlines = [PolicyVersionInline]


@admin.register(Occupation)
class OccupationAdmin(ReadOnlyAdmin):
    """The occupation table; written by claims.occupations.ensure_occupation (its lookup keys with it)."""

    list_display = ("code", "name", "aliases", "active")
    search_fields = ("code", "name")
