"""The admin site: Django's, with what its writing pages ask and record.

- The reason for a change (``change_reason_field``): every add, change and deletion the admin
  records in the ledger asks the administrator why (audit.admin.ReasonedAdminMixin), and the
  entries keep it. Defined here, once, because its bounds are claims.bounds' and the ledger,
  which asks for it, imports none of our apps.
- Its own password page (an administrator's own password) is recorded in the ledger like a
  user's password page (workflow/admin.py)."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from audit.access import password_set_recorded
from claims.bounds import TEXT_MAX_LENGTH, reject_refused_characters


class ChangeReasonField(forms.CharField):
    """Why a change is made: not a field of the object, so never listed as changed in the admin's history."""

    def has_changed(self, initial, data) -> bool:
        return False


class AuditedAdminSite(admin.AdminSite):
    def change_reason_field(self) -> forms.Field:
        """The administrator's reason for a change, required, kept in its ledger entries (``reason``)."""
        return ChangeReasonField(
            label=_("变更理由"),
            help_text=_("写明为何作此变更；理由随变更记入审计台账。"),
            max_length=TEXT_MAX_LENGTH,
            validators=[reject_refused_characters],
            widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        )

    def password_change(self, request, extra_context=None):
        with password_set_recorded(request=request, user=request.user):
            return super().password_change(request, extra_context)
