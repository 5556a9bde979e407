from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from . import actions


class AuditEvent(models.Model):
    """One append-only ledger entry.

    ``payload`` holds the exact canonical bytes (RFC 8785 JSON, UTF-8) that were
    hashed, so a verifier recomputes ``hash`` from the stored text alone;
    the other columns are copies of its keys for querying (audit.services.body_of), which
    the verification checks against it (audit.copies).
    """

    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=60, db_index=True)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=60)
    # The claim the entry belongs to, by id: the ledger is the ground floor and knows no claims
    # model (its bytes name the claim by its number). Not a foreign key, so nothing else
    # constrains or cascades into the append-only table.
    claim_id = models.PositiveBigIntegerField(null=True, blank=True)  # indexed with seq (Meta.indexes)
    # The jurisdiction the entry belongs to, by id, for the same reason: who may read the entry
    # (claims.selectors.ledger_entries_visible_to). Set when recorded from what record_event is
    # given; null for the bureau's own entries (accounts, roles, sign-ins). A copy like claim_id:
    # the bytes name it by its code ("jurisdiction"); entries written before they did have no
    # such key, and theirs was filled from their claim (audit/backfill.py).
    jurisdiction_id = models.PositiveBigIntegerField(null=True, blank=True)
    from_state = models.CharField(max_length=30, blank=True)
    to_state = models.CharField(max_length=30, blank=True)
    reason = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    payload = models.TextField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        verbose_name = _("审计事件")
        verbose_name_plural = _("审计事件")
        indexes = [
            models.Index(fields=["claim_id", "seq"], name="audit_audit_claim_i_b26f7d_idx"),
            models.Index(fields=["jurisdiction_id", "seq"], name="audit_event_jurisdiction_seq"),
        ]

    def __str__(self):
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    @property
    def action_label(self) -> str:
        """What pages show for the action: its label in the active language (audit/actions.py)."""
        return actions.label(self.action)


class Checkpoint(models.Model):
    """A signed tree head: the RFC 6962 root over entries 1..tree_size, as a C2SP
    tlog-checkpoint signed note. ``note`` is the text exactly as signed and served;
    the other columns are copies of what it says, for querying."""

    tree_size = models.PositiveBigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64, help_text="hex of the 32-byte RFC 6962 root")
    origin = models.CharField(max_length=200)
    key_name = models.CharField(max_length=200)
    key_id = models.CharField(max_length=8, help_text="hex of the 4-byte C2SP key id")
    note = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-tree_size"]
        verbose_name = _("账本检查点")
        verbose_name_plural = _("账本检查点")

    def __str__(self):
        return f"checkpoint {self.tree_size} {self.root_hash[:12]}"


class SubtreeHash(models.Model):
    """Cache of the hashes of perfect, aligned subtrees of the ledger's Merkle tree
    (``level`` >= audit.tree.CACHE_LEVEL): node ``index`` of ``level`` covers entries
    index * 2**level + 1 .. (index + 1) * 2**level. They only make proofs fast: a proof is
    checked against a signed root, and the verifier recomputes roots from the entries."""

    level = models.PositiveSmallIntegerField()
    index = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="audit_subtree_level_index")]
