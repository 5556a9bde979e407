from django.contrib.admin.apps import AdminConfig


class AuditedAdminConfig(AdminConfig):
    """django.contrib.admin with the project's site (config/admin_site.py)."""

    default_site = "config.admin_site.AuditedAdminSite"
