"""What the sign-in machinery does on Django's, django-axes' and the user model's signals."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_save, pre_save

from . import lockout, sessions, tokens


def on_logged_in(sender, request, user, **kwargs) -> None:
    if request is not None:
        sessions.started(request, user)


def on_logged_out(sender, request, user, **kwargs) -> None:
    if request is not None:
        sessions.ended(request)


def before_user_saved(sender, instance, raw=False, **kwargs) -> None:
    """Notes whether this save changes the password or disables the user (read before it lands)."""
    if raw or instance.pk is None:
        return
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return  # e.g. the last_login of every login
    before = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    instance._credentials_revoked = before["password"] != instance.password or (before["is_active"] and not instance.is_active)


def after_user_saved(sender, instance, created=False, raw=False, **kwargs) -> None:
    if getattr(instance, "_credentials_revoked", False):
        instance._credentials_revoked = False
        tokens.revoke_tokens(instance)
        sessions.revoke_sessions(instance)


def connect() -> None:
    from axes.signals import user_locked_out

    user_model = get_user_model()
    user_logged_in.connect(on_logged_in, dispatch_uid="accounts.logged_in")
    user_logged_out.connect(on_logged_out, dispatch_uid="accounts.logged_out")
    user_locked_out.connect(lockout.on_locked_out, dispatch_uid="accounts.locked_out")
    pre_save.connect(before_user_saved, sender=user_model, dispatch_uid="accounts.before_user_saved")
    post_save.connect(after_user_saved, sender=user_model, dispatch_uid="accounts.after_user_saved")
