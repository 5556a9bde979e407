"""Claims brought to "approved, awaiting payment" through the real services, for the payment tests."""

from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from claims.models import Claim
from claims.services import create_claim
from workflow.services import decide_task
from workflow.services import submit_claim as submit

from .conftest import claim_data, line, resident_id


def open_task_id(claim: Claim) -> int:
    process_id = Claim.objects.filter(pk=claim.pk).values_list("process_id", flat=True).get()
    return Task.objects.filter(process_id=process_id, status__in=(STATUS.NEW, STATUS.ASSIGNED)).values_list("pk", flat=True).get()


def approved_claim(demo, *, serials=(1, 2), clerk="provider_clerk", policy="S3", **line_fields) -> Claim:
    """A claim of WL-YJJ with one line per serial (distinct trainees), approved by the department
    and HR: its lines are reserved against the department's allocation."""
    lines = [
        line(resident_id(serial), f"学员{serial}", certificate_number=f"T-{serial:05d}", **line_fields) for serial in serials
    ]
    claim = create_claim(user=demo[clerk], data=claim_data(lines=lines, policy=policy))
    submit(user=demo[clerk], claim=claim)
    decide_task(user=demo["dept_reviewer"], task_id=open_task_id(claim), decision="approve")
    decide_task(user=demo["hr_reviewer"], task_id=open_task_id(claim), decision="approve")
    claim.refresh_from_db()
    assert claim.status == "approved", claim.status
    return claim


def living_allowance_claim(demo, *, serials=(50,)) -> Claim:
    """S6: paid to the person's social security card account, not to the school."""
    return approved_claim(
        demo, serials=serials, policy="S6", hardship_group="employment_difficulty", stated_cost=None, training_days=20
    )
