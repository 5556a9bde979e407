from django.utils.translation import gettext_lazy as _
from viewflow import jsonstore
from viewflow.workflow.models import Process

from .steps import Decision


class ClaimProcess(Process):
    """The process of one claim. Its data are typed fields stored in ``Process.data``,
    which the flow's switches read (flows.py); the claim is ``process.claim``."""

    # The last decision taken on the claim: the switch after a step routes on it.
    last_decision = jsonstore.CharField(max_length=20, choices=Decision.choices, blank=True, null=True)
    # The review step that returned the claim for correction: a resubmission goes back there.
    returned_from = jsonstore.CharField(max_length=40, blank=True, null=True)
    # Set by HR's approval when the approved total is over the jurisdiction's threshold (STORIES 7).
    needs_hr_head = jsonstore.BooleanField(default=False)

    class Meta:
        proxy = True
        verbose_name = _("申领流程")
        verbose_name_plural = _("申领流程")
