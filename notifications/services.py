"""Notifications: written in the transaction of the change that causes them, delivered after.

``notify`` writes, in the caller's transaction, one in-app ``Notification`` per recipient and,
for those who want it now, an ``OutboxEmail`` (the outbox). After commit a Celery task sends
each e-mail (``deliver``); the beat sweep (``sweep_outbox``, also run by ``run_due``) sends what
that task never did (Redis down at commit, a worker lost, the mail server refusing). Who is told
what is decided above (workflow/notify.py); this layer knows nothing of the process.

Sending is at most once per message (docs/architecture.md, "Notifications"): a row is claimed
(pending → sending, with a token) and committed before the mail server is called, marked sent
after. A row left "sending" past the lease may or may not have gone out: it is set "uncertain"
and never sent again; the in-app notification is there in any case."""

import datetime
import logging
import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from claims.dates import date_text, moment_text
from due.enqueue import enqueue_after_commit

from .models import TASK_KINDS, UNREAD, Channel, EmailState, Kind, Notification, OutboxEmail, Preference
from .selectors import readable_notifications

logger = logging.getLogger(__name__)

# A claimed e-mail not marked sent after this long is "uncertain" (its sender died).
SEND_LEASE = datetime.timedelta(minutes=10)
MAX_ATTEMPTS = 8
SWEEP_BATCH = 500


def _backoff(attempts: int) -> datetime.timedelta:
    return datetime.timedelta(minutes=min(2 ** max(attempts - 1, 0), 240))


def channels_of(user_ids, kind: str) -> dict[int, str]:
    """Each user's channel for this kind: their preference, else immediate e-mail."""
    chosen = dict(Preference.objects.filter(user_id__in=user_ids, kind=kind).values_list("user_id", "channel"))
    return {user_id: chosen.get(user_id, Channel.EMAIL) for user_id in user_ids}


def recipient_language(user) -> str:
    """The language a person reads their notifications in. The product keeps no language per
    person (the switch in the page header is the browser session's), so it is the default,
    settings.LANGUAGE_CODE (zh-hans): never the language of whoever caused the notification."""
    return settings.LANGUAGE_CODE


def notify(
    *,
    recipients,
    kind: str,
    message: Callable[[], str] | str,
    key: str,
    claim=None,
    training_class=None,
    task_id: int | None = None,
    link: str = "",
) -> int:
    """Tell these people, in the caller's transaction: an in-app notification each, and their
    e-mail in the outbox (or marked for their daily digest). It is about a claim (and maybe its
    ``task_id``) or a filed class, whose number the e-mail's subject names. ``key`` names the
    event: writing the same event again adds nothing (per recipient ``<key>:<user id>``, unique).
    Returns how many notifications were new.

    ``message``: a function that builds the text with gettext; it is called in each recipient's
    language (recipient_language), as is the e-mail's subject. A plain string is used as it is."""
    about = claim if claim is not None else training_class
    if about is None:
        raise ValueError("a notification is about a claim or a class")
    people = {user.pk: user for user in recipients if user is not None and user.is_active}
    if not people:
        return 0
    keys = {user_id: f"{key}:{user_id}" for user_id in people}
    known = set(Notification.objects.filter(key__in=keys.values()).values_list("key", flat=True))
    new = {user_id: user for user_id, user in people.items() if keys[user_id] not in known}
    if not new:
        return 0
    channels = channels_of(list(new), kind)
    now = timezone.now()
    url = settings.NOTIFICATION_SITE_URL + link if link and settings.NOTIFICATION_SITE_URL else ""
    rendered: dict[str, tuple[str, str]] = {}

    def texts(user) -> tuple[str, str]:
        """(the message, the e-mail's subject) in the recipient's language, built once per language."""
        language = recipient_language(user)
        if language not in rendered:
            with translation.override(language):
                text = str(message() if callable(message) else message)
                subject = _("【补贴审核】%(kind)s：%(claim)s") % {"kind": Kind(kind).label, "claim": about.number}
            rendered[language] = (text, subject)
        return rendered[language]

    emails = [
        OutboxEmail(
            key=keys[user_id],
            recipient=user,
            to=user.email,
            subject=texts(user)[1],
            body=texts(user)[0] + (f"\n\n{url}" if url else ""),
            next_attempt_at=now,
        )
        for user_id, user in new.items()
        if channels[user_id] == Channel.EMAIL and user.email
    ]
    # ignore_conflicts: the same event written by two transactions at once is one row.
    OutboxEmail.objects.bulk_create(emails, ignore_conflicts=True)
    email_ids = dict(OutboxEmail.objects.filter(key__in=[email.key for email in emails]).values_list("key", "pk"))
    Notification.objects.bulk_create(
        [
            Notification(
                recipient=user,
                kind=kind,
                key=keys[user_id],
                claim=claim,
                training_class=training_class,
                task_id=task_id,
                message=texts(user)[0][:300],
                digest=channels[user_id] == Channel.DIGEST and bool(user.email),
                email_id=email_ids.get(keys[user_id]),
            )
            for user_id, user in new.items()
        ],
        ignore_conflicts=True,
    )
    if email_ids:
        _send_after_commit(list(email_ids.values()))
    return len(new)


def settle_task_notifications(*, claim_id: int, open_tasks: dict[int, tuple[int | None, datetime.datetime | None]]) -> int:
    """The claim's notifications that asked someone to act on a task (TASK_KINDS) and no longer
    do, settled, in the caller's transaction: the task is closed (not in ``open_tasks``), or
    someone else holds it since before the notification was written (``open_tasks``: task id →
    (owner id, when it was assigned)). So a reviewer's bell does not keep counting a claim their
    colleague took, while a team lead told of an overdue task after it was taken is still asked.
    Returns how many were settled."""
    still_asking = Q(pk__in=[])
    for task_id, (owner_id, assigned) in open_tasks.items():
        if owner_id is None or assigned is None:
            still_asking |= Q(task_id=task_id)
        else:
            still_asking |= Q(task_id=task_id) & (Q(recipient_id=owner_id) | Q(created_at__gte=assigned))
    return (
        Notification.objects.filter(claim_id=claim_id, kind__in=TASK_KINDS, task_id__isnull=False, settled_at__isnull=True)
        .exclude(still_asking)
        .update(settled_at=timezone.now())
    )


def settle_class_notifications(*, training_class_id: int) -> int:
    """A filing was accepted or refused: the notifications asking its department's reviewers to
    decide it are settled (in the caller's transaction)."""
    return Notification.objects.filter(
        training_class_id=training_class_id, kind=Kind.CLASS_FILED, settled_at__isnull=True
    ).update(settled_at=timezone.now())


def _send_after_commit(email_ids: list[int]) -> None:
    """After commit, one Celery task for these e-mails; Redis down leaves them pending for the sweep."""
    from .tasks import deliver_emails  # tasks.py imports this module

    enqueue_after_commit(deliver_emails, email_ids, sweep="notifications.sweep_outbox")


def deliver(email_id: int, *, now: datetime.datetime | None = None) -> str:
    """Send one e-mail of the outbox at most once; returns its state afterwards.

    1. Claim it: pending → sending, with a fresh token (a conditional UPDATE, committed).
       Whoever does not win (a second task, the sweep, a redelivered message) sends nothing.
    2. Send it, with Message-ID = its key.
    3. Mark it sent (only with our token). A refusal by the mail server (an exception) puts it
       back to pending with a later attempt time, or failed after MAX_ATTEMPTS.
    An e-mail whose notification was settled before it was claimed (the task it asked about taken
    or done meanwhile) is withdrawn instead: it would ask its reader for nothing.
    A crash between 1 and 3 leaves it "sending": the sweep sets it "uncertain", never resends."""
    now = now or timezone.now()
    token = uuid.uuid4()
    settled = Notification.objects.filter(email_id=OuterRef("pk"), settled_at__isnull=False)
    with transaction.atomic():
        # Not gated on next_attempt_at: the after-commit task's clock may differ from the web
        # process's; the sweep picks what is due, a redelivered task only sends early.
        claimed = (
            OutboxEmail.objects.filter(pk=email_id, state=EmailState.PENDING)
            .exclude(Exists(settled))
            .update(state=EmailState.SENDING, token=token, claimed_at=now, attempts=F("attempts") + 1)
        )
        if not claimed:  # its notification no longer asks anything: withdrawn, never sent
            OutboxEmail.objects.filter(pk=email_id, state=EmailState.PENDING).filter(Exists(settled)).update(
                state=EmailState.WITHDRAWN
            )
    email = OutboxEmail.objects.filter(pk=email_id).first()
    if email is None:
        return "missing"
    if not claimed:
        return email.state
    message = EmailMessage(
        email.subject, email.body, settings.DEFAULT_FROM_EMAIL, [email.to], headers={"Message-ID": email.message_id}
    )
    try:
        message.send()
    except Exception as error:
        state = EmailState.FAILED if email.attempts >= MAX_ATTEMPTS else EmailState.PENDING
        logger.warning("e-mail %s not sent (attempt %d): %s", email.key, email.attempts, error)
        OutboxEmail.objects.filter(pk=email.pk, token=token).update(
            state=state, token=None, next_attempt_at=now + _backoff(email.attempts), last_error=str(error)[:500]
        )
        return state
    OutboxEmail.objects.filter(pk=email.pk, token=token).update(state=EmailState.SENT, sent_at=timezone.now())
    return EmailState.SENT


def sweep_outbox(*, now: datetime.datetime | None = None, limit: int = SWEEP_BATCH) -> dict[str, int]:
    """What the after-commit task did not do: e-mails claimed longer than the lease ago and
    never marked sent become "uncertain" (not resent: at most once); pending e-mails that are
    due are sent here, oldest first, at most ``limit`` per run. Returns counts per outcome."""
    now = now or timezone.now()
    counts = {"uncertain": 0}
    counts["uncertain"] = OutboxEmail.objects.filter(state=EmailState.SENDING, claimed_at__lt=now - SEND_LEASE).update(
        state=EmailState.UNCERTAIN
    )
    if counts["uncertain"]:
        logger.warning("%d e-mails claimed and never marked sent: uncertain, not resent", counts["uncertain"])
    # Never tried: due at once (no backoff to respect, and the writer's clock may run ahead of
    # ours); refused before: due at its next attempt time.
    due = OutboxEmail.objects.filter(Q(attempts=0) | Q(next_attempt_at__lte=now), state=EmailState.PENDING).order_by(
        "next_attempt_at", "pk"
    )
    for email_id in list(due.values_list("pk", flat=True)[:limit]):
        state = deliver(email_id, now=now)
        counts[state] = counts.get(state, 0) + 1
    return counts


def sweep_due(now: datetime.datetime) -> int:
    """The due-job registry's entry (notifications/apps.py): e-mails sent or settled at ``now``."""
    return sum(sweep_outbox(now=now).values())


# The daily digest goes from this local time on (the registry runs every minute; once a day).
DIGEST_AT = datetime.time(8, 30)


def send_digests_due(now: datetime.datetime) -> int:
    """The due-job registry's entry: the day's digests, once it is DIGEST_AT local time."""
    if timezone.localtime(now).time() < DIGEST_AT:
        return 0
    return send_digests(now=now)


def send_digests(*, now: datetime.datetime | None = None) -> int:
    """Each person's daily digest: one e-mail listing their notifications waiting for it that they
    may still read (readable_notifications: not what a department they left told them; those
    wait, and come back with the scope), key ``digest:<user>:<local date>``: once a day, whoever
    runs it. Sent like any e-mail."""
    now = now or timezone.now()
    day = timezone.localdate(now)
    waiting = Q(digest=True, email__isnull=True, settled_at__isnull=True)
    made = []
    recipients = get_user_model().objects.filter(pk__in=Notification.objects.filter(waiting).values("recipient_id"))
    for user in recipients.order_by("pk"):
        key = f"digest:{user.pk}:{day.isoformat()}"
        with transaction.atomic():
            if OutboxEmail.objects.filter(key=key).exists():
                continue  # today's digest has gone: these wait for tomorrow's
            items = list(readable_notifications(user).filter(waiting).select_related("claim").order_by("created_at", "pk"))
            if not items or not user.email:
                continue
            with translation.override(recipient_language(user)):  # dates as the reader writes them
                lines = [f"- {moment_text(item.created_at)} {item.message}" for item in items]
                subject = _("【补贴审核】%(day)s 通知汇总（%(count)d 条）") % {"day": date_text(day), "count": len(items)}
            email = OutboxEmail.objects.create(
                key=key,
                recipient=user,
                to=user.email,
                subject=subject,
                body="\n".join(lines),
                next_attempt_at=now,
            )
            Notification.objects.filter(pk__in=[item.pk for item in items]).update(email=email)
            made.append(email.pk)
    for email_id in made:
        deliver(email_id, now=now)
    return len(made)


# --------------------------------------------------------------------------- the reader's side


def mark_read(*, user, notification_id: int) -> bool:
    """Mark one of the user's notifications read (another person's, or one about what the user no
    longer sees, is not found: False)."""
    mine = readable_notifications(user)
    return bool(
        mine.filter(pk=notification_id, read_at__isnull=True).update(read_at=timezone.now())
        or mine.filter(pk=notification_id).exists()
    )


def mark_all_read(*, user) -> int:
    return readable_notifications(user).filter(UNREAD).update(read_at=timezone.now())


@transaction.atomic
def set_preferences(*, user, channels: dict[str, str]) -> None:
    """The user's channel per kind (a kind not given keeps its choice)."""
    for kind, channel in channels.items():
        Kind(kind), Channel(channel)  # ValueError on anything else: the callers validate first
        Preference.objects.update_or_create(user=user, kind=kind, defaults={"channel": channel})
