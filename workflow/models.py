from django.db import models
from django.utils.translation import gettext_lazy as _
from viewflow import jsonstore
from viewflow.workflow.models import Process

from .steps import Decision


class JSONObjectField(jsonstore.JSONFieldMixin, models.JSONField):
    """A JSON value (a dict, a list) kept as it is inside ``Process.data``: viewflow's jsonstore
    has typed scalar fields only. Its values must be plain JSON (strings, numbers, lists, dicts)."""


class ClaimProcess(Process):
    """The process of one claim. Its data are typed fields stored in ``Process.data``,
    which the flow's switches read (flows.py); the claim is ``process.claim``."""

    # The last decision taken on the claim: the switch after a step routes on it.
    last_decision = jsonstore.CharField(max_length=20, choices=Decision.choices, blank=True, null=True)
    # The review step that returned the claim for correction.
    returned_from = jsonstore.CharField(max_length=40, blank=True, null=True)
    # What that step asked to fix ({"lines": [2], "fields": ["certificate_number"]}; empty: not named),
    # and the claim as it was returned (workflow.selectors.claim_content): set with the return.
    fix_requested = JSONObjectField(null=True, blank=True)
    returned_content = JSONObjectField(null=True, blank=True)
    # Where the resubmission goes (policy.resubmission_target), and the changes outside what was
    # asked that sent it to the department instead of the returning step: set by the resubmission.
    resubmit_to = jsonstore.CharField(max_length=40, blank=True, null=True)
    changes_outside_fix = JSONObjectField(null=True, blank=True)
    # Set by HR's approval when the approved total is over the jurisdiction's threshold (STORIES 7).
    needs_hr_head = jsonstore.BooleanField(default=False)

    class Meta:
        proxy = True
        verbose_name = _("申领流程")
        verbose_name_plural = _("申领流程")
