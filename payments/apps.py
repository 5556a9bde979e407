from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("资金与拨付")

    def ready(self):
        from due.registry import register

        from .services import batches

        register(
            "payments.requeue_stuck_releases",
            batches.requeue_stuck_releases,
            description="batches left releasing (task lost: Redis down at commit, a worker killed) are released",
        )
