import datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

DEMO_PASSWORD = "demo-pass"


@pytest.fixture
def demo(db):
    """The demo organisation of seed_demo: users by username."""
    call_command("seed_demo", password=DEMO_PASSWORD, stdout=open("/dev/null", "w"))
    return {user.username: user for user in get_user_model().objects.all()}


def line(id_number="11010519491231002X", name="张三", **overrides):
    data = {
        "id_number": id_number,
        "name": name,
        "occupation": "电工",
        "level": "senior",
        "certificate_type": "special_operation",
        "certificate_number": "T-2026-0001",
        "certificate_date": (datetime.date.today() - datetime.timedelta(days=30)).isoformat(),
        "training_days": 10,
        "stated_cost": "450.00",
    }
    data.update(overrides)
    return data


# Valid GB 11643 numbers (check digits computed) for distinct trainees.
def resident_id(serial: int, birth: str = "19900101", region: str = "331081") -> str:
    from claims.validators import resident_id_check_char

    first17 = f"{region}{birth}{serial:03d}"
    return first17 + resident_id_check_char(first17)


def claim_data(lines=None, **overrides):
    data = {
        "department": "WL-YJJ",
        "policy": "S3",
        "class_name": "低压电工作业 2026 第1期",
        "training_start": (datetime.date.today() - datetime.timedelta(days=60)).isoformat(),
        "training_end": (datetime.date.today() - datetime.timedelta(days=40)).isoformat(),
        "lines": lines if lines is not None else [line(resident_id(1), "张三"), line(resident_id(2), "李四", certificate_number="T-2026-0002")],
    }
    data.update(overrides)
    return data


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # seed_demo creates ten users per test; the production hasher is deliberately slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
