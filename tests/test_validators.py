"""Data that must validate (DESIGN.md): resident ID numbers (GB 11643-1999), unified social
credit codes (GB 32100-2015), and ID numbers kept out of the database in clear."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from audit.models import AuditEvent
from claims.errors import InvalidInput
from claims.models import Claim, ClaimLine, Jurisdiction, Provider, Trainee
from claims.organisation import ensure_provider
from claims.personal_data import decrypt_id_number, id_number_digest, mask_id_number
from claims.services import create_claim
from claims.validators import (
    CREDIT_CODE_ALPHABET,
    credit_code_check_char,
    normalize_resident_id,
    resident_id_check_char,
    validate_credit_code,
    validate_resident_id,
)
from workflow.selectors import actionable_tasks
from workflow.services import decide_task, submit_claim

from .conftest import claim_data, line, resident_id

DIGITS = "0123456789"


def with_check(body: str) -> str:
    return body + resident_id_check_char(body)


# --------------------------------------------------------------------------- tables


@pytest.mark.parametrize(
    "value",
    [
        "11010519491231002X",  # DESIGN.md's example
        "11010519491231002x",  # lowercase x is normalised
        " 11010519491231002X ",  # surrounding spaces are normalised
        "331081199001010013",
        with_check("11010520000229001"),  # leap day
        with_check("31010419000101000"),  # 1 January 1900
    ],
)
def test_valid_resident_ids(value):
    validate_resident_id(value)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("110105194912310021", "check_digit"),  # X expected
        ("11010519491231002", "format"),  # 17 characters
        ("11010519491231002XX", "format"),  # 19 characters
        ("", "format"),
        ("1101051949123100AX", "format"),  # a letter in the body
        ("11010519491231002Y", "format"),  # only X may end it
        ("X10105194912310021", "format"),
        (with_check("11010519990230001"), "birth_date"),  # 30 February
        (with_check("11010519000229001"), "birth_date"),  # 1900 was no leap year
        (with_check("11010519991301001"), "birth_date"),  # month 13
        (with_check("11010518991231001"), "birth_date"),  # before 1900
        (with_check(f"110105{datetime.date.today().year + 1}0101001"), "birth_date"),  # not born yet
    ],
)
def test_invalid_resident_ids(value, code):
    with pytest.raises(ValidationError) as error:
        validate_resident_id(value)
    assert error.value.code == code


def test_bad_birth_date_is_the_reason_when_the_check_digit_is_right():
    body = "110105" + "19990230" + "001"
    value = body + resident_id_check_char(body)
    with pytest.raises(ValidationError) as error:
        validate_resident_id(value)
    assert error.value.code == "birth_date"
    assert "出生日期" in error.value.messages[0]


def test_lowercase_x_is_normalised():
    assert normalize_resident_id(" 11010519491231002x") == "11010519491231002X"
    assert mask_id_number("11010519491231002x") == "110105********002X"
    assert id_number_digest("11010519491231002x") == id_number_digest("11010519491231002X")


@pytest.mark.parametrize("value", ["91350100M000100Y43", "91110000600037341L", "91350100m000100y43"])
def test_valid_credit_codes(value):
    validate_credit_code(value)


@pytest.mark.parametrize("letter", list("IOSVZ"))
@pytest.mark.parametrize("position", [0, 8, 17])
def test_credit_codes_with_letters_outside_the_alphabet_are_rejected(letter, position):
    valid = "91350100M000100Y43"
    value = valid[:position] + letter + valid[position + 1 :]
    with pytest.raises(ValidationError) as error:
        validate_credit_code(value)
    assert error.value.code == "format"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("91350100M000100Y44", "check_digit"),
        ("91110000600037341M", "check_digit"),
        ("91350100M000100Y4", "format"),  # 17 characters
        ("91350100M000100Y433", "format"),
        ("", "format"),
        ("91350100M000100Y4-", "format"),
    ],
)
def test_invalid_credit_codes(value, code):
    with pytest.raises(ValidationError) as error:
        validate_credit_code(value)
    assert error.value.code == code


# --------------------------------------------------------------------------- properties
# The check characters are checked against the standards' own definitions (ISO 7064
# MOD 11-2: Σ aᵢ·2^(18−i) ≡ 1 mod 11 over all 18 characters, X = 10; GB 32100: Σ cᵢ·3^(i−1)
# over 17 characters plus the check value ≡ 0 mod 31), not against the code under test.


def mod_11_2_holds(value: str) -> bool:
    numbers = [10 if char == "X" else int(char) for char in value]
    return sum(number * pow(2, 17 - index, 11) for index, number in enumerate(numbers)) % 11 == 1


def mod_31_holds(value: str) -> bool:
    numbers = [CREDIT_CODE_ALPHABET.index(char) for char in value]
    return (sum(number * pow(3, index, 31) for index, number in enumerate(numbers[:17])) + numbers[17]) % 31 == 0


resident_bodies = st.builds(
    lambda region, birth, serial: f"{region}{birth:%Y%m%d}{serial}",
    st.text(DIGITS, min_size=6, max_size=6),
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date.today()),
    st.text(DIGITS, min_size=3, max_size=3),
)


@given(body=resident_bodies, data=st.data())
def test_resident_id_check_character_property(body, data):
    check = resident_id_check_char(body)
    valid = body + check
    validate_resident_id(valid)
    validate_resident_id(valid.lower())
    assert mod_11_2_holds(valid)
    other = data.draw(st.sampled_from([char for char in "0123456789X" if char != check]))
    assert not mod_11_2_holds(body + other)
    with pytest.raises(ValidationError) as error:
        validate_resident_id(body + other)
    assert error.value.code == "check_digit"


@given(body=st.text(CREDIT_CODE_ALPHABET, min_size=17, max_size=17), data=st.data())
def test_credit_code_check_character_property(body, data):
    check = credit_code_check_char(body)
    valid = body + check
    validate_credit_code(valid)
    assert mod_31_holds(valid)
    other = data.draw(st.sampled_from([char for char in CREDIT_CODE_ALPHABET if char != check]))
    assert not mod_31_holds(body + other)
    with pytest.raises(ValidationError) as error:
        validate_credit_code(body + other)
    assert error.value.code == "check_digit"


@given(body=st.text(CREDIT_CODE_ALPHABET, min_size=17, max_size=17), position=st.integers(0, 17), letter=st.sampled_from("IOSVZ"))
def test_credit_code_with_a_letter_outside_the_alphabet_is_never_valid(body, position, letter):
    code = body + credit_code_check_char(body)
    with pytest.raises(ValidationError):
        validate_credit_code(code[:position] + letter + code[position + 1 :])


# --------------------------------------------------------------------------- services save nothing on bad input


def row_counts():
    return {model.__name__: model.objects.count() for model in (Claim, ClaimLine, Trainee, AuditEvent, Provider)}


def test_claim_with_an_invalid_id_number_names_the_line_and_saves_nothing(demo):
    before = row_counts()
    wrong_check = resident_id(3)[:17] + ("0" if resident_id(3)[17] != "0" else "1")
    bad_birth = "331081" + "19990230" + "004"
    bad_birth += resident_id_check_char(bad_birth)
    lines = [
        line(resident_id(1), "张三"),
        line(wrong_check, "李四", certificate_number="T-2"),
        line(resident_id(5), "王五", certificate_number="T-3"),
        line(bad_birth, "赵六", certificate_number="T-4"),
        line(resident_id(6)[:17], "钱七", certificate_number="T-5"),
    ]
    with pytest.raises(InvalidInput) as error:
        create_claim(user=demo["provider_clerk"], data=claim_data(lines=lines))
    fields = error.value.fields
    assert {key for key in fields if key.startswith("lines[")} == {
        "lines[1].id_number",
        "lines[3].id_number",
        "lines[4].id_number",
    }
    assert "校验码" in fields["lines[1].id_number"][0]
    assert "出生日期" in fields["lines[3].id_number"][0]
    assert error.value.status == 400
    assert row_counts() == before


def test_provider_with_a_bad_credit_code_names_the_field_and_saves_nothing(demo):
    jurisdiction = Jurisdiction.objects.get(code="WL")
    before = row_counts()
    groups_before = set(jurisdiction._meta.apps.get_model("auth", "Group").objects.values_list("name", flat=True))
    with pytest.raises(ValidationError) as error:
        ensure_provider(jurisdiction=jurisdiction, code="WL-P999", name="某培训学校", credit_code="91350100M000100Y44")
    assert set(error.value.message_dict) == {"credit_code"}
    assert "统一社会信用代码" in error.value.message_dict["credit_code"][0]
    with pytest.raises(ValidationError) as error:
        ensure_provider(jurisdiction=jurisdiction, code="WL-P999", name="某培训学校", credit_code="91350100O000100Y43")
    assert set(error.value.message_dict) == {"credit_code"}
    assert row_counts() == before
    assert not Provider.objects.filter(code="WL-P999").exists()
    assert set(jurisdiction._meta.apps.get_model("auth", "Group").objects.values_list("name", flat=True)) == groups_before

    provider = ensure_provider(jurisdiction=jurisdiction, code="WL-P999", name="某培训学校", credit_code="91350100M000100Y43")
    assert provider.staff_group.name == "provider:WL-P999"


# --------------------------------------------------------------------------- personal data


def stored_text(table: str) -> str:
    """Every value of every row of a table, as text."""
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - table names from introspection
        return "\n".join(as_text(value) for row in cursor.fetchall() for value in row)


def as_text(value) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return repr(value)


def test_raw_id_numbers_are_stored_nowhere(demo):
    raw_ids = ["11010519491231002x", resident_id(42)]
    lines = [line(raw_ids[0], "张三"), line(raw_ids[1], "李四", certificate_number="T-2")]
    claim = create_claim(user=demo["provider_clerk"], data=claim_data(lines=lines))
    submit_claim(user=demo["provider_clerk"], claim=claim)
    decide_task(user=demo["dept_reviewer"], task_id=actionable_tasks(demo["dept_reviewer"]).get().pk, decision="approve")

    # Where the person is kept: masked, digested and encrypted, and the search finds the masked form.
    trainee_text = stored_text(Trainee._meta.db_table)
    ledger_text = "\n".join(AuditEvent.objects.values_list("payload", flat=True))
    for raw in raw_ids:
        normal = raw.upper()
        trainee = Trainee.objects.get(id_number_digest=id_number_digest(raw))
        assert trainee.id_number_masked == mask_id_number(raw) == normal[:6] + "********" + normal[-4:]
        assert decrypt_id_number(trainee.id_number_encrypted) == normal
        assert mask_id_number(raw) in trainee_text
        assert mask_id_number(raw) in ledger_text

    tables = connection.introspection.table_names()
    assert Trainee._meta.db_table in tables and AuditEvent._meta.db_table in tables
    everything = {table: stored_text(table) for table in tables}
    for raw in raw_ids:
        for form in {raw, raw.upper(), raw.lower(), raw[:17]}:
            assert [table for table, text in everything.items() if form in text] == [], form
