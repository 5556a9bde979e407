"""Django's createsuperuser, recorded in the ledger (user.created, via console, by the operating
system account that ran it): a superuser may do anything in the admin, so whose it is and when it
appeared is an auditor's first question."""

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import createsuperuser
from django.db import transaction

from audit import actions
from audit.services import record_event

from ._console import os_user


class Command(createsuperuser.Command):
    help = createsuperuser.Command.help + " Recorded in the audit ledger (user.created, via console)."

    def handle(self, *args, **options):
        users = get_user_model()._default_manager
        # Not one transaction with the prompts: SQLite's writers take its lock at BEGIN
        # (config/settings.py), which would stop the running site while the operator types.
        known = set(users.values_list("pk", flat=True))
        answer = super().handle(*args, **options)
        with transaction.atomic():
            for user in users.exclude(pk__in=known):
                record_event(
                    actor=None,
                    action=actions.USER_CREATED,
                    obj=user,
                    detail={
                        "via": "console",
                        "os_user": os_user(),
                        "username": user.get_username(),
                        "is_superuser": user.is_superuser,
                        "is_staff": user.is_staff,
                        "usable_password": user.has_usable_password(),
                    },
                )
        return answer
