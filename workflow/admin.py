"""Users and groups in the Django admin: every change recorded in the ledger (audit.admin), and
every change of who holds which role refused when it breaks segregation of duties
(policy.role_change_refusal, the rule workflow.staffing applies too). And the working-day
calendar's overrides and the time limits per jurisdiction (deadlines.py), recorded the same way.
A password set on a user's password page is recorded too (user.password_set). viewflow's processes
and tasks are shown, never changed here."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from viewflow.workflow.admin import ProcessAdmin, TaskAdmin
from viewflow.workflow.models import Process, Task

from audit import actions as audit_actions
from audit.access import password_set_recorded
from audit.admin import CHANGE_REASON, AuditedAdminMixin, ReadOnlyAdmin
from claims import roles
from claims.admin import ClaimAdmin
from claims.models import Claim

from . import policy
from .calendar import unknown_years
from .certificates import recheck_claim_certificates
from .inbox import refresh_due_dates
from .models import StepDeadline, WorkingDayOverride

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

    change_user_password_template = "admin/auth/user/change_password_with_reason.html"

    @property
    def change_password_form(self):
        return self.with_change_reason(AdminPasswordChangeForm)

    def user_change_password(self, request, id, form_url=""):
        # Setting another's password is taking over their sign-in: recorded with its reason, in the
        # change's transaction (a form without a valid reason sets nothing, so records nothing).
        user = self.get_object(request, unquote(id))
        with password_set_recorded(request=request, user=user, reason=self.posted_reason(request)):
            response = super().user_change_password(request, id, form_url)
        if getattr(response, "context_data", None) is not None:  # the page (else a redirect)
            response.context_data["change_reason"] = response.context_data["form"][CHANGE_REASON]
        return response


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


# --- the working-day calendar and the time limits -------------------------------------------------


class DeadlineInputsAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """A change of a working day or a time limit moves the due dates of the open tasks it touches
    (inbox.refresh_due_dates), in the admin's transaction: pages, API and timers read one date.
    A changed row refreshes what it touched before and after."""

    def refresh(self, row) -> None:
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        before = type(obj).objects.filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        self.refresh(obj)
        if before is not None:
            self.refresh(before)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        self.refresh(obj)


@admin.register(WorkingDayOverride)
class WorkingDayOverrideAdmin(DeadlineInputsAdmin):
    list_display = ("date", "is_working", "jurisdiction", "reason")
    list_filter = ("is_working", "jurisdiction")
    date_hierarchy = "date"
    search_fields = ("reason",)
    ledger_actions = {
        "created": audit_actions.WORKING_DAY_SET,
        "updated": audit_actions.WORKING_DAY_CHANGED,
        "deleted": audit_actions.WORKING_DAY_REMOVED,
    }

    def refresh(self, row) -> None:
        refresh_due_dates(jurisdiction_id=row.jurisdiction_id, dates=[row.date])

    def changelist_view(self, request, extra_context=None):
        # A year neither the library nor an administrator knows is counted Monday to Friday without
        # the statutory holidays (workflow.calendar): say so.
        this_year = timezone.localdate().year
        for year in unknown_years(None, (this_year, this_year + 1)):
            messages.warning(
                request,
                _(
                    "%(year)s 年的放假调休安排尚未录入（节假日库也没有该年数据）：期限暂按周一至周五计算，"
                    "扣除法定节假日（元旦、春节、清明节、劳动节、端午节、中秋节、国庆节）；"
                    "补休日和调休上班日须按国务院办公厅当年通知录入。"
                )
                % {"year": year},
            )
        return super().changelist_view(request, extra_context)


@admin.register(StepDeadline)
class StepDeadlineAdmin(DeadlineInputsAdmin):
    list_display = ("kind", "working_days", "jurisdiction")
    list_filter = ("kind", "jurisdiction")
    ledger_actions = {
        "created": audit_actions.DEADLINE_SET,
        "updated": audit_actions.DEADLINE_CHANGED,
        "deleted": audit_actions.DEADLINE_REMOVED,
    }

    def refresh(self, row) -> None:
        refresh_due_dates(jurisdiction_id=row.jurisdiction_id, steps=[row.kind])


# --------------------------------------------------------------------------- claims: re-check certificates


@admin.action(description=gettext_lazy("联网核查证书（重新核验所选申领）"))
def recheck_certificates(modeladmin, request, queryset):
    """Check the selected submitted claims' certificates again; a revoked paid line gets a recovery order."""
    checked = recovered = 0
    for claim in queryset.exclude(status__in=("draft", "withdrawn")).order_by("pk"):
        outcome = recheck_claim_certificates(actor=request.user, claim=claim)
        checked += 1
        recovered += len(outcome["recoveries"])
    modeladmin.message_user(
        request, _("已核验 %(checked)d 份申领，开具追回单 %(recovered)d 张。") % {"checked": checked, "recovered": recovered}
    )


class ClaimAdminWithChecks(ClaimAdmin):
    actions = [recheck_certificates]


admin.site.unregister(Claim)
admin.site.register(Claim, ClaimAdminWithChecks)


# --------------------------------------------------------------------------- viewflow's processes and tasks

# Read only: a process's data holds the switches the flow routes on, and a claim whose open task
# is deleted is stranded at its step. The flow's services change them (and record it).


class ReadOnlyProcessAdmin(ReadOnlyAdmin, ProcessAdmin):
    pass


class ReadOnlyTaskAdmin(ReadOnlyAdmin, TaskAdmin):
    pass


admin.site.unregister(Process)
admin.site.unregister(Task)
admin.site.register(Process, ReadOnlyProcessAdmin)
admin.site.register(Task, ReadOnlyTaskAdmin)
