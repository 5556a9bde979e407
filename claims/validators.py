"""Check digits of the national identifiers the claims carry."""

import datetime
import operator
import unicodedata

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def resident_id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of GB 11643-1999."""
    total = sum(map(operator.mul, map(int, first17), ID_WEIGHTS))  # stops at 17 like zip; demo/load.py makes millions
    return ID_CHECK_CHARS[total % 11]


def normalize_resident_id(value: str) -> str:
    """One spelling of a resident ID number: NFKC (full-width "１１０…Ｘ", as Chinese input
    methods type it, is "110…X"), without the spaces around it, its check character upper-case.
    The keyed digest that finds a person is taken of this spelling (personal_data.id_number_digest):
    a second spelling of one number must not become a second person, whose quota is fresh."""
    return unicodedata.normalize("NFKC", value or "").strip().upper()


# What does not tell one typed number from another (Unicode categories): spaces of every kind
# (Z*), control and invisible format characters (Cc, Cf: a zero-width space, a soft hyphen) and
# dashes of every kind (Pd: "-", "‐", "–", "—"). Typed in or left out, they are a second
# spelling of one number, not a second certificate paid again or a second payment received.
IGNORED_IN_NUMBERS = ("Z", "Cc", "Cf", "Pd")


def number_key(text: str) -> str:
    """One spelling of a number people type (a certificate's, a bank voucher's): NFKC, without
    spaces, dashes and invisible characters anywhere, letters upper-case. "T-2026-0001",
    "ｔ－２０２６－０００１", " t 2026 0001 " and "T–2026‐0001" are one key."""
    normalized = unicodedata.normalize("NFKC", text or "")
    return "".join(char for char in normalized if not unicodedata.category(char).startswith(IGNORED_IN_NUMBERS)).upper()


# Brackets and middle dots as names are typed: full width, half width, square, lenticular (【】),
# the katakana and the Latin middle dot. One kind each in a name's key.
NAME_MARK_VARIANTS = str.maketrans(
    {**dict.fromkeys("（[［【〔〖", "("), **dict.fromkeys("）]］】〕〗", ")"), **dict.fromkeys("・•‧･", "·")}
)


def name_key(text: str) -> str:
    """One spelling of a name people type (an account's holder, a provider's or a person's name):
    ``number_key`` (NFKC, so full-width letters and digits are half-width; no spaces, dashes or
    invisible characters), Latin letters in one case, brackets and middle dots of one kind.
    "温岭市某公司（温岭）", "温岭市某公司 [温岭]" and "温岭市某公司【温岭】" are one name."""
    return number_key(text).casefold().translate(NAME_MARK_VARIANTS)


def validate_resident_id(value: str) -> None:
    """GB 11643-1999: 17 digits, a real birth date, and the check character."""
    value = normalize_resident_id(value)
    # ASCII digits only: str.isdigit() also takes other scripts' digits ("١٢٣"), which int() reads.
    if len(value) != 18 or not value.isascii() or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise ValidationError(_("身份证号码须为18位：17位数字加1位校验码（数字或X）。"), code="format")
    try:
        birth = datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValidationError(_("身份证号码中的出生日期不存在。"), code="birth_date") from None
    if birth.year < 1900 or birth > timezone.localdate():
        raise ValidationError(_("身份证号码中的出生日期不存在。"), code="birth_date")
    if resident_id_check_char(value[:17]) != value[17]:
        raise ValidationError(_("身份证号码校验码错误。"), code="check_digit")


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_CODE_ALPHABET.index(char) * weight for char, weight in zip(first17, CREDIT_CODE_WEIGHTS))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(value: str) -> None:
    """GB 32100-2015 unified social credit code: 18 characters and the check character."""
    value = (value or "").strip().upper()
    if len(value) != 18 or any(char not in CREDIT_CODE_ALPHABET for char in value):
        raise ValidationError(_("统一社会信用代码须为18位，仅含数字和除I、O、S、V、Z外的大写字母。"), code="format")
    if credit_code_check_char(value[:17]) != value[17]:
        raise ValidationError(_("统一社会信用代码校验码错误。"), code="check_digit")


# Account names (户名) as banks hold them: the names of people and organisations. Letters of any
# script (Chinese characters included), digits, spaces, brackets in half and full width, the
# middle dot of transcribed names (阿依古丽·买买提) and the few marks company names use
# ("Co., Ltd.", "A&B", "中外合资（A-B）"). It must start with a letter, a digit or an opening
# bracket: never with = + - @, a tab or a line break, which spreadsheets take for a formula.
ACCOUNT_NAME_MARKS = frozenset(" ()（）[]［］【】·・•‧.,，．&-'、")
ACCOUNT_NAME_OPENERS = frozenset("(（[［【")


def checked_account_name(value: str, *, max_length: int = 200) -> str:
    """The name, stripped, or ValidationError saying what a bank account name may hold."""
    value = (value or "").strip()
    if len(value) > max_length:
        raise ValidationError(_("不能超过 %(n)d 个字符。") % {"n": max_length}, code="max_length")
    if value and (
        not (value[0].isalnum() or value[0] in ACCOUNT_NAME_OPENERS)
        or any(not (char.isalnum() or char in ACCOUNT_NAME_MARKS) for char in value)
    ):
        raise ValidationError(
            _("名称只能包含汉字、字母、数字、空格、括号、间隔号（·）及 . , & - ' 、，并须以汉字、字母、数字或括号开头。"),
            code="characters",
        )
    return value


def validate_account_name(value: str) -> None:
    """For a form field: ``checked_account_name`` as a Django validator."""
    checked_account_name(value)
