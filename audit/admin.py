from django.contrib import admin
from django.db import transaction
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


# Users and groups stay editable by administrators in the Django admin, but every change there
# is recorded in the ledger in the admin's own transaction (the change view runs atomically).
# Their admins are registered in workflow/admin.py, which adds segregation of duties.


def _relations(obj, names):
    return {name: sorted(str(item) for item in getattr(obj, name).all()) for name in names} if obj.pk else {}


class AuditedAdminMixin:
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
        record_event(actor=request.user, action=self.ledger_actions["updated" if change else "created"], obj=obj, detail=detail)

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
                detail={"via": "admin", "before": before, "after": after},
            )

    def delete_model(self, request, obj):
        record_event(
            actor=request.user,
            action=self.ledger_actions["deleted"],
            obj=obj,
            detail={"via": "admin", "fields": {k: str(v) for k, v in self._fields_of(obj).items()}},
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # The changelist's "delete selected" runs outside a transaction (the delete view runs in one).
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)
