import copy

from django import forms
from django.contrib import admin
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from . import actions as audit_actions
from .models import AuditEvent
from .services import record_event


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown in the admin, never added, changed or deleted there (claims.admin uses it too)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ActionFilter(admin.SimpleListFilter):
    """The actions the ledger holds, by their labels (audit/actions.py)."""

    title = _("操作")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        present = model_admin.get_queryset(request).order_by("action").values_list("action", flat=True).distinct()
        return [(action, f"{audit_actions.label(action)} ({action})") for action in present]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "seq",
        "at",
        "actor_username",
        "action",
        "action_label",
        "object_type",
        "object_id",
        "claim_id",
        "from_state",
        "to_state",
    )
    list_filter = (ActionFilter,)
    search_fields = ("object_id", "actor_username")

    def get_queryset(self, request):
        # The whole ledger is the superuser's (the operator's, who holds the database anyway).
        # Other staff read it where it is scoped to their jurisdictions (the auditor's workspace
        # and the API, claims.selectors.ledger_entries_visible_to): here, nothing.
        entries = super().get_queryset(request)
        return entries if request.user.is_superuser else entries.none()

    @admin.display(description=_("操作"))
    def action_label(self, event):
        return event.action_label


# --------------------------------------------------------------------------- the reason for a change

# The form field that holds the administrator's reason, on every page of the admin that writes.
CHANGE_REASON = "change_reason"


def _reason_asked(model_admin, request, *, confirmed: bool):
    """(the request to go on with, the reason form to show) on a delete confirmation page. A
    confirmation posted without a valid reason goes on as the page's first showing (nothing
    posted: Django deletes nothing), its errors shown."""
    if not confirmed:
        return request, model_admin.change_reason_form()
    form = model_admin.change_reason_form(request.POST)
    if form.is_valid():
        return request, form
    unconfirmed = copy.copy(request)
    unconfirmed.POST = QueryDict()
    return unconfirmed, form


def _delete_selected(modeladmin, request, queryset):
    """Django's "delete selected", asking the reason as the delete page does."""
    request, form = _reason_asked(modeladmin, request, confirmed=bool(request.POST.get("post")))
    response = delete_selected(modeladmin, request, queryset)
    if response is not None:  # the confirmation page (None: deleted)
        response.context_data["change_reason"] = form[CHANGE_REASON]
    return response


class ReasonedAdminMixin:
    """Asks the administrator why, wherever the admin writes: a required field in a fieldset of
    its own, last, on the add and change forms (``change_reason(form)``), and on the delete
    confirmations, one object's and the changelist's "delete selected" (``deletion_reason(request)``),
    which delete nothing when it is missing. The field is the site's (config/admin_site.py).
    Where the change lands in the ledger is the admin's own (AuditedAdminMixin, accounts/admin.py,
    claims/admin.py)."""

    delete_confirmation_template = "admin/reasoned_delete_confirmation.html"
    delete_selected_confirmation_template = "admin/reasoned_delete_selected_confirmation.html"

    def with_change_reason(self, form_class):
        """``form_class`` with the reason field."""
        return type(form_class.__name__, (form_class,), {CHANGE_REASON: self.admin_site.change_reason_field()})

    def change_reason_form(self, data=None) -> forms.Form:
        return self.with_change_reason(forms.Form)(data)

    def change_reason(self, form) -> str:
        """The reason given on a valid add or change form."""
        return form.cleaned_data[CHANGE_REASON]

    def posted_reason(self, request) -> str:
        """The valid reason posted with ``request``, else ""."""
        form = self.change_reason_form(request.POST)
        return form.cleaned_data[CHANGE_REASON] if form.is_valid() else ""

    def deletion_reason(self, request) -> str:
        """The reason posted with a confirmed deletion (both delete pages checked it first)."""
        reason = self.posted_reason(request)
        if not reason:
            raise SuspiciousOperation("a deletion in the admin without its reason")
        return reason

    def _asks_reason(self, request, obj) -> bool:
        # A change page shown read only (view permission alone) changes nothing.
        return obj is None or self.has_change_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if "fields" not in kwargs:  # as Django's get_form: the fieldsets' fields
            kwargs["fields"] = flatten_fieldsets(self.get_fieldsets(request, obj))
        if kwargs["fields"]:  # the reason is no field of the model
            kwargs["fields"] = [name for name in kwargs["fields"] if name != CHANGE_REASON]
        form = super().get_form(request, obj, change=change, **kwargs)
        return self.with_change_reason(form) if self._asks_reason(request, obj) else form

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self._asks_reason(request, obj):
            return fieldsets
        # Fieldsets made from the form's fields (no fieldsets declared) hold the reason already.
        others = [
            (name, {**options, "fields": [field for field in options["fields"] if field != CHANGE_REASON]})
            for name, options in fieldsets
        ]
        return [*others, (None, {"fields": [CHANGE_REASON], "classes": ["change-reason"]})]

    def delete_view(self, request, object_id, extra_context=None):
        request, form = _reason_asked(self, request, confirmed=request.method == "POST")
        return super().delete_view(request, object_id, {**(extra_context or {}), "change_reason": form[CHANGE_REASON]})

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _func, name, description = actions["delete_selected"]
            actions["delete_selected"] = (_delete_selected, name, description)
        return actions


# Users and groups stay editable by administrators in the Django admin, but every change there
# is recorded in the ledger in the admin's own transaction (the change view runs atomically).
# Their admins are registered in workflow/admin.py, which adds segregation of duties.


def _relations(obj, names):
    return {name: sorted(str(item) for item in getattr(obj, name).all()) for name in names} if obj.pk else {}


class AuditedAdminMixin(ReasonedAdminMixin):
    audited_relations: tuple = ()
    hidden_fields = ("password",)
    # The ledger actions of this admin's changes: created, updated, relations_changed, deleted.
    ledger_actions: dict = {}

    def _fields_of(self, obj) -> dict:
        return {
            field.name: field.value_from_object(obj)
            for field in obj._meta.concrete_fields
            if field.name not in self.hidden_fields
        }

    def save_model(self, request, obj, form, change):
        before = self._fields_of(type(obj).objects.get(pk=obj.pk)) if change else {}
        super().save_model(request, obj, form, change)
        after = self._fields_of(obj)
        changed = {key: {"before": before.get(key), "after": after[key]} for key in after if before.get(key) != after[key]}
        detail = {"via": "admin", "changed": {key: {k: str(v) for k, v in diff.items()} for key, diff in changed.items()}}
        if "password" in form.changed_data or (not change and "password1" in form.cleaned_data):
            detail["password_set"] = True
        record_event(
            actor=request.user,
            action=self.ledger_actions["updated" if change else "created"],
            obj=obj,
            reason=self.change_reason(form),
            detail=detail,
        )

    def save_related(self, request, form, formsets, change):
        obj = form.instance
        before = _relations(obj, self.audited_relations)
        super().save_related(request, form, formsets, change)
        after = _relations(obj, self.audited_relations)
        if before != after:
            record_event(
                actor=request.user,
                action=self.ledger_actions["relations_changed"],
                obj=obj,
                reason=self.change_reason(form),
                detail={"via": "admin", "before": before, "after": after},
            )

    def delete_model(self, request, obj):
        record_event(
            actor=request.user,
            action=self.ledger_actions["deleted"],
            obj=obj,
            reason=self.deletion_reason(request),
            detail={"via": "admin", "fields": {k: str(v) for k, v in self._fields_of(obj).items()}},
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # The changelist's "delete selected" runs outside a transaction (the delete view runs in one).
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)
