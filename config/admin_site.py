"""The admin site: Django's, with its own password page (an administrator's own password)
recorded in the ledger like a user's password page (workflow/admin.py)."""

from django.contrib import admin

from audit.access import password_set_recorded


class AuditedAdminSite(admin.AdminSite):
    def password_change(self, request, extra_context=None):
        with password_set_recorded(request=request, user=request.user):
            return super().password_change(request, extra_context)
