"""Django's createsuperuser, recorded in the ledger (user.created, via console, by the operating
system account that ran it): a superuser may do anything in the admin, so whose it is and when it
appeared is an auditor's first question. Without prompts (--noinput), the password from
DJANGO_SUPERUSER_PASSWORD must pass AUTH_PASSWORD_VALIDATORS too, which Django's skips."""

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import createsuperuser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import transaction

from audit import actions
from audit.services import record_event

from ._console import os_user


class Command(createsuperuser.Command):
    help = createsuperuser.Command.help + " Recorded in the audit ledger (user.created, via console)."

    def handle(self, *args, **options):
        if not options["interactive"]:
            self.refuse_weak_password(options)
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

    def refuse_weak_password(self, options) -> None:
        """The prompts check the password typed; --noinput takes DJANGO_SUPERUSER_PASSWORD unchecked."""
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if password is None:
            return  # no password: the account is made unable to sign in until one is set
        model = get_user_model()
        fields = [model.USERNAME_FIELD, *model.REQUIRED_FIELDS]
        # The would-be user's names, as the command reads them, for the similarity validator.
        names = {field: options.get(field) or os.environ.get(f"DJANGO_SUPERUSER_{field.upper()}") for field in fields}
        concrete = {field: value for field, value in names.items() if value and not model._meta.get_field(field).many_to_many}
        try:
            validate_password(password, model(**concrete))
        except ValidationError as error:
            raise CommandError(f"DJANGO_SUPERUSER_PASSWORD is too weak: {' '.join(error.messages)}") from None
