"""A claim's thread: messages between its provider and the people who review and pay it, and
the reviewers' internal notes, which the provider never reads.

- Who writes: whoever sees the claim (claims_visible_to) and holds claims.access
  COMMENT_ON_CLAIMS; an internal note also needs may_read_internal_notes. Who reads: whoever
  sees the claim; internal notes only those who may read them (the thread here, the ledger in
  claims.selectors.ledger_entries_visible_to).
- ``@username`` mentions tell the person (an in-app notification and its e-mail) when they see
  the claim, and for an internal note when they may read it; any other name stays plain text,
  and the writer is not told whether it exists.
- Every message is a ledger entry of the claim (``comment.posted`` or ``comment.internal_note``)
  holding its text: the thread is evidence, and is never edited or deleted.
"""

import re

from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from audit import actions
from audit.services import record_event
from claims import access
from claims.bounds import TEXT_MAX_LENGTH, character_refusal
from claims.errors import ActionForbidden, InvalidInput
from claims.models import Claim, Comment
from claims.selectors import claims_visible_to, get_claim_for_user
from notifications.models import Kind
from notifications.services import notify

# A mention: "@" and a login name (ASCII letters, digits and . + - _), not inside an e-mail
# address; Chinese text may touch it on either side ("请@dept_reviewer查收").
MENTION = re.compile(r"(?<![A-Za-z0-9_@.+-])@([A-Za-z0-9_.+-]{1,150})")
MAX_MENTIONS = 20


def mentioned_names(body: str) -> list[str]:
    """The usernames a text mentions, in order, each once (a trailing full stop is punctuation)."""
    return list(dict.fromkeys(name.rstrip(".") for name in MENTION.findall(body)))[:MAX_MENTIONS]


def _in_scope(user, claim: Claim, *, internal: bool) -> bool:
    if not claims_visible_to(user).filter(pk=claim.pk).exists():
        return False
    return access.may_read_internal_notes(user) if internal else True


def thread_of(*, user, claim: Claim):
    """The claim's messages the user may read, oldest first (404 when the claim is not theirs)."""
    claim = get_claim_for_user(user=user, claim_id=claim.pk)
    comments = Comment.objects.filter(claim=claim).select_related("author").prefetch_related("mentions").order_by("id")
    if not access.may_read_internal_notes(user):
        comments = comments.filter(internal=False)
    return comments


def may_comment(user) -> bool:
    return access.may(user, access.COMMENT_ON_CLAIMS)


def may_write_internal_notes(user) -> bool:
    return access.may(user, access.COMMENT_ON_CLAIMS) and access.may_read_internal_notes(user)


def post_comment(*, user, claim: Claim, body: str, internal: bool = False) -> Comment:
    """Add a message (or, ``internal``, a note for the reviewers) to the claim's thread; tell the
    people it mentions who are in scope. InvalidInput naming ``body``; 403 for a role that may not."""
    claim = get_claim_for_user(user=user, claim_id=claim.pk)
    access.require(user, access.COMMENT_ON_CLAIMS)
    if internal and not access.may_read_internal_notes(user):
        raise ActionForbidden(str(access.REFUSALS[access.READ_INTERNAL_NOTES]))
    text = body if isinstance(body, str) else ""
    if refusal := character_refusal(text):
        raise InvalidInput(_("留言有误。"), fields={"body": [refusal]})
    text = text.strip()
    if not text:
        raise InvalidInput(_("留言有误。"), fields={"body": [_("请填写留言内容。")]})
    if len(text) > TEXT_MAX_LENGTH:
        message = _("留言不超过 %(max)d 个字（现有 %(n)d 个）。") % {"max": TEXT_MAX_LENGTH, "n": len(text)}
        raise InvalidInput(_("留言有误。"), fields={"body": [message]})
    names = mentioned_names(text)
    candidates = get_user_model().objects.filter(username__in=names, is_active=True).exclude(pk=user.pk) if names else []
    mentioned = [person for person in candidates if _in_scope(person, claim, internal=internal)]
    with transaction.atomic():
        comment = Comment.objects.create(claim=claim, author=user, body=text, internal=internal)
        comment.mentions.set(mentioned)
        record_event(
            actor=user,
            action=actions.INTERNAL_NOTE_POSTED if internal else actions.COMMENT_POSTED,
            obj=comment,
            claim=claim,
            reason=text,
            detail={"comment": comment.pk, "mentions": sorted(person.get_username() for person in mentioned)},
        )
        _tell_mentioned(comment, mentioned)
    return comment


def _tell_mentioned(comment: Comment, people) -> None:
    """A notification to each person mentioned (one per comment and person), its e-mail sent after commit."""

    def message() -> str:
        return (
            _("%(author)s 在申领 %(number)s 的内部备注中提到了您")
            if comment.internal
            else _("%(author)s 在申领 %(number)s 的留言中提到了您")
        ) % {
            "author": comment.author.get_username(),
            "number": comment.claim.number,
        }

    # In the comment's transaction (the outbox, notifications.services.notify): once per comment and person.
    notify(
        recipients=people,
        kind=Kind.MENTION,
        claim=comment.claim,
        message=message,
        key=f"comment:{comment.pk}",
        link=reverse("approvals:claim", args=[comment.claim_id]),
    )
