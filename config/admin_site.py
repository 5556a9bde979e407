"""The admin site: Django's, with what its writing pages ask and record.

- The reason for a change (``change_reason_field``): every add, change and deletion the admin
  records in the ledger asks the administrator why (audit.admin.ReasonedAdminMixin), and the
  entries keep it. The site serves it because the ledger, which asks for it, imports none of
  our apps; it is defined once in claims.bounds, whose bounds it has (the catalogue's pages ask it too).
- Its own password page (an administrator's own password) is recorded in the ledger like a
  user's password page (workflow/admin.py)."""

from django import forms
from django.contrib import admin

from audit.access import password_set_recorded
from claims.bounds import change_reason_field


class AuditedAdminSite(admin.AdminSite):
    def change_reason_field(self) -> forms.Field:
        """The administrator's reason for a change, required, kept in its ledger entries (``reason``)."""
        return change_reason_field()

    def password_change(self, request, extra_context=None):
        with password_set_recorded(request=request, user=request.user):
            return super().password_change(request, extra_context)
