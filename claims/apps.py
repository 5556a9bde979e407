from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class ClaimsConfig(AppConfig):
    name = "claims"
    verbose_name = _("补贴申领")

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import m2m_changed

        from audit import references
        from due.registry import register

        from . import imports
        from .models import Claim, Jurisdiction
        from .personal_data import check_keys_set
        from .roles import forget_groups

        # The ledger names a claim by its number and a jurisdiction by its code (both read-only).
        references.register(
            claims=references.NamedTable(Claim, "number", jurisdiction_field="jurisdiction"),
            jurisdictions=references.NamedTable(Jurisdiction, "code"),
        )
        checks.register(check_keys_set, checks.Tags.security, deploy=True)
        m2m_changed.connect(forget_groups, sender=get_user_model().groups.through, dispatch_uid="claims.forget_groups")
        register(
            "claims.requeue_stale_uploads",
            imports.requeue_stale_uploads,
            description="roster uploads left received (task lost) or processing (worker killed) are imported",
        )
