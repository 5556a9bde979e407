from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """Demo seeding: drives every layer (organisation, catalogue, funds, claims through the flow)."""

    name = "demo"
    verbose_name = _("演示数据")
