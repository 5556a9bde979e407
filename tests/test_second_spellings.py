"""A second spelling of one person or one certificate is the same person or certificate: a
provider who types an ID number in full-width digits, or a certificate number with another dash
or an invisible character, does not get a fresh quota or a second payment (RULES E2, E3, CERT_DUP)."""

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
