"""Users and groups in the Django admin: every change recorded in the ledger (audit.admin), and
every change of who holds which role refused when it breaks segregation of duties
(policy.role_change_refusal, the rule workflow.staffing applies too)."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from audit import actions as audit_actions
from audit.admin import AuditedAdminMixin
from claims import roles

from . import policy

User = get_user_model()


def _refuse_if(refusal) -> None:
    if refusal is not None:
        raise ValidationError(refusal.message, code=refusal.code)


class SegregatedUserChangeForm(UserChangeForm):
    """The user as changed here (groups, superuser, staff) must pass the role-assignment rule."""

    def clean(self):
        cleaned = super().clean()
        if "groups" in self.errors:
            return cleaned
        groups = list(cleaned.get("groups", roles.groups_of(self.instance)))
        _refuse_if(
            policy.role_change_refusal(
                user=self.instance,
                role_names={group.name for group in groups},
                group_ids={group.pk for group in groups},
                is_superuser=cleaned.get("is_superuser", self.instance.is_superuser),
                is_staff=cleaned.get("is_staff", self.instance.is_staff),
            )
        )
        return cleaned


class SegregatedGroupForm(forms.ModelForm):
    """Renaming a group renames the role its members hold: each member must pass the rule."""

    class Meta:
        model = Group
        fields = ("name", "permissions")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("name"):
            _refuse_if(policy.group_rename_refusal(group=self.instance, new_name=cleaned["name"]))
        return cleaned


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedAdminMixin, UserAdmin):
    form = SegregatedUserChangeForm
    audited_relations = ("groups", "user_permissions")
    ledger_actions = {
        "created": audit_actions.USER_CREATED,
        "updated": audit_actions.USER_UPDATED,
        "relations_changed": audit_actions.USER_RELATIONS_CHANGED,
        "deleted": audit_actions.USER_DELETED,
    }


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdminMixin, GroupAdmin):
    form = SegregatedGroupForm
    audited_relations = ("permissions",)
    ledger_actions = {
        "created": audit_actions.GROUP_CREATED,
        "updated": audit_actions.GROUP_UPDATED,
        "relations_changed": audit_actions.GROUP_RELATIONS_CHANGED,
        "deleted": audit_actions.GROUP_DELETED,
    }
