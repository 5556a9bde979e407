from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.db import transaction

from audit.access import record_lockout_lifted
from audit.admin import ReasonedAdminMixin

# Switched off in settings (the ledger records logins): nothing to show.
admin.site.unregister(AccessLog)
admin.site.unregister(AccessFailureLog)
admin.site.unregister(AccessAttempt)
# No admin for API tokens (accounts.models.ApiToken): they are issued by the API's login
# (accounts/tokens.py, recorded as auth.token_issued); a user's is revoked by the user, or by
# deactivating the account or setting its password (both recorded). DRF's token app, whose admin
# minted a token for anyone with its key in the list, is not installed.


@admin.register(AccessAttempt)
class RecordedAccessAttemptAdmin(ReasonedAdminMixin, AccessAttemptAdmin):
    """django-axes' counted failures; deleting them lifts a lockout, which the ledger records
    (who lifted it, for which account and address, and why: the delete pages ask) in the
    deletion's transaction. Never changed here. Axes' "clean up expired attempts" action is left
    out: expired attempts lock no one, and axes deletes them itself at every login."""

    actions = []

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        with transaction.atomic():  # the admin's bulk delete action runs outside a transaction
            record_lockout_lifted(
                request=request,
                username=obj.username or "",
                address=obj.ip_address or "",
                reason=self.deletion_reason(request),
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for attempt in queryset:
                self.delete_model(request, attempt)
