from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "accounts.console"
    label = "accounts_console"
