from django.contrib import admin

from .models import OutboxEmail


@admin.register(OutboxEmail)
class OutboxEmailAdmin(admin.ModelAdmin):
    """The outbox, for the operator: what is pending, failed or uncertain (a sender died while
    sending: never resent). Read only: the outbox's services alone change it."""

    list_display = ("key", "to", "state", "attempts", "created_at", "sent_at", "last_error")
    list_filter = ("state",)
    search_fields = ("key", "to")
    readonly_fields = [field.name for field in OutboxEmail._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
