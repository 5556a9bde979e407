from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class ClaimsConfig(AppConfig):
    name = "claims"
    verbose_name = _("补贴申领")

    def ready(self):
        from .personal_data import check_keys_set

        checks.register(check_keys_set, checks.Tags.security, deploy=True)
