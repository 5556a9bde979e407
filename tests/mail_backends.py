"""E-mail backends for the outbox's tests: one the mail server refuses, and one whose worker dies
right after the server took the message (before the outbox could mark it sent)."""

import os
import smtplib

from django.core.mail.backends.console import EmailBackend as ConsoleBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class RefusingBackend(LocmemBackend):
    """The mail server is down: nothing is sent."""

    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("the mail server went away")


class CrashAfterSendBackend(ConsoleBackend):
    """Writes the message to the worker's output (the test reads it there), then the process
    dies at once: the crash point between sending and marking sent."""

    def send_messages(self, messages):
        sent = super().send_messages(messages)
        self.stream.flush()
        os._exit(70)
        return sent
