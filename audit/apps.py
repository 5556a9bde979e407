from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("审计")

    def ready(self):
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from . import access

        user_logged_in.connect(access.on_login, dispatch_uid="audit.auth.login")
        user_logged_out.connect(access.on_logout, dispatch_uid="audit.auth.logout")
