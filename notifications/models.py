from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    """What a notification is about; each user chooses per kind how (or whether) it is e-mailed."""

    TASK = "task", _("任务待办理")
    TASK_REASSIGNED = "task_reassigned", _("任务已改派他人")
    RETURNED = "returned", _("申领被退回修改")
    REJECTED = "rejected", _("申领不予补贴")
    APPROVED = "approved", _("申领已核准")
    PAID = "paid", _("申领已拨付")
    PAYMENT_RETURNED = "payment_returned", _("拨付被银行退回")
    OBJECTION = "objection", _("收到异议")
    DEADLINE_NEAR = "deadline_near", _("办理期限将至")
    DEADLINE_PASSED = "deadline_passed", _("办理已超期")
    MENTION = "mention", _("留言中提到您")
    CLASS_FILED = "class_filed", _("班级待确认备案")
    CLASS_DECIDED = "class_decided", _("班级备案结果")


# The kinds that ask their recipient to act on a task (its task_id): settled once the task no
# longer asks it of them (notifications.services.settle_task_notifications).
TASK_KINDS = (Kind.TASK, Kind.DEADLINE_NEAR, Kind.DEADLINE_PASSED)

# What the bell counts: not read, and still asking something of its recipient.
UNREAD = models.Q(read_at__isnull=True, settled_at__isnull=True)


class Channel(models.TextChoices):
    """How a kind of notification reaches a person beyond the in-app list."""

    EMAIL = "email", _("即时邮件")
    DIGEST = "digest", _("每日汇总邮件")
    NONE = "none", _("不发邮件（仅站内）")


class EmailState(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    # Claimed for sending and never marked sent: it may or may not have left (a worker died
    # between claiming and marking). Never sent again automatically (at most once).
    UNCERTAIN = "uncertain", _("发送结果不明")
    FAILED = "failed", _("发送失败")
    # Its notification was settled before it went (the task taken by a colleague while the mail
    # server refused it, say): it no longer asks anything of its reader, so it is not sent.
    WITHDRAWN = "withdrawn", _("已无需发送")


class OutboxEmail(models.Model):
    """An e-mail to send: written in the transaction of the change that causes it (the outbox),
    sent after commit by a Celery task, or by the sweep when that task never ran.

    ``key`` is the message's idempotency key and its Message-ID: one row per key, so a message
    written twice is one row, and a receiving server sees one Message-ID. ``token``: who claimed
    it for sending (the claim is a conditional UPDATE pending → sending)."""

    key = models.CharField(max_length=200, unique=True)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    to = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    state = models.CharField(max_length=20, choices=EmailState.choices, default=EmailState.PENDING)
    token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="outbox_due")]

    @property
    def message_id(self) -> str:
        return f"<{self.key}@{settings.NOTIFICATION_MESSAGE_ID_DOMAIN}>"


class Notification(models.Model):
    """An in-app message to one person. Written in the transaction of the change it tells of;
    ``key`` (unique) makes writing it again a no-op. ``email``: the e-mail it went out in (its
    own, or a daily digest); ``digest``: waiting for the recipient's daily digest."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("类别"), max_length=30, choices=Kind.choices, default=Kind.TASK)
    key = models.CharField(max_length=200, unique=True)
    # What it is about: a claim (and maybe its task), or a filed class.
    claim = models.ForeignKey("claims.Claim", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    training_class = models.ForeignKey("claims.TrainingClass", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    task_id = models.BigIntegerField(null=True, blank=True)
    message = models.CharField(_("内容"), max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # When it stopped asking anything of its recipient: someone else took the task or filing,
    # or it was done. Not counted as unread, not put in a digest; still listed.
    settled_at = models.DateTimeField(null=True, blank=True)
    digest = models.BooleanField(default=False)
    email = models.ForeignKey(OutboxEmail, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_list"),
            models.Index(fields=["recipient"], condition=UNREAD, name="notification_unread"),
            models.Index(fields=["recipient"], condition=models.Q(digest=True, email__isnull=True), name="notification_digest"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(claim__isnull=False) | models.Q(training_class__isnull=False),
                name="notification_is_about_something",
            ),
        ]


class Preference(models.Model):
    """A person's choice of channel for one kind (none stored: immediate e-mail)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="one_preference_per_kind")]
