"""A person (Trainee) is one record per ID number across every provider; the name is not theirs to
share. Each claim line and each class's roster place keeps the name typed on it, and everything
that shows a line's person shows that name: a clerk typing an ID number learns nothing of what
another provider typed with it."""

import json
from importlib import import_module

from django.apps import apps
from viewflow.workflow.models import Process

from claims.models import ClaimLine, ClassTrainee
from claims.services import create_claim
from workflow.services import submit_claim

from .conftest import claim_data, line, resident_id
from .test_class_filing import filed
from .test_resubmission import FIX_LINE_2_CERTIFICATE, at_hr_review, corrected_and_resubmitted, returned_by

REAL, TYPED = "欧阳真名", "随便写的名字"


def first_provider_submits(demo, serial: int, name: str = REAL):
    """WL-P001 claims for the person first: the person's record is made with its name."""
    data = claim_data(lines=[line(resident_id(serial), name, certificate_number=f"N-{serial:05d}")])
    claim = create_claim(user=demo["provider_clerk"], data=data)
    submit_claim(user=demo["provider_clerk"], claim=claim)
    return claim


def test_a_name_changed_outside_the_fix_goes_to_the_department_and_the_process_keeps_no_name(demo):
    claim = at_hr_review(demo, claim_data(lines=[line(resident_id(1), "张三"), line(resident_id(2), "李四")]))
    returned_by(demo["hr_reviewer"], claim, fix=FIX_LINE_2_CERTIFICATE)
    assert "张三" not in json.dumps(Process.objects.get(pk=claim.process_id).data, ensure_ascii=False)
    lines = [line(resident_id(1), "张叁"), line(resident_id(2), "李四", certificate_number="T-2026-0002")]
    claim = corrected_and_resubmitted(demo, claim, lines=lines)
    assert claim.status == "department_review"
    assert list(claim.lines.values_list("name", flat=True)) == ["张叁", "李四"]


def test_the_migration_gives_existing_lines_and_class_places_their_persons_name(demo):
    claim = first_provider_submits(demo, 906)
    training_class = filed(demo, 907)
    ClaimLine.objects.filter(claim=claim).update(name="")  # as added, before the fill
    ClassTrainee.objects.filter(training_class=training_class).update(name="")
    import_module("claims.migrations.0017_line_and_class_place_names").fill_names(apps, None)
    assert list(ClaimLine.objects.filter(claim=claim).values_list("name", flat=True)) == [REAL]
    assert list(training_class.trainees.values_list("name", flat=True)) == ["学员907"]
