"""Administrators look here; changes to claims go through the services (and so the audit ledger),
so claims and lines are read-only in the admin. A jurisdiction's settings are changed here, through
claims.organisation.ensure_jurisdiction (its ledger entry)."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from audit.admin import ReadOnlyAdmin, ReasonedAdminMixin

from .models import Claim, ClaimLine, Department, Jurisdiction, Occupation, PolicyVersion, Provider, SubsidyPolicy
from .organisation import JURISDICTION_SETTINGS, ensure_jurisdiction


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


class JurisdictionSettingsForm(forms.ModelForm):
    """The settings of a jurisdiction the administrator may change, each within its bounds."""

    class Meta:
        model = Jurisdiction
        fields = ("hr_head_threshold", *JURISDICTION_SETTINGS)

    def clean_attendance_minimum_percent(self):
        value = self.cleaned_data["attendance_minimum_percent"]
        if not 1 <= value <= 100:
            raise forms.ValidationError(_("须在 1 到 100 之间。"))
        return value

    def clean_class_filing_days_ahead(self):
        value = self.cleaned_data["class_filing_days_ahead"]
        if not 0 <= value <= 60:
            raise forms.ValidationError(_("须在 0 到 60 个工作日之间。"))
        return value

    def clean_hr_head_threshold(self):
        value = self.cleaned_data["hr_head_threshold"]
        if value < 0:
            raise forms.ValidationError(_("不能为负数。"))
        return value


@admin.register(Jurisdiction)
class JurisdictionAdmin(ReasonedAdminMixin, admin.ModelAdmin):
    """The administrator changes a jurisdiction's settings (the HR head's amount line, certificate
    check mode, class filing days ahead and start date, public notice start date, attendance
    minimum) here; never adds or deletes one (provisioning does: claims.organisation). A change is
    saved through ``ensure_jurisdiction``, which records it in the ledger (before and after, and
    the reason the form asks)."""

    form = JurisdictionSettingsForm
    list_display = ("code", "name", "hr_head_threshold", "certificate_check_mode", "class_filing_from", "public_notice_from")
    readonly_fields = ("code", "name")
    fields = ("code", "name", "hr_head_threshold", *JURISDICTION_SETTINGS)

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        settings = {name: form.cleaned_data[name] for name in JURISDICTION_SETTINGS}
        saved = ensure_jurisdiction(
            actor=request.user,
            code=obj.code,
            name=obj.name,
            hr_head_threshold=form.cleaned_data["hr_head_threshold"],
            reason=self.change_reason(form),
            **settings,
        )
        obj.refresh_from_db()
        return saved


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
