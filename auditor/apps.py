from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditorConfig(AppConfig):
    """The auditor's workspace: read-only pages over claims and the ledger (search, sample,
    timeline, state as of a day, verification, exports). A page app on top of claims and
    the audit ledger; the ledger itself (audit/) knows nothing of it."""

    name = "auditor"
    verbose_name = _("审计工作台")
