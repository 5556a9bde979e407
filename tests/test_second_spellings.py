"""A second spelling of one person or one certificate is the same person or certificate: a
provider who types an ID number in full-width digits, or a certificate number with another dash
or an invisible character, does not get a fresh quota or a second payment (RULES E2, E3, CERT_DUP)."""

import datetime

import pytest

from claims.errors import InvalidInput
from claims.models import Trainee
from claims.services import create_claim
from workflow.services import submit_claim

from .conftest import claim_data, line, resident_id

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def submitted(demo, *lines):
    clerk = demo["provider_clerk"]
    claim = create_claim(user=clerk, data=claim_data(lines=list(lines)))
    submit_claim(user=clerk, claim=claim)
    return claim


def codes(claim) -> list[list[str]]:
    return [[flag["code"] for flag in line.flags] for line in claim.lines.order_by("line_no")]


def test_an_id_number_in_full_width_digits_is_the_same_person(demo):
    """E3 (one occupation at one level once): the second claim, typed in full-width digits as a
    Chinese input method types them, is flagged as the first one's repeat, for the same person."""
    number = resident_id(102)
    first = submitted(demo, line(number, certificate_number="FW-1"))
    second = submitted(demo, line(number.translate(FULL_WIDTH), certificate_number="FW-2"))
    assert second.lines.get().trainee_id == first.lines.get().trainee_id
    assert Trainee.objects.filter(pk=first.lines.get().trainee_id).get().id_number_masked.isascii()
    assert "E3" in codes(second)[0], codes(second)


def test_an_id_number_in_another_scripts_digits_is_refused_naming_the_line(demo):
    """int() reads Arabic-Indic digits, so they once made a valid number of a new person."""
    number = resident_id(103)
    arabic = number[:17].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")) + number[17]
    with pytest.raises(InvalidInput) as refused:
        create_claim(user=demo["provider_clerk"], data=claim_data(lines=[line(number), line(arabic, certificate_number="AR-2")]))
    assert list(refused.value.fields) == ["lines[1].id_number"], refused.value.fields


@pytest.mark.parametrize(
    "second_spelling",
    [
        "CD20260001",  # the dashes left out
        "CD–2026‐0001",  # an en dash and a Unicode hyphen
        "CD-2026\u00ad-0001",  # a soft hyphen
        "ｃｄ－２０２６－０００１",  # full-width, lower case (as before)
    ],
)
def test_a_certificate_number_typed_another_way_is_the_same_certificate(demo, second_spelling):
    """CERT_DUP: the second claim for one person's certificate is flagged however its number is typed."""
    number = resident_id(104)
    submitted(demo, line(number, certificate_number="CD-2026-0001"))
    second = submitted(demo, line(number, certificate_number=second_spelling, occupation="焊工"))
    assert "CERT_DUP" in codes(second)[0], codes(second)


def test_a_certificate_number_with_a_zero_width_space_is_refused_naming_the_line(demo):
    """Refused where it comes in (claims.bounds), rather than read as another spelling."""
    with pytest.raises(InvalidInput) as refused:
        create_claim(
            user=demo["provider_clerk"],
            data=claim_data(lines=[line(resident_id(107), certificate_number="CD-2026\u200b-0001")]),
        )
    assert list(refused.value.fields) == ["lines[0].certificate_number"], refused.value.fields
    assert "U+200B" in refused.value.fields["lines[0].certificate_number"][0]


def test_the_migration_rekeys_lines_registry_entries_and_issued_certificates(demo):
    """claims 0016 puts the keys stored under the old normalisation (dashes kept) right; of one
    body's two certificates that now share a key, the second keeps its old one."""
    from importlib import import_module

    from django.apps import apps

    from claims.models import ClaimLine, IssuedCertificate
    from demo import assessment

    claim = submitted(demo, line(resident_id(105), certificate_number="OLD-1"))
    ClaimLine.objects.filter(claim=claim).update(certificate_key="OLD-1")  # as stored before

    def issued(number):
        return assessment.issue(
            number=number, holder_name="王五", holder_id_number=resident_id(106), certificate_date=datetime.date(2026, 1, 5)
        )

    alone, first = issued("Q-7"), issued("R9")
    IssuedCertificate.objects.filter(pk=alone.pk).update(number_key="Q-7")  # as stored before
    twin = IssuedCertificate.objects.get(pk=first.pk)  # the same body's "R-9", stored before as its own key
    twin.pk, twin.number, twin.number_key = None, "R-9", "R-9"
    twin.save()
    import_module("claims.migrations.0016_certificate_keys_ignore_dashes").rekey(apps, None)
    assert ClaimLine.objects.get(claim=claim).certificate_key == "OLD1"
    assert IssuedCertificate.objects.get(pk=alone.pk).number_key == "Q7"
    assert IssuedCertificate.objects.get(pk=first.pk).number_key == "R9"
    assert IssuedCertificate.objects.get(pk=twin.pk).number_key == "R-9"  # R9 is the first's already
