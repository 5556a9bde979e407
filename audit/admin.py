from django.contrib import admin

from claims.admin import ReadOnlyAdmin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "at", "actor_username", "action", "object_type", "object_id", "from_state", "to_state")
    list_filter = ("action",)
    search_fields = ("object_id", "actor_username")
