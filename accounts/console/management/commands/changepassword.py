"""Django's changepassword, recorded in the ledger as the admin's password pages are
(audit.access.record_password_set): who ran it (the operating-system account), whose password,
whether it can be used."""

import getpass

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import changepassword
from django.db import transaction

from audit.access import record_password_set, stored_password

from ._console import os_user


class Command(changepassword.Command):
    help = changepassword.Command.help + " Recorded in the audit ledger (user.password_set, via console)."

    def handle(self, *args, **options):
        username = options["username"] or getpass.getuser()
        user_model = get_user_model()
        user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
        before = stored_password(user)
        # Not one transaction with the prompt: SQLite's writers take its lock at BEGIN
        # (config/settings.py), which would stop the running site while the operator types.
        answer = super().handle(*args, **options)
        with transaction.atomic():
            record_password_set(actor=None, user=user, before=before, via="console", where={"os_user": os_user()})
        return answer
