from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("通知")

    def ready(self):
        from due.registry import register

        from . import services

        register(
            "notifications.sweep_outbox",
            services.sweep_due,
            description="e-mails the after-commit task did not send are sent; stale claims marked uncertain",
        )
        register(
            "notifications.daily_digests",
            services.send_digests_due,
            description="each person's daily digest, once a day from 08:30 local time",
        )
